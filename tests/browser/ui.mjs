// Drives prof's web UI in Debian's headless Chromium like a person would: drag across the
// timeline to select a range, check the flamegraph and the top table show the workload's hot
// function, hover and zoom, search, then switch to diff mode, pick a base and a new range and
// check the significance table; on the way, the time axis and y scale, the timeline stacked by
// process with its legend and hover shares, the process picker (fuzzy matching, keyboard, a
// filter that matches nothing), light and dark themes and styled controls, kernel labels, the
// keyboard shortcuts and the flamegraph/icicle toggle. Screenshots (light and dark) are saved
// for a human to look at.
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
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, colorScheme: 'light' });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

await page.goto(url);
await page.waitForSelector('#timeline .bar');
const bars = page.locator('#timeline .bar');
const n = await bars.count();
if (n < 4) fail(`expected at least 4 intervals, got ${n}`);

// The timeline is drawn again when the selection's processes arrive (stacked by process): a bar
// measured while its element is being replaced has no box yet; measure it again.
async function barBox(i) {
  for (let tries = 0; tries < 50; tries++) {
    const box = await bars.nth(i).boundingBox();
    if (box) return box;
    await page.waitForTimeout(100);
  }
  fail(`bar ${i} has no box`);
}

async function drag(from, to) {
  const a = await barBox(from);
  const b = await barBox(to);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height - 1);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height - 1, { steps: 5 });
  await page.mouse.up();
}

// Profile mode: select the whole recording by dragging, once the default selection's stacked
// drawing is there (so that the drag is not raced by it).
await page.locator('#legend li').first().waitFor({ timeout: 10000 });
await drag(0, n - 1);
const selected = await page.locator('#timeline .bar.selected').count();
if (selected !== n) fail(`drag selected ${selected} of ${n} intervals`);
const hotFrames = page.locator('#flame .frame', { hasText: hot });
await hotFrames.first().waitFor({ timeout: 10000 });
// The widest of them (a recording may also have slivers of it under other callers).
const widestOf = async (frames) => frames.nth(await frames.evaluateAll((ds) => {
  let best = 0;
  ds.forEach((d, i) => { if (parseFloat(d.style.width) > parseFloat(ds[best].style.width)) best = i; });
  return best;
}));
const hotFrame = await widestOf(hotFrames);
// The top table comes with the flamegraph's data: wait for the row.
try {
  await page.locator('#top tbody tr', { hasText: hot }).first().waitFor({ timeout: 10000 });
} catch (e) {
  fail(`top table lacks ${hot}: ${(await page.locator('#top tbody').innerText()).slice(0, 400)}`);
}
await hotFrame.hover();
const details = await page.locator('#details').innerText();
if (!details.includes(hot) || !details.includes('samples')) fail(`hover details: ${details}`);

