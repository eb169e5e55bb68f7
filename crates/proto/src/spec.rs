//! OpenSSH-compatible command-line specs and the reference's compact spec text.
//!
//! Owns: parsing `-L [bind:]port:host:hostport`, `-D [bind:]port`, `-R [bind:]port:host:hostport`,
//! destinations (`[user@]host[:port]`, `[user@][v6]:port`, `ssh://user@host:port`) and `-J`
//! jump lists, with messages that name the bad part; formatting the compact spec the reference
//! shows on each tunnel (`L :8443 → 10.0.0.5:443`, `D :1080 SOCKS5`, `R :9000 → localhost:3000`).
//!
//! Must not touch: the loopback rule (a parsed bind address may be `*` or a LAN address; callers
//! check it with [`crate::loopback`]), name resolution, sockets, or tunnel records. Service names
//! in port position (`-L 8080:host:https`) are not looked up: ports are numbers.

use std::fmt;

/// The three forward types, named as the API's `forward_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardKind {
    /// `-L`: a local listener, each connection carried to a fixed destination via the server.
    Local,
    /// `-D`: a local SOCKS/HTTP CONNECT proxy; each client picks its destination.
    Dynamic,
    /// `-R`: the server listens; each connection is carried back to a local target.
    Remote,
}

impl ForwardKind {
    /// The API / storage name: `"local"`, `"dynamic"` or `"remote"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ForwardKind::Local => "local",
            ForwardKind::Dynamic => "dynamic",
            ForwardKind::Remote => "remote",
        }
    }

    /// The inverse of [`ForwardKind::as_str`] (exact, lowercase names only).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(ForwardKind::Local),
            "dynamic" => Some(ForwardKind::Dynamic),
            "remote" => Some(ForwardKind::Remote),
            _ => None,
        }
    }

    /// The OpenSSH flag: `"-L"`, `"-D"` or `"-R"`.
    pub fn flag(&self) -> &'static str {
        match self {
            ForwardKind::Local => "-L",
            ForwardKind::Dynamic => "-D",
            ForwardKind::Remote => "-R",
        }
    }

    /// The letter the compact spec starts with: `'L'`, `'D'` or `'R'`.
    pub fn letter(&self) -> char {
        match self {
            ForwardKind::Local => 'L',
            ForwardKind::Dynamic => 'D',
            ForwardKind::Remote => 'R',
        }
    }

    fn syntax(&self) -> &'static str {
        match self {
            ForwardKind::Local | ForwardKind::Remote => "[bind_address:]port:host:hostport",
            ForwardKind::Dynamic => "[bind_address:]port",
        }
    }
}

impl fmt::Display for ForwardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed `-L` / `-D` / `-R` spec.
///
/// - Local: `bind_address`/`port` are the local listener, `host`/`host_port` the destination.
/// - Dynamic: `bind_address`/`port` are the local listener, `host`/`host_port` are `None`.
/// - Remote: `bind_address`/`port` are the REMOTE listen address and port (`0` = the server
///   allocates), `host`/`host_port` the local target.
///
/// `bind_address` is `None` when the spec had no bind part, `Some("*")` for `*` or an empty bind
/// (`:8080:…`), which OpenSSH both read as "all interfaces"; IPv6 brackets are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSpec {
    pub kind: ForwardKind,
    pub bind_address: Option<String>,
    pub port: u16,
    pub host: Option<String>,
    pub host_port: Option<u16>,
}

impl ForwardSpec {
    /// The reference's compact text for this spec (see [`format_spec`]).
    pub fn compact(&self) -> String {
        match self.kind {
            ForwardKind::Local | ForwardKind::Dynamic => {
                format_spec(self.kind, self.port, self.host.as_deref(), self.host_port)
            }
            ForwardKind::Remote => format_spec(
                self.kind,
                self.host_port.unwrap_or(0),
                self.bind_address.as_deref(),
                Some(self.port),
            ),
        }
    }
}

/// The spec in OpenSSH syntax (without the flag), IPv6 literals bracketed; parsing it again with
/// [`parse_forward`] gives back the same [`ForwardSpec`].
impl fmt::Display for ForwardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = &self.bind_address {
            write!(f, "{}:", bracket_if_v6(b))?;
        }
        write!(f, "{}", self.port)?;
        if let (Some(h), Some(p)) = (&self.host, self.host_port) {
            write!(f, ":{}:{}", bracket_if_v6(h), p)?;
        }
        Ok(())
    }
}

