// format.js — owns the pure text rules the reference defines: the compact forward spec, compact
// uptime, status labels, and the loopback-only bind rule with its exact message. No DOM, no I/O.

/** "L :8443 → 10.0.0.5:443", "D :1080 SOCKS5", "R :9000 → localhost:3000". */
export function formatSpec(t) {
  switch (t.forward_type) {
    case 'local': {
      const host = t.remote_host == null ? '?' : String(t.remote_host);
      const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      return `L :${t.local_port} → ${shown}:${t.remote_port ?? '?'}`;
    }
    case 'dynamic':
      return `D :${t.local_port} SOCKS5`;
    case 'remote': {
      const port = t.remote_port === 0 && t.allocated_port ? t.allocated_port : t.remote_port;
      return `R :${port} → localhost:${t.local_port}`;
    }
    default:
      return `${t.forward_type} :${t.local_port}`;
  }
}

/**
 * The agent's formatted spec when it sent one, else ours. A remote forward asked for port 0 shows
 * the port the server actually chose once it is known.
 */
export function specOf(t) {
  if (!t.spec) return formatSpec(t);
  if (t.forward_type === 'remote' && t.allocated_port && /^R :0 /.test(t.spec)) {
    return t.spec.replace(/^R :0 /, `R :${t.allocated_port} `);
  }
  return t.spec;
}

/** Compact uptime: 45s, 12m, 3h, 2d (null/undefined → ""). */
export function formatUptime(secs) {
  if (secs == null || !Number.isFinite(secs) || secs < 0) return '';
  const s = Math.floor(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export const STATUSES = ['disconnected', 'connecting', 'connected', 'reconnecting', 'failed'];

/** A tunnel in one of these states is running: the toggle stops it, otherwise it starts it. */
export function isRunning(status) {
  return status === 'connected' || status === 'connecting' || status === 'reconnecting';
}

export function statusLabel(status) {
  return STATUSES.includes(status) ? status[0].toUpperCase() + status.slice(1) : 'Unknown';
}

/** The reference's exact error for a non-loopback bind. */
export function loopbackError(addr) {
  return `bind_address '${addr}' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth`;
}

function ipv4Octets(s) {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Parses an IPv6 literal into eight 16-bit groups, or null. */
function ipv6Groups(s) {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part) => {
    if (part === '') return [];
    const groups = [];
    const bits = part.split(':');
    for (let i = 0; i < bits.length; i += 1) {
      const b = bits[i];
      if (i === bits.length - 1 && b.includes('.')) {
        const v4 = ipv4Octets(b);
        if (!v4) return null;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(b)) return null;
        groups.push(parseInt(b, 16));
      }
    }
    return groups;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array(fill).fill(0), ...tail];
}

/**
 * Whether `addr` is an acceptable bind address — the agent's rule exactly: an IPv4 address in
 * 127.0.0.0/8, the IPv6 loopback in any spelling (also bracketed: `[::1]`), or `localhost`;
 * surrounding whitespace ignored.
 */
export function isLoopbackAddress(addr) {
  const s = String(addr ?? '').trim();
  if (s.toLowerCase() === 'localhost') return true;
  const bracketed = s.startsWith('[') && s.endsWith(']');
  const inner = bracketed ? s.slice(1, -1) : s;
  if (!bracketed) {
    const v4 = ipv4Octets(inner);
    if (v4) return v4[0] === 127;
  }
  const v6 = ipv6Groups(inner);
  if (v6) return v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1;
  return false;
}

/** null when the bind address is acceptable, else the reference's message (naming it as typed). */
export function validateBind(addr) {
  return isLoopbackAddress(addr) ? null : loopbackError(String(addr ?? ''));
}

/** "127.0.0.1:8443", "[::1]:8443". */
export function localAddress(t) {
  const bind = String(t.bind_address || '127.0.0.1').trim();
  return bind.includes(':') && !bind.startsWith('[') ? `[${bind}]:${t.local_port}` : `${bind}:${t.local_port}`;
}

/** "Local (-L)" etc. for selects and lists. */
export const FORWARD_TYPES = [
  ['local', 'Local (-L)'],
  ['dynamic', 'Dynamic (-D) SOCKS5'],
  ['remote', 'Remote (-R)'],
];
