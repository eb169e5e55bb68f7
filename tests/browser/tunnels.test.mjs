// The Tunnels popover and Settings → SSH Tunnels against a real agent and a real sshd: creating
// a tunnel through the form until it forwards, the badge, the toggle, the right-click menu, copy,
// edit, search, Esc/click-outside, the client-side loopback check, keyboard use, and screenshots
// (popover, form, failed tunnel, 390×844, dark).

import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEnv, freePort, httpGet, waitFor, openPopover, row, waitRowStatus, SCREENSHOTS,
} from './harness.mjs';

const LOOPBACK_MSG = "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth";

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.stop(); });

async function menuLabels(page) {
  await page.locator('.menu[role="menu"]').waitFor({ state: 'visible' });
  return page.locator('.menu [role="menuitem"]').allTextContents();
}

async function fillTunnelForm(page, v) {
  await page.fill('#tunnel-form input[name="name"]', v.name);
  await page.fill('#tunnel-form input[name="host"]', v.host);
  await page.fill('#tunnel-form input[name="port"]', String(v.port));
  await page.selectOption('#tunnel-form select[name="profile_id"]', v.profile_id);
  await page.selectOption('#tunnel-form select[name="forward_type"]', v.forward_type || 'local');
  await page.fill('#tunnel-form input[name="local_port"]', String(v.local_port));
  await page.fill('#tunnel-form input[name="bind_address"]', v.bind_address ?? '127.0.0.1');
  if ((v.forward_type || 'local') !== 'dynamic') {
    await page.fill('#tunnel-form input[name="remote_host"]', v.remote_host ?? '');
    await page.fill('#tunnel-form input[name="remote_port"]', String(v.remote_port ?? ''));
  }
}

async function labelOf(page, field) {
  return (await page.locator(`#tunnel-form .field[data-field="${field}"] > label`).textContent()).trim();
}

