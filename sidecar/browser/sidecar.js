#!/usr/bin/env node
// rtcbench's browser sidecar: speaks the sidecar protocol (docs/sidecar-protocol.md) on
// stdin/stdout and plays each session in a page of one headless Chromium (Debian's chromium,
// driven by playwright-core; no browser download). Pages: whip-whep (the browser's own WebRTC,
// WHEP playback, signalling done here), and the vendor pages agora, trtc and zego (their Web
// SDKs from npm, which do their own signalling).
'use strict';
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const PROTOCOL = 1;
const PAGES = ['whip-whep', 'agora', 'trtc', 'zego'];
const VENDORS = { agora: 'Agora', trtc: 'Tencent TRTC', zego: 'ZEGO' };
const DEFAULT_TIMEOUT_MS = 10000;
const PAGE_TIMEOUT_MS = 30000;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function log(message) {
  process.stderr.write(`browser sidecar: ${message}\n`);
}

function chromiumPath() {
  return process.env.RTCBENCH_CHROMIUM || '/usr/bin/chromium';
}

// One session: its page and what it holds at the provider.
class Session {
  constructor(id) {
    this.id = id;
    this.page = null;
    this.kind = null;
    this.endpoints = {};
    this.credentials = {};
    this.timeoutMs = DEFAULT_TIMEOUT_MS;
    this.resource = null; // WHEP resource URL to DELETE on leave
    this.subscribed = false;
  }
}

const sessions = new Map();
let browser = null;

function fail(id, step, error) {
  const message = error instanceof Error ? error.message : String(error);
  emit({ event: 'error', id, step, message });
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function openPage(s) {
  // A context (a window) per session: a tab behind another would not render its frames.
  s.context = await browser.newContext();
  const page = await s.context.newPage();
  page.on('pageerror', (e) => log(`${s.id}: page error: ${e.message}`));
  await page.exposeFunction('rtcbenchEmit', (event) => emit({ ...event, id: s.id }));
  const file = path.join(__dirname, 'pages', `${s.kind}.html`);
  await page.goto(`file://${file}`);
  return page;
}

async function join(cmd) {
  const { id } = cmd;
  if (sessions.has(id)) return fail(id, 'protocol', `session ${id} has already joined`);
  if (!PAGES.includes(cmd.page)) {
    return fail(id, 'join', `no page "${cmd.page}"; this sidecar has: ${PAGES.join(', ')}`);
  }
  const s = new Session(id);
  s.kind = cmd.page;
  s.endpoints = cmd.endpoints || {};
  s.credentials = cmd.credentials || {};
  if (Number.isFinite(cmd.timeout_ms)) s.timeoutMs = cmd.timeout_ms;
  sessions.set(id, s);
  try {
    // Opening the page is the harness's own work, not the provider's: it has a limit of its own.
    s.page = await withTimeout(openPage(s), PAGE_TIMEOUT_MS, `opening the ${s.kind} page`);
    if (s.kind !== 'whip-whep') {
      // The vendor SDK joins the channel itself; a cloud it cannot reach is named as such.
      await withTimeout(
        s.page.evaluate(
          ([room, credentials]) => window.rtcbench.join(room, credentials),
          [cmd.room, s.credentials]
        ),
        s.timeoutMs,
        `joining ${VENDORS[s.kind]}`
      ).catch((e) => {
        const message = e.message.replace(/^page\.evaluate: (Error: )?/, '');
        const config = message.indexOf('rtcbench config: ');
        if (config >= 0) throw new Error(message.slice(config + 'rtcbench config: '.length));
        throw new Error(`cannot reach ${VENDORS[s.kind]}: ${message}`);
      });
    }
    emit({ event: 'joined', id, t_us: nowUs() });
  } catch (e) {
    fail(id, 'join', e);
  }
}

async function whep(s) {
  const url = s.endpoints.whep_url;
  if (!url) throw new Error('the join gave no whep_url');
  const offer = await s.page.evaluate(() => window.rtcbench.offer());
  const headers = { 'Content-Type': 'application/sdp' };
  if (s.credentials.token) headers.Authorization = `Bearer ${s.credentials.token}`;
  const response = await withTimeout(
    fetch(url, { method: 'POST', headers, body: offer }),
    s.timeoutMs,
    'WHEP'
  );
  const body = await response.text();
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`HTTP ${response.status}: ${body.slice(0, 200).trim()}`);
  }
  const location = response.headers.get('location');
  if (location) s.resource = new URL(location, url).toString();
  await s.page.evaluate((sdp) => window.rtcbench.answer(sdp), body);
}

