//! The portwarden agent: data dir, secrets, model, SQLite store, supervisor and REST API.
//!
//! Library first: the binary parses flags, sets up tracing and calls [`run`] with an already
//! bound listener (tests bind port 0). [`open_state`] builds the whole state on a directory, so
//! API tests can drive [`api::app`] with `oneshot` without a socket.
//!
//! Owns: [`AgentConfig`], [`AgentError`], start-up order (data dir → token → key → store →
//! supervisor → API), `agent.addr`, and clean shutdown. Must not touch: flag parsing and
//! printing (the binary's).
#![forbid(unsafe_code)]

pub mod api;
pub mod datadir;
pub mod model;
pub mod secrets;
pub mod store;
pub mod supervisor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use api::{app, AppState};
use datadir::{DataDir, DataDirError};
use store::{Store, StoreError};
use supervisor::{Supervisor, SupervisorConfig};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7077";
/// Default health probe interval.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Default health probe timeout.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The data directory (see [`DataDir::default_path`]).
    pub data_dir: PathBuf,
    /// Where to listen (loopback only).
    pub listen: SocketAddr,
    /// Health probe interval.
    pub probe_interval: Duration,
    /// Health probe timeout.
    pub probe_timeout: Duration,
}

impl AgentConfig {
    /// Defaults (`127.0.0.1:7077`, probe every 30 s with a 10 s timeout) on `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AgentConfig {
            data_dir: data_dir.into(),
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            probe_interval: DEFAULT_PROBE_INTERVAL,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
        }
    }
}

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The listen address is not loopback.
    #[error("refusing to listen on {0}: the agent only listens on loopback (127.0.0.0/8 or ::1), because its API controls your tunnels")]
    NotLoopback(SocketAddr),
    /// The data directory or one of its files.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP server failed.
    #[error("serving HTTP on {addr}: {source}")]
    Serve {
        /// The listen address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The listener's address could not be read.
    #[error("reading the listener's address: {0}")]
    Listener(#[source] std::io::Error),
}

/// Opens the data dir, token, key and store, and builds the supervisor and API state.
/// Nothing is started.
pub fn open_state(
    config: &AgentConfig,
    shutdown: CancellationToken,
) -> Result<AppState, AgentError> {
    let dd = DataDir::open(Some(&config.data_dir))?;
    let token = dd.load_or_create_api_token()?;
    let key = dd.load_or_create_secret_key()?;
    let store = Arc::new(Store::open(&dd.db_path(), &key)?);
    let supervisor = Supervisor::new(
        store.clone(),
        SupervisorConfig {
            probe_interval: config.probe_interval,
            probe_timeout: config.probe_timeout,
            known_hosts_path: dd.known_hosts_path(),
        },
        shutdown.child_token(),
    );
    Ok(AppState::new(store, supervisor, dd, token, shutdown))
}

/// Runs the agent until `shutdown` is cancelled: opens the state, then [`serve`].
pub async fn run(
    config: AgentConfig,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    check_loopback(config.listen)?;
    let state = open_state(&config, shutdown.clone())?;
    serve(state, listener, shutdown).await
}

fn check_loopback(addr: SocketAddr) -> Result<(), AgentError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(AgentError::NotLoopback(addr))
    }
}

/// Serves the API on `listener` with `state` until `shutdown` is cancelled: writes
/// `agent.addr`, starts the `auto_start` tunnels, and on shutdown stops every tunnel and
/// removes `agent.addr`. A non-loopback listener is refused.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let addr = listener.local_addr().map_err(AgentError::Listener)?;
    check_loopback(addr)?;
    state.data_dir().write_agent_addr(addr)?;
    tracing::info!(%addr, data_dir = %state.data_dir().path().display(), "agent listening");
    let started = state.supervisor().start_auto().await;
    if started > 0 {
        tracing::info!(started, "started auto-start tunnels");
    }
    let result = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    let stopped = state.supervisor().stop_all().await;
    tracing::info!(stopped, "agent stopped");
    state.data_dir().remove_agent_addr();
    result.map_err(|source| AgentError::Serve { addr, source })
}
