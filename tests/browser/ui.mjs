// Drives prof's web UI in Debian's headless Chromium like a person would: drag across the
// timeline to select a range, check the flamegraph and the top table show the workload's hot
// function, hover and zoom, search, then switch to diff mode, pick a base and a new range and
// check the significance table; screenshots are saved for a human to look at.
// usage: node ui.mjs URL OUT_DIR HOT_FUNCTION CHANGED_FUNCTION
import { chromium } from 'playwright-core';

const [url, outDir, hot, changed] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

await page.goto(url);
await page.waitForSelector('#timeline .bar');
const bars = page.locator('#timeline .bar');
const n = await bars.count();
if (n < 4) fail(`expected at least 4 intervals, got ${n}`);

async function drag(from, to) {
  const a = await bars.nth(from).boundingBox();
  const b = await bars.nth(to).boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height - 1);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height - 1, { steps: 5 });
  await page.mouse.up();
}

// Profile mode: select the whole recording by dragging.
await drag(0, n - 1);
const selected = await page.locator('#timeline .bar.selected').count();
if (selected !== n) fail(`drag selected ${selected} of ${n} intervals`);
const hotFrames = page.locator('#flame .frame', { hasText: hot });
await hotFrames.first().waitFor({ timeout: 10000 });
// The widest of them (a recording may also have slivers of it under other callers).
const widest = await hotFrames.evaluateAll((ds) => {
  let best = 0;
  ds.forEach((d, i) => { if (parseFloat(d.style.width) > parseFloat(ds[best].style.width)) best = i; });
  return best;
});
const hotFrame = hotFrames.nth(widest);
// The top table comes with the flamegraph's data: wait for the row.
try {
  await page.locator('#top tbody tr', { hasText: hot }).first().waitFor({ timeout: 10000 });
} catch (e) {
  fail(`top table lacks ${hot}: ${(await page.locator('#top tbody').innerText()).slice(0, 400)}`);
}
await hotFrame.hover();
const details = await page.locator('#details').innerText();
if (!details.includes(hot) || !details.includes('samples')) fail(`hover details: ${details}`);
await page.screenshot({ path: `${outDir}/ui-profile.png`, fullPage: true });

// The page's URL is a link to this view: opened in a new page, it asks for the range while the
// interval list loads, and shows the same flamegraph and top table.
const link = page.url();
if (!/#.*from=\d+.*to=\d+/.test(link)) fail(`the URL does not name the range: ${link}`);
const linked = await browser.newPage();
linked.on('pageerror', (e) => errors.push(String(e)));
const asked = [];
linked.on('request', (r) => asked.push(new URL(r.url()).pathname));
await linked.goto(link);
await linked.locator('#flame .frame', { hasText: hot }).first().waitFor({ timeout: 10000 });
await linked.locator('#top tbody tr', { hasText: hot }).first().waitFor({ timeout: 10000 });
if ((await linked.locator('#timeline .bar.selected').count()) !== n) fail('the link did not select its range');
const ranges = asked.filter((p) => p === '/api/range.json').length;
if (ranges !== 1) fail(`the link asked for its range ${ranges} times: ${asked.join(' ')}`);
await linked.close();

// Zoom into the hot frame: it becomes the full width.
await hotFrame.click();
const widths = await page.locator('#flame .frame', { hasText: hot }).evaluateAll((ds) => ds.map((d) => d.style.width));
if (!widths.includes('100%')) fail(`zoomed frame widths ${widths}`);
await page.click('#reset');
// Search highlights matches and reports their share.
await page.fill('#search', hot);
const matched = await page.locator('#matched').innerText();
if (!/matched [0-9.]+% of samples/.test(matched)) fail(`search: ${matched}`);
if ((await page.locator('#flame .frame.match').count()) < 1) fail('no frame highlighted by search');

// Diff mode: first half as base, second half as new.
await page.click('#mode-diff');
const half = Math.floor(n / 2);
await drag(0, half - 1);
await page.click('#set-base');
await drag(half, n - 1);
await page.click('#set-new');
await page.waitForSelector('#diff-table tbody tr');
const diffText = await page.locator('#diff-table tbody').innerText();
if (!diffText.includes(changed)) fail(`diff table lacks ${changed}: ${diffText.slice(0, 400)}`);
const firstRow = await page.locator('#diff-table tbody tr').first().innerText();
if (!firstRow.includes(changed) || !firstRow.includes('yes')) fail(`top diff row: ${firstRow}`);
await page.waitForFunction(() => document.getElementById('diffsvg').complete && document.getElementById('diffsvg').naturalWidth > 0);
await page.screenshot({ path: `${outDir}/ui-diff.png`, fullPage: true });

if (errors.length) fail(`page errors: ${errors.join(' | ')}`);
await browser.close();
console.log(`ok: ${n} intervals, hot ${hot} in flamegraph and top table, ${changed} first significant change`);
