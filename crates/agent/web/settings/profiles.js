// settings/profiles.js — owns Settings → Credential Profiles: name, username, auth (password,
// key with optional passphrase, ssh-agent) and an optional default jump. Secrets are write-only:
// the UI shows only "set"/"not set"; an empty input keeps the stored secret.

import { h, replace } from '../dom.js';
import * as api from '../api.js';
import { notify } from '../notify.js';
import {
  field, textInput, select, checkbox, formShell, clearErrors, setFieldError, placeError, mentions, busy,
} from './form.js';
import { scaffold, renderItems, actionButton, confirmDelete, jumpOptions, jumpValue, splitJump } from './common.js';

const AUTH = [['key', 'SSH key'], ['password', 'Password'], ['agent', 'SSH agent']];
const ERROR_FIELDS = [
  ['key_passphrase', mentions('key_passphrase', 'passphrase')],
  ['key_path', mentions('key_path', 'key path', 'SSH key')],
  ['password', mentions('password')],
  ['username', mentions('username', 'user name')],
  ['auth_type', mentions('auth_type', 'auth')],
  ['jump', mentions('jump_host_id', 'jump_session_id', 'jump')],
  ['name', mentions('name')],
];

function authSummary(p) {
  if (p.auth_type === 'password') return `password ${p.has_password ? 'set' : 'not set'}`;
  if (p.auth_type === 'key') return `key ${p.key_path || '(no path)'}${p.has_passphrase ? ', passphrase set' : ''}`;
  return 'ssh-agent';
}

export function mount(root, params) {
  let disposed = false;
  let items = [];
  const { listEl, formSlot } = scaffold(root, {
    title: 'Credential Profiles', newLabel: '+ New Profile', newHash: '#/profiles/new', listLabel: 'Credential profiles',
    withForm: params.mode !== 'list',
  });

  async function load() {
    try {
      items = ((await api.profiles.list()) || []).sort((a, b) => a.name.localeCompare(b.name));
    } catch (e) {
      if (!disposed) replace(listEl, h('li', { class: 'empty error-text' }, `Could not load profiles: ${e.message}`));
      return;
    }
    if (disposed) return;
    renderItems(listEl, items, (p) => h('li', { class: 'item', dataset: { id: p.id } },
      h('div', { class: 'item-main' },
        h('div', { class: 'item-title' }, h('span', { class: 'item-name' }, p.name)),
        h('div', { class: 'item-sub' }, h('span', null, p.username), h('span', { class: 'mono' }, authSummary(p)))),
      h('div', { class: 'item-actions' },
        actionButton('Edit', `edit:${p.id}`, () => { location.hash = `#/profiles/edit/${encodeURIComponent(p.id)}`; }),
        actionButton('Delete', `del:${p.id}`, () => confirmDelete('profile', p.name, () => api.profiles.remove(p.id), load), 'btn-danger-quiet'))),
    'No credential profiles yet.');
  }

  async function openForm(id) {
    let jumps = [];
    let sessions = [];
    try {
      [jumps, sessions] = await Promise.all([api.jumpHosts.list(), api.sessions.list()]);
    } catch (e) {
      replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, e.message));
      return;
    }
    if (disposed) return;
    const p = id ? items.find((x) => x.id === id) : null;
    if (id && !p) {
      replace(formSlot, h('div', { class: 'card error-text', role: 'alert' }, `Profile not found: ${id}`));
      return;
    }
    const v = p || { name: '', username: '', auth_type: 'key', key_path: '' };
    const secretField = (name, label, has) => {
      const input = h('input', { type: 'password', autocomplete: 'new-password', placeholder: has ? 'change' : 'set' });
      const f = field({ name, label, input, hint: has ? 'Stored. Leave empty to keep it; type to change it.' : 'Not stored. Never shown again once saved.' });
      f.label.append(' ', h('span', { class: `tag ${has ? 'tag-set' : 'tag-unset'}`, dataset: { secret: name } }, has ? 'set' : 'not set'));
      let clear = null;
      if (has) {
        clear = checkbox({ name: `${name}_clear`, label: `Clear the stored ${label.toLowerCase()}` });
        f.append(clear);
      }
      f.clear = clear;
      return f;
    };
    const fName = field({ name: 'name', label: 'Name', input: textInput({ value: v.name, placeholder: 'ops' }) });
    const fUser = field({ name: 'username', label: 'Username', input: textInput({ value: v.username, placeholder: 'admin' }) });
    const fAuth = field({ name: 'auth_type', label: 'Authentication', input: select(AUTH, v.auth_type) });
    const fPass = secretField('password', 'Password', !!v.has_password);
    const fKey = field({ name: 'key_path', label: 'Key path', input: textInput({ value: v.key_path || '', placeholder: '~/.ssh/id_ed25519' }) });
    const fPhrase = secretField('key_passphrase', 'Key passphrase', !!v.has_passphrase);
    const fJump = field({ name: 'jump', label: 'Default jump', input: select(jumpOptions('None', jumps, sessions), jumpValue(v)), hint: 'Used by tunnels whose Jump is “Inherit from profile”.' });
    const apply = () => {
      const a = fAuth.input.value;
      fPass.hidden = a !== 'password';
      fKey.hidden = a !== 'key';
      fPhrase.hidden = a !== 'key';
    };
    fAuth.input.addEventListener('change', apply);
    const secretValue = (f) => {
      if (f.hidden) return undefined;
      if (f.clear && f.clear.input.checked) return '';
      const s = f.input.value;
      return s === '' ? undefined : s;
    };
    const form = formShell({
      title: p ? `Edit Profile: ${p.name}` : 'New Profile',
      submitLabel: p ? 'Save' : 'Create Profile',
      onCancel: () => { location.hash = '#/profiles'; },
      body: [fName, fUser, fAuth, fPass, fKey, fPhrase, fJump],
      onsubmit: async () => {
        clearErrors(form);
        if (!fName.input.value.trim()) { setFieldError(form, 'name', 'Name is required.'); fName.input.focus(); return; }
        const body = {
          name: fName.input.value.trim(),
          username: fUser.input.value.trim(),
          auth_type: fAuth.input.value,
          key_path: fAuth.input.value === 'key' ? (fKey.input.value.trim() || null) : null,
          ...splitJump(fJump.input.value),
        };
        const pw = secretValue(fPass);
        if (pw !== undefined) body.password = pw;
        const kp = secretValue(fPhrase);
        if (kp !== undefined) body.key_passphrase = kp;
        await busy(form, async () => {
          try {
            const saved = p ? await api.profiles.update(p.id, body) : await api.profiles.create(body);
            notify(p ? `Saved “${saved.name}”` : `Created “${saved.name}”`);
            location.hash = '#/profiles';
          } catch (e) {
            placeError(form, e.message, ERROR_FIELDS);
          }
        });
      },
    });
    form.id = 'profile-form';
    apply();
    replace(formSlot, form);
    fName.input.focus();
  }

  load().then(() => { if (params.mode !== 'list') openForm(params.id); });
  return () => { disposed = true; };
}