describe('SSH Tunnels form', () => {
  test('creates a tunnel that reaches connected and forwards', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels`);
    // A profile created after the page loaded shows up when the form opens.
    const late = await env.agent.api('POST', '/profiles', {
      name: 'late-profile', username: env.username, auth_type: 'key', key_path: env.sshd.clientKey,
    });
    await page.click('#new-tunnel');
    await page.locator('#tunnel-form').waitFor();
    const profileOptions = await page.locator('#tunnel-form select[name="profile_id"] option').allTextContents();
    assert.ok(profileOptions.some((o) => o.startsWith('late-profile')), `profile dropdown refreshed: ${profileOptions}`);
    assert.equal(await page.locator('#tunnel-form select[name="jump"] option').first().textContent(), 'Inherit from profile');

    const labels = {};
    for (const f of ['name', 'host', 'port', 'profile_id', 'jump', 'forward_type', 'local_port', 'bind_address', 'remote_host', 'remote_port', 'max_retries']) {
      labels[f] = await labelOf(page, f);
    }
    assert.deepEqual(labels, {
      name: 'Name', host: 'SSH Host', port: 'Port', profile_id: 'Credential Profile', jump: 'Jump',
      forward_type: 'Forward Type', local_port: 'Local Port', bind_address: 'Bind Address',
      remote_host: 'Remote Host', remote_port: 'Remote Port', max_retries: 'Max retries',
    });
    assert.equal(await page.inputValue('#tunnel-form input[name="port"]'), '22');
    assert.equal(await page.inputValue('#tunnel-form input[name="bind_address"]'), '127.0.0.1');
    assert.equal(await page.inputValue('#tunnel-form input[name="max_retries"]'), '5');
    assert.equal(await page.locator('#tunnel-form .field[data-field="auto_start"] label').textContent(), 'Auto-start');
    assert.equal(await page.locator('#tunnel-form .field[data-field="auto_reconnect"] label').textContent(), 'Auto-reconnect');
    assert.equal(await page.isChecked('#tunnel-form input[name="auto_start"]'), false);
    assert.equal(await page.isChecked('#tunnel-form input[name="auto_reconnect"]'), true);
    assert.equal((await page.locator('#tunnel-form [data-role="submit"]').textContent()).trim(), 'Create Tunnel');

    const localPort = await freePort();
    await fillTunnelForm(page, {
      name: 'Web target', host: '127.0.0.1', port: env.sshd.port, profile_id: late.id,
      local_port: localPort, remote_host: '127.0.0.1', remote_port: env.target.port,
    });
    await env.screenshot(page, 'settings-form');
    // The whole form, without the fixed status bar across it.
    await page.evaluate(() => { document.getElementById('statusbar').style.visibility = 'hidden'; });
    await page.locator('#tunnel-form').screenshot({ path: `${SCREENSHOTS}/settings-form-whole.png` });
    await page.evaluate(() => { document.getElementById('statusbar').style.visibility = ''; });
    await page.click('#tunnel-form [data-role="submit"]');
    await page.locator('#tunnel-form').waitFor({ state: 'detached' });
    const created = await waitFor(async () => (await env.agent.api('GET', '/tunnels')).find((t) => t.name === 'Web target'), { message: 'tunnel created' });
    assert.equal(created.spec, `L :${localPort} → 127.0.0.1:${env.target.port}`);
    assert.equal(created.max_retries, 5);
    assert.equal(created.auto_reconnect, true);

    const item = page.locator(`#tunnel-table .item[data-id="${created.id}"]`);
    await item.locator('[data-action="start"]').click();
    await page.waitForSelector(`#tunnel-table .item[data-id="${created.id}"][data-status="connected"]`, { timeout: 20000 });
    assert.equal(await httpGet(localPort), env.target.body);

    await openPopover(page, 1);
    await waitRowStatus(page, created.id, 'connected');
    const r = row(page, created.id);
    assert.equal(await r.locator('.row-spec').textContent(), `L :${localPort} → 127.0.0.1:${env.target.port}`);
    assert.equal(await r.locator('.row-via').textContent(), `via 127.0.0.1:${env.sshd.port}`);
    assert.match(await r.locator('.row-uptime').textContent(), /^\d+[smhd]$/);
    assert.equal(await r.locator('[role="switch"]').getAttribute('aria-checked'), 'true');
    await env.screenshot(page, 'popover-open');
    await env.checkPage(page);
    await env.agent.api('POST', `/tunnels/${created.id}/stop`);
  });

  test('forward type hides or relabels the remote fields', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    await page.selectOption('#tunnel-form select[name="forward_type"]', 'dynamic');
    assert.equal(await page.locator('#tunnel-form .field[data-field="remote_host"]').isVisible(), false);
    assert.equal(await page.locator('#tunnel-form .field[data-field="remote_port"]').isVisible(), false);
    await page.selectOption('#tunnel-form select[name="forward_type"]', 'remote');
    assert.equal(await labelOf(page, 'remote_host'), 'Remote Listen Address');
    assert.equal(await labelOf(page, 'remote_port'), 'Remote Listen Port');
    assert.match(await page.locator('#tunnel-form .field[data-field="remote_port"] .hint').textContent(), /0 = server picks/);
    await page.selectOption('#tunnel-form select[name="forward_type"]', 'local');
    assert.equal(await labelOf(page, 'remote_host'), 'Remote Host');
    assert.equal(await page.locator('#tunnel-form .field[data-field="remote_port"]').isVisible(), true);
    const types = await page.locator('#tunnel-form select[name="forward_type"] option').allTextContents();
    assert.deepEqual(types, ['Local (-L)', 'Dynamic (-D) SOCKS5', 'Remote (-R)']);
    await env.checkPage(page);
  });

  test('a remote forward (-R) with port 0 shows the port the server chose, and carries traffic back', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    await page.fill('#tunnel-form input[name="name"]', 'Expose target');
    await page.fill('#tunnel-form input[name="host"]', '127.0.0.1');
    await page.fill('#tunnel-form input[name="port"]', String(env.sshd.port));
    await page.selectOption('#tunnel-form select[name="profile_id"]', env.profile.id);
    await page.selectOption('#tunnel-form select[name="forward_type"]', 'remote');
    await page.fill('#tunnel-form input[name="local_port"]', String(env.target.port));
    await page.fill('#tunnel-form input[name="remote_port"]', '0');
    await page.click('#tunnel-form [data-role="submit"]');
    await page.locator('#tunnel-form').waitFor({ state: 'detached' });
    const t = await waitFor(async () => (await env.agent.api('GET', '/tunnels')).find((x) => x.name === 'Expose target'), { message: 'remote tunnel created' });
    assert.equal(t.forward_type, 'remote');
    assert.equal(t.remote_host, 'localhost');
    assert.equal(t.remote_port, 0);
    await openPopover(page, 1);
    await row(page, t.id).locator('[role="switch"]').click();
    await waitRowStatus(page, t.id, 'connected');
    const s = await env.waitStatus(t.id, 'connected');
    assert.ok(s.allocated_port > 0, 'the server chose a port');
    await waitFor(async () => (await row(page, t.id).locator('.row-spec').textContent()) === `R :${s.allocated_port} → localhost:${env.target.port}`, { message: 'spec with the allocated port' });
    assert.equal(await httpGet(s.allocated_port), env.target.body, 'a connection to the server side reaches the local target');
    await row(page, t.id).locator('[role="switch"]').click();
    await waitRowStatus(page, t.id, 'disconnected');
    await env.agent.api('DELETE', `/tunnels/${t.id}`);
    await env.checkPage(page);
  });

  test('a non-loopback bind is blocked client-side with the exact text and no request', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    const before = (await env.agent.api('GET', '/tunnels')).length;
    const writes = [];
    page.on('request', (r) => { if (r.method() !== 'GET') writes.push(`${r.method()} ${r.url()}`); });
    await fillTunnelForm(page, {
      name: 'LAN exposed', host: '127.0.0.1', port: env.sshd.port, profile_id: env.profile.id,
      local_port: await freePort(), bind_address: '0.0.0.0', remote_host: '127.0.0.1', remote_port: env.target.port,
    });
    await page.click('#tunnel-form [data-role="submit"]');
    const err = page.locator('#tunnel-form .field[data-field="bind_address"] .field-error');
    await err.waitFor({ state: 'visible' });
    assert.equal(await err.textContent(), LOOPBACK_MSG);
    assert.equal(await page.getAttribute('#tunnel-form input[name="bind_address"]', 'aria-invalid'), 'true');
    assert.deepEqual(writes, [], 'no request was sent');
    assert.equal((await env.agent.api('GET', '/tunnels')).length, before);
    // Fixing it clears the error.
    await page.fill('#tunnel-form input[name="bind_address"]', '127.0.0.2');
    assert.equal(await err.isVisible(), false);
    await env.checkPage(page);
  });

  test('an agent validation error is shown next to its field', async () => {
    const page = await env.newPage({ allowConsole: [/status of 400/] });
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    await fillTunnelForm(page, {
      name: 'Bad port', host: '127.0.0.1', port: env.sshd.port, profile_id: env.profile.id,
      local_port: await freePort(), remote_host: '127.0.0.1', remote_port: 70000,
    });
    await page.click('#tunnel-form [data-role="submit"]');
    const err = page.locator('#tunnel-form .field[data-field="remote_port"] .field-error');
    await err.waitFor({ state: 'visible' });
    assert.match(await err.textContent(), /remote_port/);
    assert.equal(await page.locator('#tunnel-form').count(), 1, 'form stays open');
    await env.checkPage(page);
  });
});

