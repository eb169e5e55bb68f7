//! The tunnel engine's error type. Every message is for the user: what failed, where, and,
//! where it helps, what to do. Secrets never appear in them.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong while connecting or forwarding.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// The TCP connection to a hop could not be made.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: std::io::Error,
    },
    /// A step did not finish in time; `what` names the step, `target` where.
    #[error("{what} to {target} timed out after {secs}s")]
    Timeout {
        what: &'static str,
        target: String,
        secs: u64,
    },
    /// The SSH handshake or protocol failed.
    #[error("SSH error with {target}: {source}")]
    Ssh {
        target: String,
        #[source]
        source: russh::Error,
    },
    /// The server accepted none of our credentials.
    #[error("authentication failed for {target} (tried: {tried}; server allows: {allowed})")]
    Auth {
        target: String,
        tried: String,
        allowed: String,
    },
    /// The hop's profile has no usable credential at all.
    #[error("no credentials to authenticate to {target}: {reason}")]
    NoCredentials { target: String, reason: String },
    /// A private key file could not be read or parsed.
    #[error("cannot load SSH key {path}: {reason}", path = path.display())]
    Key { path: PathBuf, reason: String },
    /// The passphrase given for an encrypted key is wrong (or missing).
    #[error("wrong or missing passphrase for SSH key {path}", path = path.display())]
    Passphrase { path: PathBuf },
    /// The ssh-agent could not be used.
    #[error("ssh-agent at {socket}: {reason}")]
    Agent { socket: String, reason: String },
    /// The host presented a key that is not on file (strict policy).
    #[error("host key for {host} is not trusted: {key_type} {fingerprint}; trust it to connect")]
    HostKeyUnknown {
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
        /// The key as an OpenSSH public key line body (`type base64`), for recording.
        public_key: String,
    },
    /// The host presented a different key than the one on file: a possible attack.
    #[error(
        "HOST KEY CHANGED for {host}: known {known}, offered {key_type} {fingerprint}; refusing to connect (remove the old key only if you know why it changed)"
    )]
    HostKeyChanged {
        host: String,
        key_type: String,
        fingerprint: String,
        known: String,
    },
    /// The host's key is marked @revoked.
    #[error("host key for {host} is revoked ({key_type} {fingerprint}); refusing to connect")]
    HostKeyRevoked {
        host: String,
        key_type: String,
        fingerprint: String,
    },
    /// A known_hosts file could not be written.
    #[error("cannot record host key in {path}: {source}", path = path.display())]
    KnownHostsWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bind address is not loopback.
    #[error(transparent)]
    Loopback(#[from] proto::loopback::LoopbackError),
    /// The local listener could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    /// The server refused to open a channel.
    #[error("{target}: channel open refused by {via}: {reason}")]
    ChannelOpen {
        target: String,
        via: String,
        reason: String,
        /// The SOCKS reply code that best describes the refusal.
        code: proto::socks::ReplyCode,
    },
    /// The server refused a remote (-R) forward.
    #[error("remote forward {listen} refused by {via}{hint}")]
    RemoteForward {
        listen: String,
        via: String,
        hint: &'static str,
    },
    /// The transport closed.
    #[error("SSH connection to {target} closed")]
    Closed { target: String },
    /// The health probe got no answer.
    #[error("health probe of {target} failed: {reason}")]
    Probe { target: String, reason: String },
    /// A local target of a remote forward could not be reached.
    #[error("cannot connect to local target {addr}: {source}")]
    LocalTarget {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl TunnelError {
    /// Errors that retrying cannot fix: credentials, host keys, local binds. Retrying them
    /// only locks accounts or spins, so the reconnect engine gives up at once.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            TunnelError::Auth { .. }
                | TunnelError::NoCredentials { .. }
                | TunnelError::Key { .. }
                | TunnelError::Passphrase { .. }
                | TunnelError::HostKeyUnknown { .. }
                | TunnelError::HostKeyChanged { .. }
                | TunnelError::HostKeyRevoked { .. }
                | TunnelError::KnownHostsWrite { .. }
                | TunnelError::Loopback(_)
                | TunnelError::Bind { .. }
        )
    }
}
