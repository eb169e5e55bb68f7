//! The supervisor: the only owner of runtime state. It resolves saved tunnels and sessions into
//! `tunnel::Route`s (profiles, secrets, jump chains, host-key files), runs one `tunnel::Keeper`
//! per running tunnel over the shared `tunnel::Pool` (pooled by host, port, profile and
//! effective jump), keeps the last state of stopped and failed tunnels, collects untrusted host
//! keys as pending, and broadcasts every change. The API reads snapshots and sends commands
//! through [`Supervisor`].
//!
//! Locks: the maps below are `std::sync::Mutex`es touched only for quick reads and writes; no
//! lock is held across an await (starting, stopping and connecting await outside them).
//! Must not touch: HTTP, or the stored definitions beyond reading them.

pub mod types;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tunnel::keeper::UntrustedKey;
use tunnel::{
    Credentials, Forward, Hop, HostKeyPolicy, HostKeys, KeeperHandle, KeyFile, Pool, RetryPolicy,
    Route,
};

pub use types::{
    Event, KnownHostEvent, PendingHostKey, Runtime, SessionEvent, Status, StatusItem, TunnelKind,
};

use crate::model::{AuthType, ForwardType, Tunnel, TunnelFields};
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

type SupResult<T> = Result<T, SupervisorError>;

/// Errors of supervisor commands.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// `start` on a tunnel that is connecting, connected or reconnecting (409).
    #[error("Tunnel is already running")]
    AlreadyRunning,
    /// `connect_session` on a connected session (409).
    #[error("Session is already connected")]
    SessionAlreadyConnected,
    /// A session's SSH connection could not be made (502); the message says why.
    #[error("{0}")]
    Connect(String),
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

fn disconnected() -> Runtime {
    Runtime::default()
}

fn status_of(s: tunnel::Status) -> Status {
    match s {
        tunnel::Status::Disconnected => Status::Disconnected,
        tunnel::Status::Connecting => Status::Connecting,
        tunnel::Status::Connected => Status::Connected,
        tunnel::Status::Reconnecting => Status::Reconnecting,
        tunnel::Status::Failed => Status::Failed,
    }
}

/// A pending key with the key itself (needed to write it once trusted).
#[derive(Debug, Clone)]
struct Pending {
    shown: PendingHostKey,
    public_key: String,
}

/// What a running (or last run) tunnel is.
#[derive(Debug, Clone)]
struct Meta {
    name: String,
    fields: TunnelFields,
    kind: TunnelKind,
    session_id: Option<String>,
    session_name: Option<String>,
}

struct Running {
    handle: KeeperHandle,
    meta: Meta,
}

struct Inner {
    store: Arc<Store>,
    pool: Pool,
    known_hosts: PathBuf,
    user_known_hosts: Vec<PathBuf>,
    running: Mutex<HashMap<String, Running>>,
    /// Last state of tunnels that ended (failed tunnels stay visible with their error).
    ended: Mutex<HashMap<String, (Meta, Runtime)>>,
    sessions: Mutex<HashMap<String, (String, tunnel::Lease)>>,
    pending: Mutex<Vec<Pending>>,
    events: broadcast::Sender<Event>,
    cancel: CancellationToken,
}

/// Cheap-to-clone handle on the supervisor.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

