// Session tunnels against a real agent and sshd: a saved session with two forwards, connected
// from Settings → Sessions, shows up in the popover under its host as read-only rows (no toggle,
// no menu) and as `fwd` dots in the status bar; disconnecting removes them.

import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEnv, freePort, httpGet, waitFor, openPopover } from './harness.mjs';

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.stop(); });

describe('Session tunnels', () => {
  test('are grouped by host, read-only, and shown as fwd dots', async () => {
    const lp1 = await freePort();
    const lp2 = await freePort();
    const session = await env.agent.api('POST', '/sessions', {
      name: 'lab box',
      host: '127.0.0.1',
      port: env.sshd.port,
      profile_id: env.profile.id,
      forwards: [
        { forward_type: 'local', local_port: lp1, remote_host: '127.0.0.1', remote_port: env.target.port },
        { forward_type: 'dynamic', local_port: lp2 },
      ],
    });
    const persistent = await env.createTunnel({ name: 'Persistent one', local_port: await freePort() });

    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/sessions`);
    const item = page.locator(`.item[data-id="${session.id}"]`);
    await item.waitFor();
    assert.deepEqual(await item.locator('.item-sub .mono').allTextContents(), [
      `L :${lp1} → 127.0.0.1:${env.target.port}`, `D :${lp2} SOCKS5`,
    ]);
    await item.locator('[data-action="connect"]').click();
    await page.locator(`.item[data-id="${session.id}"][data-connected="true"]`).waitFor({ timeout: 20000 });

    // Status bar: one fwd dot per session tunnel, tooltip = spec and status.
    await page.locator('#fwd').waitFor({ state: 'visible' });
    await waitFor(async () => {
      const tips = await page.locator('#fwd .fwd-dot').evaluateAll((els) => els.map((e) => e.title));
      return tips.length === 2 && tips.every((t) => t.endsWith('connected')) ? tips : null;
    }, { timeout: 20000, message: 'two connected fwd dots' });
    const tips = await page.locator('#fwd .fwd-dot').evaluateAll((els) => els.map((e) => e.title));
    assert.ok(tips.includes(`L :${lp1} → 127.0.0.1:${env.target.port} — connected`), tips.join(' | '));
    assert.ok(tips.includes(`D :${lp2} SOCKS5 — connected`), tips.join(' | '));
    assert.equal(await page.locator('#fwd .fwd-label').textContent(), 'fwd');
    assert.equal(await httpGet(lp1), env.target.body, 'session forward works');

    await openPopover(page, 3);
    const groups = await page.locator('#tunnel-popover .group-title').allTextContents();
    assert.deepEqual(groups, ['Tunnels', 'Session Tunnels']);
    const sessionGroup = page.locator('#tunnel-popover [data-group="session"]');
    const host = sessionGroup.locator(`.host-group[data-host="127.0.0.1:${env.sshd.port}"]`);
    await host.waitFor();
    assert.match(await host.locator('.host-title').textContent(), /lab box/);
    const names = await host.locator('.tunnel-row .row-name').allTextContents();
    assert.deepEqual(names.sort(), [`Session forward :${lp1}`, `Session forward :${lp2}`].sort());
    assert.equal(await sessionGroup.locator('[role="switch"]').count(), 0, 'no toggle on session rows');
    assert.equal(await page.locator('#tunnel-popover [data-group="persistent"] .tunnel-row').count(), 1);
    assert.equal(await page.locator(`#tunnel-popover .tunnel-row[data-id="${persistent.id}"] [role="switch"]`).count(), 1);

    // Right-clicking a session row does nothing.
    await host.locator('.tunnel-row').first().click({ button: 'right' });
    assert.equal(await page.locator('.menu').count(), 0, 'no context menu for session tunnels');
    await host.locator('.tunnel-row').first().focus();
    await page.keyboard.press('Shift+F10');
    assert.equal(await page.locator('.menu').count(), 0, 'no context menu by keyboard either');
    assert.equal(await page.locator('#tunnel-popover').isVisible(), true);
    // Search reaches session tunnels by spec too.
    await page.fill('#tunnel-search', 'socks5');
    assert.deepEqual(await page.locator('#tunnel-popover .tunnel-row .row-name').allTextContents(), [`Session forward :${lp2}`]);
    await page.fill('#tunnel-search', '');
    await env.screenshot(page, 'session-tunnels');
    await page.keyboard.press('Escape');

    // The session's form lists its forwards.
    await item.locator('[data-action="edit"]').click();
    await page.locator('#session-form').waitFor();
    assert.equal(await page.locator('#session-form .forward-row').count(), 2);
    await page.click('#session-form button:has-text("Cancel")');

    await page.locator(`.item[data-id="${session.id}"] [data-action="disconnect"]`).click();
    await page.locator(`.item[data-id="${session.id}"][data-connected="false"]`).waitFor({ timeout: 20000 });
    await page.locator('#fwd').waitFor({ state: 'hidden', timeout: 20000 });
    await openPopover(page, 1);
    await waitFor(async () => (await page.locator('#tunnel-popover [data-group="session"]').count()) === 0, { message: 'session group gone' });
    await env.checkPage(page);
  });

  test('the session form edits its forward list', async () => {
    const page = await env.newPage();
    await page.goto(`${env.agent.base}/#/sessions/new`);
    await page.locator('#session-form').waitFor();
    await page.fill('#session-form input[name="name"]', 'from the form');
    await page.fill('#session-form input[name="host"]', '127.0.0.1');
    await page.fill('#session-form input[name="port"]', String(env.sshd.port));
    await page.selectOption('#session-form select[name="profile_id"]', env.profile.id);
    const lp = await freePort();
    await page.click('#add-forward');
    await page.click('#add-forward');
    await page.click('#add-forward');
    const rows = page.locator('#session-form .forward-row');
    assert.equal(await rows.count(), 3);
    await rows.nth(2).locator('button', { hasText: 'Remove' }).click();
    assert.equal(await rows.count(), 2);
    await rows.nth(0).locator('input[aria-label="Local port"]').fill(String(lp));
    await rows.nth(0).locator('input[aria-label="Remote host"]').fill('127.0.0.1');
    await rows.nth(0).locator('input[aria-label="Remote port"]').fill(String(env.target.port));
    await rows.nth(1).locator('select[aria-label="Forward type"]').selectOption('dynamic');
    assert.equal(await rows.nth(1).locator('input[aria-label="Remote host"]').isVisible(), false);
    await rows.nth(1).locator('input[aria-label="Local port"]').fill(String(await freePort()));
    await rows.nth(1).locator('input[aria-label="Bind address"]').fill('0.0.0.0');
    await rows.nth(1).locator('input[aria-label="Enabled"]').uncheck();
    await page.click('#session-form [data-role="submit"]');
    const err = rows.nth(1).locator('.forward-error');
    await err.waitFor({ state: 'visible' });
    assert.equal(await err.textContent(), "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth");
    await rows.nth(1).locator('input[aria-label="Bind address"]').fill('127.0.0.1');
    await page.click('#session-form [data-role="submit"]');
    await page.locator('#session-form').waitFor({ state: 'detached' });
    const saved = await waitFor(async () => (await env.agent.api('GET', '/sessions')).find((x) => x.name === 'from the form'), { message: 'session saved' });
    assert.equal(saved.forwards.length, 2);
    assert.deepEqual(saved.forwards.map((f) => [f.forward_type, f.enabled]), [['local', true], ['dynamic', false]]);
    // Only the enabled forward starts.
    await page.locator(`.item[data-id="${saved.id}"] [data-action="connect"]`).click();
    await page.locator(`.item[data-id="${saved.id}"][data-connected="true"]`).waitFor({ timeout: 20000 });
    await waitFor(async () => (await page.locator('#fwd .fwd-dot').count()) === 1, { message: 'one fwd dot' });
    assert.equal(await httpGet(lp), env.target.body);
    await page.locator(`.item[data-id="${saved.id}"] [data-action="disconnect"]`).click();
    await page.locator('#fwd').waitFor({ state: 'hidden', timeout: 20000 });
    await env.checkPage(page);
  });
});
