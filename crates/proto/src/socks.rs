//! Sans-IO proxy negotiation for a dynamic (`-D`) listener.
//!
//! Owns: the byte-level handshakes a client may start on a `-D` port, told apart by the first
//! byte — SOCKS5 (RFC 1928: the no-authentication method only, the CONNECT command, address
//! types IPv4, IPv6 and domain name), SOCKS4 and SOCKS4a (`0x04`), and HTTP `CONNECT host:port`
//! (an ASCII letter) — and the replies sent once the connect attempt has succeeded or failed.
//!
//! Must not touch: sockets, timers, SSH channels or name resolution. The caller reads bytes,
//! calls [`Negotiation::advance`] with everything buffered so far, writes the replies it is
//! given, opens the channel for the [`ConnectRequest`], and finally sends [`reply`]. Deadlines
//! for the handshake are the caller's; the size bound ([`MAX_HANDSHAKE_BYTES`]) is enforced here.
//!
//! Buffer contract: [`Outcome::NeedMore`] is only returned while the handshake so far (bytes
//! already consumed plus `buf`) is shorter than [`MAX_HANDSHAKE_BYTES`], so a caller that reads
//! at most `MAX_HANDSHAKE_BYTES - buf.len()` more bytes never buffers more than that.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The longest handshake accepted, in bytes (for HTTP: request line and headers together).
pub const MAX_HANDSHAKE_BYTES: usize = 8192;

/// The longest SOCKS4 user id or SOCKS4a host name accepted, in bytes (without the NUL).
pub const SOCKS4_MAX_FIELD: usize = 255;

/// Which handshake the client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SOCKS version 5 (first byte `0x05`).
    Socks5,
    /// SOCKS version 4 or 4a (first byte `0x04`).
    Socks4,
    /// An HTTP `CONNECT` request (first byte an ASCII letter).
    HttpConnect,
}

/// Where the client wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetAddr {
    /// A literal address.
    Ip(SocketAddr),
    /// A host name (resolved at the SSH server, never here) and port.
    Domain(String, u16),
}

impl TargetAddr {
    /// The host as text, IPv6 without brackets (what an SSH `direct-tcpip` request carries).
    pub fn host(&self) -> String {
        match self {
            TargetAddr::Ip(sa) => sa.ip().to_string(),
            TargetAddr::Domain(h, _) => h.clone(),
        }
    }

    /// The target port.
    pub fn port(&self) -> u16 {
        match self {
            TargetAddr::Ip(sa) => sa.port(),
            TargetAddr::Domain(_, p) => *p,
        }
    }
}

/// `host:port`, IPv6 bracketed.
impl fmt::Display for TargetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetAddr::Ip(sa) => write!(f, "{sa}"),
            TargetAddr::Domain(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

/// A completed negotiation: connect `target`, then answer with [`reply`] in `protocol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol: Protocol,
    pub target: TargetAddr,
}

/// What to do after one [`Negotiation::advance`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Read more bytes, then call `advance` again with the whole (grown) buffer.
    NeedMore,
    /// Write `bytes` to the client, drop `consumed` bytes from the front of the buffer, and call
    /// `advance` again (with what is left, possibly after reading more).
    Reply { bytes: Vec<u8>, consumed: usize },
    /// Negotiation done: connect `request.target`. Bytes after `consumed` are early client
    /// payload to forward once the channel is open.
    Connect {
        request: ConnectRequest,
        consumed: usize,
    },
}

/// A refused handshake: send `reply` (may be empty), then close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reply: Vec<u8>,
    pub error: SocksError,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Rejection {}

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    /// A SOCKS5 client offered no "no authentication" (0x00) method. The reference's text;
    /// the reply is `[0x05, 0xFF]`.
    #[error("Client does not support no-auth method")]
    NoAcceptableMethod,
    /// A SOCKS command other than CONNECT (BIND, UDP ASSOCIATE, …). SOCKS5 reply code 0x07,
    /// SOCKS4 reply 0x5B.
    #[error("unsupported SOCKS command 0x{0:02x} ({name}): only CONNECT is supported", name = command_name(*.0))]
    UnsupportedCommand(u8),
    /// A SOCKS5 address type other than IPv4 (1), domain (3) or IPv6 (4). Reply code 0x08.
    #[error("unsupported SOCKS5 address type 0x{0:02x}")]
    UnsupportedAddressType(u8),
    /// The first byte names no protocol spoken here, or a SOCKS5 request does not start with
    /// version 5.
    #[error("unsupported protocol (version byte 0x{0:02x}): expected SOCKS5, SOCKS4 or an HTTP CONNECT request")]
    BadVersion(u8),
    /// A SOCKS field is invalid (empty or non-UTF-8 host name, control characters, …).
    #[error("malformed SOCKS request: {0}")]
    Malformed(String),
    /// The handshake did not complete within [`MAX_HANDSHAKE_BYTES`].
    #[error("handshake longer than {MAX_HANDSHAKE_BYTES} bytes")]
    TooLong,
    /// A SOCKS4 user id longer than [`SOCKS4_MAX_FIELD`] bytes.
    #[error("SOCKS4 user id longer than {SOCKS4_MAX_FIELD} bytes")]
    Socks4UserIdTooLong,
    /// A SOCKS4a host name longer than [`SOCKS4_MAX_FIELD`] bytes.
    #[error("SOCKS4a host name longer than {SOCKS4_MAX_FIELD} bytes")]
    Socks4DomainTooLong,
    /// An HTTP request whose method is not CONNECT (the reply is `405 Method Not Allowed`).
    #[error("HTTP method '{0}' is not supported: only CONNECT is (this port is a SOCKS/HTTP CONNECT proxy)")]
    MethodNotAllowed(String),
    /// A malformed HTTP CONNECT request (the reply is `400 Bad Request`).
    #[error("bad HTTP CONNECT request: {0}")]
    BadHttpRequest(String),
    /// `advance` was called after the negotiation had already completed or been refused.
    #[error("negotiation already finished")]
    Finished,
}

