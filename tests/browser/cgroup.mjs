// Opens prof's web UI in Debian's headless Chromium on archives whose samples ran in cgroups and
// prints, as JSON, what the cgroup picker offers and what the view shows once a cgroup is picked
// (the functions of the top table, the flamegraph's title, the URL hash), after a reload of that
// URL, and after going back to all cgroups. Saves screenshots of the filtered view (light and
// dark) to OUT_DIR.
// usage: node cgroup.mjs URL OUT_DIR CGROUP_PATH
import { openPage } from './page.mjs';

const [url, outDir, pick] = process.argv.slice(2);
const { browser, page, errors } = await openPage(url);
const functions = () => page.locator('#top tbody tr td:nth-child(3)').allTextContents();
/** Waits until the top table lists `want` and not `unwanted`. */
const until = (want, unwanted) => page.waitForFunction(([w, u]) => {
  const names = [...document.querySelectorAll('#top tbody tr td:nth-child(3)')].map((td) => td.textContent);
  return names.includes(w) && !names.includes(u);
}, [want, unwanted], { timeout: 10000 });
const shown = async () => ({
  value: await page.locator('#cgroup').inputValue(),
  hash: new URLSearchParams(new URL(page.url()).hash.slice(1)).get('cgroup'),
  title: await page.locator('#flame-title').textContent(),
  functions: (await functions()).sort(),
});

await page.locator('#top tbody tr').first().waitFor({ timeout: 10000 });
// The picker fills once the selection's processes and cgroups have arrived.
await page.locator('#cgroup-picker').waitFor({ state: 'visible', timeout: 10000 });
await page.waitForFunction(() => document.querySelectorAll('#cgroup option').length > 1, null, { timeout: 10000 });
const options = await page.locator('#cgroup option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
const before = (await functions()).sort();

await page.selectOption('#cgroup', pick);
await until('web_fn', 'batch_fn');
const picked = await shown();
await page.screenshot({ path: `${outDir}/ui-cgroup.png` });
await page.emulateMedia({ colorScheme: 'dark' });
await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { timeout: 5000 });
await page.screenshot({ path: `${outDir}/ui-cgroup-dark.png` });

// The URL is a link to the filtered view.
await page.reload();
await page.locator('#top tbody tr').first().waitFor({ timeout: 10000 });
await until('web_fn', 'batch_fn');
const reloaded = await shown();

await page.selectOption('#cgroup', '');
await until('batch_fn', 'nothing');
const all = await shown();
console.log(JSON.stringify({ options, before, picked, reloaded, all, errors }));
await browser.close();
