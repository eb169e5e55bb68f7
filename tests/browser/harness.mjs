// harness.mjs — what every browser test file starts and stops: a real OpenSSH sshd on a free
// loopback port with generated keys, a local HTTP target for the far side of forwards, the real
// portwarden agent (`portwarden serve`), and Debian's headless Chromium driven by playwright-core
// (never a downloaded browser). Pages are signed in the way `portwarden ui` does it (a one-time
// login link) and watched for console errors, uncaught exceptions and non-loopback requests.
// Every wait polls with a deadline; nothing sleeps a fixed time to wait for start-up.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const SCREENSHOTS = path.join(REPO, 'target', 'ui-screenshots');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SSHD = '/usr/sbin/sshd';

/** Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function waitFor(fn, { timeout = 15000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function keygen(file, comment) {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'pipe' });
}

/** Resolves once something on host:port sends a line starting with `SSH-`. */
function sshBanner(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('data', (d) => { buf += d.toString('latin1'); if (buf.includes('\n')) done(buf.startsWith('SSH-')); });
    sock.on('error', () => done(false));
    sock.on('close', () => done(buf.startsWith('SSH-')));
  });
}

function stopChild(child, timeout = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, timeout);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { child.kill('SIGTERM'); } catch { resolve(); }
  });
}

/** Pids of every live descendant of `root` (from /proc), parents first. */
function descendants(root) {
  const procs = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z') procs.push([Number(e), Number(rest[1])]);
    } catch { /* gone */ }
  }
  const out = [];
  const frontier = [root];
  while (frontier.length) {
    const parent = frontier.pop();
    for (const [pid, ppid] of procs) {
      if (ppid === parent && !out.includes(pid)) { out.push(pid); frontier.push(pid); }
    }
  }
  return out;
}

/** SIGKILLs a child process and everything it forked; resolves when it has exited. */
function killTree(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const kids = descendants(child.pid);
  const exited = new Promise((r) => child.once('exit', r));
  for (const pid of [child.pid, ...kids]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return exited;
}

/** A real OpenSSH sshd on 127.0.0.1:<free port>, key auth only, for the current user. */
export async function startSshd(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync('/run/sshd', { recursive: true });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const clientKey = path.join(dir, 'id_ed25519');
  keygen(hostKey, 'portwarden-browser-test-host');
  keygen(clientKey, 'portwarden-browser-test-client');
  const authorized = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${clientKey}.pub`, authorized);
  const log = path.join(dir, 'sshd.log');
  const hostPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort();
    const cfg = path.join(dir, 'sshd_config');
    fs.writeFileSync(cfg, [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'AllowTcpForwarding yes',
      'LogLevel VERBOSE',
      '',
    ].join('\n'));
    const launch = async () => {
      const child = spawn(SSHD, ['-D', '-f', cfg, '-E', log], { stdio: 'ignore' });
      let exited = false;
      child.once('exit', () => { exited = true; });
      const deadline = Date.now() + 10000;
      while (!exited && Date.now() < deadline) {
        if (await sshBanner(port)) return child;
        await new Promise((r) => setTimeout(r, 50));
      }
      await killTree(child);
      return null;
    };
    let child = await launch();
    if (child) {
      const sshd = {
        port,
        clientKey,
        hostKeyLine: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
        fingerprint,
        log,
        /** Kills sshd and every connection it serves (clients see the transport drop). */
        kill: async () => { await killTree(child); },
        /** Starts sshd again on the same port with the same keys. */
        restart: async () => {
          await killTree(child);
          child = await waitFor(() => launch(), { timeout: 20000, message: `sshd restart on ${port}` });
        },
        stop: () => killTree(child),
      };
      return sshd;
    }
    lastErr = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  }
  throw new Error(`sshd did not start: ${lastErr}`);
}

/** An HTTP server on 127.0.0.1:0 answering every request with `body`. */
export async function startHttpTarget(body = 'hello through the tunnel') {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, body, stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

/** GET http://127.0.0.1:port/ → body text (rejects on error or after `timeout`). */
export function httpGet(port, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve(data));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function agentBinary() {
  const bin = process.env.PORTWARDEN_BIN || path.join(REPO, 'target', 'debug', 'portwarden');
  if (!fs.existsSync(bin)) {
    throw new Error(`portwarden binary not found at ${bin}: build it first (cargo build -p portwarden) or set PORTWARDEN_BIN`);
  }
  return bin;
}

/** The real agent: `portwarden serve --listen 127.0.0.1:0 --data-dir <dir>`. */
export async function startAgent(dataDir, { knownHosts = [] } = {}) {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  if (knownHosts.length) fs.appendFileSync(path.join(dataDir, 'known_hosts'), `${knownHosts.join('\n')}\n`);
  const logPath = path.join(dataDir, 'agent.log');
  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(agentBinary(), ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', HOME: dataDir, XDG_DATA_HOME: path.join(dataDir, 'xdg') },
  });
  fs.closeSync(logFd);
  let exit = null;
  child.once('exit', (code, sig) => { exit = { code, sig }; });
  const addrFile = path.join(dataDir, 'agent.addr');
  const tokenFile = path.join(dataDir, 'api-token');
  const addr = await waitFor(() => {
    if (exit) throw new Error(`agent exited (${JSON.stringify(exit)}): ${fs.readFileSync(logPath, 'utf8').slice(-2000)}`);
    if (!fs.existsSync(addrFile) || !fs.existsSync(tokenFile)) return null;
    const a = fs.readFileSync(addrFile, 'utf8').trim();
    return /:\d+$/.test(a) ? a : null;
  }, { timeout: 20000, message: 'agent.addr' });
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  const base = `http://${addr}`;
  await waitFor(async () => (await fetch(`${base}/health`)).ok, { timeout: 10000, message: 'agent /health' });

  async function api(method, p, body) {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!res.ok) {
      const err = new Error(`${method} ${p} → ${res.status}: ${text}`);
      err.status = res.status;
      err.body = data;
      throw err;
    }
    return data;
  }

  return {
    base,
    token,
    dataDir,
    logPath,
    api,
    log: () => fs.readFileSync(logPath, 'utf8'),
    stop: () => stopChild(child),
  };
}

