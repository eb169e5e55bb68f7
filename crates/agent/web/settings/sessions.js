// settings/sessions.js — owns Settings → Sessions: saved connections with their port-forward
// list (Local, Remote, Dynamic; enabled flag), Connect/Disconnect, and the form with a forward
// list editor. The session tunnels themselves are shown by the popover, read-only.

import { h, replace } from '../dom.js';
import * as api from '../api.js';
import * as live from '../live.js';
import { notify } from '../notify.js';
import { formatSpec, validateBind, FORWARD_TYPES } from '../format.js';
import {
  field, textInput, numberInput, select, formShell, clearErrors, setFieldError, placeError, mentions, intValue, busy,
} from './form.js';
import { scaffold, renderItems, actionButton, confirmDelete, jumpOptions, jumpValue, splitJump, hostPort } from './common.js';

const SESSION_TYPES = [['local', 'Local (-L)'], ['remote', 'Remote (-R)'], ['dynamic', 'Dynamic (-D)']];
const ERROR_FIELDS = [
  ['forwards', mentions('forwards', 'forward', 'bind_address', 'local_port', 'remote_host', 'remote_port')],
  ['jump', mentions('jump_host_id', 'jump_session_id', 'jump')],
  ['profile_id', mentions('profile_id', 'profile')],
  ['port', mentions('port')],
  ['host', mentions('host')],
  ['name', mentions('name')],
];

