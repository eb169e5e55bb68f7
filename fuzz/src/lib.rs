//! The bodies of the fuzz targets, kept in a library so they can also be run on stable over the
//! seed corpora (`cargo test` in this directory) without cargo-fuzz.
//!
//! Each function must never panic for any input except through the property assertions it
//! states; a failing assertion is a bug in `proto`.
#![forbid(unsafe_code)]

use proto::known_hosts::{self, HostKeyCheck, KnownHosts};
use proto::socks::{Negotiation, Outcome, Rejection, MAX_HANDSHAKE_BYTES};
use proto::spec::{self, ForwardKind};

/// The end state of one negotiation: replies written, then the request and early payload, or
/// the rejection.
type Run = (
    Vec<Vec<u8>>,
    Result<(proto::socks::ConnectRequest, Vec<u8>), Rejection>,
);

/// Drives a [`Negotiation`] like a well-behaved caller: reads chunks whose sizes come from
/// `chunk` (never more than the room left under [`MAX_HANDSHAKE_BYTES`]), honours `consumed`,
/// and checks the buffer contract on every step.
fn negotiate(input: &[u8], mut chunk: impl FnMut() -> usize) -> Run {
    let mut neg = Negotiation::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut replies = Vec::new();
    let mut pos = 0;
    loop {
        assert!(
            buf.len() <= MAX_HANDSHAKE_BYTES,
            "buffer grew to {}",
            buf.len()
        );
        match neg.advance(&buf) {
            Ok(Outcome::NeedMore) => {
                assert!(
                    buf.len() < MAX_HANDSHAKE_BYTES,
                    "NeedMore with a full buffer"
                );
                if pos == input.len() {
                    // Client went quiet before finishing: the caller's deadline would fire.
                    return (
                        replies,
                        Err(Rejection {
                            reply: Vec::new(),
                            error: proto::socks::SocksError::Finished,
                        }),
                    );
                }
                let room = MAX_HANDSHAKE_BYTES - buf.len();
                let n = chunk().clamp(1, room).min(input.len() - pos);
                buf.extend_from_slice(&input[pos..pos + n]);
                pos += n;
            }
            Ok(Outcome::Reply { bytes, consumed }) => {
                assert!(!bytes.is_empty(), "empty Reply");
                assert!(
                    consumed > 0 && consumed <= buf.len(),
                    "bad consumed {consumed}"
                );
                replies.push(bytes);
                buf.drain(..consumed);
            }
            Ok(Outcome::Connect { request, consumed }) => {
                assert!(consumed <= buf.len(), "bad consumed {consumed}");
                let t = &request.target;
                assert!(!t.host().is_empty());
                let _ = (t.port(), t.to_string());
                let mut early = buf[consumed..].to_vec();
                early.extend_from_slice(&input[pos..]);
                // A finished negotiation refuses more input.
                assert!(neg.advance(b"x").is_err());
                return (replies, Ok((request, early)));
            }
            Err(rejection) => {
                let _ = rejection.error.to_string();
                return (replies, Err(rejection));
            }
        }
    }
}

/// SOCKS / HTTP CONNECT negotiation. The first byte picks the chunking; the rest is what the
/// client sends. Properties: no panic, the buffer never exceeds [`MAX_HANDSHAKE_BYTES`], and
/// the outcome does not depend on how the bytes were chunked (compared with reading as much
/// as fits at once).
pub fn socks(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let max = usize::from(seed % 32) + 1;
    let mut state = u32::from(seed) | 1;
    let chunked = negotiate(input, || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        1 + (state >> 16) as usize % max
    });
    let whole = negotiate(input, || usize::MAX);
    assert_eq!(chunked, whole, "outcome depends on chunking");
}

/// Forward specs, destinations and jump lists. Properties: no panic, and every accepted value
/// prints (OpenSSH syntax) to text that parses back to the same value.
pub fn spec(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [
        ForwardKind::Local,
        ForwardKind::Dynamic,
        ForwardKind::Remote,
    ] {
        if let Ok(f) = spec::parse_forward(kind, s) {
            assert_eq!(f.kind, kind);
            let printed = f.to_string();
            assert_eq!(
                spec::parse_forward(kind, &printed).as_ref(),
                Ok(&f),
                "{printed}"
            );
            assert!(!f.compact().is_empty());
            if let Some(b) = &f.bind_address {
                let _ = proto::loopback::check_bind_address(b);
            }
            let _ = spec::format_spec(kind, f.port, f.host.as_deref(), f.host_port);
        }
    }
    if let Ok(d) = spec::parse_destination(s) {
        let printed = d.to_string();
        assert_eq!(
            spec::parse_destination(&printed).as_ref(),
            Ok(&d),
            "{printed}"
        );
    }
    if let Ok(list) = spec::parse_jump_list(s) {
        if !list.is_empty() {
            let printed: Vec<String> = list.iter().map(|d| d.to_string()).collect();
            let printed = printed.join(",");
            assert_eq!(
                spec::parse_jump_list(&printed).as_ref(),
                Ok(&list),
                "{printed}"
            );
        }
    }
    let _ = proto::loopback::is_loopback_str(s);
}

