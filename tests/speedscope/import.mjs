// Opens a .speedscope.json file in speedscope's own app (the `speedscope` npm package's
// dist/release, loaded from file:// in Debian's headless Chromium, driven by playwright-core)
// through its Browse button, as a person imports a profile, then clicks the app's Export
// button. Export serializes the profiles speedscope's importer built (frames, weights, call
// order), so the Rust test can check what speedscope understood, not just that the JSON parses.
// usage: node import.mjs PROFILE.speedscope.json OUT.json
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [input, out] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};
if (!input || !out) fail('usage: node import.mjs PROFILE.speedscope.json OUT.json');

const here = path.dirname(fileURLToPath(import.meta.url));
const app = path.join(here, 'node_modules/speedscope/dist/release/index.html');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // speedscope reports a file it cannot import with alert().
  page.on('dialog', async (d) => { errors.push(`dialog: ${d.message()}`); await d.dismiss(); });

  await page.goto(pathToFileURL(app).href);
  await page.setInputFiles('input#file', input);
  const exportTab = page.getByText(/^\W*Export$/).last();
  try {
    await exportTab.waitFor({ timeout: 20000 });
  } catch (e) {
    fail(`speedscope did not load the profile: ${errors.join('; ') || String(e)}`);
  }
  const [download] = await Promise.all([page.waitForEvent('download'), exportTab.click()]);
  await download.saveAs(out);
  await page.screenshot({ path: `${out}.png` });
  if (errors.length) fail(errors.join('; '));
  console.log(`speedscope imported ${path.basename(input)} and exported ${out}`);
} finally {
  await browser.close();
}
