//! OpenSSH `known_hosts` parsing and host-key decisions.
//!
//! Owns: reading the `known_hosts` format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated
//! host patterns with `*` / `?` wildcards and `!negation`, `[host]:port` for ports other than 22,
//! hashed names `|1|salt|hash` (HMAC-SHA1), the `@revoked` and `@cert-authority` markers,
//! comments and blank lines; deciding whether a presented key is trusted, revoked, changed or
//! unknown; formatting new lines and SHA256 fingerprints as `ssh-keygen -l` prints them.
//!
//! Must not touch: files (callers read and write them and pass text in), SSH connections, or
//! the trust policy (what to do with [`HostKeyCheck::Unknown`] is the caller's). A bad line is
//! skipped with a [`ParseWarning`], never a panic or a hard error. `@cert-authority` lines are
//! parsed and kept but never make a plain host key trusted (certificates are not verified here).

use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Base64 as written in key files: padding optional on input.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A line marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `@cert-authority`: the key is a CA for host certificates.
    CertAuthority,
    /// `@revoked`: the key must never be accepted.
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negated: bool,
    /// Lowercased pattern text, without the `!`.
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    /// `|1|salt|hash`.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// A comma-separated pattern list.
    Patterns(Vec<Pattern>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    line: usize,
    marker: Option<Marker>,
    hosts: Hosts,
    /// The host field as written (for listings).
    hosts_text: String,
    key_type: String,
    blob: Vec<u8>,
}

impl Entry {
    fn matches(&self, name: &str) -> bool {
        match &self.hosts {
            Hosts::Hashed { salt, hash } => hmac_sha1(salt, name) == *hash,
            Hosts::Patterns(pats) => {
                let mut positive = false;
                for p in pats {
                    if wildcard_match(p.text.as_bytes(), name.as_bytes()) {
                        if p.negated {
                            return false;
                        }
                        positive = true;
                    }
                }
                positive
            }
        }
    }

    fn known_key(&self) -> KnownKey {
        KnownKey {
            key_type: self.key_type.clone(),
            fingerprint: fingerprint_sha256(&self.blob),
            line: self.line,
        }
    }
}

/// A parsed `known_hosts` file, or several merged with [`KnownHosts::extend`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// A key on file, as reported for a changed host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub key_type: String,
    /// `SHA256:…`, as [`fingerprint_sha256`] renders it.
    pub fingerprint: String,
    /// 1-based line number in the file it came from.
    pub line: usize,
}

/// One entry, for listings (`hostkey ls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub line: usize,
    pub marker: Option<Marker>,
    /// The host field as written (a pattern list or a hashed name).
    pub hosts: String,
    pub key_type: String,
    pub fingerprint: String,
}

/// The verdict on a presented host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// A non-revoked, non-CA entry for this host holds exactly this key.
    Trusted,
    /// An `@revoked` entry for this host holds this key (wins over everything).
    Revoked,
    /// Keys are on file for this host, and this key is not one of them.
    Changed { known: Vec<KnownKey> },
    /// Nothing is on file for this host.
    Unknown,
}

