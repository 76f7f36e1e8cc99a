// Times prof's web UI in Debian's headless Chromium (scripts/bench-ui runs it): a fresh page
// opens the UI on a range, through the URL hash the UI keeps its state in (`#mode=profile&from=
// NS&to=NS`, what a shared link opens), and the clock stops when the interactive flamegraph has
// frames and, separately, when the top table has rows. That covers everything a person waits for:
// page and assets, /api/intervals, the timeline, /api/range.json, building and drawing the
// flamegraph and its top table (in the same reply). Each run uses a new browser context (no cache).
// With STEP_NS, run i opens on the range moved by i × STEP_NS (a range the server has not merged
// yet); with FROM and TO empty the UI opens without a hash, on its default view (every interval).
// Prints one line per run (with when each request started and ended) and the medians in ms.
// usage: node bench.mjs URL FROM_NS TO_NS [RUNS=5] [STEP_NS=0]
import { launchBrowser } from './page.mjs';

const [url, from, to, runsArg, stepArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const step = BigInt(stepArg || 0);
const target = (i) => {
  if (!from || !to) return url;
  const shift = BigInt(i) * step;
  return `${url}#mode=profile&from=${BigInt(from) + shift}&to=${BigInt(to) + shift}`;
};

const browser = await launchBrowser();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const flameMs = [];
const topMs = [];
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  // When each request of the page started and finished, relative to t0.
  let t0 = 0;
  const requests = [];
  const started = new Map();
  page.on('request', (r) => started.set(r, performance.now() - t0));
  page.on('requestfinished', (r) => {
    const path = new URL(r.url()).pathname;
    requests.push(`${path} ${started.get(r).toFixed(0)}–${(performance.now() - t0).toFixed(0)}`);
  });
  t0 = performance.now();
  await page.goto(target(i), { waitUntil: 'commit' });
  await page.waitForSelector('#flame .frame', { timeout: 120000 });
  const flame = performance.now() - t0;
  await page.waitForSelector('#top tbody tr', { timeout: 120000 });
  const top = performance.now() - t0;
  const frames = await page.locator('#flame .frame').count();
  const bars = await page.locator('#timeline .bar').count();
  const selected = await page.locator('#timeline .bar.selected').count();
  const title = await page.locator('#flame-title').innerText();
  if (errors.length) {
    console.error(`FAIL: page errors: ${errors.join(' | ')}`);
    process.exit(1);
  }
  console.log(`run ${i + 1}: flamegraph ${flame.toFixed(0)} ms, top table ${top.toFixed(0)} ms ` +
    `(${bars} intervals, ${selected} selected, ${frames} frames drawn; ${title})`);
  console.log(`  requests (ms): ${requests.join(', ')}`);
  flameMs.push(flame);
  topMs.push(top);
  await context.close();
}
await browser.close();
console.log(`median: flamegraph ${median(flameMs).toFixed(0)} ms, top table ${median(topMs).toFixed(0)} ms`);
