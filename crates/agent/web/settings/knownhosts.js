// settings/knownhosts.js — owns Settings → Known Hosts: keys the agent saw but does not trust
// yet (host, port, type, fingerprint, a Trust button) and the trusted keys (the agent's own,
// which can be forgotten, and the user's ~/.ssh/known_hosts, read-only). Live via `known_host`.

import { h, replace, keepFocus } from '../dom.js';
import * as api from '../api.js';
import * as live from '../live.js';
import { notify, confirmDialog } from '../notify.js';

function hp(k) {
  return `${k.host}:${k.port}`;
}

export function mount(root) {
  let disposed = false;
  const pendingEl = h('ul', { class: 'item-list', id: 'pending-keys', 'aria-label': 'Untrusted host keys' });
  const trustedEl = h('ul', { class: 'item-list', id: 'trusted-keys', 'aria-label': 'Trusted host keys' });
  replace(root, h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'view-title' }, 'Known Hosts')),
    h('p', { class: 'intro' }, 'A connection to a host whose key is unknown fails until you trust the key. Compare the fingerprint with the one the host’s administrator gives you (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).'),
    h('div', { class: 'card' }, h('h2', { class: 'card-title' }, 'Waiting for trust'), pendingEl),
    h('div', { class: 'card' }, h('h2', { class: 'card-title' }, 'Trusted'), trustedEl)));

  async function trust(k) {
    try {
      await api.knownHosts.trust(k.host, k.port, k.fingerprint);
      notify(`Trusted ${hp(k)}`);
    } catch (e) {
      notify(`Trust ${hp(k)} failed: ${e.message}`, 'error');
    }
    load();
  }

  async function forget(k) {
    const ok = await confirmDialog({ title: `Forget the keys of ${hp(k)}?`, message: 'The next connection will fail until you trust its key again.', confirmLabel: 'Forget' });
    if (!ok) return;
    try {
      await api.knownHosts.forget(k.host, k.port);
      notify(`Forgot ${hp(k)}`);
    } catch (e) {
      notify(`Forget ${hp(k)} failed: ${e.message}`, 'error');
    }
    load();
  }

  async function load() {
    let data;
    try {
      data = await api.knownHosts.list();
    } catch (e) {
      if (!disposed) replace(pendingEl, h('li', { class: 'empty error-text' }, `Could not load known hosts: ${e.message}`));
      return;
    }
    if (disposed) return;
    const pending = data?.pending || [];
    const trusted = data?.trusted || [];
    keepFocus(pendingEl, () => replace(pendingEl, pending.length ? pending.map((k) => h('li', { class: 'item pending', dataset: { host: k.host, port: String(k.port) } },
      h('span', { class: 'dot s-reconnecting', 'aria-hidden': 'true' }),
      h('div', { class: 'item-main' },
        h('div', { class: 'item-title' }, h('span', { class: 'item-name mono' }, hp(k)), h('span', { class: 'tag' }, k.key_type)),
        h('div', { class: 'item-sub' }, h('code', { class: 'fingerprint' }, k.fingerprint)),
        k.seen_at ? h('div', { class: 'item-sub' }, `seen ${new Date(k.seen_at).toLocaleString()}`) : null),
      h('div', { class: 'item-actions' },
        h('button', { type: 'button', class: 'btn btn-small btn-primary', dataset: { fkey: `trust:${hp(k)}:${k.fingerprint}`, action: 'trust' }, onclick: () => trust(k) }, 'Trust'))))
      : h('li', { class: 'empty' }, 'No keys are waiting.')));
    keepFocus(trustedEl, () => replace(trustedEl, trusted.length ? trusted.map((k) => h('li', { class: 'item', dataset: { host: k.host, port: String(k.port), source: k.source } },
      h('div', { class: 'item-main' },
        h('div', { class: 'item-title' }, h('span', { class: 'item-name mono' }, hp(k)), h('span', { class: 'tag' }, k.key_type),
          h('span', { class: 'tag' }, k.source === 'user' ? '~/.ssh/known_hosts' : 'agent')),
        h('div', { class: 'item-sub' }, h('code', { class: 'fingerprint' }, k.fingerprint))),
      h('div', { class: 'item-actions' },
        k.source === 'user' ? null
          : h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', dataset: { fkey: `forget:${hp(k)}`, action: 'forget' }, onclick: () => forget(k) }, 'Forget'))))
      : h('li', { class: 'empty' }, 'No trusted keys yet.')));
  }

  const off = live.on('known_host', () => load());
  // A failed connection can leave a new pending key; re-read while this view is open.
  const timer = setInterval(load, 5000);
  load();
  return () => { disposed = true; off(); clearInterval(timer); };
}
