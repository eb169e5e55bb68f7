//! SSH transports: TCP connect with a deadline, the handshake, host-key verification per hop,
//! authentication (ssh-agent, key files, password), jump chains (each next hop runs over a
//! direct-tcpip channel of the previous one), channel opening, remote-forward requests, and
//! death detection (the session's end is seen at once; a health probe catches black holes).
//!
//! Owns the russh client handler. Knows nothing of pools, forwards or reconnect policy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle, Msg};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyBase64};
use russh::{Channel, ChannelOpenFailure, MethodKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Credentials, Hop, Route, SshOptions};
use crate::error::TunnelError;
use crate::hostkey::Verifier;
use crate::socket::TransportSocket;

/// A channel the server opened for a remote (-R) forward, with who connected to it.
pub struct ForwardedChannel {
    pub channel: Channel<Msg>,
    pub originator: String,
}

type RemoteSenders = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<ForwardedChannel>>>>;

/// The russh handler of one hop.
struct Client {
    verifier: Verifier,
    host_key_error: Arc<Mutex<Option<TunnelError>>>,
    closed: CancellationToken,
    remote: RemoteSenders,
}

impl Drop for Client {
    fn drop(&mut self) {
        // The session task owns the handler: its end is the transport's end.
        self.closed.cancel();
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => {
                russh::keys::PublicKey::new(cert.public_key().clone(), "")
            }
        };
        let key_type = public.algorithm().as_str().to_string();
        let blob = public.public_key_bytes();
        match self.verifier.verify(&key_type, &blob) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.host_key_error.lock().expect("host key error lock") = Some(e);
                Ok(false)
            }
        }
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        connected_port: u32,
        originator_address: &str,
        originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let sender = {
            let map = self.remote.lock().expect("remote map lock");
            map.get(&connected_port).cloned().or_else(|| {
                // Some servers report the requested port (0) rather than the allocated one.
                if map.len() == 1 {
                    map.values().next().cloned()
                } else {
                    None
                }
            })
        };
        match sender {
            Some(tx) => {
                reply.accept().await;
                let originator = format!("{originator_address}:{originator_port}");
                if tx
                    .send(ForwardedChannel {
                        channel,
                        originator,
                    })
                    .is_err()
                {
                    tracing::debug!(
                        port = connected_port,
                        "remote forward gone; dropping channel"
                    );
                }
            }
            None => {
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await
            }
        }
        Ok(())
    }
}

/// One authenticated SSH connection (the last hop of a route), alive until `closed()`.
pub struct Transport {
    handle: Handle<Client>,
    /// The previous hop's transport, kept alive as long as this one.
    _upstream: Option<Arc<Transport>>,
    closed: CancellationToken,
    /// Why the probe declared this transport dead (set once, before `closed` fires).
    death: std::sync::OnceLock<String>,
    target: String,
    remote: RemoteSenders,
    channel_timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("target", &self.target)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The largest channel data packet this client accepts (and so the most sshd puts in one).
pub(crate) const MAX_PACKET: u32 = 32 * 1024;

fn russh_config(opts: &SshOptions) -> Arc<client::Config> {
    let mut config = client::Config {
        window_size: 2 * 1024 * 1024,
        maximum_packet_size: MAX_PACKET,
        nodelay: true,
        keepalive_interval: opts.keepalive_interval,
        keepalive_max: opts.keepalive_max,
        inactivity_timeout: None,
        ..Default::default()
    };
    let mut ciphers: Vec<russh::cipher::Name> = Vec::new();
    for name in &opts.ciphers {
        if let Ok(n) = russh::cipher::Name::try_from(name.as_str()) {
            ciphers.push(n);
        }
    }
    if ciphers.is_empty() {
        ciphers = vec![
            russh::cipher::AES_128_GCM,
            russh::cipher::CHACHA20_POLY1305,
            russh::cipher::AES_256_GCM,
            russh::cipher::AES_128_CTR,
            russh::cipher::AES_256_CTR,
        ];
    }
    config.preferred.cipher = ciphers.into();
    Arc::new(config)
}

async fn with_timeout<T>(
    what: &'static str,
    target: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, TunnelError>>,
) -> Result<T, TunnelError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(TunnelError::Timeout {
            what,
            target: target.to_string(),
            secs: limit.as_secs().max(1),
        }),
    }
}

