#!/usr/bin/env node
// Opens a report in headless Chromium, as a reader's browser would, and renders it to PNG.
// Exits non-zero, naming each problem, if the page logged a console error, threw, or tried
// to fetch anything from the network (the report must be self-contained).
//
//   node render-check.js REPORT.html OUT.png
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

function chromiumPath() {
  if (process.env.RTCBENCH_CHROMIUM) return process.env.RTCBENCH_CHROMIUM;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (fs.existsSync(p)) return p;
  }
  return 'chromium';
}

async function main() {
  const [html, png] = process.argv.slice(2);
  if (!html || !png) {
    console.error('usage: render-check.js REPORT.html OUT.png');
    process.exit(2);
  }
  const problems = [];
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith('file:') && !url.startsWith('data:') && !url.startsWith('about:')) {
        problems.push(`network fetch: ${url}`);
      }
    });
    page.on('requestfailed', (r) => problems.push(`failed to load: ${r.url()}`));
    await page.goto('file://' + path.resolve(html), { waitUntil: 'load', timeout: 30000 });
    const svgs = await page.locator('svg').count();
    const tables = await page.locator('table').count();
    await page.screenshot({ path: png, fullPage: true });
    console.log(JSON.stringify({ svgs, tables, problems }));
  } finally {
    await browser.close();
  }
  if (problems.length) {
    for (const p of problems) console.error(p);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`render-check: ${e.message}`);
  process.exit(1);
});