impl KnownHosts {
    /// Parses `known_hosts` text. Lines that cannot be understood are skipped, each with a
    /// warning naming its line number and the reason.
    pub fn parse(text: &str) -> (KnownHosts, Vec<ParseWarning>) {
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            match parse_entry(raw, line) {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => {}
                Err(message) => warnings.push(ParseWarning { line, message }),
            }
        }
        (KnownHosts { entries }, warnings)
    }

    /// No entries: every host is [`HostKeyCheck::Unknown`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds another file's entries (line numbers stay those of their own file).
    pub fn extend(&mut self, other: KnownHosts) {
        self.entries.extend(other.entries);
    }

    /// Number of entries (all markers).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decides on `key_blob` (the SSH wire-format public key, what the file's base64 decodes to)
    /// presented by `host` on `port`: [`HostKeyCheck::Revoked`] if an `@revoked` entry for the
    /// host holds it; else [`HostKeyCheck::Trusted`] if a plain entry does; else
    /// [`HostKeyCheck::Changed`] listing the plain keys on file for the host, of any type; else
    /// [`HostKeyCheck::Unknown`]. Keys are compared by blob, which carries its own type, so
    /// `key_type` (e.g. `ssh-ed25519`) never makes a difference; it is taken for symmetry with
    /// [`format_line`].
    pub fn check(&self, host: &str, port: u16, key_type: &str, key_blob: &[u8]) -> HostKeyCheck {
        let _ = key_type;
        let name = host_pattern(host, port);
        let matching: Vec<&Entry> = self.entries.iter().filter(|e| e.matches(&name)).collect();
        let holds = |m: Option<Marker>| {
            matching
                .iter()
                .any(|e| e.marker == m && e.blob.as_slice() == key_blob)
        };
        if holds(Some(Marker::Revoked)) {
            return HostKeyCheck::Revoked;
        }
        if holds(None) {
            return HostKeyCheck::Trusted;
        }
        let known: Vec<KnownKey> = matching
            .iter()
            .filter(|e| e.marker.is_none())
            .map(|e| e.known_key())
            .collect();
        if known.is_empty() {
            HostKeyCheck::Unknown
        } else {
            HostKeyCheck::Changed { known }
        }
    }

    /// The key types of the plain entries for this host, in file order without repeats (to
    /// prefer them in host-key algorithm negotiation).
    pub fn known_types(&self, host: &str, port: u16) -> Vec<String> {
        let name = host_pattern(host, port);
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            if e.marker.is_none() && e.matches(&name) && !out.contains(&e.key_type) {
                out.push(e.key_type.clone());
            }
        }
        out
    }

    /// All entries, in order, for listing.
    pub fn entries(&self) -> Vec<EntryInfo> {
        self.entries
            .iter()
            .map(|e| EntryInfo {
                line: e.line,
                marker: e.marker,
                hosts: e.hosts_text.clone(),
                key_type: e.key_type.clone(),
                fingerprint: fingerprint_sha256(&e.blob),
            })
            .collect()
    }
}

/// Removes the plain (unmarked) lines whose host field matches `host` on `port` from
/// `known_hosts` text, as `ssh-keygen -R` does, keeping every other line byte for byte.
/// Returns the new text and the number of lines removed.
pub fn remove_host(text: &str, host: &str, port: u16) -> (String, usize) {
    let name = host_pattern(host, port);
    let mut out = String::with_capacity(text.len());
    let mut removed = 0;
    for piece in text.split_inclusive('\n') {
        let drop =
            matches!(parse_entry(piece, 0), Ok(Some(e)) if e.marker.is_none() && e.matches(&name));
        if drop {
            removed += 1;
        } else {
            out.push_str(piece);
        }
    }
    (out, removed)
}

fn parse_entry(raw: &str, line: usize) -> Result<Option<Entry>, String> {
    let text = raw.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let mut fields = text.split_ascii_whitespace();
    let mut first = fields.next().unwrap_or_default();
    let marker = if let Some(m) = first.strip_prefix('@') {
        let marker = match m {
            "cert-authority" => Marker::CertAuthority,
            "revoked" => Marker::Revoked,
            _ => return Err(format!("unknown marker '{first}'")),
        };
        first = fields.next().ok_or("missing host names after the marker")?;
        Some(marker)
    } else {
        None
    };
    let hosts = parse_hosts(first)?;
    let key_type = fields.next().ok_or("missing key type")?;
    if key_type.bytes().all(|b| b.is_ascii_digit()) {
        return Err("SSH-1 RSA keys (bits exponent modulus) are not supported".into());
    }
    let b64 = fields.next().ok_or("missing key data")?;
    let blob = LENIENT
        .decode(b64)
        .map_err(|e| format!("key data is not valid base64 ({e})"))?;
    match blob_key_type(&blob) {
        None => return Err("key data is not an SSH public key".into()),
        Some(t) if t != key_type => {
            return Err(format!(
                "key type '{key_type}' does not match the key data ('{}')",
                String::from_utf8_lossy(t.as_bytes())
            ))
        }
        Some(_) => {}
    }
    Ok(Some(Entry {
        line,
        marker,
        hosts,
        hosts_text: first.to_string(),
        key_type: key_type.to_string(),
        blob,
    }))
}

