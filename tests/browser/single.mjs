// Opens prof's web UI serving one profile file (prof serve FILE) in Debian's headless Chromium
// and prints, as JSON, what it shows: the status line, whether the timeline, the drag hint and
// the diff mode are visible, the flamegraph's title and the top table's first function; saves a
// screenshot to SHOT.
// usage: node single.mjs URL SHOT
import { openPage } from './page.mjs';

const [url, shot] = process.argv.slice(2);
const { browser, page, errors } = await openPage(url);await page.locator('#top tbody tr').first().waitFor({ timeout: 10000 });
const visible = async (id) => page.locator(`#${id}`).isVisible();
const out = {
  status: await page.locator('#status').textContent(),
  chart: await visible('chart'),
  hint: await visible('drag-hint'),
  diff: await visible('mode-diff'),
  title: await page.locator('#flame-title').textContent(),
  top: await page.locator('#top tbody tr td:nth-child(3)').first().textContent(),
  errors,
};
await page.screenshot({ path: shot });
console.log(JSON.stringify(out));
await browser.close();
