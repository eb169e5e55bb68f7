// popover.js — owns the Tunnels popover: the search box (focused on open), the two groups
// (persistent Tunnels; Session Tunnels grouped by host, read-only), each row's dot, name, spec,
// `via host`, uptime, `retry N`, auto-start badge, last error on hover and the on/off toggle, the
// right-click menu of a persistent tunnel, and closing (Esc after the menu, click outside).

import { h, replace, keepFocus } from './dom.js';
import * as api from './api.js';
import * as live from './live.js';
import { openMenu, closeMenu, isMenuOpen, menuElement } from './menu.js';
import { notify } from './notify.js';
import { specOf, formatUptime, isRunning, statusLabel, localAddress } from './format.js';

let el = null;
let button = null;
let search = null;
let list = null;
let onManage = () => {};
const pending = new Set(); // ids with a start/stop in flight

export function isOpen() {
  return !!el && !el.hidden;
}

function byName(a, b) {
  return String(a.name).localeCompare(String(b.name)) || String(a.id).localeCompare(String(b.id));
}

function hostLabel(t) {
  return t.port && t.port !== 22 ? `${t.host}:${t.port}` : t.host;
}

export function matches(item, query) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return String(item.name || '').toLowerCase().includes(q) || specOf(item).toLowerCase().includes(q);
}

async function act(item, verb) {
  if (pending.has(item.id)) return;
  pending.add(item.id);
  render();
  try {
    const since = live.mark();
    const result = await api.tunnels[verb](item.id);
    live.applyTunnel(result, since);
  } catch (e) {
    notify(`${verb === 'stop' ? 'Stop' : verb === 'start' ? 'Start' : 'Reconnect'} “${item.name}” failed: ${e.message}`, 'error');
    live.refresh();
  } finally {
    pending.delete(item.id);
    render();
  }
}

function toggle(item) {
  act(item, isRunning(item.status) ? 'stop' : 'start');
}

async function copyAddress(item) {
  const text = localAddress(item);
  try {
    await navigator.clipboard.writeText(text);
    notify(`Copied ${text}`);
  } catch (e) {
    notify(`Could not copy ${text}: ${e.message || 'clipboard unavailable'}`, 'error');
  }
}

function menuItems(item) {
  const items = [];
  if (item.status === 'connected') items.push({ id: 'pause', label: 'Pause', action: () => act(item, 'stop') });
  if (item.status === 'failed' || item.status === 'disconnected') {
    items.push({ id: 'reconnect', label: 'Reconnect', action: () => act(item, 'reconnect') });
  }
  items.push({ id: 'copy', label: 'Copy local address', action: () => copyAddress(item) });
  items.push({ id: 'edit', label: 'Edit', action: () => { closePopover({ restoreFocus: false }); onManage(item.id); } });
  return items;
}

function showMenu(item, row, x, y) {
  if (x == null) {
    const r = row.getBoundingClientRect();
    x = r.left + 24;
    y = r.bottom - 4;
  }
  openMenu({ x, y, items: menuItems(item), opener: row, label: `${item.name} actions` });
}

function rowFor(item) {
  const readOnly = item.kind === 'session';
  const uptime = formatUptime(live.uptimeOf(item));
  const rowAttrs = {
    class: `tunnel-row${readOnly ? ' readonly' : ''} s-${item.status}`,
    tabindex: '0',
    dataset: { id: item.id, fkey: `row:${item.id}`, status: item.status },
    title: item.last_error || null,
    'aria-label': `${item.name}, ${specOf(item)}, ${statusLabel(item.status)}${item.last_error ? `, last error: ${item.last_error}` : ''}`,
  };
  const row = h('li', rowAttrs,
    h('span', { class: `dot s-${item.status}`, 'aria-hidden': 'true' }),
    h('div', { class: 'row-main' },
      h('div', { class: 'row-line' },
        h('span', { class: 'row-name' }, item.name),
        item.status === 'reconnecting' ? h('span', { class: 'retry' }, `retry ${item.retry_count ?? 0}`) : null,
        item.auto_start ? h('span', { class: 'tag tag-auto', title: 'Starts with the agent' }, 'auto-start') : null),
      h('div', { class: 'row-line row-sub' },
        h('span', { class: 'row-spec mono' }, specOf(item)),
        readOnly ? null : h('span', { class: 'row-via' }, `via ${hostLabel(item)}`)),
      item.last_error && item.status !== 'connected'
        ? h('div', { class: 'row-error' }, item.last_error) : null),
    h('span', { class: 'row-uptime', title: 'Uptime', dataset: { uptimeFor: item.id } }, uptime),
    readOnly ? null : h('button', {
      type: 'button',
      role: 'switch',
      class: 'switch',
      'aria-checked': isRunning(item.status) ? 'true' : 'false',
      'aria-label': `${item.name} on/off`,
      // Not `disabled` while a request is in flight: a disabled button drops keyboard focus.
      'aria-busy': pending.has(item.id) ? 'true' : null,
      dataset: { fkey: `toggle:${item.id}` },
      onclick: (ev) => { ev.stopPropagation(); if (!pending.has(item.id)) toggle(item); },
    }, h('span', { class: 'switch-knob', 'aria-hidden': 'true' })));
  row.addEventListener('contextmenu', (ev) => {
    ev.preventDefault();
    if (readOnly) return; // session tunnels follow their session: no menu
    showMenu(item, row, ev.clientX, ev.clientY);
  });
  row.addEventListener('keydown', (ev) => {
    if (ev.target !== row) return;
    if (readOnly) return;
    if (ev.key === 'ContextMenu' || (ev.key === 'F10' && ev.shiftKey) || ev.key === 'Enter') {
      ev.preventDefault();
      showMenu(item, row);
    } else if (ev.key === ' ') {
      ev.preventDefault();
      toggle(item);
    }
  });
  return row;
}