/// known_hosts parsing and checks. The first line is `host [port [key_type key_base64]]` (the
/// key presented), the rest is the file. Properties: no panic; warnings name real lines;
/// `Trusted`/`Changed` imply key types on file; after `remove_host` nothing plain is left for
/// that host.
pub fn known_hosts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, file) = text.split_once('\n').unwrap_or((&text, ""));
    let mut head_fields = head.split_ascii_whitespace();
    let host = head_fields.next().unwrap_or("localhost");
    let port = head_fields
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(22);
    let rest: Vec<&str> = head_fields.collect();
    let (key_type, blob) = known_hosts::parse_public_key_line(&rest.join(" "))
        .unwrap_or_else(|| ("ssh-ed25519".to_string(), head.as_bytes().to_vec()));

    let (kh, warnings) = KnownHosts::parse(file);
    let lines = file.lines().count();
    for w in &warnings {
        assert!(
            w.line >= 1 && w.line <= lines,
            "warning for line {}",
            w.line
        );
        assert!(!w.message.is_empty());
    }
    let verdict = kh.check(host, port, &key_type, &blob);
    let types = kh.known_types(host, port);
    match &verdict {
        HostKeyCheck::Trusted => assert!(!types.is_empty()),
        HostKeyCheck::Changed { known } => {
            assert!(!known.is_empty() && !types.is_empty());
            for k in known {
                assert!(k.fingerprint.starts_with("SHA256:"));
                assert!(types.contains(&k.key_type));
            }
        }
        HostKeyCheck::Unknown => assert!(types.is_empty()),
        HostKeyCheck::Revoked => {}
    }
    let _ = kh.entries();

    let line = known_hosts::format_line(host, port, &key_type, &blob);
    let _ = known_hosts::fingerprint_sha256(&blob);
    let (mut merged, _) = KnownHosts::parse(&line);
    merged.extend(kh);
    let _ = merged.check(host, port, &key_type, &blob);

    let (pruned, _) = known_hosts::remove_host(file, host, port);
    let (after, _) = KnownHosts::parse(&pruned);
    assert!(
        after.known_types(host, port).is_empty(),
        "remove_host left keys for {host}:{port}"
    );
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Runs each target over its committed seed corpus.
    fn run_corpus(target: &str, f: fn(&[u8])) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                f(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        n
    }

    /// A cheap deterministic stand-in for the fuzzer: mutated seeds and random bytes.
    /// `PORTWARDEN_FUZZ_ROUNDS` overrides `rounds` (for a longer soak on stable);
    /// `PORTWARDEN_FUZZ_SECONDS` instead runs for that long per target (`scripts/fuzz` without
    /// nightly), printing how many inputs it tried.
    fn run_random(target: &str, f: fn(&[u8]), rounds: usize) {
        let budget = std::env::var("PORTWARDEN_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
        let rounds = std::env::var("PORTWARDEN_FUZZ_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(if budget.is_some() { usize::MAX } else { rounds });
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut tried = 0usize;
        for _ in 0..rounds {
            if tried % 1024 == 0 && budget.is_some_and(|b| std::time::Instant::now() >= b) {
                break;
            }
            tried += 1;
            let mut input = seeds[next() as usize % seeds.len()].clone();
            for _ in 0..(next() % 8) {
                let r = next();
                match r % 4 {
                    0 if !input.is_empty() => {
                        let i = (r >> 8) as usize % input.len();
                        input[i] = (r >> 32) as u8;
                    }
                    1 if !input.is_empty() => {
                        let i = (r >> 8) as usize % input.len();
                        input.remove(i);
                    }
                    2 => {
                        let i = (r >> 8) as usize % (input.len() + 1);
                        input.insert(i, (r >> 32) as u8);
                    }
                    _ => {
                        let i = (r >> 8) as usize % (input.len() + 1);
                        input.truncate(i);
                    }
                }
            }
            f(&input);
        }
        if budget.is_some() {
            eprintln!("{target}: {tried} mutated inputs, no failure");
        }
    }

    #[test]
    fn socks_seeds() {
        assert!(run_corpus("socks", super::socks) > 0);
        run_random("socks", super::socks, 20_000);
    }

    #[test]
    fn spec_seeds() {
        assert!(run_corpus("spec", super::spec) > 0);
        run_random("spec", super::spec, 20_000);
    }

    #[test]
    fn known_hosts_seeds() {
        assert!(run_corpus("known_hosts", super::known_hosts) > 0);
        run_random("known_hosts", super::known_hosts, 20_000);
    }
}
