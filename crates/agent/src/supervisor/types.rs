//! The runtime types the supervisor publishes and the API serializes: [`Runtime`],
//! [`StatusItem`], [`Event`], [`PendingHostKey`].
//!
//! Owns: the shape of runtime state on the wire (API.md's `Runtime`, `StatusItem`, SSE events).
//! Must not touch: how that state is produced (the supervisor's job) or stored definitions.

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::ForwardType;

/// A tunnel's lifecycle status, as the reference names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not running.
    #[default]
    Disconnected,
    /// Establishing the SSH connection / listener.
    Connecting,
    /// Listener up and forwarding.
    Connected,
    /// The connection dropped; backoff retries are in flight.
    Reconnecting,
    /// Reconnect disabled or retries exhausted; `last_error` says why.
    Failed,
}

impl Status {
    /// All statuses, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Disconnected,
        Status::Connecting,
        Status::Connected,
        Status::Reconnecting,
        Status::Failed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Disconnected => "disconnected",
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Failed => "failed",
        }
    }
}

/// Runtime state of one tunnel (persistent or session).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Runtime {
    /// Lifecycle status.
    pub status: Status,
    /// Reconnect attempts since the last success (or manual reconnect).
    pub retry_count: u32,
    /// The last error, kept in `failed`.
    pub last_error: Option<String>,
    /// Seconds since connected (only while connected).
    pub uptime_secs: Option<u64>,
    /// Bytes delivered from the SSH side to local clients.
    pub bytes_in: u64,
    /// Bytes delivered from local clients to the SSH side.
    pub bytes_out: u64,
    /// Client connections open now.
    pub active_connections: u64,
    /// Client connections accepted since start.
    pub total_connections: u64,
    /// Remote forwards: the port the server listens on (after allocation).
    pub allocated_port: Option<u16>,
    /// Reconnects since the agent started (for `/metrics`; not in the JSON).
    #[serde(skip)]
    pub reconnects_total: u64,
}

/// `persistent` (a saved tunnel) or `session` (a forward of a connected session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    /// A saved tunnel.
    Persistent,
    /// A forward of a connected session (`session:<session_id>:<n>`).
    Session,
}

/// One row of `GET /tunnels/status` and the `tunnel` SSE event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusItem {
    /// `tun_…` or `session:<session_id>:<n>`.
    pub id: String,
    /// Display name (`Session forward :8080` for session tunnels).
    pub name: String,
    /// Compact spec (`L :8443 → 10.0.0.5:443`).
    pub spec: String,
    /// SSH host.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Forward type.
    pub forward_type: ForwardType,
    /// Loopback bind address.
    pub bind_address: String,
    /// Local port.
    pub local_port: u16,
    /// Starts with the agent.
    pub auto_start: bool,
    /// Persistent or session.
    pub kind: TunnelKind,
    /// The session of a session tunnel.
    pub session_id: Option<String>,
    /// The session's name.
    pub session_name: Option<String>,
    /// Runtime state.
    #[serde(flatten)]
    pub runtime: Runtime,
}

/// A host key seen but not trusted yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PendingHostKey {
    /// Host as connected to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// RFC 3339.
    pub seen_at: String,
}

/// A session's connected state (the `session` SSE event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionEvent {
    /// `sess_…`.
    pub id: String,
    /// Connected now.
    pub connected: bool,
}

/// The pending list (the `known_host` SSE event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KnownHostEvent {
    /// Keys waiting for trust.
    pub pending: Vec<PendingHostKey>,
}

/// A runtime change, broadcast to `/events` subscribers.
// Events are short-lived and mostly `Tunnel`; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `event: tunnel` — a tunnel's runtime changed.
    Tunnel(StatusItem),
    /// `event: session` — a session connected or disconnected.
    Session(SessionEvent),
    /// `event: known_host` — the pending host keys changed.
    KnownHost(KnownHostEvent),
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Tunnel(_) => "tunnel",
            Event::Session(_) => "session",
            Event::KnownHost(_) => "known_host",
        }
    }

    /// The SSE data (JSON).
    pub fn data(&self) -> String {
        let r = match self {
            Event::Tunnel(s) => serde_json::to_string(s),
            Event::Session(s) => serde_json::to_string(s),
            Event::KnownHost(k) => serde_json::to_string(k),
        };
        r.unwrap_or_else(|_| "{}".into())
    }
}
