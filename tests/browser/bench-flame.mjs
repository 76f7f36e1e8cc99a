// Times prof's flamegraph on a big profile (`prof serve FILE`, scripts/bench-ui's second part) in
// Debian's headless Chromium, each run in a new browser context (no cache):
//   load:   from navigation until the flamegraph is drawn (frames in #flame and the next frame
//           painted: page, assets, /api/range.json, building the tree, drawing);
//   search: one keystroke typed into #search (the term typed a letter at a time, from the moment
//           the flamegraph is drawn; each letter's input event until the next frame is painted,
//           the median of the letters, and the first letter's alone);
//   zoom:   a click on the widest frame of the third row, until painted; reset: the Reset zoom
//           button, until painted;
// with the number of elements in #flame after each, and the main thread's long tasks (over 50 ms,
// PerformanceObserver 'longtask') during each. Interactions are timed inside the page
// (performance.now() around the event, up to a requestAnimationFrame and a task after it), so
// the driver's round trips do not count.
// With --svg, instead opens SVG (inferno-flamegraph's output of the same profile, what users
// otherwise open) as a file and times it until its load event and the next frame painted.
// Prints one line per run and the medians in ms.
// usage: node bench-flame.mjs URL [RUNS=5] [SEARCH=poll]
//        node bench-flame.mjs --svg FILE.svg [RUNS=5]
import { launchBrowser } from './page.mjs';

const args = process.argv.slice(2);
const svg = args[0] === '--svg';
const [target, runsArg, termArg] = svg ? args.slice(1) : args;
const runs = Number(runsArg || 5);
const term = termArg || 'poll';

const browser = await launchBrowser();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};

// In every page: long tasks collected from the start.
const initScript = () => {
  window.longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.longTasks.push(e.duration);
  }).observe({ type: 'longtask', buffered: true });
};
// Does `act` in the page ('search' for `arg`, 'zoom' into the widest frame of the third row,
// 'reset'); ms until the frame after it is painted, and the long tasks meanwhile. (The page's
// Content-Security-Policy allows no eval: the actions are written out here.)
const timed = (page, act, arg) => page.evaluate(([act, arg]) => new Promise((done) => {
  const before = window.longTasks.length;
  const t0 = performance.now();
  if (act === 'search') {
    const s = document.getElementById('search');
    s.value = arg;
    s.dispatchEvent(new Event('input', { bubbles: true }));
  } else if (act === 'zoom') {
    // The icicle's rows are 18 px apart.
    const row = [...document.querySelectorAll('#flame .frame')].filter((d) => d.style.top === '36px');
    row.sort((a, b) => parseFloat(b.style.width) - parseFloat(a.style.width));
    row[0].click();
  } else {
    document.getElementById('reset').click();
  }
  requestAnimationFrame(() => setTimeout(() => {
    const ms = performance.now() - t0;
    // Long tasks are reported a little later; give the observer a moment.
    setTimeout(() => done({ ms, long: window.longTasks.slice(before) }), 50);
  }, 0));
}), [act, arg]);
const painted = (page) => page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(() => done(performance.now()), 0))));
const domSize = (page) => page.evaluate(() => document.querySelectorAll('#flame *').length);
const fmtLong = (l) => (l.length ? `${l.length} long tasks (max ${Math.max(...l).toFixed(0)} ms)` : 'no long tasks');

const results = { load: [], search: [], first: [], zoom: [], reset: [] };
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.addInitScript(initScript);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (svg) {
    await page.goto(`file://${target}`, { waitUntil: 'load' });
    const load = await painted(page);
    const elements = await page.evaluate(() => document.querySelectorAll('*').length);
    const long = await page.evaluate(() => window.longTasks);
    console.log(`run ${i + 1}: load ${load.toFixed(0)} ms (${elements} SVG elements; ${fmtLong(long)})`);
    results.load.push(load);
  } else {
    await page.goto(target, { waitUntil: 'commit' });
    await page.waitForSelector('#flame .frame', { timeout: 120000 });
    const load = await painted(page);
    const loadLong = await page.evaluate(() => window.longTasks);
    const drawn = await domSize(page);
    // The search term, a letter at a time.
    const keys = [];
    const searchLong = [];
    for (let k = 1; k <= term.length; k++) {
      const r = await timed(page, 'search', term.slice(0, k));
      keys.push(r.ms);
      searchLong.push(...r.long);
    }
    const matched = await page.locator('#matched').innerText();
    const highlighted = await page.locator('#flame .frame.match').count();
    const searchDom = await domSize(page);
    await timed(page, 'search', '');
    const zoom = await timed(page, 'zoom');
    const zoomDom = await domSize(page);
    if (!(await page.locator('#flame .frame.ancestor').count())) fail('the click did not zoom');
    const reset = await timed(page, 'reset');
    if (await page.locator('#flame .frame.ancestor').count()) fail('Reset zoom did not zoom out');
    if (errors.length) fail(`page errors: ${errors.join(' | ')}`);
    const search = median(keys);
    console.log(`run ${i + 1}: load ${load.toFixed(0)} ms (${drawn} elements in #flame; ${fmtLong(loadLong)}); ` +
      `search ${search.toFixed(0)} ms per key (${keys.map((k) => k.toFixed(0)).join(' ')}; ${highlighted} highlighted, ` +
      `${matched}, ${searchDom} elements; ${fmtLong(searchLong)}); zoom ${zoom.ms.toFixed(0)} ms (${zoomDom} elements; ` +
      `${fmtLong(zoom.long)}); reset ${reset.ms.toFixed(0)} ms (${fmtLong(reset.long)})`);
    results.load.push(load);
    results.search.push(search);
    results.first.push(keys[0]);
    results.zoom.push(zoom.ms);
    results.reset.push(reset.ms);
  }
  await context.close();
}
await browser.close();
if (svg) console.log(`median: load ${median(results.load).toFixed(0)} ms`);
else {
  console.log(`median: load ${median(results.load).toFixed(0)} ms, search ${median(results.search).toFixed(0)} ms per key ` +
    `(first key ${median(results.first).toFixed(0)} ms), ` +
    `zoom ${median(results.zoom).toFixed(0)} ms, reset ${median(results.reset).toFixed(0)} ms`);
}