/// A parsed SSH destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The login name, if one was given (`user@…`).
    pub user: Option<String>,
    /// Host name or address, IPv6 without brackets.
    pub host: String,
    /// The SSH port, if one was given.
    pub port: Option<u16>,
}

impl fmt::Display for Destination {
    /// `[user@]host[:port]`, a host containing `:` (IPv6) bracketed; parses back to itself,
    /// also inside a jump list (a lone host named `none` is written `ssh://none`, since `-J none`
    /// means "no jump").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.user.is_none() && self.port.is_none() && self.host == "none" {
            return f.write_str("ssh://none");
        }
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match self.port {
            Some(p) => write!(f, "{}:{p}", bracket_if_v6(&self.host)),
            None => f.write_str(&bracket_if_v6(&self.host)),
        }
    }
}

/// Why a spec, destination or jump list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The spec has the wrong number of `:`-separated parts for its flag.
    #[error("invalid {flag} spec '{spec}': expected {syntax}")]
    FieldCount {
        flag: &'static str,
        spec: String,
        syntax: &'static str,
    },
    /// A port is not a decimal number in 0..=65535.
    #[error("invalid port '{port}' in {flag} spec '{spec}'")]
    InvalidPort {
        flag: &'static str,
        port: String,
        spec: String,
    },
    /// A port that must be non-zero is 0 (only the remote listen port of `-R` may be 0).
    #[error("{which} port must not be 0 in {flag} spec '{spec}'")]
    PortZero {
        flag: &'static str,
        which: &'static str,
        spec: String,
    },
    /// The destination / target host part is empty.
    #[error("missing host in {flag} spec '{spec}'")]
    MissingHost { flag: &'static str, spec: String },
    /// A host or bind address contains characters no host name can have (whitespace, control
    /// characters, stray brackets) or is too long.
    #[error("invalid host '{host}' in {flag} spec '{spec}'")]
    InvalidHost {
        flag: &'static str,
        host: String,
        spec: String,
    },
    /// A `[` without its `]`, or a `]` not followed by `:` or the end.
    #[error("unbalanced brackets in {flag} spec '{spec}' (write IPv6 addresses as [addr])")]
    Brackets { flag: &'static str, spec: String },
    /// `-R [bind:]port` (a remote SOCKS proxy, OpenSSH 7.6+) is not supported.
    #[error("remote dynamic forwarding (-R '{spec}') is not supported: use -R [bind_address:]port:host:hostport")]
    RemoteDynamic { spec: String },
    /// A destination (`[user@]host[:port]` or `ssh://…`) is malformed; `reason` says how.
    #[error("invalid destination '{input}': {reason}")]
    Destination { input: String, reason: String },
    /// One entry of a `-J` list is malformed.
    #[error("invalid jump host list '{list}': {source}")]
    JumpList {
        list: String,
        #[source]
        source: Box<SpecError>,
    },
}

/// One `:`-separated field; `bracketed` when it was written as `[…]`.
struct Field<'a> {
    text: &'a str,
    bracketed: bool,
}

/// Splits on `:` outside brackets. A field may be `[…]` only as a whole.
fn split_fields(s: &str) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let text = &after[..close];
            if text.contains('[') {
                return None;
            }
            out.push(Field {
                text,
                bracketed: true,
            });
            let tail = &after[close + 1..];
            if tail.is_empty() {
                return Some(out);
            }
            rest = tail.strip_prefix(':')?;
        } else {
            let end = rest.find(':').unwrap_or(rest.len());
            let text = &rest[..end];
            if text.contains('[') || text.contains(']') {
                return None;
            }
            out.push(Field {
                text,
                bracketed: false,
            });
            if end == rest.len() {
                return Some(out);
            }
            rest = &rest[end + 1..];
        }
    }
}

fn valid_host_text(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && !h
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '[' || c == ']' || c == '/')
}

