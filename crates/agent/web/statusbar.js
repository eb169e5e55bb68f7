// statusbar.js — owns the bar along the bottom: the Tunnels button with its badge (active count,
// or the failed count in the error colour), the `fwd` dots (one per session tunnel) and a short
// live summary. Opening the popover is delegated to popover.js.

import { h, replace } from './dom.js';
import * as live from './live.js';
import { specOf, statusLabel } from './format.js';

function sessionOrder(a, b) {
  return String(a.session_name || a.session_id || '').localeCompare(String(b.session_name || b.session_id || ''))
    || (a.local_port - b.local_port) || String(a.id).localeCompare(String(b.id));
}

export function counts(items) {
  const active = items.filter((t) => t.status === 'connected').length;
  const failed = items.filter((t) => t.status === 'failed').length;
  return { active, failed };
}

/** Builds the status bar into `root`; returns the Tunnels button. */
export function initStatusbar(root, { onTunnels }) {
  const summary = h('span', { class: 'sb-summary', role: 'status', 'aria-live': 'polite', id: 'sb-summary' });
  const dots = h('span', { class: 'fwd-dots' });
  const fwd = h('div', { class: 'fwd', id: 'fwd', role: 'group', 'aria-label': 'Session forwards', hidden: true },
    h('span', { class: 'fwd-label', 'aria-hidden': 'true' }, 'fwd'), dots);
  const badge = h('span', { class: 'badge', id: 'tunnels-badge', hidden: true });
  const button = h('button', {
    type: 'button',
    id: 'tunnels-button',
    class: 'sb-button',
    'aria-haspopup': 'dialog',
    'aria-expanded': 'false',
    'aria-controls': 'tunnel-popover',
    onclick: onTunnels,
  }, h('span', { class: 'sb-button-label' }, 'Tunnels'), badge);
  replace(root,
    h('div', { class: 'sb-left' }, summary),
    h('div', { class: 'sb-right' }, fwd, button));

  const render = (items) => {
    const { active, failed } = counts(items);
    if (failed > 0) {
      badge.textContent = String(failed);
      badge.className = 'badge badge-error';
      badge.hidden = false;
      badge.title = `${failed} failed`;
      button.setAttribute('aria-label', `Tunnels, ${failed} failed`);
    } else if (active > 0) {
      badge.textContent = String(active);
      badge.className = 'badge badge-active';
      badge.hidden = false;
      badge.title = `${active} active`;
      button.setAttribute('aria-label', `Tunnels, ${active} active`);
    } else {
      badge.textContent = '';
      badge.hidden = true;
      badge.removeAttribute('title');
      button.setAttribute('aria-label', 'Tunnels');
    }
    const parts = [];
    if (active) parts.push(`${active} connected`);
    const connecting = items.filter((t) => t.status === 'connecting').length;
    const reconnecting = items.filter((t) => t.status === 'reconnecting').length;
    if (connecting) parts.push(`${connecting} connecting`);
    if (reconnecting) parts.push(`${reconnecting} reconnecting`);
    if (failed) parts.push(`${failed} failed`);
    const text = parts.length ? parts.join(' · ') : (items.length ? 'No tunnels running' : 'No tunnels');
    if (summary.textContent !== text) summary.textContent = text;

    const sessionItems = items.filter((t) => t.kind === 'session').sort(sessionOrder);
    fwd.hidden = sessionItems.length === 0;
    replace(dots, sessionItems.map((t) => {
      const tip = `${specOf(t)} — ${statusLabel(t.status).toLowerCase()}`;
      return h('span', { class: `fwd-dot dot s-${t.status}`, title: tip, role: 'img', 'aria-label': tip, dataset: { id: t.id } });
    }));
  };
  live.on('tunnels', render);
  render(live.all());
  return button;
}