// Time axis and y scale: local times, not ISO timestamps.
const intervals = await (await fetch(new URL('/api/intervals', url))).json();
const pad = (x) => String(x).padStart(2, '0');
const localClock = (ns) => {
  const d = new Date(Math.floor(ns / 1e6));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
const status = await page.locator('#status').innerText();
if (!status.includes(localClock(intervals[0].start_unix_ns))) fail(`status without the first interval's local time: ${status}`);
const ticks = await page.locator('#axis span').allInnerTexts();
if (ticks.length < 2 || !ticks.every((t) => /^(\d{4}-\d\d-\d\d )?\d\d:\d\d(:\d\d)?$/.test(t))) fail(`time axis: ${ticks}`);
const yLabels = await page.locator('#yaxis span:not(.unit)').allInnerTexts();
if (yLabels.length < 2 || yLabels[0] !== '0' || !(parseFloat(yLabels[1]) > 0)) fail(`y scale: ${yLabels}`);
const pageText = await page.locator('body').innerText();
const titles = await bars.evaluateAll((bs) => bs.map((b) => b.title).join(' '));
if (/\d{4}-\d\d-\d\dT\d\d:/.test(pageText + titles)) fail('an ISO timestamp is shown');
if (!/selected \d\d:\d\d:\d\d – \d\d:\d\d:\d\d \(/.test(await page.locator('#range').innerText())) fail('range text');

// Stacked timeline: the selection's bars by process, a legend, each process's share on hover.
const processes = await (await fetch(new URL(`/api/processes.json?${new URL(page.url()).hash.slice(1)}`, url))).json();
const topComm = processes.processes[0].comm;
await page.locator('#legend li').first().waitFor({ timeout: 10000 });
const legend = await page.locator('#legend li').allInnerTexts();
if (!legend[0].startsWith(`${topComm} `) || legend.length > 7) fail(`legend: ${legend} (processes ${JSON.stringify(processes.processes)})`);
if ((await page.locator('#timeline .bar.stacked').count()) < n - 1) fail('the selection is not stacked by process');
await bars.nth(n - 2).hover();
const tip = await page.locator('#bar-tip').innerText();
if (!tip.includes(`${topComm} `) || !/\d+\.\d%/.test(tip)) fail(`bar tip: ${tip}`);
// Kernel frames are labelled without their suffix (their colour tells them apart).
const suffixed = await page.locator('#flame .frame', { hasText: '_[k]' }).count();
if (suffixed) fail(`${suffixed} frames labelled with _[k]`);
// Styled controls, not the browser's default buttons.
const radius = await page.locator('#reset').evaluate((b) => getComputedStyle(b).borderRadius);
if (radius !== '6px') fail(`buttons are not styled: border-radius ${radius}`);
await page.screenshot({ path: `${outDir}/ui-profile.png`, fullPage: true });

// Dark theme, following the system's preference; the theme button switches.
await page.emulateMedia({ colorScheme: 'dark' });
const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { timeout: 5000 })
  .catch(() => fail('no dark theme for a dark system'));
if ((await background()) === 'rgb(255, 255, 255)') fail('the dark theme has a white background');
await page.screenshot({ path: `${outDir}/ui-profile-dark.png`, fullPage: true });

// Process picker: a typo finds the process, the keyboard picks it, the view is filtered.
const scores = await page.evaluate(async () => { const { fuzzyScore } = await import('/fuzzy.js'); return [['pyhton', 'python3.11'], ['pyth', 'python3.11'], ['thon', 'python3.11'],
  ['pto', 'python3.11'], ['pythno3', 'python3.11'], ['java', 'python3.11'], ['xyzzy', 'python3.11']]
  .map(([q, name]) => fuzzyScore(q, name)); });
if (JSON.stringify(scores) !== JSON.stringify([4, 0, 1, 2, 4, null, null])) fail(`fuzzy scores ${scores}`);
const typo = topComm.length > 3 ? topComm.slice(0, 1) + topComm[2] + topComm[1] + topComm.slice(3) : topComm;
await page.click('#comm');
await page.keyboard.type(typo);
const first = await page.locator('#comm-list li[data-comm]').first().getAttribute('data-comm');
if (first !== topComm) fail(`picker: ${typo} found ${first}, not ${topComm}`);
await page.screenshot({ path: `${outDir}/ui-picker-dark.png` });
await page.keyboard.press('Enter');
await page.waitForFunction((c) => location.hash.includes(`comm=${encodeURIComponent(c)}`), topComm);
await page.locator('#flame .frame', { hasText: '(' }).first().waitFor();
await page.waitForFunction((c) => [...document.querySelectorAll('#flame .frame')]
  .filter((d) => d.style.top === '18px').every((d) => d.textContent === c), topComm, { timeout: 10000 });
await page.click('#theme');
if ((await theme()) !== 'light' || (await background()) !== 'rgb(255, 255, 255)') fail('the theme button did not switch');
await page.emulateMedia({ colorScheme: 'light' });
if ((await theme()) !== 'light') fail('the theme chosen with the button changed with the system');
// Typing what no process is called says so and lists the processes.
await page.click('#comm');
await page.keyboard.press('Control+A');
await page.keyboard.type('zqxjzqxj');
const none = await page.locator('#comm-list li.none').innerText();
if (!none.includes('no process matches')) fail(`no-match text: ${none}`);
if ((await page.locator('#comm-list li[data-comm]').count()) !== processes.processes.length) fail('no-match list');
await page.keyboard.press('Escape');
if ((await page.locator('#comm').inputValue()) !== topComm) fail('Escape in the picker changed the filter');
await page.click('#comm-clear');
await page.waitForFunction(() => !location.hash.includes('comm='));

// Keyboard: / focuses search, Esc clears it, then zooms out; arrows and Enter in the top table;
// ? lists the shortcuts.
await page.locator('#flame .frame', { hasText: hot }).first().waitFor();
await page.locator('body').click({ position: { x: 5, y: 5 } });
await page.keyboard.press('/');
if (!(await page.evaluate(() => document.activeElement.id === 'search'))) fail('/ does not focus the search');
await page.keyboard.type(hot);
if ((await page.locator('#flame .frame.match').count()) < 1) fail('search typed after / matched nothing');
await page.keyboard.press('Escape');
if ((await page.locator('#search').inputValue()) !== '') fail('Escape did not clear the search');
await page.keyboard.press('Escape');
await (await widestOf(page.locator('#flame .frame', { hasText: hot }))).click();
const zoomed = () => page.locator('#flame .frame.ancestor').count();
if ((await zoomed()) < 1) fail('click did not zoom');
// Each Escape zooms out one level.
for (let levels = await zoomed(); levels > 0; levels--) {
  await page.keyboard.press('Escape');
  if ((await zoomed()) !== levels - 1) fail(`Escape at ${levels} ancestors left ${await zoomed()}`);
}
await page.keyboard.press('ArrowDown');
await page.keyboard.press('ArrowDown');
const active = await page.locator('#top tbody tr.active').evaluate((tr) => tr.dataset.i);
if (active !== '1') fail(`arrows: row ${active} marked`);
await page.keyboard.press('Enter');
// Enter (or a click) outlines the row's function in the graph; the details line says how many
// of its frames are drawn (they may all be too narrow to draw).
const fnOf = async (tr) => (await tr.locator('td').nth(2).textContent());
const second = await fnOf(page.locator('#top tbody tr').nth(1));
// Narrow frames have no text: their tooltips name them.
const outlined = await page.locator('#flame .frame.focus').evaluateAll((ds) => ds.map((d) => d.title));
if (outlined.some((t) => !t.startsWith(`${second}: `) && !t.startsWith(`${second} (`))) fail(`Enter on ${second} outlined ${outlined}`);
const focusDetails = await page.locator('#focus-info').innerText();
if (!focusDetails.startsWith(`${second}: ${outlined.length} frame`)) fail(`focus details: ${focusDetails}`);
await page.keyboard.press('?');
if (!(await page.locator('#help').isVisible()) || !(await page.locator('#help').innerText()).includes('Esc')) fail('? shows no shortcuts');
await page.keyboard.press('Escape');
if (await page.locator('#help').isVisible()) fail('Escape did not close the shortcuts');

// Flamegraph (root at the bottom) and icicle (root at the top).
const rootTop = () => page.locator('#flame .frame.root').evaluate((d) => parseFloat(d.style.top));
const deepest = () => page.locator('#flame .frame').evaluateAll((ds) => Math.max(...ds.map((d) => parseFloat(d.style.top))));
if ((await rootTop()) !== 0) fail('icicle: the root is not at the top');
await page.click('#layout-flame');
if ((await rootTop()) !== (await deepest()) || (await rootTop()) === 0) fail('flamegraph: the root is not at the bottom');
await page.keyboard.press('f');
if ((await rootTop()) !== 0) fail('f did not switch back to the icicle');

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
await (await widestOf(page.locator('#flame .frame', { hasText: hot }))).click();
const widths = await page.locator('#flame .frame', { hasText: hot }).evaluateAll((ds) => ds.map((d) => d.style.width));
if (!widths.includes('100%')) fail(`zoomed frame widths ${widths}`);
await page.click('#reset');
// Search highlights matches and reports their share.
await page.fill('#search', hot);
const matched = await page.locator('#matched').innerText();
if (!/matched [0-9.]+% of samples/.test(matched)) fail(`search: ${matched}`);
if ((await page.locator('#flame .frame.match').count()) < 1) fail('no frame highlighted by search');

// The top table sorts by any column (again: the other way), and follows the search and the zoom.
const column = async (k) => (await page.locator(`#top tbody td:nth-child(${k})`).allTextContents());
const isSorted = (xs, cmp) => xs.every((x, i) => i === 0 || cmp(xs[i - 1], x) <= 0);
await page.fill('#search', '');
await page.click('#top thead th[data-key="total"]');
if (!isSorted((await column(2)).map(Number), (a, b) => b - a)) fail(`not sorted by total: ${await column(2)}`);
if ((await page.locator('#top thead th.sorted').getAttribute('aria-sort')) !== 'descending') fail('total sort not marked');
await page.click('#top thead th[data-key="total"]');
if (!isSorted((await column(2)).map(Number), (a, b) => a - b)) fail(`not sorted by total ascending: ${await column(2)}`);
await page.click('#top thead th[data-key="name"]');
const names = (await column(3)).map((t) => t);
if (!isSorted(names, (a, b) => a.localeCompare(b))) fail(`not sorted by name: ${names.slice(0, 10)}`);
if (!page.url().includes('sort=name')) fail(`the sort is not in the URL: ${page.url()}`);
await page.click('#top thead th[data-key="self"]');
await page.fill('#search', hot);
const searched = (await column(3)).map((t) => t);
if (!searched.length || !searched.every((t) => t.includes(hot))) fail(`the table does not follow the search: ${searched}`);
if (!(await page.locator('#top-caption').innerText()).includes(`matching /${hot}/`)) fail('caption without the search');
await page.fill('#search', '');
await (await widestOf(page.locator('#flame .frame', { hasText: hot }))).click();
const hotRow = page.locator('#top tbody tr', { hasText: hot }).first();
if ((await hotRow.locator('td').nth(1).textContent()) !== '100.00') fail(`zoomed into ${hot}, its total is ${await hotRow.locator('td').nth(1).textContent()}`);
if (!(await page.locator('#top-caption').innerText()).includes(`under ${hot}`)) fail('caption without the zoom');
await page.click('#reset');

// Sandwich: the hot function's callers above it (up to its process), its callees below; a
// click on a caller shows that function's own; Esc goes back to the graph.
await page.locator('#top tbody tr', { hasText: hot }).first().locator('button.callers').click();
await page.locator('#sandwich').waitFor();
if (await page.locator('#flame').isVisible()) fail('the graph is shown with the sandwich');
if (!(await page.locator('#sandwich-title').innerText()).startsWith(`${hot}: on `)) fail(`sandwich title: ${await page.locator('#sandwich-title').innerText()}`);
const callerTexts = await page.locator('#callers .frame').allTextContents();
if (!callerTexts.some((t) => t === topComm || t.startsWith(topComm))) fail(`no process among ${hot}'s callers: ${callerTexts.slice(0, 20)}`);
if (!page.url().includes('sandwich=')) fail('the sandwich is not in the URL');
await page.locator('#sandwich-title').scrollIntoViewIfNeeded();
await page.screenshot({ path: `${outDir}/ui-sandwich.png` });
const caller = page.locator('#callers .frame:not(.root)', { hasNotText: hot }).first();
const callerName = await caller.textContent();
await caller.click();
if (!(await page.locator('#sandwich-title').innerText()).startsWith(`${callerName}: on `)) fail(`click on caller ${callerName}: ${await page.locator('#sandwich-title').innerText()}`);
if (!(await page.locator('#callees .frame', { hasText: hot }).count())) fail(`${hot} is not among ${callerName}'s callees`);
await page.locator('body').click({ position: { x: 5, y: 5 } });
await page.keyboard.press('Escape');
if (!(await page.locator('#flame').isVisible()) || (await page.locator('#sandwich').isVisible())) fail('Escape did not leave the sandwich');

// Diff mode: the first half as base, the second half as new, each without the interval next to
// the switch (on a busy machine, an interval's archive may hold samples drained just after its
// end, so both of them can mix the two phases).
await page.click('#mode-diff');
const half = Math.floor(n / 2);
await drag(0, half - 2);
await page.click('#set-base');
await drag(half + 1, n - 1);
await page.click('#set-new');
await page.waitForSelector('#diff-table tbody tr');
const diffText = await page.locator('#diff-table tbody').innerText();
if (diffText.includes('_[k]')) fail('a kernel function labelled with _[k] in the diff table');
const marked = await page.locator('#timeline .bar.base').count();
if (marked !== half - 1) fail(`${marked} bars marked as base, not ${half - 1}`);
const markedNew = await page.locator('#timeline .bar.new').count();
if (markedNew !== n - half - 1) fail(`${markedNew} bars marked as new, not ${n - half - 1}`);
if (!diffText.includes(changed)) fail(`diff table lacks ${changed}: ${diffText.slice(0, 400)}`);
const firstRow = await page.locator('#diff-table tbody tr').first().innerText();
if (!firstRow.includes(changed) || !firstRow.includes('yes')) fail(`top diff row: ${firstRow} (${await page.locator("#diff-title").innerText()}; ${await page.locator("#diff-ranges").innerText()}; ${page.url()})`);
// The differential flamegraph: the changed function's widest frame is drawn as grown.
await page.locator('#diff-flame .frame', { hasText: changed }).first().waitFor({ timeout: 10000 });
const changedClass = await (await widestOf(page.locator('#diff-flame .frame', { hasText: changed }))).getAttribute('class');
if (!changedClass.includes('grow')) fail(`${changed} is not drawn as grown in the diff graph: ${changedClass}`);
await page.screenshot({ path: `${outDir}/ui-diff.png`, fullPage: true });

// A link whose process filter matches nothing says so and lists the selection's processes.
const nobody = await browser.newPage();
nobody.on('pageerror', (e) => errors.push(String(e)));
await nobody.goto(link.replace(/#.*/, `#mode=profile&from=${intervals[0].start_unix_ns}&to=${intervals[n - 1].end_unix_ns}&comm=nosuchprocess`));
await nobody.locator('#no-match').waitFor({ timeout: 10000 });
const noMatch = await nobody.locator('#no-match').innerText();
if (!noMatch.includes('nosuchprocess') || !noMatch.includes(topComm)) fail(`no-match: ${noMatch}`);
await nobody.close();

if (errors.length) fail(`page errors: ${errors.join(' | ')}`);
await browser.close();
console.log(`ok: ${n} intervals, hot ${hot} in flamegraph and top table, ${changed} first significant change`);
