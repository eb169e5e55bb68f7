//! The loopback-only bind rule.
//!
//! Owns: deciding whether a textual bind address is loopback (IPv4 `127.0.0.0/8`, IPv6 `::1`,
//! or the name `localhost`) and the reference product's exact error text for one that is not.
//!
//! Must not touch: sockets, name resolution (`localhost` is mapped to `127.0.0.1` by rule, never
//! looked up), configuration or storage. Callers (API validation, the tunnel listener, the
//! one-shot `forward` command) apply the rule; this module only states it.

use std::net::{IpAddr, Ipv4Addr};

/// Why a bind address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoopbackError {
    /// The address is not in `127.0.0.0/8`, not `::1` and not `localhost` (this includes
    /// `0.0.0.0`, `::`, LAN addresses, other host names and unparsable text). The message is the
    /// reference product's, with the address exactly as the user gave it.
    #[error(
        "bind_address '{0}' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth"
    )]
    NotLoopback(String),
}

impl LoopbackError {
    /// The refused address, as given.
    pub fn address(&self) -> &str {
        match self {
            LoopbackError::NotLoopback(a) => a,
        }
    }
}

/// Checks that `addr` is a loopback bind address and returns the address to bind.
///
/// Accepted: any IPv4 address in `127.0.0.0/8`, the IPv6 loopback `::1` (also written `[::1]`
/// or in any other textual form of the same address), and `localhost` (any case), which maps to
/// `127.0.0.1`. Surrounding whitespace is ignored. Everything else is refused with
/// [`LoopbackError::NotLoopback`].
pub fn check_bind_address(addr: &str) -> Result<IpAddr, LoopbackError> {
    let refuse = || LoopbackError::NotLoopback(addr.to_string());
    let s = addr.trim();
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let inner = match s.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']').ok_or_else(refuse)?,
        None => s,
    };
    let bracketed = inner.len() != s.len();
    let ip: IpAddr = inner.parse().map_err(|_| refuse())?;
    match ip {
        // Brackets are only meaningful around IPv6 literals.
        IpAddr::V4(v4) if !bracketed && v4.octets()[0] == 127 => Ok(ip),
        IpAddr::V6(v6) if v6.is_loopback() => Ok(ip),
        _ => Err(refuse()),
    }
}

/// `true` when [`check_bind_address`] would accept `addr`.
pub fn is_loopback_str(addr: &str) -> bool {
    check_bind_address(addr).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn accepted() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let cases: &[(&str, IpAddr)] = &[
            ("127.0.0.1", v4(127, 0, 0, 1)),
            ("127.0.0.0", v4(127, 0, 0, 0)),
            ("127.255.255.255", v4(127, 255, 255, 255)),
            ("127.1.2.3", v4(127, 1, 2, 3)),
            ("::1", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ("[::1]", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ("0:0:0:0:0:0:0:1", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ("localhost", v4(127, 0, 0, 1)),
            ("LocalHost", v4(127, 0, 0, 1)),
            (" 127.0.0.1 ", v4(127, 0, 0, 1)),
        ];
        for (input, want) in cases {
            assert_eq!(check_bind_address(input), Ok(*want), "{input}");
            assert!(is_loopback_str(input), "{input}");
        }
    }

    #[test]
    fn refused() {
        let cases = [
            "0.0.0.0",
            "::",
            "[::]",
            "*",
            "",
            "192.168.1.10",
            "10.0.0.5",
            "128.0.0.1",
            "126.255.255.255",
            "::2",
            "::ffff:127.0.0.1",
            "fe80::1",
            "example.com",
            "localhost.localdomain",
            "127.0.0.1:8080",
            "[127.0.0.1]",
            "[::1",
            "::1]",
            "127.0.0.01",
            "127.0.0",
            "garbage",
            "ｌocalhost",
        ];
        for input in cases {
            let err = check_bind_address(input).unwrap_err();
            assert_eq!(err.address(), input);
            assert!(!is_loopback_str(input), "{input}");
        }
    }

    #[test]
    fn message_is_the_reference_text() {
        let err = check_bind_address("0.0.0.0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth"
        );
    }
}