fn command_name(cmd: u8) -> &'static str {
    match cmd {
        1 => "CONNECT",
        2 => "BIND",
        3 => "UDP ASSOCIATE",
        _ => "unknown",
    }
}

/// Reply codes, as SOCKS5 numbers them; mapped for SOCKS4 and HTTP by [`reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplyCode {
    Succeeded = 0,
    GeneralFailure = 1,
    NotAllowed = 2,
    NetworkUnreachable = 3,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    TtlExpired = 6,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}

impl ReplyCode {
    /// The SOCKS5 `REP` byte.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The HTTP status line sent for this code (without CRLF).
    pub fn http_status_line(self) -> &'static str {
        match self {
            ReplyCode::Succeeded => "HTTP/1.1 200 Connection established",
            ReplyCode::NotAllowed => "HTTP/1.1 403 Forbidden",
            ReplyCode::TtlExpired => "HTTP/1.1 504 Gateway Timeout",
            ReplyCode::CommandNotSupported => "HTTP/1.1 405 Method Not Allowed",
            ReplyCode::AddressTypeNotSupported => "HTTP/1.1 400 Bad Request",
            ReplyCode::GeneralFailure
            | ReplyCode::NetworkUnreachable
            | ReplyCode::HostUnreachable
            | ReplyCode::ConnectionRefused => "HTTP/1.1 502 Bad Gateway",
        }
    }
}

