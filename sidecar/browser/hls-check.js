#!/usr/bin/env node
// The hls.js cross-check: plays one HLS URL for a while in headless Chromium (Debian's, driven
// by playwright-core) with hls.js (pages/hls.html) and prints what the video element showed as
// one JSON line: startup, stalls, and the live latency of every presented frame read from its
// pixel marker. tests/integration/cdn_edge.rs holds it against rtcbench's own HLS player.
//   node hls-check.js URL SECONDS
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  const [url, seconds] = process.argv.slice(2);
  if (!url || !(Number(seconds) > 0)) {
    process.stderr.write('usage: node hls-check.js URL SECONDS\n');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: process.env.RTCBENCH_CHROMIUM || '/usr/bin/chromium',
    // As root (CI), Chromium runs only without its sandbox.
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`hls page: ${e.message}\n`));
    await page.goto(`file://${path.join(__dirname, 'pages', 'hls.html')}`);
    await page.evaluate((u) => window.rtcbenchHls.start(u), url);
    await page.waitForTimeout(Number(seconds) * 1000);
    const report = await page.evaluate(() => window.rtcbenchHls.finish());
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`hls-check: ${e.message}\n`);
  process.exit(1);
});
