// api.js — owns every HTTP call to the agent: same-origin credentials (the session cookie), JSON
// bodies, and turning a failure into an ApiError whose message is the agent's `error` text.
// Knows nothing of the DOM; a 401 is announced through `onUnauthorized`.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const unauthorizedHandlers = new Set();
/** Called (once per 401) so the app can tell the user how to sign in again. */
export function onUnauthorized(fn) {
  unauthorizedHandlers.add(fn);
  return () => unauthorizedHandlers.delete(fn);
}

export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Cannot reach the portwarden agent. Is `portwarden serve` running?');
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401) unauthorizedHandlers.forEach((fn) => fn());
    const message = (data && typeof data.error === 'string' && data.error)
      || `${res.status} ${res.statusText || 'request failed'}`.trim();
    throw new ApiError(res.status, message);
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

const enc = encodeURIComponent;

export const tunnels = {
  list: () => get('/tunnels'),
  status: () => get('/tunnels/status'),
  create: (input) => post('/tunnels', input),
  update: (id, input) => put(`/tunnels/${enc(id)}`, input),
  remove: (id) => del(`/tunnels/${enc(id)}`),
  start: (id) => post(`/tunnels/${enc(id)}/start`),
  stop: (id) => post(`/tunnels/${enc(id)}/stop`),
  reconnect: (id) => post(`/tunnels/${enc(id)}/reconnect`),
  startAll: () => post('/tunnels/start-all'),
  stopAll: () => post('/tunnels/stop-all'),
};

export const profiles = {
  list: () => get('/profiles'),
  create: (input) => post('/profiles', input),
  update: (id, input) => put(`/profiles/${enc(id)}`, input),
  remove: (id) => del(`/profiles/${enc(id)}`),
};

export const jumpHosts = {
  list: () => get('/jump-hosts'),
  create: (input) => post('/jump-hosts', input),
  update: (id, input) => put(`/jump-hosts/${enc(id)}`, input),
  remove: (id) => del(`/jump-hosts/${enc(id)}`),
};

export const sessions = {
  list: () => get('/sessions'),
  create: (input) => post('/sessions', input),
  update: (id, input) => put(`/sessions/${enc(id)}`, input),
  remove: (id) => del(`/sessions/${enc(id)}`),
  connect: (id) => post(`/sessions/${enc(id)}/connect`),
  disconnect: (id) => post(`/sessions/${enc(id)}/disconnect`),
};

export const knownHosts = {
  list: () => get('/known-hosts'),
  trust: (host, port, fingerprint) => post('/known-hosts', { host, port, fingerprint }),
  forget: (host, port) => del(`/known-hosts?host=${enc(host)}&port=${enc(port)}`),
};