const LOOPBACK_URL = /^(https?|wss?):\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//;

/**
 * Starts sshd, an HTTP target, the agent and Chromium for one test file.
 * opts.trustHostKey (default true): pre-trust sshd's host key in the agent's known_hosts.
 */
export async function startEnv({ trustHostKey = true } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portwarden-browser-'));
  const cleanups = [];
  const env = { root };
  try {
    env.sshd = await startSshd(path.join(root, 'sshd'));
    cleanups.push(() => env.sshd.stop());
    env.target = await startHttpTarget();
    cleanups.push(() => env.target.stop());
    env.agent = await startAgent(path.join(root, 'agent'), { knownHosts: trustHostKey ? [env.sshd.hostKeyLine] : [] });
    cleanups.push(() => env.agent.stop());
    env.username = os.userInfo().username;
    env.profile = await env.agent.api('POST', '/profiles', {
      name: 'test-key', username: env.username, auth_type: 'key', key_path: env.sshd.clientKey,
    });
    const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'portwarden-chromium-'));
    env.context = await chromium.launchPersistentContext(userData, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanups.push(async () => { await env.context.close(); fs.rmSync(userData, { recursive: true, force: true }); });
    env.context.setDefaultTimeout(15000);
    await env.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.agent.base });
  } catch (e) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    if (!process.env.KEEP_TEST_DIRS) fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }

  /** A signed-in page watched for console errors, page errors and non-loopback requests. */
  env.newPage = async ({ allowConsole = [] } = {}) => {
    const page = await env.context.newPage();
    const problems = [];
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      if (allowConsole.some((re) => re.test(text))) return;
      problems.push(`console error: ${text}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const u = r.url();
      if (!LOOPBACK_URL.test(u) && !u.startsWith('data:') && u !== 'about:blank') problems.push(`non-loopback request: ${u}`);
    });
    page.problems = problems;
    const { url } = await env.agent.api('POST', '/login-links');
    // The link names the agent's canonical address; use it as given (that is what `portwarden ui` opens).
    await page.goto(url);
    await page.waitForSelector('#tunnels-button');
    return page;
  };

  /** Asserts the page produced no console error, uncaught exception or non-loopback request. */
  env.checkPage = async (page) => {
    const problems = [...page.problems];
    await page.close();
    assert.deepEqual(problems, [], 'page problems');
  };

  env.createTunnel = (overrides = {}) => env.agent.api('POST', '/tunnels', {
    name: 'api tunnel',
    host: '127.0.0.1',
    port: env.sshd.port,
    profile_id: env.profile.id,
    forward_type: 'local',
    bind_address: '127.0.0.1',
    remote_host: '127.0.0.1',
    remote_port: env.target.port,
    auto_reconnect: true,
    ...overrides,
  });

  env.tunnelStatus = async (id) => (await env.agent.api('GET', '/tunnels/status')).find((t) => t.id === id);

  env.waitStatus = (id, status, timeout = 20000) => waitFor(async () => {
    const t = await env.tunnelStatus(id);
    return t && t.status === status ? t : null;
  }, { timeout, message: `tunnel ${id} to be ${status}` });

  env.screenshot = async (page, name, opts = {}) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), ...opts });
  };

  env.stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    if (!process.env.KEEP_TEST_DIRS) fs.rmSync(root, { recursive: true, force: true });
  };
  return env;
}

/** Opens the Tunnels popover and waits until it lists at least `rows` rows. */
export async function openPopover(page, rows = 0) {
  if (!(await page.locator('#tunnel-popover').isVisible())) await page.click('#tunnels-button');
  await page.locator('#tunnel-popover').waitFor({ state: 'visible' });
  if (rows) await waitFor(async () => (await page.locator('#tunnel-popover .tunnel-row').count()) >= rows, { message: `${rows} popover rows` });
}

/** The popover row of a tunnel, by id. */
export function row(page, id) {
  return page.locator(`#tunnel-popover .tunnel-row[data-id="${id}"]`);
}

/** Waits until a tunnel's popover row shows `status`. */
export function waitRowStatus(page, id, status, timeout = 20000) {
  return page.waitForSelector(`#tunnel-popover .tunnel-row[data-id="${id}"][data-status="${status}"]`, { timeout });
}
