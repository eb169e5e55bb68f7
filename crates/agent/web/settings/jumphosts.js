// settings/jumphosts.js — owns Settings → Jump Hosts: each hop's host, port, its own profile and
// the jump behind it (multi-hop chains, shown as the path a connection takes). Cycles are the
// agent's to reject; its message is shown next to the "Jump through" field.

import { h, replace } from '../dom.js';
import * as api from '../api.js';
import { notify } from '../notify.js';
import {
  field, textInput, numberInput, select, formShell, clearErrors, setFieldError, placeError, mentions, intValue, busy,
} from './form.js';
import { scaffold, renderItems, actionButton, confirmDelete, hostPort } from './common.js';

const ERROR_FIELDS = [
  ['jump_host_id', mentions('jump_host_id', 'cycle', 'jump')],
  ['profile_id', mentions('profile_id', 'profile')],
  ['port', mentions('port')],
  ['host', mentions('host')],
  ['name', mentions('name')],
];

/** The hops a connection to `j` takes, outermost first: [..., j]. Stops at a cycle. */
export function chainOf(j, byId) {
  const chain = [];
  const seen = new Set();
  let cur = j;
  while (cur && !seen.has(cur.id)) {
    seen.add(cur.id);
    chain.unshift(cur);
    cur = cur.jump_host_id ? byId.get(cur.jump_host_id) : null;
  }
  return chain;
}

export function mount(root, params) {
  let disposed = false;
  let items = [];
  let profiles = [];
  const { listEl, formSlot } = scaffold(root, {
    title: 'Jump Hosts', newLabel: '+ New Jump Host', newHash: '#/jump-hosts/new', listLabel: 'Jump hosts',
    withForm: params.mode !== 'list',
  });

  async function load() {
    try {
      [items, profiles] = await Promise.all([api.jumpHosts.list(), api.profiles.list()]);
      items = (items || []).sort((a, b) => a.name.localeCompare(b.name));
    } catch (e) {
      if (!disposed) replace(listEl, h('li', { class: 'empty error-text' }, `Could not load jump hosts: ${e.message}`));
      return;
    }
    if (disposed) return;
    const byId = new Map(items.map((j) => [j.id, j]));
    const profName = (id) => profiles.find((p) => p.id === id)?.name || id;
    renderItems(listEl, items, (j) => h('li', { class: 'item', dataset: { id: j.id } },
      h('div', { class: 'item-main' },
        h('div', { class: 'item-title' }, h('span', { class: 'item-name' }, j.name), h('span', { class: 'mono' }, hostPort(j))),
        h('div', { class: 'item-sub' },
          h('span', null, `profile ${profName(j.profile_id)}`),
          h('span', { class: 'chain', title: 'Path a connection takes' }, ['you', ...chainOf(j, byId).map((x) => x.name)].join(' → ')))),
      h('div', { class: 'item-actions' },
        actionButton('Edit', `edit:${j.id}`, () => { location.hash = `#/jump-hosts/edit/${encodeURIComponent(j.id)}`; }),
        actionButton('Delete', `del:${j.id}`, () => confirmDelete('jump host', j.name, () => api.jumpHosts.remove(j.id), load), 'btn-danger-quiet'))),
    'No jump hosts yet.');
  }

  function openForm(id) {
    const j = id ? items.find((x) => x.id === id) : null;
    if (id && !j) {
      replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, `Jump host not found: ${id}`));
      return;
    }
    const v = j || { name: '', host: '', port: 22, profile_id: '', jump_host_id: null };
    const fName = field({ name: 'name', label: 'Name', input: textInput({ value: v.name, placeholder: 'bastion' }) });
    const fHost = field({ name: 'host', label: 'Host', input: textInput({ value: v.host, placeholder: 'bastion.example.net' }) });
    const fPort = field({ name: 'port', label: 'Port', input: numberInput({ value: v.port ?? 22, min: 1, max: 65535 }) });
    const fProfile = field({ name: 'profile_id', label: 'Credential Profile', input: select([['', 'Select a profile…'], ...profiles.map((p) => [p.id, `${p.name} (${p.username})`])], v.profile_id || '') });
    const fJump = field({
      name: 'jump_host_id', label: 'Jump through',
      input: select([['', 'None (direct)'], ...items.filter((x) => x.id !== v.id).map((x) => [x.id, `${x.name} (${hostPort(x)})`])], v.jump_host_id || ''),
      hint: 'Another jump host in front of this one (multi-hop chain).',
    });
    const form = formShell({
      title: j ? `Edit Jump Host: ${j.name}` : 'New Jump Host',
      submitLabel: j ? 'Save' : 'Create Jump Host',
      onCancel: () => { location.hash = '#/jump-hosts'; },
      body: [fName, h('div', { class: 'row2' }, fHost, fPort), fProfile, fJump],
      onsubmit: async () => {
        clearErrors(form);
        const missing = [];
        if (!fName.input.value.trim()) missing.push(['name', 'Name is required.']);
        if (!fHost.input.value.trim()) missing.push(['host', 'Host is required.']);
        if (!fProfile.input.value) missing.push(['profile_id', 'A credential profile is required.']);
        if (missing.length) { missing.forEach(([n, m]) => setFieldError(form, n, m)); return; }
        const body = {
          name: fName.input.value.trim(), host: fHost.input.value.trim(), port: intValue(fPort.input) ?? 22,
          profile_id: fProfile.input.value, jump_host_id: fJump.input.value || null,
        };
        await busy(form, async () => {
          try {
            const saved = j ? await api.jumpHosts.update(j.id, body) : await api.jumpHosts.create(body);
            notify(j ? `Saved “${saved.name}”` : `Created “${saved.name}”`);
            location.hash = '#/jump-hosts';
          } catch (e) {
            placeError(form, e.message, ERROR_FIELDS);
          }
        });
      },
    });
    form.id = 'jump-form';
    replace(formSlot, form);
    fName.input.focus();
  }

  load().then(() => { if (params.mode !== 'list' && !disposed) openForm(params.id); });
  return () => { disposed = true; };
}