impl Transport {
    /// Connects every hop of `route` in turn and authenticates on each.
    pub async fn connect(route: &Route, opts: &SshOptions) -> Result<Arc<Transport>, TunnelError> {
        let mut upstream: Option<Arc<Transport>> = None;
        for hop in &route.hops {
            let t = Self::connect_hop(hop, route, opts, upstream.take()).await?;
            upstream = Some(Arc::new(t));
        }
        let transport = upstream.expect("a route has at least one hop");
        spawn_probe(&transport, opts.probe_interval, opts.probe_timeout);
        Ok(transport)
    }

    async fn connect_hop(
        hop: &Hop,
        route: &Route,
        opts: &SshOptions,
        upstream: Option<Arc<Transport>>,
    ) -> Result<Transport, TunnelError> {
        let target = hop.label();
        let closed = match &upstream {
            Some(up) => up.closed.child_token(),
            None => CancellationToken::new(),
        };
        let host_key_error = Arc::new(Mutex::new(None));
        let remote: RemoteSenders = Arc::default();
        let handler = Client {
            verifier: Verifier {
                host: hop.host.clone(),
                port: hop.port,
                host_keys: route.host_keys.clone(),
            },
            host_key_error: host_key_error.clone(),
            closed: closed.clone(),
            remote: remote.clone(),
        };
        let config = russh_config(opts);
        let handshake = async {
            let result = match &upstream {
                None => {
                    let stream = tokio::net::TcpStream::connect((hop.host.as_str(), hop.port))
                        .await
                        .map_err(|source| TunnelError::Connect {
                            target: target.clone(),
                            source,
                        })?;
                    client::connect_stream(config, TransportSocket::new(stream), handler).await
                }
                Some(up) => {
                    let channel = up
                        .open_direct_tcpip(&hop.host, hop.port, "127.0.0.1:0".parse().unwrap())
                        .await?;
                    client::connect_stream(config, channel.into_stream(), handler).await
                }
            };
            result.map_err(|source| {
                if let Some(e) = host_key_error.lock().expect("host key error lock").take() {
                    return e;
                }
                TunnelError::Ssh {
                    target: target.clone(),
                    source,
                }
            })
        };
        let mut handle =
            with_timeout("SSH handshake", &target, opts.connect_timeout, handshake).await?;
        with_timeout(
            "authentication",
            &target,
            opts.auth_timeout,
            authenticate(&mut handle, hop),
        )
        .await?;
        tracing::debug!(%target, "authenticated");
        Ok(Transport {
            handle,
            _upstream: upstream,
            death: std::sync::OnceLock::new(),
            closed,
            target,
            remote,
            channel_timeout: opts.channel_timeout,
        })
    }