fn parse_hosts(field: &str) -> Result<Hosts, String> {
    if field.starts_with('|') {
        let parts: Vec<&str> = field.split('|').collect();
        let [_, version, salt, hash] = parts.as_slice() else {
            return Err(format!("malformed hashed host name '{field}'"));
        };
        if *version != "1" {
            return Err(format!("unsupported hashed host name version '{version}'"));
        }
        let salt = LENIENT.decode(salt);
        let hash = LENIENT.decode(hash);
        return match (salt, hash) {
            (Ok(salt), Ok(hash)) if salt.len() == 20 && hash.len() == 20 => {
                Ok(Hosts::Hashed { salt, hash })
            }
            _ => Err(format!("malformed hashed host name '{field}'")),
        };
    }
    let mut pats = Vec::new();
    for p in field.split(',') {
        let (negated, text) = match p.strip_prefix('!') {
            Some(t) => (true, t),
            None => (false, p),
        };
        if text.is_empty() {
            return Err(format!("empty host pattern in '{field}'"));
        }
        pats.push(Pattern {
            negated,
            text: text.to_ascii_lowercase(),
        });
    }
    Ok(Hosts::Patterns(pats))
}

/// The type string at the start of an SSH wire-format key blob.
fn blob_key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let t = blob.get(4..4usize.checked_add(len)?)?;
    let t = std::str::from_utf8(t).ok()?;
    (!t.is_empty()).then_some(t)
}

fn hmac_sha1(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `*` matches any run of bytes, `?` any one byte; iterative, O(pattern × name).
fn wildcard_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

/// The name a host is filed under: the lowercased host for port 22, `[host]:port` otherwise
/// (brackets around an IPv6 `host` are dropped first).
pub fn host_pattern(host: &str, port: u16) -> String {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_ascii_lowercase();
    if port == 22 {
        h
    } else {
        format!("[{h}]:{port}")
    }
}

/// The hashed form of a host name (`|1|base64(salt)|base64(HMAC-SHA1(salt, name))`), as
/// `HashKnownHosts yes` writes it; `name` is what [`host_pattern`] gives. `salt` should be 20
/// random bytes (other lengths are not read back by [`KnownHosts::parse`]).
pub fn hash_host(name: &str, salt: &[u8]) -> String {
    format!(
        "|1|{}|{}",
        STANDARD.encode(salt),
        STANDARD.encode(hmac_sha1(salt, name))
    )
}

/// A `known_hosts` line for this key, without a trailing newline:
/// `[127.0.0.1]:2222 ssh-ed25519 AAAA…`.
pub fn format_line(host: &str, port: u16, key_type: &str, key_blob: &[u8]) -> String {
    format!(
        "{} {} {}",
        host_pattern(host, port),
        key_type,
        STANDARD.encode(key_blob)
    )
}

/// `SHA256:` and the unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l` prints.
pub fn fingerprint_sha256(key_blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(key_blob))
    )
}

