//! The reconnect engine: keeps one set of forwards up over one pooled route.
//!
//! Lifecycle (the reference's): `connecting` → `connected` once every listener is bound, every
//! remote forward accepted and the transport authenticated; a lost or failed connection →
//! `reconnecting` with the backoff schedule (1, 2, 4 … 60 s) up to `max_retries` (0 =
//! unlimited) → `failed` with the last error kept. Listeners stay bound while reconnecting, so
//! clients wait instead of being refused. Errors that retrying cannot fix (auth, host key,
//! local bind) fail at once; with `auto_reconnect` off a lost connection fails with
//! `Connection lost (auto_reconnect disabled)`.
//!
//! The keeper task is the only writer of its [`State`]; everyone else reads the watch channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Route;
use crate::error::TunnelError;
use crate::forward::{self, bind::bind_loopback, Counters, Forward};
use crate::pool::{Lease, Pool};
use crate::ssh::Transport;

/// The reference's status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
    Failed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Disconnected => "disconnected",
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Failed => "failed",
        }
    }
}

/// A host key that stopped a connection because it is not trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedKey {
    pub host: String,
    pub port: u16,
    pub key_type: String,
    pub fingerprint: String,
    pub public_key: String,
}

/// What a keeper reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    /// Reconnect attempts since the last successful connection.
    pub retry_count: u32,
    pub last_error: Option<String>,
    /// When the current connection came up (for uptime).
    pub connected_since: Option<Instant>,
    /// Delay before the next attempt, while reconnecting.
    pub next_retry_in: Option<Duration>,
    /// Per forward, the port the server listens on for remote forwards.
    pub allocated_ports: Vec<Option<u16>>,
    /// Set when an untrusted host key stopped the connection.
    pub untrusted_key: Option<UntrustedKey>,
    /// Connection attempts made so far (for reconnect metrics).
    pub reconnects: u64,
}

impl State {
    fn new(status: Status, n: usize) -> State {
        State {
            status,
            retry_count: 0,
            last_error: None,
            connected_since: None,
            next_retry_in: None,
            allocated_ports: vec![None; n],
            untrusted_key: None,
            reconnects: 0,
        }
    }

    pub fn uptime(&self) -> Option<Duration> {
        match self.status {
            Status::Connected => self.connected_since.map(|t| t.elapsed()),
            _ => None,
        }
    }
}

/// Reconnect policy, as the reference's tunnel fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub auto_reconnect: bool,
    /// 0 = unlimited.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            auto_reconnect: true,
            max_retries: 5,
        }
    }
}

/// What a keeper runs.
#[derive(Debug, Clone)]
pub struct Keeper {
    pub route: Route,
    pub forwards: Vec<Forward>,
    pub policy: RetryPolicy,
}

enum Command {
    Reconnect,
}

/// A running keeper.
pub struct KeeperHandle {
    state: watch::Receiver<State>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl KeeperHandle {
    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Forces a fresh attempt now (resets the retry count) if the keeper is still running.
    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }

    /// True once the keeper gave up (failed) or was stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops every forward, closes listeners and waits for the task to end.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }

    /// Waits until `pred` holds for the state (or the keeper ends).
    pub async fn wait_for(&self, pred: impl Fn(&State) -> bool) -> State {
        let mut rx = self.state.clone();
        loop {
            {
                let s = rx.borrow_and_update();
                if pred(&s) {
                    return s.clone();
                }
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone();
            }
        }
    }
}

impl Keeper {
    /// Starts the keeper on the current runtime. `cancel` stops it (a child token is used).
    pub fn spawn(self, pool: Pool, cancel: &CancellationToken) -> KeeperHandle {
        let n = self.forwards.len();
        let (state_tx, state_rx) = watch::channel(State::new(Status::Connecting, n));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let cancel = cancel.child_token();
        let run = Run {
            keeper: self,
            pool,
            state: state_tx,
            counters: counters.clone(),
            cancel: cancel.clone(),
            commands: cmd_rx,
        };
        let task = tokio::spawn(run.run());
        KeeperHandle {
            state: state_rx,
            counters,
            cancel,
            commands: cmd_tx,
            task,
        }
    }
}

