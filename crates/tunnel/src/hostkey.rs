//! Host-key verification for one hop: reads the configured known_hosts files (OpenSSH format,
//! matched by `proto::known_hosts`), applies the policy, and records accepted-new keys.
//! A changed or revoked key is always a hard error. Owns no network I/O.

use std::io::Write;
use std::path::Path;

use proto::known_hosts::{self, HostKeyCheck, KnownHosts};

use crate::config::{HostKeyPolicy, HostKeys};
use crate::error::TunnelError;

/// Checks the key a hop presented.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub host: String,
    pub port: u16,
    pub host_keys: HostKeys,
}

impl Verifier {
    /// The known_hosts entries of every configured file, read fresh (so a key trusted a moment
    /// ago counts). Unreadable or missing files count as empty.
    pub fn load(host_keys: &HostKeys) -> KnownHosts {
        let mut all = KnownHosts::empty();
        let files = host_keys.files.iter().chain(host_keys.write_to.iter());
        for file in files {
            if let Ok(text) = std::fs::read_to_string(file) {
                let (parsed, warnings) = KnownHosts::parse(&text);
                for w in warnings {
                    tracing::debug!(file = %file.display(), line = w.line, "known_hosts: {}", w.message);
                }
                all.extend(parsed);
            }
        }
        all
    }

    /// Verifies `key_type`/`blob` (the SSH wire encoding of the public key).
    pub fn verify(&self, key_type: &str, blob: &[u8]) -> Result<(), TunnelError> {
        if self.host_keys.policy == HostKeyPolicy::Off {
            return Ok(());
        }
        let shown = known_hosts::host_pattern(&self.host, self.port);
        let fingerprint = known_hosts::fingerprint_sha256(blob);
        match Self::load(&self.host_keys).check(&self.host, self.port, key_type, blob) {
            HostKeyCheck::Trusted => Ok(()),
            HostKeyCheck::Revoked => Err(TunnelError::HostKeyRevoked {
                host: shown,
                key_type: key_type.to_string(),
                fingerprint,
            }),
            HostKeyCheck::Changed { known } => Err(TunnelError::HostKeyChanged {
                host: shown,
                key_type: key_type.to_string(),
                fingerprint,
                known: known
                    .iter()
                    .map(|k| format!("{} {}", k.key_type, k.fingerprint))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            HostKeyCheck::Unknown => match (&self.host_keys.policy, &self.host_keys.write_to) {
                (HostKeyPolicy::AcceptNew, Some(path)) => {
                    let line = known_hosts::format_line(&self.host, self.port, key_type, blob);
                    append_line(path, &line).map_err(|source| TunnelError::KnownHostsWrite {
                        path: path.clone(),
                        source,
                    })?;
                    tracing::info!(host = %shown, %fingerprint, "recorded new host key");
                    Ok(())
                }
                _ => Err(TunnelError::HostKeyUnknown {
                    host: shown,
                    port: self.port,
                    key_type: key_type.to_string(),
                    fingerprint,
                    public_key: format!("{key_type} {}", base64_encode(blob)),
                }),
            },
        }
    }
}

/// Appends one known_hosts line, creating the file 0600 (and its directory) if needed.
pub fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let needs_newline = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
        && !std::fs::read(path)
            .map(|b| b.ends_with(b"\n"))
            .unwrap_or(true);
    if needs_newline {
        f.write_all(b"\n")?;
    }
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn base64_encode(blob: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(blob)
}
