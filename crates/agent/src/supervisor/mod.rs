//! The supervisor: the only owner of runtime state (tunnel state machines, sessions, pending
//! host keys). The API reads snapshots and sends commands through [`Supervisor`].
//!
//! Owns: the interface below ([`Supervisor`]'s methods, [`SupervisorError`], the types in
//! [`types`]). Must not touch: HTTP, or the stored definitions beyond reading them.
//!
//! PLACEHOLDER: replaced by the real supervisor (tunnel state machines over `crates/tunnel`).
//! This implementation is honest but inert: every tunnel stays `disconnected`; `start`/`stop`
//! only flip a running flag (so `Tunnel is already running` and the counts work) and emit
//! events; sessions only flip a connected flag; no host key is ever pending. Keep the method
//! signatures when replacing it: the API and its tests are written against them.

pub mod types;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use types::{
    Event, KnownHostEvent, PendingHostKey, Runtime, SessionEvent, Status, StatusItem, TunnelKind,
};

use crate::model::{Session, Tunnel};
use crate::store::{Store, StoreError};

/// Settings of the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Health probe interval (reference: ~30 s).
    pub probe_interval: Duration,
    /// Health probe timeout (reference: 10 s).
    pub probe_timeout: Duration,
    /// The agent's own known_hosts file (written when a key is trusted).
    pub known_hosts_path: PathBuf,
}

/// Errors of supervisor commands.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// `start` on a tunnel that is connecting, connected or reconnecting (409).
    #[error("Tunnel is already running")]
    AlreadyRunning,
    /// `connect_session` on a connected session (409).
    #[error("Session is already connected")]
    SessionAlreadyConnected,
    /// `trust_pending` for a key that is not pending (404).
    #[error("No pending host key for {host}:{port} with fingerprint {fingerprint}")]
    NoPendingKey {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The fingerprint asked for.
        fingerprint: String,
    },
    /// Reading a definition failed (including `NotFound` → 404).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the agent's known_hosts failed.
    #[error("writing known_hosts {}: {source}", path.display())]
    KnownHosts {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task died.
    #[error("supervisor task failed: {0}")]
    Task(String),
}

type SupResult<T> = Result<T, SupervisorError>;

/// Handle to the supervisor. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    #[allow(dead_code)] // used by the real supervisor
    config: SupervisorConfig,
    #[allow(dead_code)] // used by the real supervisor
    shutdown: CancellationToken,
    events: broadcast::Sender<Event>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: HashSet<String>,
    sessions: HashSet<String>,
    runtimes: HashMap<String, Runtime>,
    pending: Vec<PendingHostKey>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

/// The status row of a persistent tunnel.
pub fn status_item(t: &Tunnel, runtime: Runtime) -> StatusItem {
    StatusItem {
        id: t.id.clone(),
        name: t.fields.name.clone(),
        spec: t.fields.spec(),
        host: t.fields.host.clone(),
        port: t.fields.port,
        forward_type: t.fields.forward_type,
        bind_address: t.fields.bind_address.clone(),
        local_port: t.fields.local_port,
        auto_start: t.fields.auto_start,
        kind: TunnelKind::Persistent,
        session_id: None,
        session_name: None,
        runtime,
    }
}

/// The status rows of a session's enabled forwards: ids `session:<session_id>:<n>` (`n` = the
/// forward's index in the session's list), names `Session forward :<local_port>`.
pub fn session_items(s: &Session, runtime: impl Fn(&str) -> Runtime) -> Vec<StatusItem> {
    s.fields
        .forwards
        .iter()
        .enumerate()
        .filter(|(_, f)| f.enabled)
        .map(|(n, f)| {
            let id = format!("session:{}:{n}", s.id);
            StatusItem {
                runtime: runtime(&id),
                id,
                name: format!("Session forward :{}", f.local_port),
                spec: f.spec(),
                host: s.fields.host.clone(),
                port: s.fields.port,
                forward_type: f.forward_type,
                bind_address: f.bind_address.clone(),
                local_port: f.local_port,
                auto_start: false,
                kind: TunnelKind::Session,
                session_id: Some(s.id.clone()),
                session_name: Some(s.fields.name.clone()),
            }
        })
        .collect()
}

