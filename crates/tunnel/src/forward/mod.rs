//! The three forward kinds and what they share: the forward description, live counters, the
//! slot through which listeners get the current transport, and the byte pump.
//!
//! Listeners are bound by the keeper before a tunnel reports `connected`, and stay bound while
//! it reconnects; each client connection borrows whatever transport is current.

pub mod bind;
pub mod local;
pub mod pipe;
pub mod remote;
pub mod socks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::TunnelError;
use crate::ssh::Transport;

/// One forward, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// -L: listen on `bind:port`, carry each connection to `host:host_port` from the server.
    Local {
        bind: String,
        port: u16,
        host: String,
        host_port: u16,
    },
    /// -D: listen on `bind:port` and speak SOCKS5/4/4a/HTTP CONNECT.
    Dynamic { bind: String, port: u16 },
    /// -R: the server listens on `listen_host:listen_port` (0 = it picks); connections come
    /// back to `target_host:target_port` on this machine.
    Remote {
        listen_host: String,
        listen_port: u16,
        target_host: String,
        target_port: u16,
    },
}

impl Forward {
    /// The OpenSSH-style flag text, for logs and status lines.
    pub fn describe(&self) -> String {
        match self {
            Forward::Local {
                bind,
                port,
                host,
                host_port,
            } => format!("-L {}:{port}:{host}:{host_port}", bracket(bind)),
            Forward::Dynamic { bind, port } => format!("-D {}:{port}", bracket(bind)),
            Forward::Remote {
                listen_host,
                listen_port,
                target_host,
                target_port,
            } => format!(
                "-R {}:{listen_port}:{}:{target_port}",
                bracket(listen_host),
                bracket(target_host)
            ),
        }
    }
}

fn bracket(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// Live counters of one tunnel. Bytes count only after the write to the other side succeeded.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes delivered from the SSH side to local clients.
    pub bytes_in: AtomicU64,
    /// Bytes delivered from local clients to the SSH side.
    pub bytes_out: AtomicU64,
    pub active: AtomicU64,
    pub total: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub active: u64,
    pub total: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
        }
    }

    /// Counts one connection as active until the guard drops.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }
}

/// Decrements `active` on drop.
pub struct ConnectionGuard(Arc<Counters>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where listeners find the current transport; `None` while (re)connecting.
pub type TransportSlot = watch::Receiver<Option<Arc<Transport>>>;

/// Waits (up to `limit`) for a live transport in the slot: while a tunnel reconnects, new
/// client connections wait for it instead of being refused.
pub async fn current_transport(
    slot: &mut TransportSlot,
    limit: Duration,
    what: &str,
) -> Result<Arc<Transport>, TunnelError> {
    let wait = async {
        loop {
            if let Some(t) = slot.borrow_and_update().as_ref() {
                if !t.is_closed() {
                    return Some(t.clone());
                }
            }
            if slot.changed().await.is_err() {
                return None;
            }
        }
    };
    match tokio::time::timeout(limit, wait).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(TunnelError::Closed {
            target: what.to_string(),
        }),
        Err(_) => Err(TunnelError::Timeout {
            what: "waiting for the SSH connection",
            target: what.to_string(),
            secs: limit.as_secs(),
        }),
    }
}

/// Accepts on `listener` until `cancel` fires and runs `serve(stream, peer, token)` for each
/// client as a tracked task whose token is a child of `cancel`; returns once every client task
/// has ended. A failed accept (e.g. out of file descriptors) is logged and retried shortly.
///
/// After each accept the loop lets the scheduler run once before accepting again: the next
/// accept usually finds nothing (one wasted system call), and the client task just spawned
/// can send its channel open first. Side by side (connect → 1-byte echo → close, 40 pairs of
/// 1,000 connections) setup p50 was 1.5 % lower.
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    kind: &'static str,
    cancel: CancellationToken,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let span = tracing::debug_span!("conn", kind, %peer);
        tasks.spawn(serve(stream, peer, cancel.child_token()).instrument(span));
        tokio::task::yield_now().await;
    }
    tasks.close();
    tasks.wait().await;
}