export function mount(root, params) {
  let disposed = false;
  let items = [];
  const { listEl, formSlot } = scaffold(root, {
    title: 'Sessions', newLabel: '+ New Session', newHash: '#/sessions/new', listLabel: 'Sessions',
    withForm: params.mode !== 'list',
    intro: 'Connecting a session starts a tunnel for each enabled forward; disconnecting stops them.',
  });

  async function connect(s, verb) {
    try {
      await api.sessions[verb](s.id);
    } catch (e) {
      notify(`${verb === 'connect' ? 'Connect' : 'Disconnect'} “${s.name}” failed: ${e.message}`, 'error');
    }
    live.refresh();
    load();
  }

  function render() {
    renderItems(listEl, items, (s) => {
      const tunnels = live.all().filter((t) => t.session_id === s.id);
      return h('li', { class: `item${s.connected ? ' s-connected' : ''}`, dataset: { id: s.id, connected: String(!!s.connected) } },
        h('span', { class: `dot ${s.connected ? 's-connected' : 's-disconnected'}`, role: 'img', 'aria-label': s.connected ? 'Connected' : 'Not connected' }),
        h('div', { class: 'item-main' },
          h('div', { class: 'item-title' }, h('span', { class: 'item-name' }, s.name), h('span', { class: 'mono' }, hostPort(s)),
            h('span', { class: 'status-text' }, s.connected ? 'connected' : 'not connected')),
          h('div', { class: 'item-sub' }, (s.forwards || []).length
            ? s.forwards.map((f) => h('span', { class: `mono${f.enabled === false ? ' disabled-text' : ''}` }, formatSpec(f) + (f.enabled === false ? ' (off)' : '')))
            : h('span', null, 'No forwards')),
          tunnels.some((t) => t.last_error && t.status !== 'connected')
            ? h('div', { class: 'item-error' }, tunnels.filter((t) => t.last_error).map((t) => `${t.name}: ${t.last_error}`).join('; ')) : null),
        h('div', { class: 'item-actions' },
          s.connected
            ? actionButton('Disconnect', `conn:${s.id}`, () => connect(s, 'disconnect'))
            : actionButton('Connect', `conn:${s.id}`, () => connect(s, 'connect')),
          actionButton('Edit', `edit:${s.id}`, () => { location.hash = `#/sessions/edit/${encodeURIComponent(s.id)}`; }),
          actionButton('Delete', `del:${s.id}`, () => confirmDelete('session', s.name, () => api.sessions.remove(s.id), load), 'btn-danger-quiet')));
    }, 'No sessions yet.');
  }

  async function load() {
    try {
      items = ((await api.sessions.list()) || []).sort((a, b) => a.name.localeCompare(b.name));
    } catch (e) {
      if (!disposed) replace(listEl, h('li', { class: 'empty error-text' }, `Could not load sessions: ${e.message}`));
      return;
    }
    if (!disposed) render();
  }

  const offSession = live.on('session', () => load());
  const offTunnels = live.on('tunnels', () => render());

  function forwardRow(f, rowsEl) {
    const type = select(SESSION_TYPES, f.forward_type || 'local', { 'aria-label': 'Forward type' });
    const lp = numberInput({ value: f.local_port ?? '', min: 1, max: 65535, placeholder: 'local port', 'aria-label': 'Local port' });
    const bind = textInput({ value: f.bind_address || '127.0.0.1', placeholder: '127.0.0.1', 'aria-label': 'Bind address' });
    const rh = textInput({ value: f.remote_host ?? '', placeholder: 'remote host', 'aria-label': 'Remote host' });
    const rp = numberInput({ value: f.remote_port ?? '', min: 0, max: 65535, placeholder: 'remote port', 'aria-label': 'Remote port' });
    const en = h('input', { type: 'checkbox', checked: f.enabled !== false, 'aria-label': 'Enabled' });
    const row = h('li', { class: 'forward-row' }, type, lp, bind, rh, rp,
      h('label', { class: 'inline-check' }, en, 'Enabled'),
      h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'aria-label': 'Remove forward', onclick: () => row.remove() }, 'Remove'),
      h('p', { class: 'field-error forward-error', hidden: true }));
    const apply = () => {
      const d = type.value === 'dynamic';
      rh.hidden = d;
      rp.hidden = d;
      rh.placeholder = type.value === 'remote' ? 'remote listen address' : 'remote host';
      rp.placeholder = type.value === 'remote' ? 'remote port (0 = server picks)' : 'remote port';
    };
    type.addEventListener('change', apply);
    apply();
    row.read = () => {
      const t = type.value;
      return {
        forward_type: t,
        local_port: intValue(lp),
        bind_address: bind.value.trim() || '127.0.0.1',
        remote_host: t === 'dynamic' ? null : (rh.value.trim() || (t === 'remote' ? 'localhost' : null)),
        remote_port: t === 'dynamic' ? null : intValue(rp),
        enabled: en.checked,
      };
    };
    row.showError = (m) => {
      const e = row.querySelector('.forward-error');
      e.textContent = m;
      e.hidden = !m;
    };
    rowsEl.append(row);
    return row;
  }

  async function openForm(id) {
    let profiles = [];
    let jumps = [];
    try {
      [profiles, jumps] = await Promise.all([api.profiles.list(), api.jumpHosts.list()]);
    } catch (e) {
      replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, e.message));
      return;
    }
    if (disposed) return;
    const s = id ? items.find((x) => x.id === id) : null;
    if (id && !s) {
      replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, `Session not found: ${id}`));
      return;
    }
    const v = s || { name: '', host: '', port: 22, profile_id: '', forwards: [] };
    const fName = field({ name: 'name', label: 'Name', input: textInput({ value: v.name, placeholder: 'core-sw1' }) });
    const fHost = field({ name: 'host', label: 'Host', input: textInput({ value: v.host, placeholder: 'core-sw1.example.net' }) });
    const fPort = field({ name: 'port', label: 'Port', input: numberInput({ value: v.port ?? 22, min: 1, max: 65535 }) });
    const fProfile = field({ name: 'profile_id', label: 'Credential Profile', input: select([['', 'Select a profile…'], ...profiles.map((p) => [p.id, `${p.name} (${p.username})`])], v.profile_id || '') });
    const fJump = field({ name: 'jump', label: 'Jump', input: select(jumpOptions('Inherit from profile', jumps, items, { excludeSession: v.id }), jumpValue(v)) });
    const rowsEl = h('ul', { class: 'forward-rows', 'aria-label': 'Port forwards' });
    const fwdField = h('div', { class: 'field', dataset: { field: 'forwards' } },
      h('span', { class: 'label-like', id: 'forwards-label' }, 'Port Forwards'),
      rowsEl,
      h('button', { type: 'button', class: 'btn btn-small', id: 'add-forward', onclick: () => forwardRow({}, rowsEl).querySelector('input').focus() }, '+ Add forward'),
      h('p', { class: 'field-error', hidden: true }));
    for (const f of v.forwards || []) forwardRow(f, rowsEl);
    const form = formShell({
      title: s ? `Edit Session: ${s.name}` : 'New Session',
      submitLabel: s ? 'Save' : 'Create Session',
      onCancel: () => { location.hash = '#/sessions'; },
      body: [fName, h('div', { class: 'row2' }, fHost, fPort), fProfile, fJump, fwdField],
      onsubmit: async () => {
        clearErrors(form);
        const rows = [...rowsEl.children];
        rows.forEach((r) => r.showError(''));
        const missing = [];
        if (!fName.input.value.trim()) missing.push(['name', 'Name is required.']);
        if (!fHost.input.value.trim()) missing.push(['host', 'Host is required.']);
        if (!fProfile.input.value) missing.push(['profile_id', 'A credential profile is required.']);
        missing.forEach(([n, m]) => setFieldError(form, n, m));
        let bad = missing.length > 0;
        const forwards = rows.map((r) => {
          const f = r.read();
          const err = validateBind(f.bind_address);
          if (err) { r.showError(err); bad = true; }
          return f;
        });
        if (bad) return;
        const body = {
          name: fName.input.value.trim(), host: fHost.input.value.trim(), port: intValue(fPort.input) ?? 22,
          profile_id: fProfile.input.value, ...splitJump(fJump.input.value), forwards,
        };
        await busy(form, async () => {
          try {
            const saved = s ? await api.sessions.update(s.id, body) : await api.sessions.create(body);
            notify(s ? `Saved “${saved.name}”` : `Created “${saved.name}”`);
            location.hash = '#/sessions';
          } catch (e) {
            // "forwards[1].bind_address …" names the row it concerns.
            const m = /^forwards\[(\d+)\]/.exec(e.message);
            if (m && rows[Number(m[1])]) {
              rows[Number(m[1])].showError(e.message);
              rows[Number(m[1])].querySelector('input, select').focus();
            } else {
              placeError(form, e.message, ERROR_FIELDS);
            }
          }
        });
      },
    });
    form.id = 'session-form';
    replace(formSlot, form);
    fName.input.focus();
  }

  load().then(() => { if (params.mode !== 'list' && !disposed) openForm(params.id); });
  return () => { disposed = true; offSession(); offTunnels(); };
}
