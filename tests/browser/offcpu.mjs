// Opens prof's web UI on a directory of off-CPU archives (and one older on-CPU archive) in
// Debian's headless Chromium and prints, as JSON, where it shows amounts: the y axis, a bar's
// title, the selection line, the flamegraph's root and a frame's tooltip, the top table's
// caption, a search's share, the notes (the on-CPU archive left out of the range), the process
// picker; then the diff of two off-CPU ranges: its title, root and a tooltip. Screenshots:
// OUT_DIR/ui-offcpu.png and OUT_DIR/ui-offcpu-diff.png.
// usage: node offcpu.mjs URL FROM TO BASE NEW OUT_DIR FRAME (FROM, TO in ns; BASE, NEW as FROM-TO;
// FRAME: the label of a frame to hover)
import { openPage } from './page.mjs';

const [url, from, to, base, next, outDir, show] = process.argv.slice(2);
const out = {};
const { browser, page, errors } = await openPage(`${url}#from=${from}&to=${to}`);
const frame = (box, text) => page.locator(`${box} .frame`, { hasText: text }).first();

await frame('#flame', show).waitFor({ timeout: 10000 });
await page.locator('#top tbody tr').first().waitFor({ timeout: 10000 });
out.yUnit = await page.locator('#yaxis .unit').textContent();
out.yLabels = await page.locator('#yaxis span:not(.unit)').allTextContents();
out.barTitles = await page.locator('#timeline .bar').evaluateAll((bs) => bs.map((b) => b.title));
out.range = await page.locator('#range').textContent();
out.root = await page.locator('#flame .frame.root').first().textContent();
out.rootTitle = await page.locator('#flame .frame.root').first().getAttribute('title');
out.frameTitle = await frame('#flame', show).getAttribute('title');
out.stateFrame = await frame('#flame', '[off-cpu: sleeping]').getAttribute('class');
out.stateTitle = await frame('#flame', '[off-cpu: sleeping]').getAttribute('title');
out.caption = await page.locator('#top-caption').textContent();
out.notes = await page.locator('#losses').innerText();
await page.locator('#search').fill(show);
await page.waitForFunction(() => document.getElementById('matched').textContent !== '');
out.matched = await page.locator('#matched').textContent();
await page.locator('#search').fill('');
await page.locator('#comm').focus();
await page.locator('#comm-list li[data-comm]').first().waitFor({ timeout: 10000 });
out.picker = await page.locator('#comm-list li[data-comm]').allInnerTexts();
await page.keyboard.press('Escape');
await page.screenshot({ path: `${outDir}/ui-offcpu.png` });

await page.goto(`${url}#mode=diff&base=${base}&new=${next}`);
await page.reload();
await frame('#diff-flame', show).waitFor({ timeout: 10000 });
await page.locator('#diff-table tbody tr').first().waitFor({ timeout: 10000 });
out.diffTitle = await page.locator('#diff-title').textContent();
out.diffHead = await page.locator('#diff-head').innerText();
out.diffRoot = await page.locator('#diff-flame .frame.root').first().textContent();
out.diffFrameTitle = await frame('#diff-flame', show).getAttribute('title');
out.diffTable = await page.locator('#diff-table tbody tr').allInnerTexts();
out.diffLegend = await page.locator('#diff-legend').innerText();
out.diffFrameClass = await frame('#diff-flame', show).getAttribute('class');
await page.screenshot({ path: `${outDir}/ui-offcpu-diff.png` });
out.errors = errors;
console.log(JSON.stringify(out));
await browser.close();