fn parse_port_text(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// Parses one spec of the given kind (the text after `-L`, `-D` or `-R`).
///
/// Ports are decimal; the listen port may be 0 only for `-R` (the server then picks one); a
/// destination port is never 0. IPv6 addresses are written in brackets
/// (`[::1]:8080:[fe80::1]:80`). Surrounding whitespace is ignored.
pub fn parse_forward(kind: ForwardKind, s: &str) -> Result<ForwardSpec, SpecError> {
    let spec = s.trim();
    let flag = kind.flag();
    let fields = split_fields(spec).ok_or_else(|| SpecError::Brackets {
        flag,
        spec: spec.to_string(),
    })?;
    let count_err = || SpecError::FieldCount {
        flag,
        spec: spec.to_string(),
        syntax: kind.syntax(),
    };
    if spec.is_empty() {
        return Err(count_err());
    }
    let (bind, port, target) = match (kind, fields.as_slice()) {
        (ForwardKind::Dynamic, [p]) => (None, p, None),
        (ForwardKind::Dynamic, [b, p]) => (Some(b), p, None),
        (ForwardKind::Local | ForwardKind::Remote, [p, h, hp]) => (None, p, Some((h, hp))),
        (ForwardKind::Local | ForwardKind::Remote, [b, p, h, hp]) => (Some(b), p, Some((h, hp))),
        (ForwardKind::Remote, [_] | [_, _]) => {
            return Err(SpecError::RemoteDynamic {
                spec: spec.to_string(),
            })
        }
        _ => return Err(count_err()),
    };

    let port_of = |f: &Field<'_>| -> Result<u16, SpecError> {
        if f.bracketed {
            return Err(SpecError::InvalidPort {
                flag,
                port: format!("[{}]", f.text),
                spec: spec.to_string(),
            });
        }
        parse_port_text(f.text).ok_or_else(|| SpecError::InvalidPort {
            flag,
            port: f.text.to_string(),
            spec: spec.to_string(),
        })
    };
    let invalid_host = |h: &str| SpecError::InvalidHost {
        flag,
        host: h.to_string(),
        spec: spec.to_string(),
    };

    let bind_address = match bind {
        None => None,
        Some(f) if !f.bracketed && (f.text.is_empty() || f.text == "*") => Some("*".to_string()),
        Some(f) if valid_host_text(f.text) => Some(f.text.to_string()),
        Some(f) => return Err(invalid_host(f.text)),
    };
    let port = port_of(port)?;
    if port == 0 && kind != ForwardKind::Remote {
        return Err(SpecError::PortZero {
            flag,
            which: "listen",
            spec: spec.to_string(),
        });
    }
    let (host, host_port) = match target {
        None => (None, None),
        Some((h, hp)) => {
            if h.text.is_empty() {
                return Err(SpecError::MissingHost {
                    flag,
                    spec: spec.to_string(),
                });
            }
            if !valid_host_text(h.text) {
                return Err(invalid_host(h.text));
            }
            let hp = port_of(hp)?;
            if hp == 0 {
                return Err(SpecError::PortZero {
                    flag,
                    which: "target",
                    spec: spec.to_string(),
                });
            }
            (Some(h.text.to_string()), Some(hp))
        }
    };
    Ok(ForwardSpec {
        kind,
        bind_address,
        port,
        host,
        host_port,
    })
}