function render() {
  if (!el || el.hidden) return;
  const query = search.value;
  const items = live.all().filter((t) => matches(t, query));
  const persistent = items.filter((t) => t.kind !== 'session').sort(byName);
  const session = items.filter((t) => t.kind === 'session');
  const hosts = new Map();
  for (const t of session) {
    const key = hostLabel(t);
    if (!hosts.has(key)) hosts.set(key, []);
    hosts.get(key).push(t);
  }
  const total = live.all().length;
  keepFocus(list, () => {
    replace(list,
      persistent.length ? h('section', { class: 'group', 'aria-labelledby': 'group-tunnels', dataset: { group: 'persistent' } },
        h('h3', { id: 'group-tunnels', class: 'group-title' }, 'Tunnels'),
        h('ul', { class: 'rows', role: 'list' }, persistent.map(rowFor))) : null,
      session.length ? h('section', { class: 'group', 'aria-labelledby': 'group-session', dataset: { group: 'session' } },
        h('h3', { id: 'group-session', class: 'group-title' }, 'Session Tunnels'),
        [...hosts.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([host, ts]) => {
          const names = [...new Set(ts.map((t) => t.session_name).filter(Boolean))].join(', ');
          return h('div', { class: 'host-group', dataset: { host } },
            h('h4', { class: 'host-title' }, h('span', { class: 'mono' }, host), names ? h('span', { class: 'host-session' }, names) : null),
            h('ul', { class: 'rows', role: 'list' },
              ts.sort((a, b) => a.local_port - b.local_port || String(a.id).localeCompare(String(b.id))).map(rowFor)));
        })) : null,
      !items.length ? h('p', { class: 'empty' }, total ? `No tunnels match “${query.trim()}”` : 'No tunnels yet.') : null);
  });
}

function tickUptimes() {
  if (!isOpen()) return;
  for (const span of list.querySelectorAll('[data-uptime-for]')) {
    const item = live.get(span.dataset.uptimeFor);
    if (!item) continue;
    const text = formatUptime(live.uptimeOf(item));
    if (span.textContent !== text) span.textContent = text;
  }
}

function rows() {
  return [...list.querySelectorAll('.tunnel-row')];
}

function onListKey(ev) {
  if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp' && ev.key !== 'Home' && ev.key !== 'End') return;
  const all = rows();
  if (!all.length) return;
  const current = ev.target.closest('.tunnel-row');
  let i = all.indexOf(current);
  if (ev.key === 'ArrowDown') i = i < 0 ? 0 : Math.min(all.length - 1, i + 1);
  else if (ev.key === 'ArrowUp') {
    if (i <= 0) { ev.preventDefault(); search.focus(); return; }
    i -= 1;
  } else if (ev.key === 'Home') i = 0;
  else i = all.length - 1;
  ev.preventDefault();
  all[i].focus();
}

function onDocPointer(ev) {
  if (!isOpen()) return;
  const t = ev.target;
  if (el.contains(t) || button.contains(t)) return;
  const menu = menuElement();
  if (menu && menu.contains(t)) return;
  closePopover({ restoreFocus: false });
}

function onDocKey(ev) {
  if (ev.key !== 'Escape' || !isOpen()) return;
  if (isMenuOpen()) {
    closeMenu();
    ev.preventDefault();
    return;
  }
  // A modal dialog (e.g. a delete confirmation) handles its own Esc.
  if (document.querySelector('dialog[open]')) return;
  ev.preventDefault();
  closePopover();
}

export function openPopover() {
  if (isOpen()) return;
  el.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  search.value = '';
  render();
  live.refresh();
  search.focus();
}

export function closePopover({ restoreFocus = true } = {}) {
  if (!isOpen()) return;
  closeMenu({ restoreFocus: false });
  el.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (restoreFocus) button.focus();
}

export function togglePopover() {
  if (isOpen()) closePopover();
  else openPopover();
}

/** Builds the (hidden) popover; `manage(id?)` opens Settings → SSH Tunnels (with id loaded). */
export function initPopover({ anchor, manage }) {
  button = anchor;
  onManage = manage;
  search = h('input', {
    type: 'search',
    id: 'tunnel-search',
    class: 'search',
    placeholder: 'Search by name or spec',
    'aria-label': 'Search tunnels by name or spec',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-controls': 'tunnel-list',
    oninput: render,
    onkeydown: (ev) => {
      if (ev.key === 'ArrowDown') {
        const first = rows()[0];
        if (first) { ev.preventDefault(); first.focus(); }
      }
    },
  });
  list = h('div', { class: 'popover-list', id: 'tunnel-list', onkeydown: onListKey });
  el = h('div', { id: 'tunnel-popover', class: 'popover', role: 'dialog', 'aria-label': 'Tunnels', hidden: true },
    h('div', { class: 'popover-head' }, search),
    list,
    h('div', { class: 'popover-foot' },
      h('button', { type: 'button', class: 'link-button', id: 'manage-tunnels', onclick: () => { closePopover({ restoreFocus: false }); onManage(null); } }, 'Manage Tunnels...')));
  document.body.append(el);
  document.addEventListener('pointerdown', onDocPointer, true);
  document.addEventListener('keydown', onDocKey);
  live.on('tunnels', render);
  live.on('tick', tickUptimes);
  return el;
}
