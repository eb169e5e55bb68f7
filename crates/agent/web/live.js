// live.js — owns the runtime state of every tunnel (persistent and session) as the UI sees it:
// the `/events` stream, with `GET /tunnels/status` polled every ~5 s whenever the stream is not
// open, plus a local one-second tick so uptimes advance between updates. Views subscribe; they
// never fetch status themselves.

import * as api from './api.js';

const POLL_MS = 5000;
const RECONCILE_MS = 30000;

const items = new Map(); // id -> StatusItem (+ _at: performance.now() when received)
const handlers = { tunnels: new Set(), session: new Set(), known_host: new Set(), tick: new Set() };
let source = null;
let pollTimer = null;
let reconcileTimer = null;
let refreshing = null;
let started = false;
// Snapshots (a mutating call's response, a GET /tunnels/status) can be older than a stream event
// that overtook them; every event bumps `seq`, and a snapshot never overwrites an item whose last
// event came after the snapshot was requested.
let seq = 0;
const eventSeq = new Map(); // id -> seq of its last stream event

/** Subscribes to 'tunnels' | 'session' | 'known_host' | 'tick'; returns the unsubscribe. */
export function on(type, fn) {
  handlers[type].add(fn);
  return () => handlers[type].delete(fn);
}

function emit(type, data) {
  for (const fn of [...handlers[type]]) {
    try {
      fn(data);
    } catch (e) {
      // A broken view must not stop the others; surface it for developers.
      console.warn('portwarden: view update failed', e);
    }
  }
}

/** All known status items, persistent first, in a stable order. */
export function all() {
  return [...items.values()];
}

export function get(id) {
  return items.get(id);
}

/** Uptime in seconds as of now (advanced locally since the item was received). */
export function uptimeOf(item) {
  if (item.status !== 'connected' || item.uptime_secs == null) return null;
  return item.uptime_secs + Math.max(0, Math.floor((performance.now() - item._at) / 1000));
}

function upsert(item) {
  if (!item || !item.id) return;
  const prev = items.get(item.id) || {};
  items.set(item.id, { ...prev, ...item, _at: performance.now() });
}

/** The current stream position, to pass to `applyTunnel` for a request sent now. */
export function mark() {
  return seq;
}

function newerEvent(id, since) {
  return (eventSeq.get(id) ?? -1) > since;
}

/** Replaces the state from `GET /tunnels/status`; concurrent calls share one request. */
export function refresh() {
  if (!refreshing) {
    const since = seq;
    refreshing = api.tunnels
      .status()
      .then((list) => {
        const now = performance.now();
        const fresh = new Map();
        for (const it of list || []) {
          fresh.set(it.id, newerEvent(it.id, since) && items.has(it.id) ? items.get(it.id) : { ...it, _at: now });
        }
        // Items that appeared through the stream after the request was sent stay too.
        for (const [id, it] of items) if (!fresh.has(id) && newerEvent(id, since)) fresh.set(id, it);
        items.clear();
        for (const [id, it] of fresh) items.set(id, it);
        emit('tunnels', all());
      })
      .catch(() => {
        // Unreachable agent or signed out: api.js already told the user; keep the last state.
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/**
 * Applies a Tunnel object returned by a mutating call right away (no wait for the stream),
 * unless a stream event for it arrived after `since` (from `mark()` before the request).
 */
export function applyTunnel(t, since = -1) {
  if (!t || !t.id) return;
  if (since >= 0 && newerEvent(t.id, since)) return;
  upsert(t);
  emit('tunnels', all());
}

function setPolling(enabled) {
  if (enabled && !pollTimer) {
    pollTimer = setInterval(refresh, POLL_MS);
  } else if (!enabled && pollTimer) {
    clearInterval(pollTimer);
    pollTimer = null;
  }
}

function parse(ev) {
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}

function connectStream() {
  if (typeof EventSource === 'undefined') return;
  source = new EventSource('/events', { withCredentials: true });
  source.addEventListener('open', () => {
    setPolling(false);
    refresh(); // anything missed while the stream was down
  });
  source.addEventListener('error', () => {
    // EventSource retries by itself; poll meanwhile so the popover stays current.
    setPolling(true);
  });
  source.addEventListener('tunnel', (ev) => {
    const item = parse(ev);
    if (!item) return;
    seq += 1;
    eventSeq.set(item.id, seq);
    upsert(item);
    emit('tunnels', all());
  });
  source.addEventListener('session', (ev) => {
    const data = parse(ev);
    emit('session', data);
    refresh(); // session tunnels appear or disappear
  });
  source.addEventListener('resync', () => {
    // The agent dropped events for this subscriber (it fell behind): re-read everything.
    refresh();
    emit('session', null);
    emit('known_host', null);
  });
  source.addEventListener('known_host', (ev) => {
    emit('known_host', parse(ev));
  });
}

/** Starts the stream, the fallback poll and the tick. Idempotent. */
export function start() {
  if (started) return;
  started = true;
  setPolling(true);
  refresh();
  connectStream();
  reconcileTimer = setInterval(refresh, RECONCILE_MS);
  setInterval(() => emit('tick'), 1000);
}

/** For tests/devtools: whether the event stream is open. */
export function streamOpen() {
  return !!source && source.readyState === 1;
}

export function stop() {
  if (source) source.close();
  setPolling(false);
  clearInterval(reconcileTimer);
}
