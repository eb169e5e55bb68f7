// settings/tunnels.js — owns Settings → SSH Tunnels: the list of persistent tunnels (status dot,
// spec, Start/Stop, Edit, Delete with confirmation) and the New/Edit form with exactly the
// reference's fields, its loopback check done client-side (no round trip), and agent errors put
// next to the field they name. Opening the form reloads the profile/jump/session dropdowns.

import { h, replace, keepFocus } from '../dom.js';
import * as api from '../api.js';
import * as live from '../live.js';
import { notify, confirmDialog } from '../notify.js';
import { specOf, statusLabel, isRunning, validateBind, FORWARD_TYPES } from '../format.js';
import {
  field, textInput, numberInput, select, checkbox, formShell, clearErrors, clearFieldError,
  setFieldError, placeError, mentions, intValue, busy, fieldEl,
} from './form.js';

const ERROR_FIELDS = [
  ['bind_address', mentions('bind_address', 'bind address')],
  ['local_port', mentions('local_port', 'local port')],
  ['remote_host', mentions('remote_host', 'remote host')],
  ['remote_port', mentions('remote_port', 'remote port')],
  ['max_retries', mentions('max_retries', 'max retries')],
  ['jump', mentions('jump_host_id', 'jump_session_id', 'jump host', 'jump', 'session')],
  ['profile_id', mentions('profile_id', 'profile')],
  ['forward_type', mentions('forward_type', 'forward type', 'remote forwarding')],
  ['port', mentions('port')],
  ['host', mentions('host')],
  ['name', mentions('name')],
];

function runtime(t) {
  return { ...t, ...(live.get(t.id) || {}) };
}

