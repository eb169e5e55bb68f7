// app.js — owns start-up and navigation: builds the status bar and popover, the Settings nav and
// the hash routes (#/tunnels, #/tunnels/new, #/tunnels/edit/<id>, #/profiles, #/jump-hosts,
// #/sessions, #/known-hosts), and tells the user when the session cookie is missing/expired.

import { h, replace } from './dom.js';
import * as api from './api.js';
import * as live from './live.js';
import { initStatusbar } from './statusbar.js';
import { initPopover, togglePopover } from './popover.js';
import * as tunnelsView from './settings/tunnels.js';
import * as profilesView from './settings/profiles.js';
import * as jumpsView from './settings/jumphosts.js';
import * as sessionsView from './settings/sessions.js';
import * as knownView from './settings/knownhosts.js';

const VIEWS = [
  { path: 'tunnels', label: 'SSH Tunnels', view: tunnelsView },
  { path: 'profiles', label: 'Credential Profiles', view: profilesView },
  { path: 'jump-hosts', label: 'Jump Hosts', view: jumpsView },
  { path: 'sessions', label: 'Sessions', view: sessionsView },
  { path: 'known-hosts', label: 'Known Hosts', view: knownView },
];

let unmount = null;
let signedOutShown = false;

/** '#/tunnels/edit/tun_1' → { path: 'tunnels', mode: 'edit', id: 'tun_1' }. */
export function parseRoute(hash) {
  const parts = String(hash || '').replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const path = VIEWS.some((v) => v.path === parts[0]) ? parts[0] : 'tunnels';
  if (parts[1] === 'new') return { path, mode: 'new', id: null };
  if (parts[1] === 'edit' && parts[2]) return { path, mode: 'edit', id: parts[2] };
  return { path, mode: 'list', id: null };
}

function route(main, nav) {
  const r = parseRoute(location.hash);
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.path === r.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (unmount) unmount();
  unmount = null;
  const entry = VIEWS.find((v) => v.path === r.path);
  document.title = `${entry.label} · portwarden`;
  unmount = entry.view.mount(main, r) || null;
}

function showSignedOut() {
  if (signedOutShown) return;
  signedOutShown = true;
  const banner = h('div', { class: 'signed-out', role: 'alert' },
    h('strong', null, 'Not signed in. '),
    'Run ', h('code', null, 'portwarden ui'), ' in a terminal to open a fresh sign-in link.');
  document.querySelector('.topbar').after(banner);
}

function start() {
  const app = document.getElementById('app');
  const nav = h('nav', { class: 'settings-nav', 'aria-label': 'Settings' },
    h('h2', { class: 'nav-title' }, 'Settings'),
    h('ul', null, VIEWS.map((v) => h('li', null,
      h('a', { href: `#/${v.path}`, dataset: { path: v.path } }, v.label,
        v.path === 'known-hosts' ? h('span', { class: 'badge badge-warn', id: 'pending-badge', hidden: true }) : null)))));
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const bar = h('footer', { class: 'statusbar', id: 'statusbar' });
  replace(app,
    h('header', { class: 'topbar' },
      h('a', { class: 'skip', href: '#main', onclick: (ev) => { ev.preventDefault(); main.focus(); } }, 'Skip to content'),
      h('span', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'portwarden'),
      h('span', { class: 'tagline' }, 'SSH tunnels, kept up')),
    h('div', { class: 'layout' }, nav, main),
    bar);

  api.onUnauthorized(showSignedOut);
  const button = initStatusbar(bar, { onTunnels: () => togglePopover() });
  initPopover({
    anchor: button,
    manage: (id) => {
      const target = id ? `#/tunnels/edit/${encodeURIComponent(id)}` : '#/tunnels';
      if (location.hash === target) route(main, nav);
      else location.hash = target;
      main.focus({ preventScroll: true });
    },
  });
  window.addEventListener('hashchange', () => route(main, nav));
  route(main, nav);
  live.start();

  // Pending host keys: a badge on Known Hosts.
  const badge = document.getElementById('pending-badge');
  const updatePending = (pending) => {
    const n = (pending || []).length;
    badge.hidden = n === 0;
    badge.textContent = String(n);
    badge.title = `${n} host key${n === 1 ? '' : 's'} waiting for trust`;
  };
  const readPending = () => api.knownHosts.list().then((d) => updatePending(d?.pending)).catch(() => {});
  live.on('known_host', (d) => (d && Array.isArray(d.pending) ? updatePending(d.pending) : readPending()));
  live.on('tunnels', (items) => { if (items.some((t) => t.status === 'failed')) readPending(); });
  readPending();
}

start();
