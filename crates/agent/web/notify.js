// notify.js — owns the transient notices (action results and failures) in a live region, and
// the modal confirmation dialog. Knows nothing about tunnels.

import { h } from './dom.js';

let region = null;

function ensureRegion() {
  if (!region) {
    region = h('div', { id: 'notices', class: 'notices', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  return region;
}

/** Shows a notice for a few seconds. kind: 'info' | 'error'. */
export function notify(message, kind = 'info') {
  const el = h('div', { class: `notice notice-${kind}` },
    h('span', { class: 'notice-text' }, message),
    h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  ensureRegion().append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 4000);
  return el;
}

/** A modal yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel = 'Delete', danger = true }) {
  return new Promise((resolve) => {
    const titleId = `confirm-title-${Date.now()}`;
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      message ? h('p', null, message) : null,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => dlg.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', value: 'ok', onclick: () => dlg.close('ok') }, confirmLabel)));
    const opener = document.activeElement;
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('.btn-danger, .btn-primary').focus();
  });
}
