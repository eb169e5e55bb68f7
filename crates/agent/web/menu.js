// menu.js — owns the one context menu: opening it at a point, arrow-key navigation between its
// items, closing it (Esc, Tab, click outside, after an action) and returning focus to whatever
// opened it. Callers supply the items; the menu knows nothing about tunnels.

import { h } from './dom.js';

let current = null; // { el, opener, onClose }

export function isMenuOpen() {
  return !!current;
}

/** The open menu element, if any (so other outside-click logic can exclude it). */
export function menuElement() {
  return current ? current.el : null;
}

/** Closes the menu; returns whether one was open. */
export function closeMenu({ restoreFocus = true } = {}) {
  if (!current) return false;
  const { el, opener, onClose } = current;
  current = null;
  el.remove();
  document.removeEventListener('pointerdown', onOutside, true);
  window.removeEventListener('blur', onBlur);
  window.removeEventListener('resize', onBlur);
  if (restoreFocus && opener) {
    // The opener may have been re-rendered by a live update: find its successor by key.
    const key = opener.dataset && opener.dataset.fkey;
    const target = opener.isConnected ? opener
      : (key ? document.querySelector(`[data-fkey="${CSS.escape(key)}"]`) : null);
    if (target) target.focus();
  }
  if (onClose) onClose();
  return true;
}

function onOutside(ev) {
  if (current && !current.el.contains(ev.target)) closeMenu({ restoreFocus: false });
}

function onBlur() {
  closeMenu({ restoreFocus: false });
}

function itemsOf(el) {
  return [...el.querySelectorAll('[role="menuitem"]:not([disabled])')];
}

function onKey(ev) {
  if (!current) return;
  const items = itemsOf(current.el);
  const i = items.indexOf(document.activeElement);
  switch (ev.key) {
    case 'ArrowDown':
      ev.preventDefault();
      items[(i + 1 + items.length) % items.length]?.focus();
      break;
    case 'ArrowUp':
      ev.preventDefault();
      items[(i - 1 + items.length) % items.length]?.focus();
      break;
    case 'Home':
      ev.preventDefault();
      items[0]?.focus();
      break;
    case 'End':
      ev.preventDefault();
      items[items.length - 1]?.focus();
      break;
    case 'Escape':
      // The menu consumes this Esc; the popover closes only on the next one.
      ev.preventDefault();
      ev.stopPropagation();
      closeMenu();
      break;
    case 'Tab':
      ev.preventDefault();
      closeMenu();
      break;
    default:
      break;
  }
}

/**
 * Opens a menu at viewport point (x, y). items: [{ label, action, id }]; `opener` gets focus back
 * on close; `label` names the menu for assistive technology.
 */
export function openMenu({ x, y, items, opener, label, onClose }) {
  closeMenu({ restoreFocus: false });
  const el = h('div', { class: 'menu', role: 'menu', 'aria-label': label || 'Actions', tabindex: '-1' },
    items.map((it) => h('button', {
      type: 'button',
      role: 'menuitem',
      tabindex: '-1',
      class: 'menu-item',
      dataset: { action: it.id || it.label },
      onclick: (ev) => {
        ev.stopPropagation();
        closeMenu();
        it.action();
      },
    }, it.label)));
  el.addEventListener('keydown', onKey);
  el.addEventListener('contextmenu', (ev) => ev.preventDefault());
  document.body.append(el);
  current = { el, opener, onClose };
  // Place inside the viewport.
  const r = el.getBoundingClientRect();
  const left = Math.max(4, Math.min(x, window.innerWidth - r.width - 4));
  const top = Math.max(4, Math.min(y, window.innerHeight - r.height - 4));
  el.style.left = `${left}px`;
  el.style.top = `${top}px`;
  document.addEventListener('pointerdown', onOutside, true);
  window.addEventListener('blur', onBlur);
  window.addEventListener('resize', onBlur);
  itemsOf(el)[0]?.focus();
  return el;
}