fn runtime_of(handle: &KeeperHandle) -> Runtime {
    let s = handle.state();
    let c = handle.counters().snapshot();
    Runtime {
        status: status_of(s.status),
        retry_count: s.retry_count,
        last_error: s.last_error.clone(),
        uptime_secs: s.uptime().map(|d| d.as_secs()),
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        active_connections: c.active,
        total_connections: c.total,
        allocated_port: s.allocated_ports.first().copied().flatten(),
        reconnects_total: s.reconnects.saturating_sub(1),
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor over `store`; it stops everything when `shutdown` is cancelled.
    pub fn new(store: Arc<Store>, config: SupervisorConfig, shutdown: CancellationToken) -> Self {
        let user_known_hosts = std::env::var_os("HOME")
            .map(|h| vec![PathBuf::from(h).join(".ssh/known_hosts")])
            .unwrap_or_default();
        let options = tunnel::SshOptions {
            probe_interval: config.probe_interval,
            probe_timeout: config.probe_timeout,
            ..Default::default()
        };
        let (events, _) = broadcast::channel(1024);
        Supervisor {
            inner: Arc::new(Inner {
                store,
                pool: Pool::new(options),
                known_hosts: config.known_hosts_path,
                user_known_hosts,
                running: Mutex::new(HashMap::new()),
                ended: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                pending: Mutex::new(Vec::new()),
                events,
                cancel: shutdown,
            }),
        }
    }

    /// Subscribes to runtime changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    fn host_keys(&self) -> HostKeys {
        HostKeys {
            policy: HostKeyPolicy::Strict,
            files: self.inner.user_known_hosts.clone(),
            write_to: Some(self.inner.known_hosts.clone()),
        }
    }

    /// Credentials of a profile; the reference's texts when a secret is missing.
    fn credentials(&self, profile_id: &str) -> Result<(String, Credentials), String> {
        let store = &self.inner.store;
        let profile = store.get_profile(profile_id).map_err(|e| e.to_string())?;
        let secrets = store
            .profile_secrets(profile_id)
            .map_err(|e| e.to_string())?;
        let mut creds = Credentials::default();
        match profile.auth_type {
            AuthType::Password => {
                let Some(p) = secrets.password else {
                    return Err("No password found".into());
                };
                creds.password = Some(tunnel::Secret::new(p.expose()));
            }
            AuthType::Key => {
                let Some(path) = profile.key_path.clone().filter(|p| !p.is_empty()) else {
                    return Err("No SSH key path found".into());
                };
                creds.keys.push(KeyFile {
                    path: expand_tilde(&path),
                    passphrase: secrets
                        .key_passphrase
                        .map(|p| tunnel::Secret::new(p.expose())),
                });
            }
            AuthType::Agent => match std::env::var_os("SSH_AUTH_SOCK") {
                Some(sock) => creds.agent_socket = Some(PathBuf::from(sock)),
                None => {
                    return Err(
                        "No ssh-agent found (SSH_AUTH_SOCK is not set for the agent)".into(),
                    )
                }
            },
        }
        Ok((profile.username, creds))
    }

    /// The hops that reach `host:port` with `profile_id` via the given (or the profile's) jump.
    fn hops(
        &self,
        host: &str,
        port: u16,
        profile_id: &str,
        jump_host_id: Option<&str>,
        jump_session_id: Option<&str>,
        depth: usize,
    ) -> Result<Vec<Hop>, String> {
        if depth > 16 {
            return Err("jump chain is too long or cyclic".into());
        }
        let store = &self.inner.store;
        let (jh, js) = if jump_host_id.is_none() && jump_session_id.is_none() {
            let p = store.get_profile(profile_id).map_err(|e| e.to_string())?;
            (p.jump_host_id, p.jump_session_id)
        } else {
            (
                jump_host_id.map(String::from),
                jump_session_id.map(String::from),
            )
        };
        let mut hops = Vec::new();
        if let Some(j) = jh {
            for jump in store.jump_chain(&j).map_err(|e| e.to_string())? {
                let (user, credentials) = self.credentials(&jump.fields.profile_id)?;
                hops.push(Hop {
                    host: jump.fields.host.clone(),
                    port: jump.fields.port,
                    user,
                    credentials,
                });
            }
        } else if let Some(s) = js {
            let session = store.get_session(&s).map_err(|e| e.to_string())?;
            let f = &session.fields;
            hops.extend(self.hops(
                &f.host,
                f.port,
                &f.profile_id,
                f.jump_host_id.as_deref(),
                f.jump_session_id.as_deref(),
                depth + 1,
            )?);
        }
        let (user, credentials) = self.credentials(profile_id)?;
        hops.push(Hop {
            host: host.to_string(),
            port,
            user,
            credentials,
        });
        Ok(hops)
    }

    fn forward_of(f: &TunnelFields) -> Forward {
        match f.forward_type {
            ForwardType::Local => Forward::Local {
                bind: f.bind_address.clone(),
                port: f.local_port,
                host: f.remote_host.clone().unwrap_or_default(),
                host_port: f.remote_port.unwrap_or_default(),
            },
            ForwardType::Dynamic => Forward::Dynamic {
                bind: f.bind_address.clone(),
                port: f.local_port,
            },
            ForwardType::Remote => Forward::Remote {
                listen_host: f.remote_host.clone().unwrap_or_else(|| "localhost".into()),
                listen_port: f.remote_port.unwrap_or(0),
                target_host: f.bind_address.clone(),
                target_port: f.local_port,
            },
        }
    }

    fn item(&self, id: &str, meta: &Meta, runtime: Runtime) -> StatusItem {
        let f = &meta.fields;
        // A remote forward with port 0 shows the port the server chose, as GET /tunnels does.
        let spec = match (f.remote_port, runtime.allocated_port) {
            (Some(0), Some(p)) => crate::model::format_spec(
                f.forward_type,
                f.local_port,
                f.remote_host.as_deref(),
                Some(p),
            ),
            _ => f.spec(),
        };
        StatusItem {
            id: id.to_string(),
            name: meta.name.clone(),
            spec,
            host: f.host.clone(),
            port: f.port,
            forward_type: f.forward_type,
            bind_address: f.bind_address.clone(),
            local_port: f.local_port,
            auto_start: f.auto_start,
            kind: meta.kind,
            session_id: meta.session_id.clone(),
            session_name: meta.session_name.clone(),
            runtime,
        }
    }

    /// Starts a saved tunnel. A tunnel that cannot even be resolved (missing secret, unknown
    /// profile) ends `failed` with that error.
    pub async fn start(&self, id: &str) -> SupResult<()> {
        let tunnel = self.blocking_get_tunnel(id).await?;
        let meta = Meta {
            name: tunnel.fields.name.clone(),
            fields: tunnel.fields.clone(),
            kind: TunnelKind::Persistent,
            session_id: None,
            session_name: None,
        };
        let policy = RetryPolicy {
            auto_reconnect: tunnel.fields.auto_reconnect,
            max_retries: tunnel.fields.max_retries,
        };
        self.launch(&tunnel.id, meta, policy)
    }

    fn launch(&self, id: &str, meta: Meta, policy: RetryPolicy) -> SupResult<()> {
        let f = meta.fields.clone();
        if self.is_running(id) {
            return Err(SupervisorError::AlreadyRunning);
        }
        let hops = self.hops(
            &f.host,
            f.port,
            &f.profile_id,
            f.jump_host_id.as_deref(),
            f.jump_session_id.as_deref(),
            0,
        );
        let hops = match hops {
            Ok(h) => h,
            Err(e) => {
                let mut rt = disconnected();
                rt.status = Status::Failed;
                rt.last_error = Some(e);
                self.record_ended(id, meta, rt);
                return Ok(());
            }
        };
        let keeper = tunnel::Keeper {
            route: Route {
                hops,
                host_keys: self.host_keys(),
            },
            forwards: vec![Self::forward_of(&f)],
            policy,
        };
        let mut running = self.inner.running.lock().expect("running lock");
        if running.get(id).is_some_and(|r| !r.handle.is_finished()) {
            return Err(SupervisorError::AlreadyRunning);
        }
        let handle = keeper.spawn(self.inner.pool.clone(), &self.inner.cancel);
        self.watch(id.to_string(), meta.clone(), handle.watch());
        running.insert(id.to_string(), Running { handle, meta });
        drop(running);
        self.inner.ended.lock().expect("ended lock").remove(id);
        Ok(())
    }

    fn record_ended(&self, id: &str, meta: Meta, rt: Runtime) {
        let item = self.item(id, &meta, rt.clone());
        self.inner
            .ended
            .lock()
            .expect("ended lock")
            .insert(id.to_string(), (meta, rt));
        let _ = self.inner.events.send(Event::Tunnel(item));
    }

    /// Forwards every state change of a keeper as an event and collects untrusted keys.
    fn watch(&self, id: String, meta: Meta, mut rx: tokio::sync::watch::Receiver<tunnel::State>) {
        let sup = self.clone();
        tokio::spawn(async move {
            loop {
                let state = rx.borrow_and_update().clone();
                if let Some(k) = &state.untrusted_key {
                    sup.add_pending(k);
                }
                let rt = {
                    let running = sup.inner.running.lock().expect("running lock");
                    running.get(&id).map(|r| runtime_of(&r.handle))
                };
                if let Some(rt) = rt {
                    let _ = sup
                        .inner
                        .events
                        .send(Event::Tunnel(sup.item(&id, &meta, rt)));
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    fn add_pending(&self, k: &UntrustedKey) {
        let list = {
            let mut pending = self.inner.pending.lock().expect("pending lock");
            let host = strip_brackets(&k.host);
            if pending.iter().any(|p| {
                p.shown.host == host
                    && p.shown.port == k.port
                    && p.shown.fingerprint == k.fingerprint
            }) {
                return;
            }
            pending.push(Pending {
                shown: PendingHostKey {
                    host,
                    port: k.port,
                    key_type: k.key_type.clone(),
                    fingerprint: k.fingerprint.clone(),
                    seen_at: chrono::Utc::now().to_rfc3339(),
                },
                public_key: k.public_key.clone(),
            });
            pending.iter().map(|p| p.shown.clone()).collect()
        };
        let _ = self
            .inner
            .events
            .send(Event::KnownHost(KnownHostEvent { pending: list }));
    }

    /// Host keys that stopped a connection and wait to be trusted.
    pub fn pending_host_keys(&self) -> Vec<PendingHostKey> {
        self.inner
            .pending
            .lock()
            .expect("pending lock")
            .iter()
            .map(|p| p.shown.clone())
            .collect()
    }

    /// Trusts a pending key: appends it to the agent's known_hosts.
    pub async fn trust_pending(&self, host: &str, port: u16, fingerprint: &str) -> SupResult<()> {
        let key = {
            let pending = self.inner.pending.lock().expect("pending lock");
            pending
                .iter()
                .find(|p| {
                    p.shown.host == host
                        && p.shown.port == port
                        && p.shown.fingerprint == fingerprint
                })
                .cloned()
        };
        let Some(key) = key else {
            return Err(SupervisorError::NoPendingKey {
                host: host.into(),
                port,
                fingerprint: fingerprint.into(),
            });
        };
        let path = self.inner.known_hosts.clone();
        let (key_type, blob) = proto::known_hosts::parse_public_key_line(&key.public_key)
            .ok_or_else(|| SupervisorError::KnownHosts {
                path: path.clone(),
                source: std::io::Error::other("the pending key is malformed"),
            })?;
        let line = proto::known_hosts::format_line(host, port, &key_type, &blob);
        tunnel::hostkey::append_line(&path, &line)
            .map_err(|source| SupervisorError::KnownHosts { path, source })?;
        let list = {
            let mut pending = self.inner.pending.lock().expect("pending lock");
            pending.retain(|p| !(p.shown.host == host && p.shown.port == port));
            pending.iter().map(|p| p.shown.clone()).collect()
        };
        let _ = self
            .inner
            .events
            .send(Event::KnownHost(KnownHostEvent { pending: list }));
        Ok(())
    }

    /// Stops a saved tunnel (a stopped one is fine). `Store(NotFound)` if unknown.
    pub async fn stop(&self, id: &str) -> SupResult<()> {
        self.blocking_get_tunnel(id).await?;
        self.stop_id(id).await;
        Ok(())
    }

    /// Stops any tunnel by id, persistent or session (a no-op when it is not running).
    async fn stop_id(&self, id: &str) {
        let r = self.inner.running.lock().expect("running lock").remove(id);
        if let Some(r) = r {
            r.handle.stop().await;
            self.record_ended(id, r.meta, disconnected());
            return;
        }
        let ended = self.inner.ended.lock().expect("ended lock").remove(id);
        if let Some((meta, _)) = ended {
            let _ = self
                .inner
                .events
                .send(Event::Tunnel(self.item(id, &meta, disconnected())));
        }
    }

    /// Manual one-shot reconnect: a fresh attempt now with the retry count reset.
    pub async fn reconnect(&self, id: &str) -> SupResult<()> {
        self.blocking_get_tunnel(id).await?;
        let live = {
            let running = self.inner.running.lock().expect("running lock");
            match running.get(id) {
                Some(r) if !r.handle.is_finished() => {
                    r.handle.reconnect();
                    true
                }
                _ => false,
            }
        };
        if live {
            return Ok(());
        }
        self.stop_id(id).await;
        self.start(id).await
    }

    /// Applies an edited definition: a running tunnel restarts with it.
    pub async fn restart_if_running(&self, id: &str) -> SupResult<bool> {
        if self.is_running(id) {
            self.stop_id(id).await;
            self.start(id).await?;
            Ok(true)
        } else {
            self.inner.ended.lock().expect("ended lock").remove(id);
            Ok(false)
        }
    }

    /// Stops a deleted tunnel and forgets its runtime.
    pub async fn remove(&self, id: &str) {
        self.stop_id(id).await;
        self.inner.ended.lock().expect("ended lock").remove(id);
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.inner
            .running
            .lock()
            .expect("running lock")
            .get(id)
            .is_some_and(|r| !r.handle.is_finished())
    }

    /// Stops every running tunnel (session tunnels too); returns how many.
    pub async fn stop_all(&self) -> usize {
        let ids: Vec<String> = self
            .inner
            .running
            .lock()
            .expect("running lock")
            .keys()
            .cloned()
            .collect();
        let n = ids.len();
        for id in ids {
            self.stop_id(&id).await;
        }
        let sessions: Vec<String> = self
            .inner
            .sessions
            .lock()
            .expect("sessions lock")
            .keys()
            .cloned()
            .collect();
        for s in sessions {
            self.disconnect_id(&s).await;
        }
        n
    }

    /// Starts every auto_start tunnel that is not running; returns how many started.
    pub async fn start_auto(&self) -> usize {
        let store = self.inner.store.clone();
        let listed = tokio::task::spawn_blocking(move || store.list_tunnels()).await;
        let tunnels: Vec<Tunnel> = match listed.map_err(|e| e.to_string()) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::error!("cannot list tunnels: {e:#}");
                return 0;
            }
            Err(e) => {
                tracing::error!("cannot list tunnels: {e}");
                return 0;
            }
        };
        let mut n = 0;
        for t in tunnels.iter().filter(|t| t.fields.auto_start) {
            if self.start(&t.id).await.is_ok() {
                n += 1;
            }
        }
        n
    }

    /// How many keepers (persistent and session tunnels) are running now.
    pub fn running_count(&self) -> usize {
        self.inner.running.lock().expect("running lock").len()
    }

    /// The runtime of one tunnel.
    pub fn runtime(&self, id: &str) -> Runtime {
        if let Some(r) = self.inner.running.lock().expect("running lock").get(id) {
            return runtime_of(&r.handle);
        }
        self.inner
            .ended
            .lock()
            .expect("ended lock")
            .get(id)
            .map(|(_, rt)| rt.clone())
            .unwrap_or_else(disconnected)
    }

    /// Every persistent tunnel (from the store) and every session tunnel, with runtime.
    pub async fn snapshot(&self) -> Vec<StatusItem> {
        let mut out = Vec::new();
        let store = self.inner.store.clone();
        let tunnels = match tokio::task::spawn_blocking(move || store.tunnels()).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::error!(error = format!("{e:#}"), "snapshot: reading definitions");
                Default::default()
            }
            Err(e) => {
                tracing::error!("snapshot: {e}");
                Default::default()
            }
        };
        for t in tunnels.iter() {
            let meta = Meta {
                name: t.fields.name.clone(),
                fields: t.fields.clone(),
                kind: TunnelKind::Persistent,
                session_id: None,
                session_name: None,
            };
            out.push(self.item(&t.id, &meta, self.runtime(&t.id)));
        }
        let running = self.inner.running.lock().expect("running lock");
        let mut session_items: Vec<StatusItem> = running
            .iter()
            .filter(|(_, r)| r.meta.kind == TunnelKind::Session)
            .map(|(id, r)| self.item(id, &r.meta, runtime_of(&r.handle)))
            .collect();
        session_items.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(session_items);
        out
    }

    /// Connects a saved session: its pooled transport, then a session tunnel per enabled
    /// forward (`session:<id>:<n>`, `Session forward :<port>`, no auto-reconnect).
    pub async fn connect_session(&self, id: &str) -> SupResult<()> {
        let store = self.inner.store.clone();
        let sid = id.to_string();
        let session = tokio::task::spawn_blocking(move || store.get_session(&sid))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))??;
        if self.is_session_connected(id) {
            return Err(SupervisorError::SessionAlreadyConnected);
        }
        let f = &session.fields;
        let hops = self
            .hops(
                &f.host,
                f.port,
                &f.profile_id,
                f.jump_host_id.as_deref(),
                f.jump_session_id.as_deref(),
                0,
            )
            .map_err(SupervisorError::Connect)?;
        let route = Route {
            hops,
            host_keys: self.host_keys(),
        };
        let lease = self.inner.pool.lease(&route).await.map_err(|e| {
            if let tunnel::TunnelError::HostKeyUnknown {
                host,
                port,
                key_type,
                fingerprint,
                public_key,
            } = &e
            {
                self.add_pending(&UntrustedKey {
                    host: host.clone(),
                    port: *port,
                    key_type: key_type.clone(),
                    fingerprint: fingerprint.clone(),
                    public_key: public_key.clone(),
                });
            }
            SupervisorError::Connect(e.to_string())
        })?;
        let transport = lease.transport().clone();
        self.inner
            .sessions
            .lock()
            .expect("sessions lock")
            .insert(id.to_string(), (f.name.clone(), lease));
        self.watch_session(id.to_string(), transport);
        for (n, fwd) in f.forwards.iter().enumerate().filter(|(_, fw)| fw.enabled) {
            let fields = TunnelFields {
                name: format!("Session forward :{}", fwd.local_port),
                host: f.host.clone(),
                port: f.port,
                profile_id: f.profile_id.clone(),
                jump_host_id: f.jump_host_id.clone(),
                jump_session_id: f.jump_session_id.clone(),
                forward_type: fwd.forward_type,
                local_port: fwd.local_port,
                bind_address: if fwd.bind_address.is_empty() {
                    "127.0.0.1".into()
                } else {
                    fwd.bind_address.clone()
                },
                remote_host: fwd.remote_host.clone(),
                remote_port: fwd.remote_port,
                auto_start: false,
                auto_reconnect: false,
                max_retries: 0,
            };
            let meta = Meta {
                name: fields.name.clone(),
                fields,
                kind: TunnelKind::Session,
                session_id: Some(id.to_string()),
                session_name: Some(f.name.clone()),
            };
            let tid = format!("session:{id}:{n}");
            let policy = RetryPolicy {
                auto_reconnect: false,
                max_retries: 0,
            };
            if let Err(e) = self.launch(&tid, meta, policy) {
                tracing::warn!(session = %id, "session forward {n}: {e}");
            }
        }
        let _ = self.inner.events.send(Event::Session(SessionEvent {
            id: id.to_string(),
            connected: true,
        }));
        Ok(())
    }

    /// A session whose SSH connection dies is no longer connected: its forwards have failed
    /// (they do not reconnect, as the reference says), and the session says so too.
    fn watch_session(&self, id: String, transport: Arc<tunnel::Transport>) {
        let sup = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = transport.closed() => {}
                _ = sup.inner.cancel.cancelled() => return,
            }
            let removed = {
                let mut sessions = sup.inner.sessions.lock().expect("sessions lock");
                let same = sessions
                    .get(&id)
                    .is_some_and(|(_, lease)| Arc::ptr_eq(lease.transport(), &transport));
                if same {
                    sessions.remove(&id)
                } else {
                    None
                }
            };
            if removed.is_some() {
                tracing::warn!(session = %id, "session connection lost");
                let _ = sup.inner.events.send(Event::Session(SessionEvent {
                    id,
                    connected: false,
                }));
            }
        });
    }

    /// Disconnects a session and stops its forwards (a disconnected one is fine).
    pub async fn disconnect_session(&self, id: &str) -> SupResult<()> {
        let store = self.inner.store.clone();
        let sid = id.to_string();
        tokio::task::spawn_blocking(move || store.get_session(&sid))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))??;
        self.disconnect_id(id).await;
        Ok(())
    }

    /// Stops a session's tunnels and releases its transport.
    async fn disconnect_id(&self, id: &str) {
        let ids: Vec<String> = self
            .inner
            .running
            .lock()
            .expect("running lock")
            .iter()
            .filter(|(_, r)| r.meta.session_id.as_deref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect();
        for tid in ids {
            let r = self
                .inner
                .running
                .lock()
                .expect("running lock")
                .remove(&tid);
            if let Some(r) = r {
                r.handle.stop().await;
            }
        }
        self.inner
            .ended
            .lock()
            .expect("ended lock")
            .retain(|k, _| !k.starts_with(&format!("session:{id}:")));
        let was = self
            .inner
            .sessions
            .lock()
            .expect("sessions lock")
            .remove(id);
        if was.is_some() {
            let _ = self.inner.events.send(Event::Session(SessionEvent {
                id: id.to_string(),
                connected: false,
            }));
        }
    }

    pub fn is_session_connected(&self, id: &str) -> bool {
        self.inner
            .sessions
            .lock()
            .expect("sessions lock")
            .contains_key(id)
    }

    /// Stops everything (agent shutdown).
    pub async fn shutdown(&self) {
        self.stop_all().await;
    }

    async fn blocking_get_tunnel(&self, id: &str) -> SupResult<Tunnel> {
        let store = self.inner.store.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || store.get_tunnel(&id))
            .await
            .map_err(|e| SupervisorError::Task(e.to_string()))?
            .map_err(SupervisorError::from)
    }
}

fn strip_brackets(h: &str) -> String {
    // "[127.0.0.1]:2222" → "127.0.0.1"
    if let Some(rest) = h.strip_prefix('[') {
        if let Some((host, _)) = rest.split_once(']') {
            return host.to_string();
        }
    }
    h.to_string()
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}