fn http_error(status_line: &str, extra_headers: &str) -> Vec<u8> {
    format!("{status_line}\r\n{extra_headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// The reply to send after the connect attempt, in the client's protocol:
///
/// - SOCKS5: `VER REP RSV ATYP BND.ADDR BND.PORT` with `bound` (`0.0.0.0:0` if `None`).
/// - SOCKS4: `0x00 0x5A` (granted) or `0x00 0x5B` (rejected), then `bound`'s port and IPv4
///   address (zeros if `None` or IPv6).
/// - HTTP: `HTTP/1.1 200 Connection established\r\n\r\n`, or a status line mapped from `code`
///   (502 Bad Gateway, 504 Gateway Timeout for TTL/timeout, 403 Forbidden, …) with
///   `Content-Length: 0` and `Connection: close`.
pub fn reply(protocol: Protocol, code: ReplyCode, bound: Option<SocketAddr>) -> Vec<u8> {
    match protocol {
        Protocol::Socks5 => {
            let addr = bound
                .unwrap_or_else(|| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
            let mut out = vec![5, code.as_u8(), 0];
            match addr.ip() {
                IpAddr::V4(ip) => {
                    out.push(1);
                    out.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    out.push(4);
                    out.extend_from_slice(&ip.octets());
                }
            }
            out.extend_from_slice(&addr.port().to_be_bytes());
            out
        }
        Protocol::Socks4 => {
            let status = if code == ReplyCode::Succeeded {
                0x5A
            } else {
                0x5B
            };
            let (port, ip) = match bound {
                Some(SocketAddr::V4(a)) => (a.port(), a.ip().octets()),
                _ => (0, [0; 4]),
            };
            let mut out = vec![0, status];
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(&ip);
            out
        }
        Protocol::HttpConnect => match code {
            ReplyCode::Succeeded => b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
            ReplyCode::CommandNotSupported => {
                http_error(code.http_status_line(), "Allow: CONNECT\r\n")
            }
            _ => http_error(code.http_status_line(), ""),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing seen yet.
    Start,
    /// SOCKS5 method selection answered; waiting for the request.
    Socks5Request,
    /// HTTP: scanning lines incrementally.
    Http(HttpScan),
    /// Completed or refused.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct HttpScan {
    /// Index in the buffer up to which bytes have been scanned.
    pos: usize,
    /// Index where the current line starts.
    line_start: usize,
    /// The target, once the request line has been parsed.
    target: Option<TargetAddr>,
}

/// One client's handshake state. Create one per accepted connection.
#[derive(Debug, Clone)]
pub struct Negotiation {
    state: State,
    protocol: Option<Protocol>,
    /// Bytes consumed by earlier `Reply` outcomes (counted against the size bound).
    consumed: usize,
}

impl Default for Negotiation {
    fn default() -> Self {
        Self::new()
    }
}

type Step = Result<Outcome, Rejection>;

fn reject(reply: Vec<u8>, error: SocksError) -> Step {
    Err(Rejection { reply, error })
}

fn socks5_fail(code: ReplyCode, error: SocksError) -> Step {
    reject(reply(Protocol::Socks5, code, None), error)
}

fn socks4_fail(error: SocksError) -> Step {
    reject(
        reply(Protocol::Socks4, ReplyCode::GeneralFailure, None),
        error,
    )
}

fn bad_request(why: impl Into<String>) -> Rejection {
    Rejection {
        reply: http_error("HTTP/1.1 400 Bad Request", ""),
        error: SocksError::BadHttpRequest(why.into()),
    }
}

fn http_400(why: impl Into<String>) -> Step {
    Err(bad_request(why))
}

/// A host name as a proxy client may send it: non-empty, at most 255 bytes, no whitespace,
/// control characters or URL delimiters.
fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 255
        && !d.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '?' | '#' | '[' | ']')
        })
}

impl Negotiation {
    /// A fresh negotiation, waiting for the client's first byte.
    pub fn new() -> Self {
        Negotiation {
            state: State::Start,
            protocol: None,
            consumed: 0,
        }
    }

    /// The protocol the client is speaking, once its first byte has been seen.
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// Feeds everything buffered so far (after dropping the `consumed` bytes of earlier
    /// [`Outcome::Reply`]s). See the module docs for the buffer contract. After a `Connect` or
    /// a rejection, further calls are refused with [`SocksError::Finished`].
    pub fn advance(&mut self, buf: &[u8]) -> Result<Outcome, Rejection> {
        let step = match &mut self.state {
            State::Done => return reject(Vec::new(), SocksError::Finished),
            State::Start => self.start(buf),
            State::Socks5Request => socks5_request(buf),
            State::Http(scan) => http_scan(scan, buf),
        };
        let too_long = match &step {
            Ok(Outcome::NeedMore) => self.consumed.saturating_add(buf.len()) >= MAX_HANDSHAKE_BYTES,
            Ok(Outcome::Reply { consumed, .. }) | Ok(Outcome::Connect { consumed, .. }) => {
                self.consumed.saturating_add(*consumed) > MAX_HANDSHAKE_BYTES
            }
            Err(_) => false,
        };
        let step = if too_long {
            let reply = match self.protocol {
                Some(Protocol::HttpConnect) => {
                    http_error("HTTP/1.1 431 Request Header Fields Too Large", "")
                }
                Some(Protocol::Socks4) => reply(Protocol::Socks4, ReplyCode::GeneralFailure, None),
                Some(Protocol::Socks5) | None => Vec::new(),
            };
            reject(reply, SocksError::TooLong)
        } else {
            step
        };
        match &step {
            Ok(Outcome::NeedMore) => {}
            Ok(Outcome::Reply { consumed, .. }) => self.consumed += consumed,
            Ok(Outcome::Connect { .. }) | Err(_) => self.state = State::Done,
        }
        step
    }

    fn start(&mut self, buf: &[u8]) -> Step {
        let Some(&first) = buf.first() else {
            return Ok(Outcome::NeedMore);
        };
        match first {
            5 => {
                self.protocol = Some(Protocol::Socks5);
                let Some(&n) = buf.get(1) else {
                    return Ok(Outcome::NeedMore);
                };
                let end = 2 + n as usize;
                let Some(methods) = buf.get(2..end) else {
                    return Ok(Outcome::NeedMore);
                };
                if methods.contains(&0) {
                    self.state = State::Socks5Request;
                    Ok(Outcome::Reply {
                        bytes: vec![5, 0],
                        consumed: end,
                    })
                } else {
                    reject(vec![5, 0xFF], SocksError::NoAcceptableMethod)
                }
            }
            4 => {
                self.protocol = Some(Protocol::Socks4);
                socks4(buf)
            }
            b if b.is_ascii_alphabetic() => {
                self.protocol = Some(Protocol::HttpConnect);
                let mut scan = HttpScan::default();
                let step = http_scan(&mut scan, buf);
                self.state = State::Http(scan);
                step
            }
            b => reject(Vec::new(), SocksError::BadVersion(b)),
        }
    }
}

fn socks5_request(buf: &[u8]) -> Step {
    let Some(&ver) = buf.first() else {
        return Ok(Outcome::NeedMore);
    };
    if ver != 5 {
        return socks5_fail(ReplyCode::GeneralFailure, SocksError::BadVersion(ver));
    }
    let Some(&cmd) = buf.get(1) else {
        return Ok(Outcome::NeedMore);
    };
    if cmd != 1 {
        return socks5_fail(
            ReplyCode::CommandNotSupported,
            SocksError::UnsupportedCommand(cmd),
        );
    }
    // buf[2] is RSV; RFC 1928 says 0x00, clients in the wild are not checked on it.
    let Some(&atyp) = buf.get(3) else {
        return Ok(Outcome::NeedMore);
    };
    let port_at = |i: usize| buf.get(i..i + 2).map(|p| u16::from_be_bytes([p[0], p[1]]));
    let (target, consumed) = match atyp {
        1 => {
            let (Some(a), Some(port)) = (buf.get(4..8), port_at(8)) else {
                return Ok(Outcome::NeedMore);
            };
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            (
                TargetAddr::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port))),
                10,
            )
        }
        4 => {
            let (Some(a), Some(port)) = (buf.get(4..20), port_at(20)) else {
                return Ok(Outcome::NeedMore);
            };
            let mut octets = [0u8; 16];
            octets.copy_from_slice(a);
            let ip = Ipv6Addr::from(octets);
            (
                TargetAddr::Ip(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))),
                22,
            )
        }
        3 => {
            let Some(&len) = buf.get(4) else {
                return Ok(Outcome::NeedMore);
            };
            let len = len as usize;
            if len == 0 {
                return socks5_fail(
                    ReplyCode::GeneralFailure,
                    SocksError::Malformed("empty domain name".into()),
                );
            }
            let (Some(name), Some(port)) = (buf.get(5..5 + len), port_at(5 + len)) else {
                return Ok(Outcome::NeedMore);
            };
            let name = match std::str::from_utf8(name) {
                Ok(n) if valid_domain(n) => n.to_string(),
                _ => {
                    return socks5_fail(
                        ReplyCode::GeneralFailure,
                        SocksError::Malformed(format!(
                            "invalid domain name {:?}",
                            String::from_utf8_lossy(name)
                        )),
                    )
                }
            };
            (TargetAddr::Domain(name, port), 7 + len)
        }
        other => {
            return socks5_fail(
                ReplyCode::AddressTypeNotSupported,
                SocksError::UnsupportedAddressType(other),
            )
        }
    };
    Ok(Outcome::Connect {
        request: ConnectRequest {
            protocol: Protocol::Socks5,
            target,
        },
        consumed,
    })
}

