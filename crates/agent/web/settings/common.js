// settings/common.js — owns the list-plus-form scaffolding the Profiles, Jump Hosts and Sessions
// views share: the page head with its "+ New" button, the list card, the form slot, delete with
// confirmation, and the jump-select options. Each view supplies its own rows and form.

import { h, replace, keepFocus } from '../dom.js';
import { notify, confirmDialog } from '../notify.js';

/** Builds the page skeleton into root; returns { listEl, formSlot }. */
export function scaffold(root, { title, newLabel, newHash, listLabel, withForm, intro }) {
  const listEl = h('ul', { class: 'item-list', 'aria-label': listLabel });
  const formSlot = h('div', { class: 'form-slot' });
  replace(root, h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'view-title' }, title),
      newLabel ? h('button', { type: 'button', class: 'btn btn-primary', dataset: { role: 'new' }, onclick: () => { location.hash = newHash; } }, newLabel) : null),
    intro ? h('p', { class: 'intro' }, intro) : null,
    h('div', { class: `split${withForm ? ' with-form' : ''}` }, h('div', { class: 'card list-card' }, listEl), formSlot)));
  return { listEl, formSlot };
}

export function renderItems(listEl, items, rowFn, emptyText) {
  keepFocus(listEl, () => {
    replace(listEl, items.length ? items.map(rowFn) : h('li', { class: 'empty' }, emptyText));
  });
}

export function actionButton(label, key, onclick, extra = '') {
  return h('button', { type: 'button', class: `btn btn-small ${extra}`.trim(), dataset: { fkey: key, action: label.toLowerCase() }, onclick }, label);
}

export async function confirmDelete(kind, name, fn, after) {
  const ok = await confirmDialog({ title: `Delete ${kind} “${name}”?`, message: 'This cannot be undone.' });
  if (!ok) return;
  try {
    await fn();
    notify(`Deleted “${name}”`);
  } catch (e) {
    notify(`Delete “${name}” failed: ${e.message}`, 'error');
  }
  after();
}

/** Options for a jump select: first entry, then jump hosts and (optionally) sessions. */
export function jumpOptions(first, jumps, sessions, { excludeJump, excludeSession } = {}) {
  const opts = [['', first]];
  const js = jumps.filter((j) => j.id !== excludeJump);
  if (js.length) opts.push({ group: 'Jump hosts', options: js.map((j) => [`jump:${j.id}`, `${j.name} (${j.host}${j.port && j.port !== 22 ? `:${j.port}` : ''})`]) });
  const ss = (sessions || []).filter((s) => s.id !== excludeSession);
  if (sessions && ss.length) opts.push({ group: 'Sessions', options: ss.map((s) => [`session:${s.id}`, `${s.name}${s.connected ? '' : ' (not connected)'}`]) });
  return opts;
}

export function jumpValue(o) {
  return o?.jump_host_id ? `jump:${o.jump_host_id}` : o?.jump_session_id ? `session:${o.jump_session_id}` : '';
}

export function splitJump(v) {
  return {
    jump_host_id: v.startsWith('jump:') ? v.slice(5) : null,
    jump_session_id: v.startsWith('session:') ? v.slice(8) : null,
  };
}

export function hostPort(o) {
  return o.port && o.port !== 22 ? `${o.host}:${o.port}` : o.host;
}
