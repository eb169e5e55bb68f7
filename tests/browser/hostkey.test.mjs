// Host-key trust through the UI against a real agent and sshd whose key the agent does not know:
// starting fails with the key's fingerprint, Known Hosts shows it pending, Trust writes it, and
// the next start connects.

import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEnv, freePort, httpGet, openPopover, row, waitRowStatus } from './harness.mjs';

let env;
before(async () => { env = await startEnv({ trustHostKey: false }); });
after(async () => { await env?.stop(); });

describe('Known Hosts', () => {
  test('an untrusted host key waits for Trust, then the tunnel connects', async () => {
    const t = await env.createTunnel({ name: 'Needs trust', local_port: await freePort(), auto_reconnect: false });
    const page = await env.newPage();
    await openPopover(page, 1);
    await row(page, t.id).locator('[role="switch"]').click();
    await waitRowStatus(page, t.id, 'failed', 30000);
    const title = await row(page, t.id).getAttribute('title');
    assert.ok(title.includes(env.sshd.fingerprint), `last error names the fingerprint: ${title}`);
    await env.screenshot(page, 'hostkey-failed');
    await page.keyboard.press('Escape');

    // The tunnel list points at Known Hosts for this failure.
    await page.locator(`#tunnel-table .item[data-id="${t.id}"] .item-link`).click();
    const pending = page.locator(`#pending-keys .item.pending[data-host="127.0.0.1"][data-port="${env.sshd.port}"]`);
    await pending.waitFor();
    assert.equal(await pending.locator('.fingerprint').textContent(), env.sshd.fingerprint);
    assert.match(await pending.locator('.item-title').textContent(), /ssh-ed25519/);
    await page.locator('#pending-badge').waitFor({ state: 'visible' });
    await env.screenshot(page, 'known-hosts-pending');
    await pending.locator('[data-action="trust"]').click();
    await pending.waitFor({ state: 'detached' });
    const trusted = page.locator(`#trusted-keys .item[data-host="127.0.0.1"][data-port="${env.sshd.port}"]`);
    await trusted.waitFor();
    assert.equal(await trusted.locator('.fingerprint').textContent(), env.sshd.fingerprint);
    assert.equal(await trusted.locator('[data-action="forget"]').count(), 1);

    await openPopover(page, 1);
    await row(page, t.id).locator('[role="switch"]').click();
    await waitRowStatus(page, t.id, 'connected', 30000);
    assert.equal(await httpGet(t.local_port), env.target.body);
    await page.keyboard.press('Escape');

    // Forget: the key leaves the trusted list, and the next start fails on it again.
    await env.agent.api('POST', `/tunnels/${t.id}/stop`);
    await env.waitStatus(t.id, 'disconnected');
    await page.click('nav a[data-path="known-hosts"]');
    await trusted.locator('[data-action="forget"]').click();
    await page.locator('dialog.confirm[open] button', { hasText: 'Forget' }).click();
    await trusted.waitFor({ state: 'detached' });
    await env.agent.api('POST', `/tunnels/${t.id}/start`);
    const again = await env.waitStatus(t.id, 'failed', 30000);
    assert.ok(again.last_error.includes(env.sshd.fingerprint), again.last_error);
    await pending.waitFor();
    await env.checkPage(page);
  });
});