/// `VN=4 CD DSTPORT(2) DSTIP(4) USERID NUL` and, for SOCKS4a (DSTIP `0.0.0.x`, x ≠ 0),
/// `HOSTNAME NUL`.
fn socks4(buf: &[u8]) -> Step {
    let Some(&cd) = buf.get(1) else {
        return Ok(Outcome::NeedMore);
    };
    if cd != 1 {
        return socks4_fail(SocksError::UnsupportedCommand(cd));
    }
    let Some(head) = buf.get(..8) else {
        return Ok(Outcome::NeedMore);
    };
    let port = u16::from_be_bytes([head[2], head[3]]);
    let ip = Ipv4Addr::new(head[4], head[5], head[6], head[7]);
    // The user id is NUL-terminated and ignored (no authentication on a loopback port).
    let (user_len, after_user) = match find_nul(&buf[8..]) {
        Some(n) => (n, 8 + n + 1),
        None if buf.len() - 8 > SOCKS4_MAX_FIELD => {
            return socks4_fail(SocksError::Socks4UserIdTooLong)
        }
        None => return Ok(Outcome::NeedMore),
    };
    if user_len > SOCKS4_MAX_FIELD {
        return socks4_fail(SocksError::Socks4UserIdTooLong);
    }
    let o = ip.octets();
    let is_4a = o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] != 0;
    if !is_4a {
        return Ok(Outcome::Connect {
            request: ConnectRequest {
                protocol: Protocol::Socks4,
                target: TargetAddr::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port))),
            },
            consumed: after_user,
        });
    }
    let rest = &buf[after_user..];
    let name_len = match find_nul(rest) {
        Some(n) if n > SOCKS4_MAX_FIELD => return socks4_fail(SocksError::Socks4DomainTooLong),
        Some(n) => n,
        None if rest.len() > SOCKS4_MAX_FIELD => {
            return socks4_fail(SocksError::Socks4DomainTooLong)
        }
        None => return Ok(Outcome::NeedMore),
    };
    let name = &rest[..name_len];
    let name = match std::str::from_utf8(name) {
        Ok(n) if valid_domain(n) => n.to_string(),
        _ => {
            return socks4_fail(SocksError::Malformed(format!(
                "invalid SOCKS4a host name {:?}",
                String::from_utf8_lossy(name)
            )))
        }
    };
    Ok(Outcome::Connect {
        request: ConnectRequest {
            protocol: Protocol::Socks4,
            target: TargetAddr::Domain(name, port),
        },
        consumed: after_user + name_len + 1,
    })
}

fn find_nul(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == 0)
}

/// Scans newly arrived bytes line by line. The request line is checked as soon as it is
/// complete (so a `GET` is refused without waiting for its headers); the request is done at the
/// first empty line. Lines end in LF, an optional CR before it is dropped.
fn http_scan(scan: &mut HttpScan, buf: &[u8]) -> Step {
    // A caller passing a shorter buffer than before has broken the contract; start over.
    if scan.pos > buf.len() {
        *scan = HttpScan::default();
    }
    let mut i = scan.pos;
    while i < buf.len() {
        let b = buf[i];
        if b == b'\n' {
            let mut line = &buf[scan.line_start..i];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            match &scan.target {
                None => match parse_request_line(line) {
                    Ok(t) => scan.target = Some(t),
                    Err(rej) => return Err(rej),
                },
                Some(target) if line.is_empty() => {
                    return Ok(Outcome::Connect {
                        request: ConnectRequest {
                            protocol: Protocol::HttpConnect,
                            target: target.clone(),
                        },
                        consumed: i + 1,
                    });
                }
                Some(_) => check_header_line(line)?,
            }
            scan.line_start = i + 1;
        } else if scan.target.is_none() && !(b == b' ' || b == b'\r' || b.is_ascii_graphic()) {
            // Request lines are plain ASCII: refuse binary garbage early.
            return http_400(format!("invalid byte 0x{b:02x} in the request line"));
        }
        i += 1;
    }
    scan.pos = i;
    Ok(Outcome::NeedMore)
}