describe('Tunnels popover', () => {
  let ok; // a tunnel that connects
  let ok2;

  before(async () => {
    ok = await env.createTunnel({ name: 'Alpha web', local_port: await freePort() });
    ok2 = await env.createTunnel({ name: 'Bravo socks', forward_type: 'dynamic', remote_host: null, remote_port: null, local_port: await freePort(), auto_start: true });
  });

  test('badge shows the active count, or the failed count in the error colour', async () => {
    const page = await env.newPage();
    await env.agent.api('POST', `/tunnels/${ok.id}/start`);
    await env.agent.api('POST', `/tunnels/${ok2.id}/start`);
    await env.waitStatus(ok.id, 'connected');
    await env.waitStatus(ok2.id, 'connected');
    const badge = page.locator('#tunnels-badge');
    await page.waitForFunction(() => document.querySelector('#tunnels-badge')?.textContent === '2', null, { timeout: 15000 });
    assert.match(await badge.getAttribute('class'), /badge-active/);
    assert.equal(await page.getAttribute('#tunnels-button', 'aria-label'), 'Tunnels, 2 active');

    // A tunnel to a port where nothing listens, without auto-reconnect, ends failed.
    const dead = await env.createTunnel({ name: 'Dead end', port: await freePort(), local_port: await freePort(), auto_reconnect: false });
    await env.agent.api('POST', `/tunnels/${dead.id}/start`).catch(() => {});
    const failed = await env.waitStatus(dead.id, 'failed');
    assert.ok(failed.last_error, 'failed tunnel keeps its last error');
    await page.waitForFunction(() => document.querySelector('#tunnels-badge')?.classList.contains('badge-error'), null, { timeout: 15000 });
    assert.equal(await badge.textContent(), '1');
    assert.equal(await page.getAttribute('#tunnels-button', 'aria-label'), 'Tunnels, 1 failed');
    const colours = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.style.color = getComputedStyle(document.documentElement).getPropertyValue('--error');
      document.body.append(probe);
      const want = getComputedStyle(probe).color;
      probe.remove();
      return { got: getComputedStyle(document.querySelector('#tunnels-badge')).backgroundColor, want };
    });
    assert.equal(colours.got, colours.want, 'badge uses the error colour');

    await openPopover(page, 3);
    await waitRowStatus(page, dead.id, 'failed');
    const r = row(page, dead.id);
    assert.equal(await r.getAttribute('title'), failed.last_error, 'last error in full on hover');
    assert.equal(await r.locator('.row-error').textContent(), failed.last_error);
    assert.equal(await r.locator('[role="switch"]').getAttribute('aria-checked'), 'false');
    assert.equal(await row(page, ok2.id).locator('.tag-auto').textContent(), 'auto-start');
    assert.equal(await row(page, ok.id).locator('.tag-auto').count(), 0);
    await env.screenshot(page, 'failed-tunnel');

    // Right-click entries per status: failed → Reconnect, Copy local address, Edit.
    await r.click({ button: 'right' });
    assert.deepEqual(await menuLabels(page), ['Reconnect', 'Copy local address', 'Edit']);
    await page.keyboard.press('Escape');
    await env.checkPage(page);
    await env.agent.api('DELETE', `/tunnels/${dead.id}`);
  });

  test('the toggle stops a running tunnel and starts a stopped one', async () => {
    const page = await env.newPage();
    await env.waitStatus(ok.id, 'connected');
    await openPopover(page, 2);
    const sw = row(page, ok.id).locator('[role="switch"]');
    await waitRowStatus(page, ok.id, 'connected');
    assert.equal(await sw.getAttribute('aria-checked'), 'true');
    await sw.click();
    await waitRowStatus(page, ok.id, 'disconnected');
    await env.waitStatus(ok.id, 'disconnected');
    assert.equal(await row(page, ok.id).locator('[role="switch"]').getAttribute('aria-checked'), 'false');
    await row(page, ok.id).locator('[role="switch"]').click();
    await waitRowStatus(page, ok.id, 'connected');
    assert.equal(await row(page, ok.id).locator('[role="switch"]').getAttribute('aria-checked'), 'true');
    assert.equal(await httpGet(ok.local_port), env.target.body);
    await env.checkPage(page);
  });

  test('right-click menu: Pause when connected, Reconnect when disconnected', async () => {
    const page = await env.newPage();
    await env.waitStatus(ok.id, 'connected');
    await openPopover(page, 2);
    await waitRowStatus(page, ok.id, 'connected');
    await row(page, ok.id).click({ button: 'right' });
    assert.deepEqual(await menuLabels(page), ['Pause', 'Copy local address', 'Edit']);
    await env.screenshot(page, 'popover-menu');
    // Arrow keys move through the items (and wrap).
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Pause');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Copy local address');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Edit');
    await page.keyboard.press('Home');
    await page.keyboard.press('Enter'); // Pause
    await waitRowStatus(page, ok.id, 'disconnected');
    await env.waitStatus(ok.id, 'disconnected');

    await row(page, ok.id).click({ button: 'right' });
    assert.deepEqual(await menuLabels(page), ['Reconnect', 'Copy local address', 'Edit']);
    const reconnect = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/tunnels/${ok.id}/reconnect`));
    await page.locator('.menu [role="menuitem"]', { hasText: 'Reconnect' }).click();
    await reconnect;
    await waitRowStatus(page, ok.id, 'connected');
    await env.checkPage(page);
  });

  test('Copy local address puts bind_address:local_port on the clipboard', async () => {
    const page = await env.newPage();
    await openPopover(page, 2);
    await row(page, ok2.id).click({ button: 'right' });
    await page.locator('.menu [role="menuitem"]', { hasText: 'Copy local address' }).click();
    const text = await waitFor(async () => {
      const t = await page.evaluate(() => navigator.clipboard.readText());
      return t === `127.0.0.1:${ok2.local_port}` ? t : null;
    }, { message: 'clipboard text' });
    assert.equal(text, `127.0.0.1:${ok2.local_port}`);
    assert.equal(await page.locator('.menu').count(), 0, 'menu closed after the action');
    await env.checkPage(page);
  });

  test('Edit opens Manage Tunnels with the tunnel loaded', async () => {
    const page = await env.newPage();
    await openPopover(page, 2);
    await row(page, ok2.id).click({ button: 'right' });
    await page.locator('.menu [role="menuitem"]', { hasText: 'Edit' }).click();
    await page.locator(`#tunnel-form[data-mode="edit"][data-id="${ok2.id}"]`).waitFor();
    assert.equal(await page.locator('#tunnel-popover').isVisible(), false, 'popover closed');
    assert.equal(await page.inputValue('#tunnel-form input[name="name"]'), 'Bravo socks');
    assert.equal(await page.inputValue('#tunnel-form select[name="forward_type"]'), 'dynamic');
    assert.equal(await page.inputValue('#tunnel-form input[name="local_port"]'), String(ok2.local_port));
    assert.equal(await page.isChecked('#tunnel-form input[name="auto_start"]'), true);
    assert.equal(await page.locator('#tunnel-form .field[data-field="remote_host"]').isVisible(), false);
    assert.equal((await page.locator('#tunnel-form [data-role="submit"]').textContent()).trim(), 'Save');
    assert.equal(await page.getAttribute('nav a[data-path="tunnels"]', 'aria-current'), 'page');
    await page.fill('#tunnel-form input[name="name"]', 'Bravo SOCKS proxy');
    await page.click('#tunnel-form [data-role="submit"]');
    await page.locator('#tunnel-form').waitFor({ state: 'detached' });
    await page.locator(`#tunnel-table .item[data-id="${ok2.id}"] .item-name`, { hasText: 'Bravo SOCKS proxy' }).waitFor();
    const saved = (await env.agent.api('GET', '/tunnels')).find((t) => t.id === ok2.id);
    assert.equal(saved.name, 'Bravo SOCKS proxy');
    assert.equal(saved.forward_type, 'dynamic');
    await env.checkPage(page);
  });

  test('search filters by name and by spec (port, destination)', async () => {
    const page = await env.newPage();
    await page.click('#tunnels-button');
    await page.locator('#tunnel-popover').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tunnel-search', 'search focused on open');
    await openPopover(page, 2);
    const ids = async () => page.locator('#tunnel-popover .tunnel-row').evaluateAll((els) => els.map((e) => e.dataset.id));
    await page.fill('#tunnel-search', 'alpha');
    assert.deepEqual(await ids(), [ok.id]);
    await page.fill('#tunnel-search', String(ok2.local_port));
    assert.deepEqual(await ids(), [ok2.id]);
    await page.fill('#tunnel-search', `127.0.0.1:${env.target.port}`);
    assert.ok((await ids()).includes(ok.id));
    assert.ok(!(await ids()).includes(ok2.id));
    await page.fill('#tunnel-search', 'socks5');
    assert.deepEqual(await ids(), [ok2.id]);
    await page.fill('#tunnel-search', 'no-such-tunnel-zzz');
    assert.deepEqual(await ids(), []);
    assert.match(await page.locator('#tunnel-popover .empty').textContent(), /No tunnels match/);
    await page.fill('#tunnel-search', '');
    assert.ok((await ids()).length >= 2);
    await env.checkPage(page);
  });

  test('Esc closes the menu first, then the popover; a click outside closes it', async () => {
    const page = await env.newPage();
    await openPopover(page, 2);
    await row(page, ok.id).click({ button: 'right' });
    await page.locator('.menu').waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.menu').count(), 0, 'menu closed');
    assert.equal(await page.locator('#tunnel-popover').isVisible(), true, 'popover still open');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#tunnel-popover').isVisible(), false, 'popover closed');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tunnels-button', 'focus back on the button');
    assert.equal(await page.getAttribute('#tunnels-button', 'aria-expanded'), 'false');

    await openPopover(page, 2);
    await page.mouse.click(300, 300); // the settings area, outside the popover
    assert.equal(await page.locator('#tunnel-popover').isVisible(), false, 'click outside closes');
    // The footer opens Manage Tunnels.
    await openPopover(page, 2);
    assert.equal(await page.locator('#manage-tunnels').textContent(), 'Manage Tunnels...');
    await page.click('#manage-tunnels');
    assert.equal(await page.locator('#tunnel-popover').isVisible(), false);
    await page.waitForFunction(() => location.hash === '#/tunnels');
    await env.checkPage(page);
  });

  test('keyboard: Tab, Enter, arrows, Shift+F10, Space', async () => {
    const page = await env.newPage();
    await env.waitStatus(ok.id, 'connected');
    await page.evaluate(() => document.activeElement?.blur());
    await waitFor(async () => {
      await page.keyboard.press('Tab');
      return (await page.evaluate(() => document.activeElement?.id)) === 'tunnels-button';
    }, { timeout: 10000, interval: 0, message: 'Tab to reach the Tunnels button' });
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    await page.locator('#tunnel-popover').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tunnel-search');
    await openPopover(page, 2);
    await page.fill('#tunnel-search', 'alpha');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), ok.id);
    await page.keyboard.press('Shift+F10');
    assert.deepEqual(await menuLabels(page), ['Pause', 'Copy local address', 'Edit']);
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), ok.id, 'focus back on the row');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('role')), 'switch');
    await page.keyboard.press('Space');
    await waitRowStatus(page, ok.id, 'disconnected');
    await waitFor(async () => (await page.evaluate(() => document.activeElement?.getAttribute('role'))) === 'switch', { message: 'focus kept on the switch' });
    await page.keyboard.press('Enter');
    await waitRowStatus(page, ok.id, 'connected');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#tunnel-popover').isVisible(), false);
    await env.checkPage(page);
  });

  test('without the event stream, polling keeps the popover current', async () => {
    const page = await env.context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/events|ERR_FAILED|Failed to load resource/.test(m.text())) problems.push(m.text()); });
    await page.route('**/events', (route) => route.abort());
    const { url } = await env.agent.api('POST', '/login-links');
    await page.goto(url);
    await openPopover(page, 2);
    await waitRowStatus(page, ok2.id, 'connected');
    await env.agent.api('POST', `/tunnels/${ok2.id}/stop`);
    await waitRowStatus(page, ok2.id, 'disconnected', 12000); // the ~5 s poll
    await env.agent.api('POST', `/tunnels/${ok2.id}/start`);
    await waitRowStatus(page, ok2.id, 'connected', 12000);
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('readable at 390×844 and in dark mode', async () => {
    const page = await env.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await openPopover(page, 2);
    const box = await page.locator('#tunnel-popover').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `popover fits the width: ${JSON.stringify(box)}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 390, `no horizontal scroll (${overflow})`);
    await env.screenshot(page, 'mobile-popover');
    await page.keyboard.press('Escape');
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    await env.screenshot(page, 'mobile-form');

    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${env.agent.base}/#/tunnels`);
    await openPopover(page, 2);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background (${bg})`);
    await env.screenshot(page, 'dark-popover');
    await page.emulateMedia({ colorScheme: 'light' });
    await env.checkPage(page);
  });
});