fn dest_err(input: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Destination {
        input: input.to_string(),
        reason: reason.into(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `[user@]host[:port]`, `[user@][v6addr]:port`, a bare IPv6 address, or
/// `ssh://[user@]host[:port]` (an optional trailing `/`; no path, query or connection
/// parameters). The user is everything before the last `@` (user names may contain `@`); in
/// the URI form it is percent-decoded; it may not contain whitespace, control characters or
/// `/`. The port, if given, is 1..=65535.
pub fn parse_destination(s: &str) -> Result<Destination, SpecError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(dest_err(input, "empty"));
    }
    let (is_uri, body) = match input.strip_prefix("ssh://") {
        Some(rest) => {
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains(['/', '?', '#']) {
                return Err(dest_err(input, "ssh:// URIs cannot have a path or query"));
            }
            (true, rest)
        }
        None => (false, input),
    };
    let (user, hostport) = match body.rfind('@') {
        Some(at) => {
            let raw = &body[..at];
            if raw.is_empty() {
                return Err(dest_err(input, "empty user name before '@'"));
            }
            let user = if is_uri {
                if raw.contains(';') {
                    return Err(dest_err(
                        input,
                        "ssh:// connection parameters (';') are not supported",
                    ));
                }
                percent_decode(raw).ok_or_else(|| dest_err(input, "bad %-escape in user name"))?
            } else {
                raw.to_string()
            };
            if user
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
            {
                return Err(dest_err(input, format!("invalid user name '{user}'")));
            }
            (Some(user), &body[at + 1..])
        }
        None => (None, body),
    };
    let (host, port_text) = if let Some(after) = hostport.strip_prefix('[') {
        let close = after
            .find(']')
            .ok_or_else(|| dest_err(input, "'[' without ']'"))?;
        let tail = &after[close + 1..];
        let port = match tail {
            "" => None,
            t => Some(
                t.strip_prefix(':')
                    .ok_or_else(|| dest_err(input, format!("unexpected '{t}' after ']'")))?,
            ),
        };
        (&after[..close], port)
    } else {
        match hostport.matches(':').count() {
            0 => (hostport, None),
            1 => {
                let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
                (h, Some(p))
            }
            _ if hostport.parse::<std::net::Ipv6Addr>().is_ok() => (hostport, None),
            _ => {
                return Err(dest_err(
                    input,
                    "too many ':' (write an IPv6 address with a port as [addr]:port)",
                ))
            }
        }
    };
    if host.is_empty() {
        return Err(dest_err(input, "missing host"));
    }
    if !valid_host_text(host) || host.starts_with('-') {
        return Err(dest_err(input, format!("invalid host '{host}'")));
    }
    let port = match port_text {
        None => None,
        Some(p) => match parse_port_text(p) {
            Some(0) | None => return Err(dest_err(input, format!("invalid port '{p}'"))),
            Some(n) => Some(n),
        },
    };
    Ok(Destination {
        user,
        host: host.to_string(),
        port,
    })
}

/// Parses a `-J` list: destinations separated by commas, first hop first. `none` (as in
/// OpenSSH) means no jump and gives an empty list; an empty entry is an error.
pub fn parse_jump_list(s: &str) -> Result<Vec<Destination>, SpecError> {
    let list = s.trim();
    if list == "none" {
        return Ok(Vec::new());
    }
    let wrap = |e: SpecError| SpecError::JumpList {
        list: list.to_string(),
        source: Box::new(e),
    };
    if list.is_empty() {
        return Err(wrap(dest_err("", "empty")));
    }
    list.split(',')
        .map(|d| parse_destination(d).map_err(wrap))
        .collect()
}

fn bracket_if_v6(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// The reference's compact spec text, as shown on tunnel cards and searched in the popover:
///
/// - Local: `L :8443 → 10.0.0.5:443` (`local_port`, then `remote_host:remote_port`)
/// - Dynamic: `D :1080 SOCKS5`
/// - Remote: `R :9000 → localhost:3000` — `R :remote_port → localhost:local_port`; the remote
///   listen address (`remote_host`) is not shown.
///
/// The arrow is U+2192 between single spaces. IPv6 destinations are bracketed; a missing
/// destination part is shown as `?`.
pub fn format_spec(
    kind: ForwardKind,
    local_port: u16,
    remote_host: Option<&str>,
    remote_port: Option<u16>,
) -> String {
    let port_or_q = |p: Option<u16>| p.map_or_else(|| "?".to_string(), |p| p.to_string());
    match kind {
        ForwardKind::Local => format!(
            "L :{local_port} \u{2192} {}:{}",
            remote_host.map_or_else(|| "?".to_string(), bracket_if_v6),
            port_or_q(remote_port)
        ),
        ForwardKind::Dynamic => format!("D :{local_port} SOCKS5"),
        ForwardKind::Remote => format!(
            "R :{} \u{2192} localhost:{local_port}",
            port_or_q(remote_port)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForwardKind::*;

    fn fs(
        kind: ForwardKind,
        bind: Option<&str>,
        port: u16,
        host: Option<&str>,
        host_port: Option<u16>,
    ) -> ForwardSpec {
        ForwardSpec {
            kind,
            bind_address: bind.map(str::to_string),
            port,
            host: host.map(str::to_string),
            host_port,
        }
    }

    #[test]
    fn forward_ok() {
        let cases = [
            (
                Local,
                "8080:host:80",
                fs(Local, None, 8080, Some("host"), Some(80)),
            ),
            (
                Local,
                "127.0.0.1:8443:10.0.0.5:443",
                fs(Local, Some("127.0.0.1"), 8443, Some("10.0.0.5"), Some(443)),
            ),
            (
                Local,
                "[::1]:8080:[fe80::1]:80",
                fs(Local, Some("::1"), 8080, Some("fe80::1"), Some(80)),
            ),
            (
                Local,
                "8080:[2001:db8::5]:443",
                fs(Local, None, 8080, Some("2001:db8::5"), Some(443)),
            ),
            (
                Local,
                "localhost:1:db.internal:65535",
                fs(
                    Local,
                    Some("localhost"),
                    1,
                    Some("db.internal"),
                    Some(65535),
                ),
            ),
            (
                Local,
                "*:8080:h:80",
                fs(Local, Some("*"), 8080, Some("h"), Some(80)),
            ),
            (
                Local,
                ":8080:h:80",
                fs(Local, Some("*"), 8080, Some("h"), Some(80)),
            ),
            (
                Local,
                "  8080:h:80\n",
                fs(Local, None, 8080, Some("h"), Some(80)),
            ),
            (Dynamic, "1080", fs(Dynamic, None, 1080, None, None)),
            (
                Dynamic,
                "127.0.0.2:1080",
                fs(Dynamic, Some("127.0.0.2"), 1080, None, None),
            ),
            (
                Dynamic,
                "[::1]:1080",
                fs(Dynamic, Some("::1"), 1080, None, None),
            ),
            (Dynamic, "*:1080", fs(Dynamic, Some("*"), 1080, None, None)),
            (
                Remote,
                "9000:localhost:3000",
                fs(Remote, None, 9000, Some("localhost"), Some(3000)),
            ),
            (
                Remote,
                "0:localhost:3000",
                fs(Remote, None, 0, Some("localhost"), Some(3000)),
            ),
            (
                Remote,
                "0.0.0.0:9000:127.0.0.1:3000",
                fs(Remote, Some("0.0.0.0"), 9000, Some("127.0.0.1"), Some(3000)),
            ),
            (
                Remote,
                "[::]:9000:[::1]:3000",
                fs(Remote, Some("::"), 9000, Some("::1"), Some(3000)),
            ),
        ];
        for (kind, input, want) in cases {
            let got = parse_forward(kind, input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            // Display round-trips.
            assert_eq!(
                parse_forward(kind, &got.to_string()).unwrap(),
                got,
                "{input}"
            );
        }
    }

    #[test]
    fn forward_errors() {
        let cases: &[(ForwardKind, &str, &str)] = &[
            (Local, "8080:host:abc", "invalid port 'abc' in -L spec '8080:host:abc'"),
            (Local, "abc:host:80", "invalid port 'abc' in -L spec 'abc:host:80'"),
            (Local, "8080:host:65536", "invalid port '65536' in -L spec '8080:host:65536'"),
            (Local, "8080:host:-1", "invalid port '-1' in -L spec '8080:host:-1'"),
            (Local, "8080:host:+80", "invalid port '+80' in -L spec '8080:host:+80'"),
            (Local, "8080:host:", "invalid port '' in -L spec '8080:host:'"),
            (Local, "8080:host:[80]", "invalid port '[80]' in -L spec '8080:host:[80]'"),
            (Local, "0:host:80", "listen port must not be 0 in -L spec '0:host:80'"),
            (Local, "8080:host:0", "target port must not be 0 in -L spec '8080:host:0'"),
            (Remote, "9000:host:0", "target port must not be 0 in -R spec '9000:host:0'"),
            (Dynamic, "0", "listen port must not be 0 in -D spec '0'"),
            (Local, "8080::80", "missing host in -L spec '8080::80'"),
            (Local, "8080", "invalid -L spec '8080': expected [bind_address:]port:host:hostport"),
            (Local, "", "invalid -L spec '': expected [bind_address:]port:host:hostport"),
            (
                Local,
                "a:1:b:2:3",
                "invalid -L spec 'a:1:b:2:3': expected [bind_address:]port:host:hostport",
            ),
            (
                Local,
                "8080:fe80::1:80",
                "invalid -L spec '8080:fe80::1:80': expected [bind_address:]port:host:hostport",
            ),
            (Dynamic, "a:b:1080", "invalid -D spec 'a:b:1080': expected [bind_address:]port"),
            (Dynamic, "", "invalid -D spec '': expected [bind_address:]port"),
            (Dynamic, "x", "invalid port 'x' in -D spec 'x'"),
            (
                Remote,
                "9000",
                "remote dynamic forwarding (-R '9000') is not supported: use -R [bind_address:]port:host:hostport",
            ),
            (
                Local,
                "[::1:8080:h:80",
                "unbalanced brackets in -L spec '[::1:8080:h:80' (write IPv6 addresses as [addr])",
            ),
            (
                Local,
                "[::1]x:8080:h:80",
                "unbalanced brackets in -L spec '[::1]x:8080:h:80' (write IPv6 addresses as [addr])",
            ),
            (
                Local,
                "8080:h]:80",
                "unbalanced brackets in -L spec '8080:h]:80' (write IPv6 addresses as [addr])",
            ),
            (Local, "8080:a b:80", "invalid host 'a b' in -L spec '8080:a b:80'"),
            (Local, "8080:[]:80", "missing host in -L spec '8080:[]:80'"),
            (Local, "[]:8080:h:80", "invalid host '' in -L spec '[]:8080:h:80'"),
            (Local, "a\tb:8080:h:80", "invalid host 'a\tb' in -L spec 'a\tb:8080:h:80'"),
        ];
        for &(kind, input, want) in cases {
            let err = parse_forward(kind, input).expect_err(input);
            assert_eq!(err.to_string(), want, "{input}");
        }
    }

    #[test]
    fn destinations() {
        let d = |u: Option<&str>, h: &str, p: Option<u16>| Destination {
            user: u.map(str::to_string),
            host: h.to_string(),
            port: p,
        };
        let cases = [
            ("bastion", d(None, "bastion", None)),
            ("user@bastion", d(Some("user"), "bastion", None)),
            ("user@bastion:2222", d(Some("user"), "bastion", Some(2222))),
            ("bastion:22", d(None, "bastion", Some(22))),
            ("10.0.0.1", d(None, "10.0.0.1", None)),
            ("[::1]:2222", d(None, "::1", Some(2222))),
            ("user@[fe80::1]:22", d(Some("user"), "fe80::1", Some(22))),
            ("[::1]", d(None, "::1", None)),
            ("fe80::1", d(None, "fe80::1", None)),
            ("me@corp@host", d(Some("me@corp"), "host", None)),
            ("ssh://user@host:2222", d(Some("user"), "host", Some(2222))),
            ("ssh://host", d(None, "host", None)),
            ("ssh://host/", d(None, "host", None)),
            ("ssh://a%40b@[::1]:22", d(Some("a@b"), "::1", Some(22))),
            (" host ", d(None, "host", None)),
        ];
        for (input, want) in cases {
            let got = parse_destination(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            assert_eq!(parse_destination(&got.to_string()).unwrap(), got, "{input}");
        }
    }

    #[test]
    fn destination_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid destination '': empty"),
            ("@host", "invalid destination '@host': empty user name before '@'"),
            ("user@", "invalid destination 'user@': missing host"),
            ("host:", "invalid destination 'host:': invalid port ''"),
            ("host:0", "invalid destination 'host:0': invalid port '0'"),
            ("host:ssh", "invalid destination 'host:ssh': invalid port 'ssh'"),
            ("host:70000", "invalid destination 'host:70000': invalid port '70000'"),
            (
                "a:b:c",
                "invalid destination 'a:b:c': too many ':' (write an IPv6 address with a port as [addr]:port)",
            ),
            ("[::1", "invalid destination '[::1': '[' without ']'"),
            ("[::1]22", "invalid destination '[::1]22': unexpected '22' after ']'"),
            ("-oProxyCommand=x", "invalid destination '-oProxyCommand=x': invalid host '-oProxyCommand=x'"),
            ("a b", "invalid destination 'a b': invalid host 'a b'"),
            ("ssh://host/path", "invalid destination 'ssh://host/path': ssh:// URIs cannot have a path or query"),
            (
                "ssh://u;fp=x@host",
                "invalid destination 'ssh://u;fp=x@host': ssh:// connection parameters (';') are not supported",
            ),
            ("ssh://%zz@host", "invalid destination 'ssh://%zz@host': bad %-escape in user name"),
            (
                "ssh://ssh%3A%2F%2Fx@host",
                "invalid destination 'ssh://ssh%3A%2F%2Fx@host': invalid user name 'ssh://x'",
            ),
            ("a/b@host", "invalid destination 'a/b@host': invalid user name 'a/b'"),
        ];
        for &(input, want) in cases {
            let err = parse_destination(input).expect_err(input);
            assert_eq!(err.to_string(), want, "{input}");
        }
    }

    #[test]
    fn jump_lists() {
        let ok: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a,b@c:2222", &["a", "b@c:2222"]),
            ("u@[::1]:22,h2,h3:2200", &["u@[::1]:22", "h2", "h3:2200"]),
            ("none", &[]),
        ];
        for &(input, want) in ok {
            let got: Vec<String> = parse_jump_list(input)
                .unwrap()
                .iter()
                .map(|d| d.to_string())
                .collect();
            assert_eq!(got, want, "{input}");
        }
        let bad: &[(&str, &str)] = &[
            (
                "",
                "invalid jump host list '': invalid destination '': empty",
            ),
            (
                "a,,b",
                "invalid jump host list 'a,,b': invalid destination '': empty",
            ),
            (
                "a,",
                "invalid jump host list 'a,': invalid destination '': empty",
            ),
            (
                "a,b:x",
                "invalid jump host list 'a,b:x': invalid destination 'b:x': invalid port 'x'",
            ),
        ];
        for &(input, want) in bad {
            assert_eq!(
                parse_jump_list(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn a_jump_host_named_none_survives_printing() {
        // Found by the fuzzer: `-J none` means no jump, so the host `none` prints as ssh://none.
        let list = parse_jump_list("ssh://none").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].to_string(), "ssh://none");
        assert_eq!(parse_jump_list(&list[0].to_string()).unwrap(), list);
        assert_eq!(parse_jump_list("none").unwrap(), vec![]);
        let with_user = parse_destination("me@none").unwrap();
        assert_eq!(with_user.to_string(), "me@none");
    }

    #[test]
    fn compact_spec_text() {
        type Case<'a> = (ForwardKind, u16, Option<&'a str>, Option<u16>, &'a str);
        let cases: &[Case] = &[
            (
                Local,
                8443,
                Some("10.0.0.5"),
                Some(443),
                "L :8443 → 10.0.0.5:443",
            ),
            (
                Local,
                8080,
                Some("fe80::1"),
                Some(80),
                "L :8080 → [fe80::1]:80",
            ),
            (Local, 8080, None, None, "L :8080 → ?:?"),
            (Dynamic, 1080, None, None, "D :1080 SOCKS5"),
            (Dynamic, 1080, Some("ignored"), Some(1), "D :1080 SOCKS5"),
            (
                Remote,
                3000,
                Some("0.0.0.0"),
                Some(9000),
                "R :9000 → localhost:3000",
            ),
            (Remote, 3000, None, Some(0), "R :0 → localhost:3000"),
        ];
        for &(kind, lp, rh, rp, want) in cases {
            assert_eq!(format_spec(kind, lp, rh, rp), want);
        }
        assert!(format_spec(Local, 1, Some("h"), Some(2)).contains(" \u{2192} "));
        let r = parse_forward(Remote, "9000:localhost:3000").unwrap();
        assert_eq!(r.compact(), "R :9000 → localhost:3000");
        let l = parse_forward(Local, "8443:10.0.0.5:443").unwrap();
        assert_eq!(l.compact(), "L :8443 → 10.0.0.5:443");
    }

    #[test]
    fn kind_names() {
        for (k, s, flag, letter) in [
            (Local, "local", "-L", 'L'),
            (Dynamic, "dynamic", "-D", 'D'),
            (Remote, "remote", "-R", 'R'),
        ] {
            assert_eq!(k.as_str(), s);
            assert_eq!(k.to_string(), s);
            assert_eq!(ForwardKind::parse(s), Some(k));
            assert_eq!(k.flag(), flag);
            assert_eq!(k.letter(), letter);
        }
        for bad in ["", "Local", "L", "-L", "socks"] {
            assert_eq!(ForwardKind::parse(bad), None, "{bad}");
        }
    }
}
