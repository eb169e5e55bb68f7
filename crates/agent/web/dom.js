// dom.js — owns tiny DOM-building helpers (no HTML strings, so nothing is ever parsed from data)
// and focus restoration across re-renders. Knows nothing about the API or the app's state.

/**
 * Creates an element. `attrs`: `class`, `dataset`, `on<event>` handlers, `value`/`checked`/
 * `selected`/`disabled` as properties (set after children, so a <select>'s value sticks), `true`
 * for boolean attributes, null/false/undefined to omit. Children: nodes, strings, arrays, null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  const props = {};
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') props[k] = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  Object.assign(el, props);
  return el;
}

/** Appends nodes, strings (as text) and nested arrays; skips null/undefined/false. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Runs `render()` (which rebuilds part of `root`) and puts focus back on the element carrying the
 * same `data-fkey` as the one focused before, so live updates never steal keyboard focus.
 */
export function keepFocus(root, render) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset?.fkey : null;
  render();
  if (key) {
    const again = root.querySelector(`[data-fkey="${CSS.escape(key)}"]`);
    if (again && again !== document.activeElement) again.focus({ preventScroll: true });
  }
}

let uid = 0;
/** A fresh id for label/aria wiring. */
export function newId(prefix = 'pw') {
  uid += 1;
  return `${prefix}-${uid}`;
}