fn parse_request_line(line: &[u8]) -> Result<TargetAddr, Rejection> {
    let fail = bad_request;
    // Checked byte by byte while scanning: ASCII graphic, space or CR only.
    let text = std::str::from_utf8(line).map_err(|_| fail("request line is not ASCII".into()))?;
    if text.contains('\r') {
        return Err(fail("stray CR in the request line".into()));
    }
    let mut parts = text.split(' ');
    let method = parts.next().unwrap_or("");
    if method != "CONNECT" {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(fail(format!("invalid method in request line {text:?}")));
        }
        return Err(Rejection {
            reply: http_error("HTTP/1.1 405 Method Not Allowed", "Allow: CONNECT\r\n"),
            error: SocksError::MethodNotAllowed(method.to_string()),
        });
    }
    let (Some(authority), Some(version), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(fail(format!(
            "expected 'CONNECT host:port HTTP/1.1', got {text:?}"
        )));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(fail(format!("unsupported HTTP version {version:?}")));
    }
    parse_authority(authority).ok_or_else(|| {
        fail(format!(
            "invalid CONNECT target {authority:?}: expected host:port"
        ))
    })
}

/// `host:port` or `[v6]:port`, port 1..=65535.
fn parse_authority(a: &str) -> Option<TargetAddr> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        (h, tail.strip_prefix(':')?)
    } else {
        a.rsplit_once(':')?
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    if a.starts_with('[') {
        let ip: Ipv6Addr = host.parse().ok()?;
        return Some(TargetAddr::Ip(SocketAddr::V6(SocketAddrV6::new(
            ip, port, 0, 0,
        ))));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(TargetAddr::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port))));
    }
    if host.contains(':') || !valid_domain(host) {
        return None;
    }
    Some(TargetAddr::Domain(host.to_string(), port))
}

