// Starts Debian's headless Chromium for the browser tests and benchmarks, and opens a page in it
// for the tests, collecting page errors and console errors.
import { chromium } from 'playwright-core';

/** Debian's Chromium, headless, without the background work that would disturb a measurement. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The browser, a page at `url` (1200×800) and the list its errors are collected in. */
export async function openPage(url) {
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  return { browser, page, errors };
}
