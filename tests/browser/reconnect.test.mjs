// Live reconnect state in the UI against a real agent: the sshd a tunnel rides on is killed
// (with every connection it serves), the popover shows the tunnel reconnecting with `retry N`,
// and when sshd is back on the same port the row returns to connected and forwards again.

import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEnv, freePort, httpGet, waitFor, openPopover, row, waitRowStatus } from './harness.mjs';

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.stop(); });

describe('Reconnect', () => {
  test('a dropped transport shows retry N, then connected again', async () => {
    const t = await env.createTunnel({ name: 'Survivor', local_port: await freePort(), auto_reconnect: true, max_retries: 0 });
    await env.agent.api('POST', `/tunnels/${t.id}/start`);
    await env.waitStatus(t.id, 'connected');
    const page = await env.newPage();
    await openPopover(page, 1);
    await waitRowStatus(page, t.id, 'connected');

    await env.sshd.kill();
    await waitRowStatus(page, t.id, 'reconnecting', 30000);
    const retry = row(page, t.id).locator('.retry');
    await waitFor(async () => /^retry [1-9]\d*$/.test(await retry.textContent()), { timeout: 30000, message: 'retry N shown' });
    const status = await env.tunnelStatus(t.id);
    assert.equal(status.status, 'reconnecting');
    assert.equal(await row(page, t.id).locator('[role="switch"]').getAttribute('aria-checked'), 'true', 'a reconnecting tunnel counts as on');
    await env.screenshot(page, 'reconnecting');
    // The menu of a reconnecting tunnel has neither Pause nor Reconnect.
    await row(page, t.id).click({ button: 'right' });
    await page.locator('.menu').waitFor();
    assert.deepEqual(await page.locator('.menu [role="menuitem"]').allTextContents(), ['Copy local address', 'Edit']);
    await page.keyboard.press('Escape');

    await env.sshd.restart();
    await waitRowStatus(page, t.id, 'connected', 90000);
    assert.equal(await row(page, t.id).locator('.retry').count(), 0);
    assert.equal(await httpGet(t.local_port), env.target.body);
    await env.checkPage(page);
  });
});