impl Supervisor {
    /// A supervisor over `store`; it stops everything when `shutdown` is cancelled.
    pub fn new(store: Arc<Store>, config: SupervisorConfig, shutdown: CancellationToken) -> Self {
        let (events, _) = broadcast::channel(256);
        Supervisor {
            inner: Arc::new(Inner {
                store,
                config,
                shutdown,
                events,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> SupResult<T> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))?
            .map_err(SupervisorError::from)
    }

    fn emit(&self, e: Event) {
        let _ = self.inner.events.send(e);
    }

    fn emit_tunnel(&self, t: &Tunnel) {
        self.emit(Event::Tunnel(status_item(t, self.runtime(&t.id))));
    }

    /// Starts a saved tunnel. `AlreadyRunning` if it runs; `Store(NotFound)` if unknown.
    pub async fn start(&self, id: &str) -> SupResult<()> {
        let id = id.to_string();
        let t = self.blocking(move |s| s.get_tunnel(&id)).await?;
        if !self.state().running.insert(t.id.clone()) {
            return Err(SupervisorError::AlreadyRunning);
        }
        self.emit_tunnel(&t);
        Ok(())
    }

    /// Stops a saved tunnel (a stopped one is fine). `Store(NotFound)` if unknown.
    pub async fn stop(&self, id: &str) -> SupResult<()> {
        let id = id.to_string();
        let t = self.blocking(move |s| s.get_tunnel(&id)).await?;
        let was = {
            let mut st = self.state();
            st.runtimes.remove(&t.id);
            st.running.remove(&t.id)
        };
        if was {
            self.emit_tunnel(&t);
        }
        Ok(())
    }

    /// Manual one-shot reconnect: a fresh connection now, `retry_count` reset. Starts a
    /// stopped tunnel.
    pub async fn reconnect(&self, id: &str) -> SupResult<()> {
        let id = id.to_string();
        let t = self.blocking(move |s| s.get_tunnel(&id)).await?;
        {
            let mut st = self.state();
            st.running.insert(t.id.clone());
            if let Some(r) = st.runtimes.get_mut(&t.id) {
                r.retry_count = 0;
            }
        }
        self.emit_tunnel(&t);
        Ok(())
    }

    /// Restarts a tunnel with its (new) definition if it is running; returns whether it was.
    pub async fn restart_if_running(&self, id: &str) -> SupResult<bool> {
        let running = self.state().running.contains(id);
        if running {
            let id2 = id.to_string();
            let t = self.blocking(move |s| s.get_tunnel(&id2)).await?;
            self.emit_tunnel(&t);
        }
        Ok(running)
    }

    /// Stops every running persistent tunnel; returns how many were running.
    pub async fn stop_all(&self) -> usize {
        let ids: Vec<String> = self.state().running.drain().collect();
        for id in &ids {
            let id2 = id.clone();
            if let Ok(t) = self.blocking(move |s| s.get_tunnel(&id2)).await {
                self.emit_tunnel(&t);
            }
        }
        ids.len()
    }

    /// Starts every `auto_start` tunnel that is not running; returns how many were started.
    pub async fn start_auto(&self) -> usize {
        let Ok(all) = self.blocking(|s| s.list_tunnels()).await else {
            return 0;
        };
        let mut n = 0;
        for t in all.iter().filter(|t| t.fields.auto_start) {
            if self.state().running.insert(t.id.clone()) {
                n += 1;
                self.emit_tunnel(t);
            }
        }
        n
    }

    /// Connects a saved session and starts its enabled forwards.
    pub async fn connect_session(&self, id: &str) -> SupResult<()> {
        let id = id.to_string();
        let s = self.blocking(move |st| st.get_session(&id)).await?;
        if !self.state().sessions.insert(s.id.clone()) {
            return Err(SupervisorError::SessionAlreadyConnected);
        }
        self.emit(Event::Session(SessionEvent {
            id: s.id.clone(),
            connected: true,
        }));
        for item in session_items(&s, |id| self.runtime(id)) {
            self.emit(Event::Tunnel(item));
        }
        Ok(())
    }

    /// Disconnects a session and stops its forwards (a disconnected one is fine).
    pub async fn disconnect_session(&self, id: &str) -> SupResult<()> {
        let id = id.to_string();
        let s = self.blocking(move |st| st.get_session(&id)).await?;
        if self.state().sessions.remove(&s.id) {
            self.emit(Event::Session(SessionEvent {
                id: s.id.clone(),
                connected: false,
            }));
        }
        Ok(())
    }

    /// Whether a session is connected now.
    pub fn is_session_connected(&self, id: &str) -> bool {
        self.state().sessions.contains(id)
    }

    /// Runtime state of every persistent tunnel and every session tunnel.
    pub async fn snapshot(&self) -> Vec<StatusItem> {
        let lists = self
            .blocking(|s| Ok((s.list_tunnels()?, s.list_sessions()?)))
            .await;
        let (tunnels, sessions) = match lists {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "snapshot: reading definitions");
                return Vec::new();
            }
        };
        let mut out: Vec<StatusItem> = tunnels
            .iter()
            .map(|t| status_item(t, self.runtime(&t.id)))
            .collect();
        for s in sessions.iter().filter(|s| self.is_session_connected(&s.id)) {
            out.extend(session_items(s, |id| self.runtime(id)));
        }
        out
    }

    /// Runtime state of one tunnel (`disconnected` defaults when unknown).
    pub fn runtime(&self, id: &str) -> Runtime {
        self.state().runtimes.get(id).cloned().unwrap_or_default()
    }

    /// Subscribes to runtime changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Host keys seen but not trusted.
    pub fn pending_host_keys(&self) -> Vec<PendingHostKey> {
        self.state().pending.clone()
    }

    /// Trusts a pending key: appends it to the agent's known_hosts and drops it from pending.
    pub async fn trust_pending(&self, host: &str, port: u16, fingerprint: &str) -> SupResult<()> {
        let found = self
            .state()
            .pending
            .iter()
            .any(|p| p.host == host && p.port == port && p.fingerprint == fingerprint);
        if !found {
            return Err(SupervisorError::NoPendingKey {
                host: host.to_string(),
                port,
                fingerprint: fingerprint.to_string(),
            });
        }
        // The placeholder never has pending keys, so nothing is written here.
        Ok(())
    }
}
