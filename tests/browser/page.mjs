// Opens a page in Debian's headless Chromium for the browser tests, collecting page errors and
// console errors.
import { chromium } from 'playwright-core';

/** The browser, a page at `url` (1200×800) and the list its errors are collected in. */
export async function openPage(url) {
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
  return { browser, page, errors };
}
