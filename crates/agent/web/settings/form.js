// settings/form.js — owns the building blocks every settings form shares: labelled fields with a
// hint and an error slot wired through aria-describedby, selects, checkboxes, reading values, and
// putting an agent error next to the field it names (or at the top of the form).

import { h, newId } from '../dom.js';

/**
 * A labelled field. `input` is an element (input/select/textarea). Returns the wrapper, which
 * carries data-field=name, and exposes `.input`, `.label`, `.hint`, `.error`.
 */
export function field({ name, label, input, hint }) {
  const id = input.id || newId(`f-${name}`);
  input.id = id;
  input.name = input.name || name;
  const hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint || '');
  hintEl.hidden = !hint;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  input.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
  const labelEl = h('label', { for: id }, label);
  const wrap = h('div', { class: 'field', dataset: { field: name } }, labelEl, input, hintEl, errorEl);
  Object.assign(wrap, { input, label: labelEl, hint: hintEl, error: errorEl });
  return wrap;
}

export function textInput(attrs = {}) {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

export function numberInput(attrs = {}) {
  return h('input', { type: 'number', inputmode: 'numeric', step: '1', ...attrs });
}

/** options: [[value, label]] or [{ group, options: [[value, label]] }]. */
export function select(options, value, attrs = {}) {
  const build = (opts) => opts.map((o) => (Array.isArray(o)
    ? h('option', { value: o[0] }, o[1])
    : h('optgroup', { label: o.group }, build(o.options))));
  const el = h('select', attrs, build(options));
  el.value = value ?? '';
  return el;
}

/** A checkbox with its label beside it; wrapper has data-field=name and `.input`. */
export function checkbox({ name, label, checked, hint }) {
  const id = newId(`f-${name}`);
  const input = h('input', { type: 'checkbox', id, name, checked: !!checked });
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', `${id}-hint`);
  const wrap = h('div', { class: 'field field-check', dataset: { field: name } },
    input, h('label', { for: id }, label), hintEl, h('p', { class: 'field-error', hidden: true }));
  wrap.input = input;
  wrap.error = wrap.querySelector('.field-error');
  return wrap;
}

export function fieldEl(form, name) {
  return form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
}

export function setFieldError(form, name, message) {
  const f = fieldEl(form, name);
  if (!f) return false;
  const err = f.querySelector('.field-error');
  err.textContent = message;
  err.hidden = false;
  const input = f.querySelector('input, select, textarea');
  if (input) input.setAttribute('aria-invalid', 'true');
  return true;
}

export function clearFieldError(form, name) {
  const f = fieldEl(form, name);
  if (!f) return;
  const err = f.querySelector('.field-error');
  err.textContent = '';
  err.hidden = true;
  const input = f.querySelector('input, select, textarea');
  if (input) input.removeAttribute('aria-invalid');
}

export function formError(form) {
  return form.querySelector('.form-error');
}

export function clearErrors(form) {
  for (const f of form.querySelectorAll('.field')) clearFieldError(form, f.dataset.field);
  const fe = formError(form);
  if (fe) { fe.textContent = ''; fe.hidden = true; }
}

export function showFormError(form, message) {
  const fe = formError(form);
  fe.textContent = message;
  fe.hidden = false;
}

/**
 * Puts an agent error beside the field it concerns. `fields`: [[fieldName, RegExp]] tried in
 * order (most specific first); the first field that matches the message and is visible gets it,
 * otherwise it goes to the form-level error. Focuses the field. Returns the field name or null.
 */
export function placeError(form, message, fields) {
  for (const [name, re] of fields) {
    const f = fieldEl(form, name);
    if (f && !f.hidden && !f.closest('[hidden]') && re.test(message)) {
      setFieldError(form, name, message);
      f.querySelector('input, select, textarea')?.focus();
      return name;
    }
  }
  showFormError(form, message);
  return null;
}

/** A regexp matching a JSON field name as a word, or any of the given phrases. */
export function mentions(key, ...phrases) {
  const alts = [key, ...phrases].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '[ _]'));
  return new RegExp(`(^|[^A-Za-z0-9_])(${alts.join('|')})($|[^A-Za-z0-9_])`, 'i');
}

/** Parses an integer field: '' → null, else Number (NaN stays NaN for validation). */
export function intValue(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

export function formShell({ title, onsubmit, body, submitLabel, onCancel }) {
  const form = h('form', { class: 'card form', novalidate: true, 'aria-label': title },
    h('h2', { class: 'form-title' }, title),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    body,
    h('div', { class: 'actions' },
      onCancel ? h('button', { type: 'button', class: 'btn', onclick: onCancel }, 'Cancel') : null,
      h('button', { type: 'submit', class: 'btn btn-primary', dataset: { role: 'submit' } }, submitLabel)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onsubmit(form);
  });
  return form;
}

/** Disables the submit button while `fn` runs. */
export async function busy(form, fn) {
  const btn = form.querySelector('[data-role="submit"]');
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
  }
}