/// `name: value` (value may hold any byte but controls other than TAB), or an obs-fold
/// continuation starting with SP/HTAB. Header contents are otherwise ignored (there is no
/// proxy authentication on a loopback port).
fn check_header_line(line: &[u8]) -> Result<(), Rejection> {
    let bad = bad_request;
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(bad("control character in a header"));
    }
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Ok(());
    }
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => Err(bad("header line without 'name:'")),
        Some(n) if line[..n].iter().any(|b| !b.is_ascii_graphic()) => {
            Err(bad("invalid header name"))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4], port: u16) -> TargetAddr {
        TargetAddr::Ip(SocketAddr::from((a, port)))
    }
    fn dom(h: &str, port: u16) -> TargetAddr {
        TargetAddr::Domain(h.to_string(), port)
    }

    /// Replies written, then the request and the early payload (or the refusal).
    type Driven = (Vec<Vec<u8>>, Result<(ConnectRequest, Vec<u8>), SocksError>);
    type SuccessCase = (
        &'static str,
        Vec<u8>,
        Vec<Vec<u8>>,
        Protocol,
        TargetAddr,
        &'static [u8],
    );

    /// Feeds `input` one byte at a time (the harshest chunking), honouring `consumed`; returns
    /// the replies written and the final result.
    fn drive_bytewise(input: &[u8]) -> Driven {
        let mut n = Negotiation::new();
        let mut buf = Vec::new();
        let mut replies = Vec::new();
        let mut next = 0;
        loop {
            match n.advance(&buf) {
                Ok(Outcome::NeedMore) => {
                    assert!(buf.len() < MAX_HANDSHAKE_BYTES);
                    if next == input.len() {
                        return (replies, Err(SocksError::Malformed("eof".into())));
                    }
                    buf.push(input[next]);
                    next += 1;
                }
                Ok(Outcome::Reply { bytes, consumed }) => {
                    replies.push(bytes);
                    buf.drain(..consumed);
                }
                Ok(Outcome::Connect { request, consumed }) => {
                    let mut rest = buf[consumed..].to_vec();
                    rest.extend_from_slice(&input[next..]);
                    return (replies, Ok((request, rest)));
                }
                Err(r) => {
                    replies.push(r.reply);
                    return (replies, Err(r.error));
                }
            }
        }
    }

    /// Feeds the whole input at once.
    fn drive_whole(input: &[u8]) -> Driven {
        let mut n = Negotiation::new();
        let mut buf = input.to_vec();
        let mut replies = Vec::new();
        loop {
            match n.advance(&buf) {
                Ok(Outcome::NeedMore) => {
                    return (replies, Err(SocksError::Malformed("eof".into())))
                }
                Ok(Outcome::Reply { bytes, consumed }) => {
                    replies.push(bytes);
                    buf.drain(..consumed);
                }
                Ok(Outcome::Connect { request, consumed }) => {
                    return (replies, Ok((request, buf[consumed..].to_vec())))
                }
                Err(r) => {
                    replies.push(r.reply);
                    return (replies, Err(r.error));
                }
            }
        }
    }

    #[test]
    fn successful_handshakes() {
        let s5 = Protocol::Socks5;
        let s4 = Protocol::Socks4;
        let h = Protocol::HttpConnect;
        let six = TargetAddr::Ip("[2001:db8::1]:443".parse().unwrap());
        let cases: Vec<SuccessCase> = vec![
            (
                "socks5 ipv4",
                b"\x05\x01\x00\x05\x01\x00\x01\x0a\x00\x00\x05\x01\xbb".to_vec(),
                vec![vec![5, 0]],
                s5,
                v4([10, 0, 0, 5], 443),
                b"",
            ),
            (
                "socks5 several methods, domain, early payload",
                [&b"\x05\x03\x02\x01\x00\x05\x01\x00\x03\x0bexample.com\x00\x50"[..], b"GET /"].concat(),
                vec![vec![5, 0]],
                s5,
                dom("example.com", 80),
                b"GET /",
            ),
            (
                "socks5 ipv6",
                [
                    &b"\x05\x01\x00\x05\x01\x00\x04"[..],
                    &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
                    b"\x01\xbb",
                ]
                .concat(),
                vec![vec![5, 0]],
                s5,
                six.clone(),
                b"",
            ),
            (
                "socks4 ip",
                b"\x04\x01\x00\x16\x7f\x00\x00\x01alice\x00".to_vec(),
                vec![],
                s4,
                v4([127, 0, 0, 1], 22),
                b"",
            ),
            (
                "socks4 empty user id, payload",
                b"\x04\x01\x00\x50\x0a\x00\x00\x05\x00hello".to_vec(),
                vec![],
                s4,
                v4([10, 0, 0, 5], 80),
                b"hello",
            ),
            (
                "socks4a",
                b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00internal.example\x00".to_vec(),
                vec![],
                s4,
                dom("internal.example", 443),
                b"",
            ),
            (
                "http connect domain",
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/8\r\n\r\n"
                    .to_vec(),
                vec![],
                h,
                dom("example.com", 443),
                b"",
            ),
            (
                "http connect ipv4, LF only, payload",
                b"CONNECT 10.0.0.5:22 HTTP/1.0\n\nSSH-2.0-x".to_vec(),
                vec![],
                h,
                v4([10, 0, 0, 5], 22),
                b"SSH-2.0-x",
            ),
            (
                "http connect ipv6, folded header",
                b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n".to_vec(),
                vec![],
                h,
                six,
                b"",
            ),
        ];
        for (name, input, want_replies, protocol, target, early) in cases {
            for (how, (replies, result)) in [
                ("bytewise", drive_bytewise(&input)),
                ("whole", drive_whole(&input)),
            ] {
                let (req, rest) = result.unwrap_or_else(|e| panic!("{name} ({how}): {e}"));
                assert_eq!(replies, want_replies, "{name} ({how})");
                assert_eq!(req.protocol, protocol, "{name} ({how})");
                assert_eq!(req.target, target, "{name} ({how})");
                assert_eq!(rest, early, "{name} ({how})");
            }
        }
    }

    #[test]
    fn rejections() {
        let s5_reply = |code: u8| vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0];
        let s4_reject = vec![0, 0x5B, 0, 0, 0, 0, 0, 0];
        let mut long_user = b"\x04\x01\x00\x50\x0a\x00\x00\x05".to_vec();
        long_user.extend(std::iter::repeat_n(b'u', 256));
        let mut long_4a = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00".to_vec();
        long_4a.extend(std::iter::repeat_n(b'h', 256));
        let mut long_http = b"CONNECT h:1 HTTP/1.1\r\n".to_vec();
        while long_http.len() < MAX_HANDSHAKE_BYTES {
            long_http.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let cases: Vec<(&str, Vec<u8>, Vec<u8>, SocksError)> = vec![
            (
                "socks5 only user/pass",
                b"\x05\x01\x02".to_vec(),
                vec![5, 0xFF],
                SocksError::NoAcceptableMethod,
            ),
            (
                "socks5 no methods",
                b"\x05\x00".to_vec(),
                vec![5, 0xFF],
                SocksError::NoAcceptableMethod,
            ),
            (
                "socks5 bind",
                b"\x05\x01\x00\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00".to_vec(),
                s5_reply(7),
                SocksError::UnsupportedCommand(2),
            ),
            (
                "socks5 udp associate",
                b"\x05\x01\x00\x05\x03".to_vec(),
                s5_reply(7),
                SocksError::UnsupportedCommand(3),
            ),
            (
                "socks5 atyp 5",
                b"\x05\x01\x00\x05\x01\x00\x05".to_vec(),
                s5_reply(8),
                SocksError::UnsupportedAddressType(5),
            ),
            (
                "socks5 bad request version",
                b"\x05\x01\x00\x04\x01\x00\x01".to_vec(),
                s5_reply(1),
                SocksError::BadVersion(4),
            ),
            (
                "socks5 empty domain",
                b"\x05\x01\x00\x05\x01\x00\x03\x00\x00\x50".to_vec(),
                s5_reply(1),
                SocksError::Malformed("empty domain name".into()),
            ),
            (
                "socks5 domain with NUL",
                b"\x05\x01\x00\x05\x01\x00\x03\x03a\x00b\x00\x50".to_vec(),
                s5_reply(1),
                SocksError::Malformed("invalid domain name \"a\\0b\"".into()),
            ),
            (
                "socks4 bind",
                b"\x04\x02\x00\x50\x0a\x00\x00\x05\x00".to_vec(),
                s4_reject.clone(),
                SocksError::UnsupportedCommand(2),
            ),
            (
                "socks4 user id too long",
                long_user,
                s4_reject.clone(),
                SocksError::Socks4UserIdTooLong,
            ),
            (
                "socks4a host too long",
                long_4a,
                s4_reject.clone(),
                SocksError::Socks4DomainTooLong,
            ),
            (
                "socks4a empty host",
                b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00".to_vec(),
                s4_reject,
                SocksError::Malformed("invalid SOCKS4a host name \"\"".into()),
            ),
            (
                "tls client hello",
                b"\x16\x03\x01\x02\x00".to_vec(),
                vec![],
                SocksError::BadVersion(0x16),
            ),
            (
                "http get",
                b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
                b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                SocksError::MethodNotAllowed("GET".into()),
            ),
            (
                "http connect without port",
                b"CONNECT example.com HTTP/1.1\r\n\r\n".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest(
                    "invalid CONNECT target \"example.com\": expected host:port".into(),
                ),
            ),
            (
                "http connect port 0",
                b"CONNECT example.com:0 HTTP/1.1\r\n\r\n".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest(
                    "invalid CONNECT target \"example.com:0\": expected host:port".into(),
                ),
            ),
            (
                "http connect bad version",
                b"CONNECT h:1 HTTP/2.0\r\n\r\n".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest("unsupported HTTP version \"HTTP/2.0\"".into()),
            ),
            (
                "http connect missing version",
                b"CONNECT h:1\r\n\r\n".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest(
                    "expected 'CONNECT host:port HTTP/1.1', got \"CONNECT h:1\"".into(),
                ),
            ),
            (
                "http binary in request line",
                b"CONNECT \x00".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest("invalid byte 0x00 in the request line".into()),
            ),
            (
                "http bad header",
                b"CONNECT h:1 HTTP/1.1\r\nnocolon\r\n\r\n".to_vec(),
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                SocksError::BadHttpRequest("header line without 'name:'".into()),
            ),
            (
                "http headers too long",
                long_http,
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                SocksError::TooLong,
            ),
        ];
        for (name, input, want_reply, want_err) in cases {
            for (how, (replies, result)) in [
                ("bytewise", drive_bytewise(&input)),
                ("whole", drive_whole(&input)),
            ] {
                let err = result.expect_err(name);
                assert_eq!(err, want_err, "{name} ({how})");
                assert_eq!(replies.last(), Some(&want_reply), "{name} ({how})");
            }
        }
    }

    #[test]
    fn no_auth_message_is_the_reference_text() {
        assert_eq!(
            SocksError::NoAcceptableMethod.to_string(),
            "Client does not support no-auth method"
        );
        assert_eq!(
            SocksError::UnsupportedCommand(2).to_string(),
            "unsupported SOCKS command 0x02 (BIND): only CONNECT is supported"
        );
    }

    #[test]
    fn incomplete_input_needs_more() {
        let prefixes: &[&[u8]] = &[
            b"",
            b"\x05",
            b"\x05\x02\x00",
            b"\x04",
            b"\x04\x01\x00\x50\x0a\x00\x00",
            b"\x04\x01\x00\x50\x0a\x00\x00\x05user",
            b"\x04\x01\x00\x50\x00\x00\x00\x01\x00host",
            b"C",
            b"CONNECT h:1 HTTP/1.1\r\n",
            b"CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r",
        ];
        for p in prefixes {
            assert_eq!(
                Negotiation::new().advance(p),
                Ok(Outcome::NeedMore),
                "{p:?}"
            );
        }
        // After the SOCKS5 greeting, partial requests.
        for p in [
            &b""[..],
            b"\x05\x01\x00\x03",
            b"\x05\x01\x00\x03\x04abcd\x00",
        ] {
            let mut n = Negotiation::new();
            assert!(matches!(
                n.advance(b"\x05\x01\x00"),
                Ok(Outcome::Reply { consumed: 3, .. })
            ));
            assert_eq!(n.advance(p), Ok(Outcome::NeedMore), "{p:?}");
        }
    }

    #[test]
    fn finished_negotiation_refuses_more() {
        let mut n = Negotiation::new();
        assert!(matches!(
            n.advance(b"\x04\x01\x00\x50\x0a\x00\x00\x05\x00"),
            Ok(Outcome::Connect { .. })
        ));
        assert_eq!(n.advance(b"x").unwrap_err().error, SocksError::Finished);
        let mut n = Negotiation::new();
        assert!(n.advance(b"\x05\x01\x02").is_err());
        assert_eq!(
            n.advance(b"\x05\x01\x00").unwrap_err().error,
            SocksError::Finished
        );
    }

    #[test]
    fn exact_limit() {
        // A request whose header block ends exactly at MAX is accepted; one byte more is not.
        let build = |total: usize| {
            let mut v = b"CONNECT h:1 HTTP/1.1\r\nX: ".to_vec();
            v.resize(total - 4, b'a');
            v.extend_from_slice(b"\r\n\r\n");
            v
        };
        let ok = build(MAX_HANDSHAKE_BYTES);
        assert!(matches!(
            Negotiation::new().advance(&ok),
            Ok(Outcome::Connect { consumed, .. }) if consumed == MAX_HANDSHAKE_BYTES
        ));
        let (_, r) = drive_bytewise(&ok);
        assert!(r.is_ok());
        let too_long = build(MAX_HANDSHAKE_BYTES + 1);
        assert_eq!(
            Negotiation::new().advance(&too_long).unwrap_err().error,
            SocksError::TooLong
        );
        // Without the end of headers, a full buffer is refused rather than left to grow.
        let mut partial = ok.clone();
        partial.truncate(MAX_HANDSHAKE_BYTES - 4);
        partial.resize(MAX_HANDSHAKE_BYTES, b'a');
        assert_eq!(
            Negotiation::new().advance(&partial).unwrap_err().error,
            SocksError::TooLong
        );
    }

    #[test]
    fn replies() {
        use ReplyCode::*;
        let bound4: SocketAddr = "10.1.2.3:4660".parse().unwrap();
        let bound6: SocketAddr = "[::1]:80".parse().unwrap();
        let cases: Vec<(Protocol, ReplyCode, Option<SocketAddr>, Vec<u8>)> = vec![
            (
                Protocol::Socks5,
                Succeeded,
                None,
                vec![5, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            ),
            (
                Protocol::Socks5,
                Succeeded,
                Some(bound4),
                vec![5, 0, 0, 1, 10, 1, 2, 3, 0x12, 0x34],
            ),
            (
                Protocol::Socks5,
                HostUnreachable,
                Some(bound6),
                [&[5u8, 4, 0, 4][..], &Ipv6Addr::LOCALHOST.octets(), &[0, 80]].concat(),
            ),
            (
                Protocol::Socks5,
                ConnectionRefused,
                None,
                vec![5, 5, 0, 1, 0, 0, 0, 0, 0, 0],
            ),
            (
                Protocol::Socks4,
                Succeeded,
                None,
                vec![0, 0x5A, 0, 0, 0, 0, 0, 0],
            ),
            (
                Protocol::Socks4,
                Succeeded,
                Some(bound4),
                vec![0, 0x5A, 0x12, 0x34, 10, 1, 2, 3],
            ),
            (
                Protocol::Socks4,
                ConnectionRefused,
                None,
                vec![0, 0x5B, 0, 0, 0, 0, 0, 0],
            ),
            (
                Protocol::Socks4,
                Succeeded,
                Some(bound6),
                vec![0, 0x5A, 0, 0, 0, 0, 0, 0],
            ),
            (
                Protocol::HttpConnect,
                Succeeded,
                None,
                b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
            ),
        ];
        for (p, code, bound, want) in cases {
            assert_eq!(reply(p, code, bound), want, "{p:?} {code:?}");
        }
        let http: &[(ReplyCode, &str)] = &[
            (GeneralFailure, "HTTP/1.1 502 Bad Gateway"),
            (NotAllowed, "HTTP/1.1 403 Forbidden"),
            (NetworkUnreachable, "HTTP/1.1 502 Bad Gateway"),
            (HostUnreachable, "HTTP/1.1 502 Bad Gateway"),
            (ConnectionRefused, "HTTP/1.1 502 Bad Gateway"),
            (TtlExpired, "HTTP/1.1 504 Gateway Timeout"),
            (CommandNotSupported, "HTTP/1.1 405 Method Not Allowed"),
            (AddressTypeNotSupported, "HTTP/1.1 400 Bad Request"),
        ];
        for &(code, status) in http {
            let r = String::from_utf8(reply(Protocol::HttpConnect, code, None)).unwrap();
            assert!(r.starts_with(&format!("{status}\r\n")), "{code:?}: {r:?}");
            assert!(r.ends_with("Connection: close\r\n\r\n"), "{code:?}: {r:?}");
        }
        for (code, n) in [
            (Succeeded, 0u8),
            (TtlExpired, 6),
            (AddressTypeNotSupported, 8),
        ] {
            assert_eq!(code.as_u8(), n);
        }
    }

    #[test]
    fn target_addr_parts() {
        let cases = [
            (v4([10, 0, 0, 5], 443), "10.0.0.5", 443, "10.0.0.5:443"),
            (
                TargetAddr::Ip("[fe80::1]:22".parse().unwrap()),
                "fe80::1",
                22,
                "[fe80::1]:22",
            ),
            (dom("example.com", 80), "example.com", 80, "example.com:80"),
        ];
        for (t, host, port, shown) in cases {
            assert_eq!(t.host(), host);
            assert_eq!(t.port(), port);
            assert_eq!(t.to_string(), shown);
        }
    }
}