    /// `user@host:port` of the last hop.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// True once the transport (or any hop under it) has ended or was declared dead.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled() || self.handle.is_closed()
    }

    /// Resolves when the transport ends: immediately on TCP reset, EOF or disconnect, or when
    /// the probe declares it dead.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Declares the transport dead for `reason` (the probe failed); everyone waiting on
    /// `closed` wakes.
    pub fn mark_dead(&self, reason: String) {
        let _ = self.death.set(reason);
        self.closed.cancel();
    }

    /// Why the transport, or a hop under it, was declared dead; `None` if it simply ended
    /// (reset, EOF, disconnect) or is still up.
    pub fn death_reason(&self) -> Option<&str> {
        self.death
            .get()
            .map(String::as_str)
            .or_else(|| self._upstream.as_ref()?.death_reason())
    }

    /// Opens a direct-tcpip channel to `host:port` as seen from the last hop.
    pub async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
        originator: SocketAddr,
    ) -> Result<Channel<Msg>, TunnelError> {
        let dest = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        if self.is_closed() {
            return Err(TunnelError::Closed {
                target: self.target.clone(),
            });
        }
        let open = async {
            self.handle
                .channel_open_direct_tcpip(
                    host,
                    u32::from(port),
                    originator.ip().to_string(),
                    u32::from(originator.port()),
                )
                .await
                .map_err(|e| self.open_error(&dest, e))
        };
        with_timeout("opening a channel", &dest, self.channel_timeout, open).await
    }

    fn open_error(&self, dest: &str, e: russh::Error) -> TunnelError {
        use proto::socks::ReplyCode;
        // Both `ChannelOpenFailure(reason)` and `ChannelOpenFailureDescribed { reason, .. }`
        // (when the server said why, e.g. OpenSSH's "Connection refused") are refusals.
        let (reason, code) = match e.channel_open_failure() {
            Some(f) => {
                let (what, code) = match f {
                    ChannelOpenFailure::AdministrativelyProhibited => {
                        ("administratively prohibited", ReplyCode::NotAllowed)
                    }
                    ChannelOpenFailure::ConnectFailed => {
                        ("connect failed", ReplyCode::ConnectionRefused)
                    }
                    ChannelOpenFailure::UnknownChannelType => {
                        ("unknown channel type", ReplyCode::GeneralFailure)
                    }
                    ChannelOpenFailure::ResourceShortage => {
                        ("resource shortage", ReplyCode::GeneralFailure)
                    }
                    _ => ("refused", ReplyCode::GeneralFailure),
                };
                let reason = match e.channel_open_failure_description() {
                    Some(d) if !d.trim().is_empty() => format!("{what} ({})", d.trim()),
                    _ => what.to_string(),
                };
                (reason, code)
            }
            None => (e.to_string(), ReplyCode::GeneralFailure),
        };
        if self.is_closed() {
            return TunnelError::Closed {
                target: self.target.clone(),
            };
        }
        TunnelError::ChannelOpen {
            target: dest.to_string(),
            via: self.target.clone(),
            reason,
            code,
        }
    }

    /// Opens and closes a session channel (no shell, no exec): proof the server still answers.
    pub async fn probe(&self, timeout: Duration) -> Result<(), TunnelError> {
        let fut = async {
            let ch = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| TunnelError::Probe {
                    target: self.target.clone(),
                    reason: e.to_string(),
                })?;
            let _ = ch.close().await;
            Ok(())
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(TunnelError::Probe {
                target: self.target.clone(),
                reason: format!("no answer within {}s", timeout.as_secs_f32()),
            }),
        }
    }

    /// Asks the server to listen on `address:port` (0 = it picks) and returns the port it
    /// listens on plus the stream of connections it forwards back.
    pub async fn tcpip_forward(
        &self,
        address: &str,
        port: u16,
    ) -> Result<(u16, mpsc::UnboundedReceiver<ForwardedChannel>), TunnelError> {
        let listen = format!("{address}:{port}");
        let request = async {
            self.handle
                .tcpip_forward(address, u32::from(port))
                .await
                .map_err(|e| match e {
                    russh::Error::RequestDenied => TunnelError::RemoteForward {
                        listen: listen.clone(),
                        via: self.target.clone(),
                        hint:
                            " (the port may be in use on the server, or forwarding is not allowed)",
                    },
                    other => TunnelError::Ssh {
                        target: self.target.clone(),
                        source: other,
                    },
                })
        };
        let allocated = with_timeout(
            "remote forward request",
            &listen,
            self.channel_timeout,
            request,
        )
        .await?;
        let allocated = if allocated == 0 {
            u32::from(port)
        } else {
            allocated
        };
        let allocated = u16::try_from(allocated).unwrap_or(port);
        let (tx, rx) = mpsc::unbounded_channel();
        self.remote
            .lock()
            .expect("remote map lock")
            .insert(u32::from(allocated), tx);
        Ok((allocated, rx))
    }

    /// Stops a remote forward (best effort: a dead transport has nothing to cancel).
    pub async fn cancel_tcpip_forward(&self, address: &str, port: u16) {
        self.remote
            .lock()
            .expect("remote map lock")
            .remove(&u32::from(port));
        if self.is_closed() {
            return;
        }
        let _ = tokio::time::timeout(
            self.channel_timeout,
            self.handle.cancel_tcpip_forward(address, u32::from(port)),
        )
        .await;
    }

    /// Sends an SSH disconnect (bounded in time) and marks the transport closed.
    pub async fn disconnect(&self) {
        if !self.is_closed() {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.handle.disconnect(
                    russh::Disconnect::ByApplication,
                    "portwarden closing",
                    "en",
                ),
            )
            .await;
        }
        self.closed.cancel();
    }
}

/// How often the probe loop wakes to look for a clock gap (never more often than it probes).
const PROBE_TICK: Duration = Duration::from_secs(1);

