// Settings views other than SSH Tunnels, and sign-in, against a real agent: Credential Profiles
// keep secrets write-only ("set"/"not set", inputs say "change"), Jump Hosts show their chain,
// deleting a tunnel asks first, and a used login link gives a page that says how to get another.

import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEnv, freePort, waitFor, httpGet } from './harness.mjs';

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.stop(); });

describe('Settings', () => {
  test('credential profiles never show secrets', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/profiles/new`);
    await page.locator('#profile-form').waitFor();
    await page.fill('#profile-form input[name="name"]', 'with-password');
    await page.fill('#profile-form input[name="username"]', 'ops');
    await page.selectOption('#profile-form select[name="auth_type"]', 'password');
    assert.equal(await page.locator('#profile-form [data-secret="password"]').textContent(), 'not set');
    await page.fill('#profile-form input[name="password"]', 's3cret-value');
    await page.click('#profile-form [data-role="submit"]');
    await page.locator('#profile-form').waitFor({ state: 'detached' });
    const saved = await waitFor(async () => (await env.agent.api('GET', '/profiles')).find((p) => p.name === 'with-password'), { message: 'profile saved' });
    assert.equal(saved.has_password, true);
    assert.ok(!JSON.stringify(saved).includes('s3cret-value'));
    const item = page.locator(`.item[data-id="${saved.id}"]`);
    assert.match(await item.textContent(), /password set/);
    assert.ok(!(await page.content()).includes('s3cret-value'));

    await item.locator('[data-action="edit"]').click();
    await page.locator('#profile-form').waitFor();
    assert.equal(await page.locator('#profile-form [data-secret="password"]').textContent(), 'set');
    assert.equal(await page.inputValue('#profile-form input[name="password"]'), '');
    assert.equal(await page.getAttribute('#profile-form input[name="password"]', 'placeholder'), 'change');
    // Saving without typing keeps the stored password.
    await page.fill('#profile-form input[name="username"]', 'ops2');
    await page.click('#profile-form [data-role="submit"]');
    await page.locator('#profile-form').waitFor({ state: 'detached' });
    const again = await waitFor(async () => {
      const p = (await env.agent.api('GET', '/profiles')).find((x) => x.id === saved.id);
      return p.username === 'ops2' ? p : null;
    }, { message: 'profile updated' });
    assert.equal(again.has_password, true);
    await env.screenshot(page, 'profiles');
    await env.checkPage(page);
  });

  test('jump hosts show their chain', async () => {
    const outer = await env.agent.api('POST', '/jump-hosts', { name: 'outer', host: '127.0.0.1', port: env.sshd.port, profile_id: env.profile.id });
    const inner = await env.agent.api('POST', '/jump-hosts', { name: 'inner', host: '127.0.0.2', port: 22, profile_id: env.profile.id, jump_host_id: outer.id });
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/jump-hosts`);
    const item = page.locator(`.item[data-id="${inner.id}"]`);
    await item.waitFor();
    assert.equal(await item.locator('.chain').textContent(), 'you → outer → inner');
    // The tunnel form offers both as jumps.
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    const opts = await page.locator('#tunnel-form select[name="jump"] option').allTextContents();
    assert.equal(opts[0], 'Inherit from profile');
    assert.ok(opts.some((o) => o.startsWith('outer')) && opts.some((o) => o.startsWith('inner')), opts.join(' | '));
    await env.checkPage(page);
  });

  test('a tunnel through a jump host picked in the form connects, and Edit shows the jump', async () => {
    const jump = await env.agent.api('POST', '/jump-hosts', { name: 'via-self', host: '127.0.0.1', port: env.sshd.port, profile_id: env.profile.id });
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels/new`);
    await page.locator('#tunnel-form').waitFor();
    const localPort = await freePort();
    await page.fill('#tunnel-form input[name="name"]', 'Jumped');
    await page.fill('#tunnel-form input[name="host"]', '127.0.0.1');
    await page.fill('#tunnel-form input[name="port"]', String(env.sshd.port));
    await page.selectOption('#tunnel-form select[name="profile_id"]', env.profile.id);
    await page.selectOption('#tunnel-form select[name="jump"]', `jump:${jump.id}`);
    await page.fill('#tunnel-form input[name="local_port"]', String(localPort));
    await page.fill('#tunnel-form input[name="remote_host"]', '127.0.0.1');
    await page.fill('#tunnel-form input[name="remote_port"]', String(env.target.port));
    await page.click('#tunnel-form [data-role="submit"]');
    await page.locator('#tunnel-form').waitFor({ state: 'detached' });
    const t = await waitFor(async () => (await env.agent.api('GET', '/tunnels')).find((x) => x.name === 'Jumped'), { message: 'tunnel created' });
    assert.equal(t.jump_host_id, jump.id);
    assert.equal(t.jump_session_id, null);
    await page.locator(`#tunnel-table .item[data-id="${t.id}"] [data-action="start"]`).click();
    await page.waitForSelector(`#tunnel-table .item[data-id="${t.id}"][data-status="connected"]`, { timeout: 20000 });
    assert.equal(await httpGet(localPort), env.target.body);
    await page.locator(`#tunnel-table .item[data-id="${t.id}"] [data-action="edit"]`).click();
    await page.locator(`#tunnel-form[data-id="${t.id}"]`).waitFor();
    assert.equal(await page.inputValue('#tunnel-form select[name="jump"]'), `jump:${jump.id}`);
    await env.agent.api('POST', `/tunnels/${t.id}/stop`);
    await env.checkPage(page);
  });

  test('deleting a tunnel asks for confirmation', async () => {
    const t = await env.createTunnel({ name: 'Doomed', local_port: await freePort() });
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels`);
    const item = page.locator(`#tunnel-table .item[data-id="${t.id}"]`);
    await item.locator('[data-action="delete"]').click();
    const dlg = page.locator('dialog.confirm[open]');
    await dlg.waitFor();
    assert.match(await dlg.textContent(), /Delete tunnel “Doomed”\?/);
    await dlg.locator('button', { hasText: 'Cancel' }).click();
    assert.equal(await item.count(), 1);
    await item.locator('[data-action="delete"]').click();
    await page.locator('dialog.confirm[open] button', { hasText: 'Delete' }).click();
    await item.waitFor({ state: 'detached' });
    assert.ok(!(await env.agent.api('GET', '/tunnels')).some((x) => x.id === t.id));
    await env.checkPage(page);
  });

  test('Stop all and Start auto-start', async () => {
    const a = await env.createTunnel({ name: 'Auto one', local_port: await freePort(), auto_start: true });
    const b = await env.createTunnel({ name: 'Manual one', local_port: await freePort() });
    await env.agent.api('POST', `/tunnels/${b.id}/start`);
    await env.waitStatus(b.id, 'connected');
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/tunnels`);
    await page.click('#stop-all');
    await page.waitForSelector(`#tunnel-table .item[data-id="${b.id}"][data-status="disconnected"]`);
    await page.click('#start-all');
    await page.waitForSelector(`#tunnel-table .item[data-id="${a.id}"][data-status="connected"]`, { timeout: 20000 });
    assert.equal((await env.tunnelStatus(b.id)).status, 'disconnected', 'only auto-start tunnels start');
    await env.agent.api('POST', '/tunnels/stop-all');
    await env.checkPage(page);
  });

  test('a used login link explains how to get a new one', async () => {
    const { url } = await env.agent.api('POST', '/login-links');
    const page = await env.context.newPage();
    // A fresh context state is not needed: the code is one-time whatever the cookie.
    const first = await page.goto(url);
    assert.equal(first.status(), 200);
    await page.locator('#tunnels-button').waitFor();
    const second = await page.goto(url);
    assert.equal(second.status(), 401);
    assert.match(await page.textContent('body'), /portwarden ui/);
    await page.close();
  });

  test('without a session the UI says how to sign in', async () => {
    await env.context.clearCookies();
    const page = await env.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith(env.agent.base)) errors.push(`request to ${r.url()}`); });
    await page.goto(`${env.agent.base}/`);
    const banner = page.locator('.signed-out[role="alert"]');
    await banner.waitFor();
    assert.match(await banner.textContent(), /Run portwarden ui/);
    await page.close();
    assert.deepEqual(errors, []);
  });
});