export function mount(root, params) {
  let tunnels = [];
  let disposed = false;
  const listEl = h('ul', { class: 'item-list', id: 'tunnel-table', 'aria-label': 'SSH tunnels' });
  const formSlot = h('div', { class: 'form-slot' });
  const newBtn = h('button', {
    type: 'button', class: 'btn btn-primary', id: 'new-tunnel',
    onclick: () => { location.hash = '#/tunnels/new'; },
  }, '+ New Tunnel');
  async function bulk(verb) {
    try {
      const r = await api.tunnels[verb]();
      notify(verb === 'startAll' ? `Started ${r?.started ?? 0} auto-start tunnel(s)` : `Stopped ${r?.stopped ?? 0} tunnel(s)`);
    } catch (e) {
      notify(`${verb === 'startAll' ? 'Start' : 'Stop'} all failed: ${e.message}`, 'error');
    }
    live.refresh();
    load();
  }
  const bulkBtns = h('div', { class: 'head-actions' },
    h('button', { type: 'button', class: 'btn', id: 'start-all', title: 'Start every tunnel marked Auto-start', onclick: () => bulk('startAll') }, 'Start auto-start'),
    h('button', { type: 'button', class: 'btn', id: 'stop-all', title: 'Stop every running tunnel', onclick: () => bulk('stopAll') }, 'Stop all'),
    newBtn);
  replace(root, h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'view-title' }, 'SSH Tunnels'), bulkBtns),
    h('div', { class: `split${params.mode === 'list' ? '' : ' with-form'}` },
      h('div', { class: 'card list-card' }, listEl), formSlot)));

  async function action(t, verb) {
    try {
      const since = live.mark();
      const result = await api.tunnels[verb](t.id);
      live.applyTunnel(result, since);
    } catch (e) {
      notify(`${verb[0].toUpperCase()}${verb.slice(1)} “${t.name}” failed: ${e.message}`, 'error');
    }
    load();
  }

  async function remove(t) {
    const ok = await confirmDialog({
      title: `Delete tunnel “${t.name}”?`,
      message: isRunning(runtime(t).status) ? 'It is running and will be stopped first.' : 'This cannot be undone.',
    });
    if (!ok) return;
    try {
      await api.tunnels.remove(t.id);
      notify(`Deleted “${t.name}”`);
      if (params.id === t.id) location.hash = '#/tunnels';
    } catch (e) {
      notify(`Delete “${t.name}” failed: ${e.message}`, 'error');
    }
    live.refresh();
    load();
  }

  function renderList() {
    keepFocus(listEl, () => {
      replace(listEl, tunnels.length ? tunnels.map((t0) => {
        const t = runtime(t0);
        const running = isRunning(t.status);
        return h('li', { class: `item s-${t.status}${params.id === t.id ? ' selected' : ''}`, dataset: { id: t.id, status: t.status } },
          h('span', { class: `dot s-${t.status}`, title: statusLabel(t.status), role: 'img', 'aria-label': statusLabel(t.status) }),
          h('div', { class: 'item-main' },
            h('div', { class: 'item-title' }, h('span', { class: 'item-name' }, t.name),
              t.auto_start ? h('span', { class: 'tag tag-auto' }, 'auto-start') : null),
            h('div', { class: 'item-sub' }, h('span', { class: 'mono' }, specOf(t)),
              h('span', null, `via ${t.port && t.port !== 22 ? `${t.host}:${t.port}` : t.host}`),
              h('span', { class: `status-text s-${t.status}` }, t.status === 'reconnecting' ? `reconnecting (retry ${t.retry_count ?? 0})` : t.status)),
            t.last_error && t.status !== 'connected' ? h('div', { class: 'item-error', title: t.last_error }, t.last_error) : null,
            t.status === 'failed' && /host key .*not trusted/i.test(t.last_error || '')
              ? h('a', { class: 'item-link', href: '#/known-hosts', dataset: { fkey: `kh:${t.id}` } }, 'Review the key in Known Hosts') : null),
          h('div', { class: 'item-actions' },
            h('button', { type: 'button', class: 'btn btn-small', dataset: { fkey: `ss:${t.id}`, action: running ? 'stop' : 'start' }, onclick: () => action(t, running ? 'stop' : 'start') }, running ? 'Stop' : 'Start'),
            h('button', { type: 'button', class: 'btn btn-small', dataset: { fkey: `edit:${t.id}`, action: 'edit' }, onclick: () => { location.hash = `#/tunnels/edit/${encodeURIComponent(t.id)}`; } }, 'Edit'),
            h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', dataset: { fkey: `del:${t.id}`, action: 'delete' }, onclick: () => remove(t) }, 'Delete')));
      }) : h('li', { class: 'empty' }, 'No tunnels yet. Click “+ New Tunnel” to create one.'));
    });
  }

  async function load() {
    try {
      const list = await api.tunnels.list();
      if (disposed) return;
      tunnels = (list || []).sort((a, b) => String(a.name).localeCompare(String(b.name)));
      renderList();
    } catch (e) {
      if (!disposed) replace(listEl, h('li', { class: 'empty error-text' }, `Could not load tunnels: ${e.message}`));
    }
  }

  // Tunnels created or deleted elsewhere (CLI, another tab) show up as a change in the live ids.
  let reloading = false;
  const off = live.on('tunnels', (items) => {
    const liveIds = items.filter((t) => t.kind !== 'session').map((t) => t.id).sort().join(',');
    const listIds = tunnels.map((t) => t.id).sort().join(',');
    if (liveIds !== listIds && !reloading) {
      reloading = true;
      load().finally(() => { reloading = false; });
    } else {
      renderList();
    }
  });
  load().then(() => {
    if (params.mode === 'new') openForm(null);
    else if (params.mode === 'edit') openForm(params.id);
  });

  async function openForm(id) {
    replace(formSlot, h('div', { class: 'card loading', role: 'status' }, 'Loading…'));
    let profiles = [];
    let jumps = [];
    let sessions = [];
    let tunnel = null;
    try {
      // Always fresh, so profiles/jumps created elsewhere show up without a reload.
      [profiles, jumps, sessions] = await Promise.all([api.profiles.list(), api.jumpHosts.list(), api.sessions.list()]);
      if (id) {
        tunnel = tunnels.find((t) => t.id === id);
        if (!tunnel) {
          tunnels = await api.tunnels.list();
          tunnel = tunnels.find((t) => t.id === id);
        }
        if (!tunnel) throw new Error(`Tunnel not found: ${id}`);
      }
    } catch (e) {
      if (!disposed) replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, `Could not open the form: ${e.message}`));
      return;
    }
    if (disposed) return;
    const form = buildForm({ tunnel, profiles, jumps, sessions });
    replace(formSlot, form);
    form.querySelector('input[name="name"]').focus();
  }

  function buildForm({ tunnel, profiles, jumps, sessions }) {
    const t = tunnel || {
      name: '', host: '', port: 22, profile_id: '', forward_type: 'local', local_port: '', bind_address: '127.0.0.1',
      remote_host: '', remote_port: '', auto_start: false, auto_reconnect: true, max_retries: 5,
    };
    const jumpValue = t.jump_host_id ? `jump:${t.jump_host_id}` : t.jump_session_id ? `session:${t.jump_session_id}` : '';
    const fName = field({ name: 'name', label: 'Name', input: textInput({ value: t.name, placeholder: 'Switch UI' }) });
    const fHost = field({ name: 'host', label: 'SSH Host', input: textInput({ value: t.host, placeholder: 'bastion.example.net' }) });
    const fPort = field({ name: 'port', label: 'Port', input: numberInput({ value: t.port ?? 22, min: 1, max: 65535, placeholder: '22' }) });
    const fProfile = field({
      name: 'profile_id',
      label: 'Credential Profile',
      input: select([['', profiles.length ? 'Select a profile…' : 'No profiles yet'], ...profiles.map((p) => [p.id, `${p.name} (${p.username})`])], t.profile_id || '', { required: true }),
      hint: profiles.length ? 'Supplies the username and the password or key. Required.' : 'Create one in Credential Profiles first. Required.',
    });
    const jumpOptions = [['', 'Inherit from profile']];
    if (jumps.length) jumpOptions.push({ group: 'Jump hosts', options: jumps.map((j) => [`jump:${j.id}`, `${j.name} (${j.host}${j.port && j.port !== 22 ? `:${j.port}` : ''})`]) });
    if (sessions.length) jumpOptions.push({ group: 'Sessions', options: sessions.map((s) => [`session:${s.id}`, `${s.name}${s.connected ? '' : ' (not connected)'}`]) });
    const fJump = field({ name: 'jump', label: 'Jump', input: select(jumpOptions, jumpValue) });
    const fType = field({ name: 'forward_type', label: 'Forward Type', input: select(FORWARD_TYPES, t.forward_type) });
    const fLocal = field({ name: 'local_port', label: 'Local Port', input: numberInput({ value: t.local_port ?? '', min: 1, max: 65535, placeholder: '8443' }) });
    const fBind = field({ name: 'bind_address', label: 'Bind Address', input: textInput({ value: t.bind_address || '127.0.0.1', placeholder: '127.0.0.1' }), hint: 'Loopback only: 127.0.0.0/8 or ::1.' });
    const fRHost = field({ name: 'remote_host', label: 'Remote Host', input: textInput({ value: t.remote_host ?? '', placeholder: '10.0.0.5' }) });
    const fRPort = field({ name: 'remote_port', label: 'Remote Port', input: numberInput({ value: t.remote_port ?? '', min: 0, max: 65535, placeholder: '443' }) });
    const fAutoStart = checkbox({ name: 'auto_start', label: 'Auto-start', checked: t.auto_start, hint: 'Start with the agent.' });
    const fAutoRe = checkbox({ name: 'auto_reconnect', label: 'Auto-reconnect', checked: t.auto_reconnect !== false, hint: 'Retry with backoff when the connection drops.' });
    const fRetries = field({ name: 'max_retries', label: 'Max retries', input: numberInput({ value: t.max_retries ?? 5, min: 0, placeholder: '5' }), hint: '0 = unlimited' });

    const typeInput = fType.input;
    const bindInput = fBind.input;

    function applyType() {
      const type = typeInput.value;
      const dynamic = type === 'dynamic';
      fRHost.hidden = dynamic;
      fRPort.hidden = dynamic;
      if (type === 'remote') {
        fRHost.label.textContent = 'Remote Listen Address';
        setHint(fRHost, 'Where the SSH server listens (default localhost).');
        fRHost.input.placeholder = 'localhost';
        fRPort.label.textContent = 'Remote Listen Port';
        setHint(fRPort, '0 = server picks');
        fRPort.input.placeholder = '9000';
        setHint(fLocal, 'Connections arriving at the server are carried back to Bind Address : Local Port on this machine.');
      } else {
        fRHost.label.textContent = 'Remote Host';
        setHint(fRHost, 'Reached from the SSH host.');
        fRHost.input.placeholder = '10.0.0.5';
        fRPort.label.textContent = 'Remote Port';
        setHint(fRPort, '');
        fRPort.input.placeholder = '443';
        setHint(fLocal, dynamic ? 'SOCKS5 proxy port on this machine.' : 'The port the listener binds on this machine.');
      }
    }
    function setHint(f, text) {
      f.hint.textContent = text;
      f.hint.hidden = !text;
    }
    typeInput.addEventListener('change', applyType);

    function checkBind() {
      const err = validateBind(bindInput.value.trim() === '' ? '127.0.0.1' : bindInput.value);
      if (err) setFieldError(form, 'bind_address', err);
      else clearFieldError(form, 'bind_address');
      return err;
    }
    bindInput.addEventListener('input', () => { if (!validateBind(bindInput.value.trim() || '127.0.0.1')) clearFieldError(form, 'bind_address'); });
    bindInput.addEventListener('change', checkBind);
    for (const f of [fName, fHost, fPort, fProfile, fJump, fLocal, fRHost, fRPort, fRetries]) {
      f.input.addEventListener('input', () => clearFieldError(form, f.dataset.field));
    }

    async function submit() {
      clearErrors(form);
      const missing = [];
      if (!fName.input.value.trim()) missing.push(['name', 'Name is required.']);
      if (!fHost.input.value.trim()) missing.push(['host', 'SSH Host is required.']);
      if (!fProfile.input.value) missing.push(['profile_id', 'A credential profile is required.']);
      if (!fLocal.input.value.trim()) missing.push(['local_port', 'Local Port is required.']);
      const bindErr = checkBind();
      for (const [n, m] of missing) setFieldError(form, n, m);
      if (missing.length || bindErr) {
        const first = bindErr && !missing.length ? 'bind_address' : missing[0][0];
        fieldEl(form, first).querySelector('input, select').focus();
        return;
      }
      const type = typeInput.value;
      const jump = fJump.input.value;
      const body = {
        name: fName.input.value.trim(),
        host: fHost.input.value.trim(),
        port: intValue(fPort.input) ?? 22,
        profile_id: fProfile.input.value,
        jump_host_id: jump.startsWith('jump:') ? jump.slice(5) : null,
        jump_session_id: jump.startsWith('session:') ? jump.slice(8) : null,
        forward_type: type,
        local_port: intValue(fLocal.input),
        bind_address: bindInput.value.trim() || '127.0.0.1',
        remote_host: type === 'dynamic' ? null : (fRHost.input.value.trim() || (type === 'remote' ? 'localhost' : null)),
        remote_port: type === 'dynamic' ? null : intValue(fRPort.input),
        auto_start: fAutoStart.input.checked,
        auto_reconnect: fAutoRe.input.checked,
        max_retries: intValue(fRetries.input) ?? 5,
      };
      await busy(form, async () => {
        try {
          const since = live.mark();
          const saved = tunnel ? await api.tunnels.update(tunnel.id, body) : await api.tunnels.create(body);
          live.applyTunnel(saved, since);
          notify(tunnel ? `Saved “${saved.name}”` : `Created “${saved.name}”`);
          live.refresh();
          location.hash = '#/tunnels';
        } catch (e) {
          placeError(form, e.message, ERROR_FIELDS);
        }
      });
    }

    const form = formShell({
      title: tunnel ? `Edit Tunnel: ${tunnel.name}` : 'New Tunnel',
      submitLabel: tunnel ? 'Save' : 'Create Tunnel',
      onsubmit: submit,
      onCancel: () => { location.hash = '#/tunnels'; },
      body: [
        h('fieldset', { class: 'group-fields' }, h('legend', null, 'Connection'),
          fName, h('div', { class: 'row2' }, fHost, fPort), fProfile, fJump),
        h('fieldset', { class: 'group-fields' }, h('legend', null, 'Forward'),
          h('div', { class: 'row2' }, fType, fLocal), fBind, h('div', { class: 'row2' }, fRHost, fRPort)),
        h('fieldset', { class: 'group-fields' }, h('legend', null, 'Lifecycle'),
          fAutoStart, fAutoRe, fRetries),
      ],
    });
    form.id = 'tunnel-form';
    form.dataset.mode = tunnel ? 'edit' : 'new';
    if (tunnel) form.dataset.id = tunnel.id;
    applyType();
    return form;
  }

  return () => {
    disposed = true;
    off();
  };
}