/// True when a loop that slept for `tick` saw much more time pass on either clock: the process
/// was suspended (the machine slept: wall-clock time moved on, the monotonic clock did not) or
/// frozen (SIGSTOP, a VM pause: both moved on), or the wall clock was set. After such a gap the
/// network under the transport may be gone (new Wi-Fi, expired NAT state), so it is probed at
/// once instead of at the end of a full interval.
pub(crate) fn clock_gap(tick: Duration, monotonic: Duration, wall: Duration) -> bool {
    let limit = tick * 2 + Duration::from_secs(1);
    monotonic > limit || wall > limit
}

/// The health monitor of one transport: a session-channel probe every `interval`, and at once
/// after a clock gap ([`clock_gap`], checked every [`PROBE_TICK`]).
fn spawn_probe(transport: &Arc<Transport>, interval: Duration, timeout: Duration) {
    let weak = Arc::downgrade(transport);
    let closed = transport.closed.clone();
    tokio::spawn(async move {
        let tick = interval.min(PROBE_TICK);
        let mut last_probe = tokio::time::Instant::now();
        let (mut mono, mut wall) = (last_probe, std::time::SystemTime::now());
        loop {
            tokio::select! {
                _ = closed.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
            }
            let (now, now_wall) = (tokio::time::Instant::now(), std::time::SystemTime::now());
            // A wall clock set backwards counts as a gap too.
            let wall_step = now_wall
                .duration_since(wall)
                .unwrap_or_else(|e| e.duration());
            let gap = clock_gap(tick, now - mono, wall_step);
            (mono, wall) = (now, now_wall);
            if !gap && now - last_probe < interval {
                continue;
            }
            let Some(t) = weak.upgrade() else { return };
            if gap {
                tracing::info!(target = %t.target, "clock gap (suspend or freeze): probing now");
            }
            if let Err(e) = t.probe(timeout).await {
                tracing::warn!(target = %t.target, "{e}; declaring the connection dead");
                t.mark_dead(e.to_string());
                return;
            }
            last_probe = tokio::time::Instant::now();
            mono = last_probe;
        }
    });
}

/// Tries the hop's credentials in order (agent, keys, password) until one is accepted.
async fn authenticate(handle: &mut Handle<Client>, hop: &Hop) -> Result<(), TunnelError> {
    let target = hop.label();
    let creds: &Credentials = &hop.credentials;
    if creds.agent_socket.is_none() && creds.keys.is_empty() && creds.password.is_none() {
        return Err(TunnelError::NoCredentials {
            target,
            reason: "no key, password or ssh-agent configured".into(),
        });
    }
    let ssh_err = |source: russh::Error| TunnelError::Ssh {
        target: hop.label(),
        source,
    };
    let mut tried: Vec<String> = Vec::new();
    let mut allowed = String::from("unknown");
    let note = |r: &russh::client::AuthResult, allowed: &mut String| {
        if let russh::client::AuthResult::Failure {
            remaining_methods, ..
        } = r
        {
            let names: Vec<&str> = remaining_methods.iter().map(method_name).collect();
            *allowed = if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            };
        }
    };
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .unwrap_or(Some(HashAlg::Sha256));

    if let Some(sock) = &creds.agent_socket {
        let socket = sock.display().to_string();
        match russh::keys::agent::client::AgentClient::connect_uds(sock).await {
            Err(e) => {
                tracing::warn!(%socket, "ssh-agent unavailable: {e}");
                tried.push("ssh-agent (unavailable)".into());
            }
            Ok(mut agent) => {
                let ids = agent
                    .request_identities()
                    .await
                    .map_err(|e| TunnelError::Agent {
                        socket: socket.clone(),
                        reason: e.to_string(),
                    })?;
                tried.push(format!("ssh-agent ({} keys)", ids.len()));
                for id in ids {
                    let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else {
                        continue;
                    };
                    for hash in signature_hashes(key.algorithm().is_rsa(), rsa_hash) {
                        match handle
                            .authenticate_publickey_with(&hop.user, key.clone(), hash, &mut agent)
                            .await
                        {
                            Ok(r) if r.success() => return Ok(()),
                            Ok(r) => note(&r, &mut allowed),
                            Err(e) => tracing::debug!(%socket, "agent signing failed: {e:?}"),
                        }
                    }
                }
            }
        }
    }
    for key_file in &creds.keys {
        let key = load_key(key_file)?;
        tried.push(format!("publickey {}", key_file.path.display()));
        let key = Arc::new(key);
        for hash in signature_hashes(key.algorithm().is_rsa(), rsa_hash) {
            let r = handle
                .authenticate_publickey(&hop.user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                .await
                .map_err(ssh_err)?;
            if r.success() {
                return Ok(());
            }
            note(&r, &mut allowed);
        }
    }
    if let Some(password) = &creds.password {
        tried.push("password".into());
        let r = handle
            .authenticate_password(&hop.user, password.expose())
            .await
            .map_err(ssh_err)?;
        if r.success() {
            return Ok(());
        }
        note(&r, &mut allowed);
    }
    Err(TunnelError::Auth {
        target,
        tried: tried.join(", "),
        allowed,
    })
}

