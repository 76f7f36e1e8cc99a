// Opens prof's web UI in Debian's headless Chromium and prints, as JSON, what it shows about
// losses once the default range is drawn: the items of the list under the flamegraph and the
// tooltips of the timeline's bars (with whether each is outlined for lost notifications).
// usage: node losses.mjs URL
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
await page.goto(url);
await page.locator('#losses li').first().waitFor({ timeout: 10000 });
const items = await page.locator('#losses li').evaluateAll((lis) => lis.map((li) => ({ text: li.textContent, cls: li.className })));
const bars = await page.locator('#timeline .bar').evaluateAll((bs) => bs.map((b) => ({ title: b.title, outlined: b.classList.contains('events-lost') })));
console.log(JSON.stringify({ items, bars, errors }));
await browser.close();
