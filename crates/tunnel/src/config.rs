//! The resolved description of where to connect and how: hops, credentials, host-key policy
//! and SSH options. Plain data; no I/O. The agent builds these from its store, the one-shot
//! `forward` command from its flags.

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

/// A private key file and its optional passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub path: PathBuf,
    pub passphrase: Option<Secret>,
}

/// How one hop authenticates. Methods are tried in this order: agent, keys, password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub password: Option<Secret>,
    pub keys: Vec<KeyFile>,
    /// Use the ssh-agent at this socket (usually `$SSH_AUTH_SOCK`).
    pub agent_socket: Option<PathBuf>,
}

/// One SSH server on the way: a jump host or the final target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub credentials: Credentials,
}

impl Hop {
    /// `user@host:port`, as errors name a hop.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

/// What to do with a host key that is not on file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown keys are refused (the error carries the fingerprint).
    Strict,
    /// Unknown keys are recorded in the writable known_hosts file and accepted.
    AcceptNew,
    /// No verification at all. Only the one-shot command offers it, and only when asked.
    Off,
}

/// Where host keys are looked up and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeys {
    pub policy: HostKeyPolicy,
    /// Files read for trusted keys (OpenSSH known_hosts format). Missing files are skipped.
    pub files: Vec<PathBuf>,
    /// The file that `AcceptNew` appends to (also read).
    pub write_to: Option<PathBuf>,
}

/// The whole path to a target: jump hosts in order, then the target itself (last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub hops: Vec<Hop>,
    pub host_keys: HostKeys,
}

impl Route {
    /// The final SSH server.
    pub fn target(&self) -> &Hop {
        self.hops.last().expect("a route has at least one hop")
    }

    /// A key that identifies one transport in the pool: the hops, who logs in where, and with
    /// which credentials (key files, agent, password or not) — two profiles that log in as the
    /// same user with different keys never share a connection.
    pub fn pool_key(&self) -> String {
        self.hops
            .iter()
            .map(|h| {
                let c = &h.credentials;
                let keys: Vec<String> = c
                    .keys
                    .iter()
                    .map(|k| k.path.display().to_string())
                    .collect();
                format!(
                    "{} [keys={} agent={} password={}]",
                    h.label(),
                    keys.join(","),
                    c.agent_socket
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    c.password.is_some()
                )
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

/// Timeouts and tuning for SSH transports.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// TCP connect plus SSH handshake per hop.
    pub connect_timeout: Duration,
    /// Authentication per hop.
    pub auth_timeout: Duration,
    /// Opening a channel (direct-tcpip, session, tcpip-forward request).
    pub channel_timeout: Duration,
    /// How often the health probe opens a session channel.
    pub probe_interval: Duration,
    /// How long a probe may take before the transport is declared dead.
    pub probe_timeout: Duration,
    /// SSH keepalives (OpenSSH's ServerAliveInterval/CountMax); `None` = off.
    pub keepalive_interval: Option<Duration>,
    pub keepalive_max: usize,
    /// Cipher preference, OpenSSH names; empty = our default order.
    pub ciphers: Vec<String>,
    /// How long a client connection waits for a transport while reconnecting.
    pub wait_for_transport: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            connect_timeout: Duration::from_secs(15),
            auth_timeout: Duration::from_secs(30),
            channel_timeout: Duration::from_secs(15),
            probe_interval: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(10),
            keepalive_interval: None,
            keepalive_max: 3,
            ciphers: Vec::new(),
            wait_for_transport: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(key: &str) -> Route {
        Route {
            hops: vec![Hop {
                host: "bastion".into(),
                port: 22,
                user: "me".into(),
                credentials: Credentials {
                    keys: vec![KeyFile {
                        path: key.into(),
                        passphrase: None,
                    }],
                    ..Default::default()
                },
            }],
            host_keys: HostKeys {
                policy: HostKeyPolicy::Strict,
                files: vec![],
                write_to: None,
            },
        }
    }

    #[test]
    fn pool_key_separates_credentials_not_passphrases() {
        assert_eq!(route("/k/a").pool_key(), route("/k/a").pool_key());
        assert_ne!(route("/k/a").pool_key(), route("/k/b").pool_key());
        let mut with_pass = route("/k/a");
        with_pass.hops[0].credentials.keys[0].passphrase = Some(Secret::new("hunter2"));
        with_pass.hops[0].credentials.password = Some(Secret::new("hunter2"));
        assert_ne!(with_pass.pool_key(), route("/k/a").pool_key());
        assert!(!with_pass.pool_key().contains("hunter2"));
    }
}