struct Run {
    keeper: Keeper,
    pool: Pool,
    state: watch::Sender<State>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
    commands: mpsc::UnboundedReceiver<Command>,
}

enum Lost {
    Cancelled,
    Reconnect,
    Closed(String),
}

impl Run {
    fn update(&self, f: impl FnOnce(&mut State)) {
        self.state.send_modify(f);
    }

    async fn run(mut self) {
        let route_label = self.keeper.route.target().label();
        let span = tracing::info_span!("tunnel", target = %route_label);
        let _enter = span.enter();
        drop(_enter);

        // 1. Bind every local listener before anything can report success.
        let listeners = match self.bind_all() {
            Ok(l) => l,
            Err(e) => {
                self.fail(&e.to_string(), None);
                return;
            }
        };
        let (slot_tx, slot_rx) = watch::channel::<Option<Arc<Transport>>>(None);
        let listen_cancel = self.cancel.child_token();
        let tracker = TaskTracker::new();
        let wait = self.pool.options().wait_for_transport;
        for (forward, listener) in self.keeper.forwards.iter().zip(listeners) {
            let Some(listener) = listener else { continue };
            let counters = self.counters.clone();
            let slot = slot_rx.clone();
            let cancel = listen_cancel.clone();
            match forward.clone() {
                Forward::Local {
                    host, host_port, ..
                } => {
                    tracker.spawn(forward::local::serve(
                        listener, slot, host, host_port, counters, wait, cancel,
                    ));
                }
                Forward::Dynamic { .. } => {
                    tracker.spawn(forward::socks::serve(
                        listener, slot, counters, wait, cancel,
                    ));
                }
                Forward::Remote { .. } => {}
            }
        }

        let mut attempt: u32 = 0;
        loop {
            self.update(|s| s.reconnects += 1);
            let leased = tokio::select! {
                _ = self.cancel.cancelled() => break,
                l = self.pool.lease(&self.keeper.route) => l,
            };
            let result = match leased {
                Ok(lease) => self.connected(lease, &slot_tx).await,
                Err(e) => Err(e),
            };
            let error = match result {
                Ok(Lost::Cancelled) => break,
                Ok(Lost::Reconnect) => {
                    attempt = 0;
                    self.update(|s| {
                        s.status = Status::Connecting;
                        s.retry_count = 0;
                        s.connected_since = None;
                    });
                    continue;
                }
                Ok(Lost::Closed(reason)) => {
                    attempt = 0;
                    if !self.keeper.policy.auto_reconnect {
                        tracing::warn!("{reason}; auto_reconnect is off");
                        listen_cancel.cancel();
                        tracker.close();
                        tracker.wait().await;
                        self.fail("Connection lost (auto_reconnect disabled)", None);
                        return;
                    }
                    reason
                }
                Err(e) => {
                    let untrusted = untrusted_key(&e);
                    if e.is_permanent() || !self.keeper.policy.auto_reconnect {
                        listen_cancel.cancel();
                        tracker.close();
                        tracker.wait().await;
                        self.fail(&e.to_string(), untrusted);
                        return;
                    }
                    e.to_string()
                }
            };
            attempt += 1;
            let max = self.keeper.policy.max_retries;
            if max > 0 && attempt > max {
                listen_cancel.cancel();
                tracker.close();
                tracker.wait().await;
                self.fail(&error, None);
                return;
            }
            let delay = proto::backoff::delay(attempt);
            tracing::info!(
                retry = attempt,
                "reconnecting in {}s: {error}",
                delay.as_secs()
            );
            self.update(|s| {
                s.status = Status::Reconnecting;
                s.retry_count = attempt;
                s.last_error = Some(error.clone());
                s.connected_since = None;
                s.next_retry_in = Some(delay);
            });
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
                Some(Command::Reconnect) = self.commands.recv() => { attempt = 0; }
            }
        }
        // Stopped.
        listen_cancel.cancel();
        tracker.close();
        tracker.wait().await;
        self.update(|s| {
            s.status = Status::Disconnected;
            s.connected_since = None;
            s.next_retry_in = None;
            s.retry_count = 0;
        });
    }

    fn fail(&self, error: &str, untrusted: Option<UntrustedKey>) {
        tracing::warn!("tunnel failed: {error}");
        self.update(|s| {
            s.status = Status::Failed;
            s.last_error = Some(error.to_string());
            s.connected_since = None;
            s.next_retry_in = None;
            s.untrusted_key = untrusted;
        });
    }

    fn bind_all(&self) -> Result<Vec<Option<TcpListener>>, TunnelError> {
        let mut out = Vec::new();
        for f in &self.keeper.forwards {
            out.push(match f {
                Forward::Local { bind, port, .. } | Forward::Dynamic { bind, port } => {
                    Some(bind_loopback(bind, *port)?)
                }
                Forward::Remote { .. } => None,
            });
        }
        Ok(out)
    }

    /// Runs one connected period: remote forwards requested, slot filled, then waits for the
    /// end of the transport, a stop, or a manual reconnect.
    async fn connected(
        &mut self,
        lease: Lease,
        slot: &watch::Sender<Option<Arc<Transport>>>,
    ) -> Result<Lost, TunnelError> {
        let transport = lease.transport().clone();
        let remote_cancel = self.cancel.child_token();
        let remotes = TaskTracker::new();
        let mut allocated = vec![None; self.keeper.forwards.len()];
        let mut requested: Vec<(String, u16)> = Vec::new();
        for (i, f) in self.keeper.forwards.iter().enumerate() {
            if let Forward::Remote {
                listen_host,
                listen_port,
                target_host,
                target_port,
            } = f
            {
                let r = tokio::select! {
                    _ = self.cancel.cancelled() => return Ok(Lost::Cancelled),
                    r = forward::remote::request(&transport, listen_host, *listen_port) => r,
                };
                let (port, incoming) = match r {
                    Ok(r) => r,
                    Err(e) => {
                        for (h, p) in &requested {
                            transport.cancel_tcpip_forward(h, *p).await;
                        }
                        return Err(e);
                    }
                };
                allocated[i] = Some(port);
                requested.push((listen_host.clone(), port));
                remotes.spawn(forward::remote::serve(
                    transport.clone(),
                    incoming,
                    target_host.clone(),
                    *target_port,
                    self.counters.clone(),
                    remote_cancel.clone(),
                ));
            }
        }
        slot.send_replace(Some(transport.clone()));
        tracing::info!("connected");
        self.update(|s| {
            s.status = Status::Connected;
            s.retry_count = 0;
            s.last_error = None;
            s.connected_since = Some(Instant::now());
            s.next_retry_in = None;
            s.allocated_ports = allocated;
            s.untrusted_key = None;
        });
        let outcome = tokio::select! {
            _ = self.cancel.cancelled() => Lost::Cancelled,
            _ = transport.closed() => Lost::Closed(match transport.death_reason() {
                Some(why) => format!("SSH connection to {} lost: {why}", transport.target()),
                None => format!("SSH connection to {} lost", transport.target()),
            }),
            Some(Command::Reconnect) = self.commands.recv() => Lost::Reconnect,
        };
        slot.send_replace(None);
        if !transport.is_closed() {
            for (h, p) in &requested {
                transport.cancel_tcpip_forward(h, *p).await;
            }
        }
        remote_cancel.cancel();
        remotes.close();
        remotes.wait().await;
        drop(lease);
        Ok(outcome)
    }
}

fn untrusted_key(e: &TunnelError) -> Option<UntrustedKey> {
    match e {
        TunnelError::HostKeyUnknown {
            host,
            port,
            key_type,
            fingerprint,
            public_key,
        } => Some(UntrustedKey {
            host: host.clone(),
            port: *port,
            key_type: key_type.clone(),
            fingerprint: fingerprint.clone(),
            public_key: public_key.clone(),
        }),
        _ => None,
    }
}
