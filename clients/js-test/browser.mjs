// Opens each page of BASALT_PAGES (space-separated URLs) in headless
// Chromium, the system's at BASALT_CHROMIUM, through playwright-core,
// and prints the pages' "basalt {json}" console lines on stdout, one
// JSON object a line. Ends when stdin closes.
import { chromium } from 'playwright-core';
import { out, untilStdinEnds } from './lib.mjs';

const { BASALT_PAGES, BASALT_CHROMIUM } = process.env;

const browser = await chromium.launch({
  executablePath: BASALT_CHROMIUM,
  // A machine whose network ends at loopback: no background fetches;
  // no sandbox, since tests may run as root.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
untilStdinEnds(() => browser.close());
for (const url of BASALT_PAGES.split(' ')) {
  const page = await browser.newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    if (text.startsWith('basalt ')) out(JSON.parse(text.slice('basalt '.length)));
  });
  page.on('pageerror', (err) => out({ client: 'browser', kind: 'pageerror', message: String(err) }));
  await page.goto(url);
}
out({ client: 'browser', kind: 'loaded' });
