// Opens prof's web UI in diff mode (a link naming a base and a new range) in Debian's headless
// Chromium, drives the differential flamegraph and prints, as JSON, what it showed: each frame's
// label, tooltip and colour; the hover details; what a search highlighted (after `/`); what a
// click zoomed into and Esc zoomed out of; the layout after `f`; the frames with *hide idle*; the
// timeline's base and new marks and the header naming the ranges; then the same in the dark
// theme with overlapping ranges. Screenshots: OUT_DIR/ui-diff-flame.png (light, adjacent ranges)
// and OUT_DIR/ui-diff-flame-dark.png (dark, overlapping ranges; the timeline alone in
// ui-diff-marks-dark.png).
// usage: node diff.mjs URL BASE NEW OVERLAP_BASE OVERLAP_NEW OUT_DIR SHOW HIDE (ranges as FROM-TO
// in ns; SHOW: the label of a frame to hover and zoom into; HIDE: one to search for)
import { openPage } from './page.mjs';

const [url, base, next, overlapBase, overlapNext, outDir, show, find] = process.argv.slice(2);
const out = {};
const { browser, page, errors } = await openPage(`${url}#mode=diff&base=${base}&new=${next}`);
page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
await page.emulateMedia({ colorScheme: 'light' });

/** Every drawn frame of the diff graph: label, tooltip, classes, style and colour as [r, g, b]. */
const frames = () => page.locator('#diff-flame .frame').evaluateAll((ds) => ds.map((d) => {
  const c = document.createElement('canvas');
  c.width = c.height = 1;
  const g = c.getContext('2d');
  g.fillStyle = getComputedStyle(d).backgroundColor;
  g.fillRect(0, 0, 1, 1);
  return {
    text: d.textContent,
    title: d.title,
    cls: d.className,
    width: d.style.width,
    top: parseFloat(d.style.top),
    rgb: [...g.getImageData(0, 0, 1, 1).data].slice(0, 3),
  };
}));
const frame = (text) => page.locator('#diff-flame .frame', { hasText: text }).first();

await frame(show).waitFor({ timeout: 10000 });
await page.locator('#diff-table tbody tr').first().waitFor({ timeout: 10000 });
out.frames = await frames();
out.head = await page.locator('#diff-head').innerText();
out.headColours = await page.locator('#diff-head .range-name b').evaluateAll((bs) => bs.map((b) => getComputedStyle(b).color));
out.legend = await page.locator('#diff-legend').innerText();
out.svgLink = await page.locator('#diff-svg').getAttribute('href');
out.table = await page.locator('#diff-table tbody tr').allInnerTexts();
const marks = () => page.locator('#timeline .bar').evaluateAll((bs) => bs.map((b) => {
  const s = getComputedStyle(b);
  return {
    base: b.classList.contains('base'),
    new: b.classList.contains('new'),
    underline: s.borderBottomWidth,
    colour: s.borderBottomColor,
    image: s.borderImageSource,
  };
}));
out.marks = await marks();
out.colours = await page.evaluate(() => {
  const s = getComputedStyle(document.documentElement);
  return { base: s.getPropertyValue('--base').trim(), new: s.getPropertyValue('--new').trim() };
});
await frame(show).hover();
out.details = await page.locator('#diff-details').innerText();
await page.screenshot({ path: `${outDir}/ui-diff-flame.png`, fullPage: true });

// `/` focuses the diff's search; typing highlights; Esc clears the search.
await page.locator('body').click({ position: { x: 5, y: 5 } });
await page.keyboard.press('/');
out.searchFocused = await page.evaluate(() => document.activeElement.id);
await page.keyboard.type(find);
out.matches = await page.locator('#diff-flame .frame.match').allInnerTexts();
out.dimmed = await page.locator('#diff-flame .frame:not(.match)').evaluateAll((ds) => ds.filter((d) => getComputedStyle(d).opacity < 0.5).length);
out.matched = await page.locator('#matched').innerText();
await page.keyboard.press('Escape');
out.searchAfterEsc = await page.locator('#search').inputValue();
out.matchesAfterEsc = await page.locator('#diff-flame .frame.match').count();
await page.keyboard.press('Escape'); // leaves the search box

// Click zooms into a frame: it fills the width, its ancestors are dimmed; Esc zooms out.
await frame(show).click();
out.zoomed = await frames();
await page.keyboard.press('Escape');
out.ancestorsAfterEsc = await page.locator('#diff-flame .frame.ancestor').count();

// `f` switches to the flamegraph layout (root at the bottom) and back.
await page.keyboard.press('f');
out.flameLayout = await frames();
out.flameActive = await page.locator('#layout-flame').getAttribute('class');
await page.keyboard.press('f');
out.icicleLayout = await frames();

// Hide idle: both sides are read again without the idle task.
await page.check('#no-idle');
await page.waitForFunction(() => /idle task is left out/.test(document.getElementById('diff-title').textContent), null, { timeout: 10000 });
await frame(show).waitFor({ timeout: 10000 });
out.noIdle = await frames();
await page.uncheck('#no-idle');
await page.waitForFunction(() => !/idle task is left out/.test(document.getElementById('diff-title').textContent) &&
  document.querySelectorAll('#diff-flame .frame').length > 0, null, { timeout: 10000 });

// The dark theme, with ranges that overlap.
await page.emulateMedia({ colorScheme: 'dark' });
await page.goto(`${url}#mode=diff&base=${overlapBase}&new=${overlapNext}`);
await page.reload();
await frame(show).waitFor({ timeout: 10000 });
await page.locator('#diff-table tbody tr').first().waitFor({ timeout: 10000 });
out.darkTheme = await page.evaluate(() => document.documentElement.dataset.theme);
out.darkFrames = await frames();
out.darkMarks = await marks();
out.darkColours = await page.evaluate(() => {
  const s = getComputedStyle(document.documentElement);
  return { base: s.getPropertyValue('--base').trim(), new: s.getPropertyValue('--new').trim() };
});
await frame(show).hover();
await page.screenshot({ path: `${outDir}/ui-diff-flame-dark.png`, fullPage: true });
await page.locator('#chart').screenshot({ path: `${outDir}/ui-diff-marks-dark.png` });

out.errors = errors;
console.log(JSON.stringify(out));
await browser.close();