/// The signature hashes to try for one key: `None` (the key's own algorithm) for non-RSA keys;
/// for RSA the server's best SHA-2 hash first, then the other one. OpenSSH advertises every
/// algorithm it implements in `server-sig-algs`, not just those its `PubkeyAcceptedAlgorithms`
/// allows, so a server restricted to rsa-sha2-256 rejects an rsa-sha2-512 signature even though
/// it advertised it.
fn signature_hashes(is_rsa: bool, best: Option<HashAlg>) -> Vec<Option<HashAlg>> {
    if !is_rsa {
        return vec![None];
    }
    match best {
        Some(HashAlg::Sha512) => vec![Some(HashAlg::Sha512), Some(HashAlg::Sha256)],
        Some(HashAlg::Sha256) => vec![Some(HashAlg::Sha256), Some(HashAlg::Sha512)],
        other => vec![other],
    }
}

fn method_name(m: &MethodKind) -> &'static str {
    match m {
        MethodKind::None => "none",
        MethodKind::Password => "password",
        MethodKind::PublicKey => "publickey",
        MethodKind::HostBased => "hostbased",
        MethodKind::KeyboardInteractive => "keyboard-interactive",
        _ => "other",
    }
}

/// Loads a private key file (OpenSSH or PEM; ed25519, ECDSA, RSA), decrypting it with the
/// passphrase when it is encrypted. A wrong or missing passphrase names the file.
pub fn load_key(key_file: &crate::config::KeyFile) -> Result<russh::keys::PrivateKey, TunnelError> {
    let path = &key_file.path;
    let text = std::fs::read_to_string(path).map_err(|e| TunnelError::Key {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(pass) = &key_file.passphrase else {
                return Err(TunnelError::Passphrase { path: path.clone() });
            };
            russh::keys::decode_secret_key(&text, Some(pass.expose()))
                .map_err(|_| TunnelError::Passphrase { path: path.clone() })
        }
        Err(e) => {
            // Encrypted OpenSSH-format keys may report other errors without a passphrase.
            if text.contains("ENCRYPTED") || is_encrypted_openssh(&text) {
                let Some(pass) = &key_file.passphrase else {
                    return Err(TunnelError::Passphrase { path: path.clone() });
                };
                return russh::keys::decode_secret_key(&text, Some(pass.expose()))
                    .map_err(|_| TunnelError::Passphrase { path: path.clone() });
            }
            Err(TunnelError::Key {
                path: path.clone(),
                reason: e.to_string(),
            })
        }
    }
}

fn is_encrypted_openssh(text: &str) -> bool {
    russh::keys::ssh_key::PrivateKey::from_openssh(text)
        .map(|k| k.is_encrypted())
        .unwrap_or(false)
}

#[cfg(test)]
mod probe_tests {
    use super::clock_gap;
    use std::time::Duration;

    #[test]
    fn clock_gap_table() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // (tick, monotonic elapsed, wall elapsed, gap?)
        let cases = [
            (s(1), s(1), s(1), false),          // on time
            (s(1), ms(2900), ms(2900), false),  // a busy machine woke late: not a gap
            (s(1), s(5), s(5), true),           // frozen (SIGSTOP): both clocks moved on
            (s(1), s(1), s(3600), true),        // suspended: only the wall clock moved on
            (s(1), s(1), s(0), false),          // wall clock barely moved (coarse clock)
            (ms(200), ms(200), ms(1500), true), // short tick, wall jump
            (ms(200), ms(900), ms(900), false), // short tick, a little late
        ];
        for (tick, mono, wall, want) in cases {
            assert_eq!(
                clock_gap(tick, mono, wall),
                want,
                "{tick:?} {mono:?} {wall:?}"
            );
        }
    }
}
