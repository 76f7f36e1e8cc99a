// Opens prof's web UI in Debian's headless Chromium and prints, as JSON, what it shows about
// losses once the default range is drawn: the items of the list under the flamegraph and the
// tooltips of the timeline's bars (with whether each is outlined for lost notifications).
// usage: node losses.mjs URL
import { openPage } from './page.mjs';

const [url] = process.argv.slice(2);
const { browser, page, errors } = await openPage(url);
await page.locator('#losses li').first().waitFor({ timeout: 10000 });
const items = await page.locator('#losses li').evaluateAll((lis) => lis.map((li) => ({ text: li.textContent, cls: li.className })));
const bars = await page.locator('#timeline .bar').evaluateAll((bs) => bs.map((b) => ({ title: b.title, outlined: b.classList.contains('events-lost') })));
console.log(JSON.stringify({ items, bars, errors }));
await browser.close();