/// Parses a public key line (`ssh-ed25519 AAAA… comment`, as in a `.pub` file) into its type
/// and blob. `None` if the base64 is invalid or the blob's own type differs from the first
/// field.
pub fn parse_public_key_line(s: &str) -> Option<(String, Vec<u8>)> {
    let mut fields = s.split_ascii_whitespace();
    let key_type = fields.next()?;
    let blob = LENIENT.decode(fields.next()?).ok()?;
    (blob_key_type(&blob)? == key_type).then(|| (key_type.to_string(), blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syntactically valid SSH key blob of `key_type` (the type string, then `body`).
    fn blob(key_type: &str, body: &[u8]) -> Vec<u8> {
        let mut b = (key_type.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(key_type.as_bytes());
        b.extend_from_slice(&(body.len() as u32).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    fn b64(b: &[u8]) -> String {
        STANDARD.encode(b)
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        // `ssh-keygen -lf` (OpenSSH) prints these fingerprints for these keys.
        let cases = [
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmZoLd7gsDpX1AdvFTt3MFOjiJXAapp16N5MJyC+uv9 test@host",
                "SHA256:miMRvpua30dRv1hCePDiHcMzsOH+/qM//5yq6E7ds2Q",
            ),
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1bE3FELHPZo3DHlN1SdtovbpEu0FnDoK3v0tWS9kMo test@host",
                "SHA256:9Kf1NJ1z+y+03nRwLqKY7dnZH4lf0gkv4RWyU/dQl9k",
            ),
        ];
        for (line, want) in cases {
            let (t, blob) = parse_public_key_line(line).unwrap();
            assert_eq!(t, "ssh-ed25519");
            assert_eq!(blob.len(), 51);
            assert_eq!(fingerprint_sha256(&blob), want);
        }
        // The empty input has a well-known SHA-256.
        assert_eq!(
            fingerprint_sha256(b""),
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn host_patterns_and_lines() {
        let cases: &[(&str, u16, &str)] = &[
            ("example.com", 22, "example.com"),
            ("Example.COM", 22, "example.com"),
            ("127.0.0.1", 2222, "[127.0.0.1]:2222"),
            ("::1", 22, "::1"),
            ("::1", 2200, "[::1]:2200"),
            ("[::1]", 2200, "[::1]:2200"),
        ];
        for &(h, p, want) in cases {
            assert_eq!(host_pattern(h, p), want);
        }
        let k = blob("ssh-ed25519", &[7; 32]);
        let line = format_line("127.0.0.1", 2222, "ssh-ed25519", &k);
        assert_eq!(line, format!("[127.0.0.1]:2222 ssh-ed25519 {}", b64(&k)));
        let (kh, w) = KnownHosts::parse(&line);
        assert!(w.is_empty());
        assert_eq!(
            kh.check("127.0.0.1", 2222, "ssh-ed25519", &k),
            HostKeyCheck::Trusted
        );
        assert_eq!(
            kh.check("127.0.0.1", 22, "ssh-ed25519", &k),
            HostKeyCheck::Unknown
        );
        assert_eq!(
            parse_public_key_line(&format!("ssh-ed25519 {}", b64(&k))),
            Some(("ssh-ed25519".into(), k))
        );
    }

    #[test]
    fn public_key_lines() {
        let k = blob("ssh-rsa", &[1, 2, 3]);
        let cases: Vec<(String, bool)> = vec![
            (format!("ssh-rsa {}", b64(&k)), true),
            (format!("ssh-rsa {} me@laptop extra words", b64(&k)), true),
            (format!("  ssh-rsa\t{}\n", b64(&k)), true),
            (format!("ssh-rsa {}", STANDARD_NO_PAD.encode(&k)), true),
            (format!("ssh-ed25519 {}", b64(&k)), false),
            ("ssh-rsa !!!notbase64".to_string(), false),
            ("ssh-rsa".to_string(), false),
            ("".to_string(), false),
            (format!("ssh-rsa {}", b64(b"\xff\xff\xff\xffx")), false),
        ];
        for (line, ok) in cases {
            assert_eq!(parse_public_key_line(&line).is_some(), ok, "{line:?}");
        }
    }

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("*", "", true),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "example.com", false),
            ("host?", "host1", true),
            ("host?", "host12", false),
            ("192.168.1.*", "192.168.1.20", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("[10.0.0.?]:2222", "[10.0.0.5]:2222", true),
            ("*:2222", "[h]:2222", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("**a", "bbba", true),
        ];
        for &(p, n, want) in cases {
            assert_eq!(
                wildcard_match(p.as_bytes(), n.as_bytes()),
                want,
                "{p} vs {n}"
            );
        }
        // No exponential blow-up.
        let p = "*a".repeat(50);
        let n = "a".repeat(5000) + "b";
        assert!(!wildcard_match(p.as_bytes(), n.as_bytes()));
    }

    #[test]
    fn checks() {
        let a = blob("ssh-ed25519", &[1; 32]);
        let b = blob("ssh-ed25519", &[2; 32]);
        let r = blob("ssh-rsa", &[3; 64]);
        let ca = blob("ssh-ed25519", &[4; 32]);
        let salt = [9u8; 20];
        let file = format!(
            "# comment line\n\
             \n\
             bastion,10.0.0.1 ssh-ed25519 {a} bastion key\n\
             [bastion]:2222 ssh-rsa {r}\n\
             *.corp,!secret.corp ssh-ed25519 {b}\n\
             {hashed} ssh-ed25519 {a}\n\
             @revoked * ssh-ed25519 {revoked}\n\
             @cert-authority *.corp ssh-ed25519 {ca}\n\
             multi ssh-ed25519 {a}\n\
             multi ssh-rsa {r}\n",
            a = b64(&a),
            b = b64(&b),
            r = b64(&r),
            ca = b64(&ca),
            hashed = hash_host("hidden.example", &salt),
            revoked = b64(&blob("ssh-ed25519", &[0xEE; 32])),
        );
        let (kh, warnings) = KnownHosts::parse(&file);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(kh.len(), 8);
        let fa = fingerprint_sha256(&a);
        let fb = fingerprint_sha256(&b);
        let fr = fingerprint_sha256(&r);
        let revoked = blob("ssh-ed25519", &[0xEE; 32]);
        let kk = |t: &str, f: &str, line| KnownKey {
            key_type: t.into(),
            fingerprint: f.into(),
            line,
        };
        let cases: Vec<(&str, u16, &Vec<u8>, HostKeyCheck)> = vec![
            ("bastion", 22, &a, HostKeyCheck::Trusted),
            ("BASTION", 22, &a, HostKeyCheck::Trusted),
            ("10.0.0.1", 22, &a, HostKeyCheck::Trusted),
            (
                "bastion",
                22,
                &b,
                HostKeyCheck::Changed {
                    known: vec![kk("ssh-ed25519", &fa, 3)],
                },
            ),
            ("bastion", 2222, &r, HostKeyCheck::Trusted),
            (
                "bastion",
                2222,
                &a,
                HostKeyCheck::Changed {
                    known: vec![kk("ssh-rsa", &fr, 4)],
                },
            ),
            ("bastion", 2200, &a, HostKeyCheck::Unknown),
            ("db.corp", 22, &b, HostKeyCheck::Trusted),
            // Negated pattern: nothing on file for secret.corp.
            ("secret.corp", 22, &b, HostKeyCheck::Unknown),
            // The CA key is not a host key for *.corp hosts.
            (
                "db.corp",
                22,
                &ca,
                HostKeyCheck::Changed {
                    known: vec![kk("ssh-ed25519", &fb, 5)],
                },
            ),
            ("other.example", 22, &ca, HostKeyCheck::Unknown),
            ("hidden.example", 22, &a, HostKeyCheck::Trusted),
            ("Hidden.Example", 22, &a, HostKeyCheck::Trusted),
            ("hidden.example", 2222, &a, HostKeyCheck::Unknown),
            ("bastion", 22, &revoked, HostKeyCheck::Revoked),
            ("anyone", 9999, &revoked, HostKeyCheck::Revoked),
            (
                "multi",
                22,
                &b,
                HostKeyCheck::Changed {
                    known: vec![kk("ssh-ed25519", &fa, 9), kk("ssh-rsa", &fr, 10)],
                },
            ),
            ("unknown.host", 22, &a, HostKeyCheck::Unknown),
        ];
        for (host, port, key, want) in cases {
            assert_eq!(
                kh.check(host, port, "ssh-ed25519", key),
                want,
                "{host}:{port}"
            );
        }
        let types: &[(&str, u16, &[&str])] = &[
            ("multi", 22, &["ssh-ed25519", "ssh-rsa"]),
            ("bastion", 2222, &["ssh-rsa"]),
            ("db.corp", 22, &["ssh-ed25519"]),
            ("anyone", 22, &[]),
        ];
        for &(host, port, want) in types {
            assert_eq!(kh.known_types(host, port), want, "{host}:{port}");
        }
    }

    #[test]
    fn hashed_lines_written_by_ssh_keygen() {
        // Made by `ssh-keygen -H` from "hidden.example KEY" and "[127.0.0.1]:2222 KEY".
        let text = "|1|vZ2cWkr1JeVvh0tMjN9Mi0djypw=|nleN73TuYduEZY12PHVIWyf+mwQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1bE3FELHPZo3DHlN1SdtovbpEu0FnDoK3v0tWS9kMo\n\
                    |1|aGNpw3leC48AhvZsvtFvnr4uIUo=|c45SZdcx4yzWlG3vXxyJJIF9WI8= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1bE3FELHPZo3DHlN1SdtovbpEu0FnDoK3v0tWS9kMo\n";
        let (kh, w) = KnownHosts::parse(text);
        assert!(w.is_empty(), "{w:?}");
        let (_, key) = parse_public_key_line(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1bE3FELHPZo3DHlN1SdtovbpEu0FnDoK3v0tWS9kMo",
        )
        .unwrap();
        let cases: &[(&str, u16, bool)] = &[
            ("hidden.example", 22, true),
            ("127.0.0.1", 2222, true),
            ("127.0.0.1", 22, false),
            ("hidden.example", 2222, false),
            ("other", 22, false),
        ];
        for &(host, port, trusted) in cases {
            let want = if trusted {
                HostKeyCheck::Trusted
            } else {
                HostKeyCheck::Unknown
            };
            assert_eq!(
                kh.check(host, port, "ssh-ed25519", &key),
                want,
                "{host}:{port}"
            );
        }
    }

    #[test]
    fn revoked_wins_over_trusted() {
        let k = blob("ssh-ed25519", &[5; 32]);
        let text = format!("h ssh-ed25519 {0}\n@revoked h ssh-ed25519 {0}\n", b64(&k));
        let (kh, _) = KnownHosts::parse(&text);
        assert_eq!(kh.check("h", 22, "ssh-ed25519", &k), HostKeyCheck::Revoked);
    }

    #[test]
    fn bad_lines_are_warnings() {
        let k = b64(&blob("ssh-ed25519", &[1; 32]));
        let good = format!("good ssh-ed25519 {k}");
        let cases: Vec<(String, &str)> = vec![
            ("onlyhost".into(), "missing key type"),
            ("host ssh-ed25519".into(), "missing key data"),
            (
                "host ssh-ed25519 !!!".into(),
                "key data is not valid base64",
            ),
            (
                format!("host ssh-rsa {k}"),
                "key type 'ssh-rsa' does not match the key data ('ssh-ed25519')",
            ),
            (
                format!("host ssh-ed25519 {}", b64(b"\x00\x00")),
                "key data is not an SSH public key",
            ),
            (
                format!("@bogus host ssh-ed25519 {k}"),
                "unknown marker '@bogus'",
            ),
            ("@revoked".into(), "missing host names after the marker"),
            (
                format!("|1|abc ssh-ed25519 {k}"),
                "malformed hashed host name '|1|abc'",
            ),
            (
                format!("|2|{0}|{0} ssh-ed25519 {k}", b64(&[0; 20])),
                "unsupported hashed host name version '2'",
            ),
            (
                format!("|1|c2FsdA==|aGFzaA== ssh-ed25519 {k}"),
                "malformed hashed host name '|1|c2FsdA==|aGFzaA=='",
            ),
            (
                format!("a,,b ssh-ed25519 {k}"),
                "empty host pattern in 'a,,b'",
            ),
            (format!("! ssh-ed25519 {k}"), "empty host pattern in '!'"),
            (
                "host 1024 35 12345".into(),
                "SSH-1 RSA keys (bits exponent modulus) are not supported",
            ),
        ];
        for (bad, want) in cases {
            let text = format!("{good}\n{bad}\r\n{good}\n");
            let (kh, w) = KnownHosts::parse(&text);
            assert_eq!(kh.len(), 2, "{bad}");
            assert_eq!(w.len(), 1, "{bad}");
            assert_eq!(w[0].line, 2, "{bad}");
            assert!(w[0].message.starts_with(want), "{bad}: {}", w[0].message);
        }
    }

    #[test]
    fn extend_and_listing() {
        let a = blob("ssh-ed25519", &[1; 32]);
        let b = blob("ssh-ed25519", &[2; 32]);
        let (mut user, _) = KnownHosts::parse(&format!("# user\nh1 ssh-ed25519 {}", b64(&a)));
        let (agent, _) = KnownHosts::parse(&format!("h2 ssh-ed25519 {}", b64(&b)));
        let mut empty = KnownHosts::empty();
        assert!(empty.is_empty());
        assert_eq!(
            empty.check("h1", 22, "ssh-ed25519", &a),
            HostKeyCheck::Unknown
        );
        empty.extend(user.clone());
        assert_eq!(
            empty.check("h1", 22, "ssh-ed25519", &a),
            HostKeyCheck::Trusted
        );
        user.extend(agent);
        assert_eq!(
            user.check("h2", 22, "ssh-ed25519", &b),
            HostKeyCheck::Trusted
        );
        let listed = user.entries();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].line, 2);
        assert_eq!(listed[0].hosts, "h1");
        assert_eq!(listed[1].line, 1);
        assert_eq!(listed[1].fingerprint, fingerprint_sha256(&b));
    }

    #[test]
    fn removing_a_host() {
        let a = b64(&blob("ssh-ed25519", &[1; 32]));
        let text = format!(
            "# keep me\nh1 ssh-ed25519 {a}\n[h1]:2222 ssh-ed25519 {a}\nh1,h2 ssh-ed25519 {a}\n@revoked h1 ssh-ed25519 {a}\ngarbage line\nh3 ssh-ed25519 {a}"
        );
        let (out, n) = remove_host(&text, "h1", 22);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            format!("# keep me\n[h1]:2222 ssh-ed25519 {a}\n@revoked h1 ssh-ed25519 {a}\ngarbage line\nh3 ssh-ed25519 {a}")
        );
        let (out, n) = remove_host(&text, "h3", 22);
        assert_eq!(n, 1);
        assert!(out.ends_with("garbage line\n"));
    }
}
