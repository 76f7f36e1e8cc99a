// Opens prof's web UI on a profile with a big flame tree (prof serve FILE, tests/browser.rs makes
// it) in Debian's headless Chromium and prints, as JSON, what must hold whatever the machine's
// speed: how many elements #flame holds after the first drawing, a search, a zoom and a reset;
// what a search highlights and the share of samples it reports; what a click zooms into and
// whether Reset zoom undoes it; the page's errors. Saves a screenshot to SHOT.
// usage: node big.mjs URL SHOT EXACT_SEARCH NARROW_SEARCH ZOOM_FRAME
import { openPage } from './page.mjs';

const [url, shot, exact, narrow, zoomTo] = process.argv.slice(2);
const { browser, page, errors } = await openPage(url);
await page.locator('#flame .frame').first().waitFor({ timeout: 60000 });
const elements = () => page.evaluate(() => document.querySelectorAll('#flame *').length);
const out = { errors };
out.drawn = await elements();
out.narrowBlocks = await page.locator('#flame .frame.narrow').count();
await page.screenshot({ path: shot });

// What a search shows: the share it reports, each highlighted frame's label and kind.
const search = async (text) => {
  await page.fill('#search', text);
  const matched = await page.locator('#matched').innerText();
  const highlighted = await page.locator('#flame .frame.match').evaluateAll((ds) => ds.map((d) => ({
    label: d.textContent, title: d.title, narrow: d.classList.contains('narrow') })));
  // Frames drawn with the label searched for but not highlighted.
  const missed = await page.locator('#flame .frame:not(.match):not(.narrow)')
    .evaluateAll((ds, re) => ds.filter((d) => new RegExp(re).test(d.title.replace(/: \d+ samples.*$/, ''))).length, text);
  return { matched, highlighted, missed, elements: await elements() };
};
out.exact = await search(exact);
out.narrow = await search(narrow);
await page.fill('#search', '');

// Zoom: a click on the frame named ZOOM_FRAME (found by its tooltip: it may be too narrow for
// text, and for the mouse to hit it among its neighbours); the frames then drawn full width and
// the ancestors; then Reset zoom (and whether it reused the first view's elements).
await page.evaluate(() => { document.querySelector('#flame .frame.root').marked = true; });
await page.locator(`#flame .frame[title^="${zoomTo}:"]`).first().dispatchEvent('click');
out.zoom = await page.locator('#flame .frame').evaluateAll((ds) => ({
  ancestors: ds.filter((d) => d.classList.contains('ancestor')).map((d) => d.textContent),
  full: ds.filter((d) => d.style.width === '100%' && !d.classList.contains('ancestor')).map((d) => d.textContent),
  narrow: ds.filter((d) => d.classList.contains('narrow')).length,
}));
out.zoom.elements = await elements();
await page.click('#reset');
out.reset = {
  ancestors: await page.locator('#flame .frame.ancestor').count(),
  elements: await elements(),
  // The first view's elements are put back, not created again.
  reused: await page.evaluate(() => document.querySelector('#flame .frame.root').marked === true),
};
console.log(JSON.stringify(out));
await browser.close();