async function subscribe(cmd) {
  const s = sessions.get(cmd.id);
  if (!s || !s.page) return fail(cmd.id, 'protocol', `session ${cmd.id} has not joined`);
  if (s.subscribed) return fail(cmd.id, 'protocol', `session ${cmd.id} has already subscribed`);
  s.subscribed = true;
  try {
    if (s.kind === 'whip-whep') await whep(s);
    else await withTimeout(s.page.evaluate(() => window.rtcbench.subscribe()), s.timeoutMs, 'subscribing');
    emit({ event: 'subscribed', id: s.id, t_us: nowUs() });
  } catch (e) {
    fail(s.id, 'subscribe', e);
  }
}

async function publish(cmd) {
  const s = sessions.get(cmd.id);
  if (!s || !s.page) return fail(cmd.id, 'protocol', `session ${cmd.id} has not joined`);
  if (s.kind === 'whip-whep') {
    return fail(s.id, 'publish', 'the whip-whep page plays streams; rtcbench publishes them natively');
  }
  try {
    await withTimeout(
      s.page.evaluate((video) => window.rtcbench.publish(video), cmd.video),
      s.timeoutMs,
      'publishing'
    );
    emit({ event: 'published', id: s.id, t_us: nowUs() });
  } catch (e) {
    fail(s.id, 'publish', e);
  }
}

async function leave(cmd) {
  const s = sessions.get(cmd.id);
  if (!s) return fail(cmd.id, 'protocol', `no session ${cmd.id}`);
  sessions.delete(cmd.id);
  try {
    if (s.page) await s.page.evaluate(() => window.rtcbench.close()).catch(() => {});
    if (s.resource) {
      const headers = s.credentials.token ? { Authorization: `Bearer ${s.credentials.token}` } : {};
      await withTimeout(fetch(s.resource, { method: 'DELETE', headers }), 2000, 'DELETE').catch(
        () => {}
      );
    }
    if (s.context) await s.context.close();
  } catch (e) {
    fail(s.id, 'leave', e);
  }
  emit({ event: 'left', id: s.id });
}

let shuttingDown = false;

async function shutdown() {
  // Both the command and the end of stdin lead here; the first does it.
  if (shuttingDown) return;
  shuttingDown = true;
  for (const id of [...sessions.keys()]) await leave({ id });
  if (browser) await browser.close().catch(() => {});
  process.exit(0);
}

async function handle(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    return fail(undefined, 'protocol', `not JSON: ${line.slice(0, 120)}`);
  }
  const needsId = ['join', 'publish', 'subscribe', 'leave'];
  if (needsId.includes(cmd.cmd) && typeof cmd.id !== 'string') {
    return fail(undefined, 'protocol', `"${cmd.cmd}" needs a string id`);
  }
  switch (cmd.cmd) {
    case 'join':
      return join(cmd);
    case 'publish':
      return publish(cmd);
    case 'subscribe':
      return subscribe(cmd);
    case 'leave':
      return leave(cmd);
    case 'shutdown':
      return shutdown();
    default:
      return fail(cmd.id, 'protocol', `unknown command "${cmd.cmd}"`);
  }
}

async function main() {
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [
        // As root (CI), Chromium runs only without its sandbox.
        '--no-sandbox',
        '--autoplay-policy=no-user-gesture-required',
        '--allow-loopback-in-peer-connection',
        '--use-fake-ui-for-media-stream',
        '--disable-gpu',
        // Every session's page is a background tab but one; none may be throttled.
        '--disable-background-timer-throttling',
        '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows',
      ],
    });
  } catch (e) {
    log(`cannot start ${chromiumPath()}: ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
  emit({
    event: 'ready',
    protocol: PROTOCOL,
    client: 'browser',
    version: `chromium ${browser.version()}`,
    pages: PAGES,
  });
  const input = readline.createInterface({ input: process.stdin });
  // A session's commands run in order; different sessions' run side by side.
  const chains = new Map();
  input.on('line', (line) => {
    if (!line.trim()) return;
    let id;
    try {
      id = JSON.parse(line).id;
    } catch (e) {
      id = undefined;
    }
    const run = () => handle(line).catch((e) => fail(id, 'protocol', e));
    const next = (chains.get(id) || Promise.resolve()).then(run);
    chains.set(id, next);
  });
  input.on('close', () => shutdown());
}

main();
