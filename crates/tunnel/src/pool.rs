//! The connection pool: one transport per route key (hops, users, credentials' owner), leased
//! by reference and closed when the last lease drops. Concurrent leases for one key share one
//! connection attempt; a dead transport is never handed out again.
//!
//! Locks: the key map is a `std::sync::Mutex` held only for map updates, never across an await;
//! each key has its own async mutex held while that key connects, so a slow or black-holed
//! host only delays the tunnels that need that very connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::config::{Route, SshOptions};
use crate::error::TunnelError;
use crate::ssh::Transport;

struct Entry {
    key: String,
    /// The key's transport; this async mutex is held while the key connects.
    current: tokio::sync::Mutex<Option<Arc<Transport>>>,
    /// Number of leases; changed only while the pool's map lock is held.
    leases: AtomicUsize,
}

struct Inner {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    opts: SshOptions,
}

/// A shared pool of SSH transports. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// A reference to a pooled transport; the transport closes when its last lease drops.
pub struct Lease {
    transport: Arc<Transport>,
    _reservation: Reservation,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("transport", &self.transport)
            .finish()
    }
}

impl Lease {
    pub fn transport(&self) -> &Arc<Transport> {
        &self.transport
    }
}

impl Pool {
    pub fn new(opts: SshOptions) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                entries: Mutex::new(HashMap::new()),
                opts,
            }),
        }
    }

    pub fn options(&self) -> &SshOptions {
        &self.inner.opts
    }

    /// Number of keys with at least one lease (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner.entries.lock().expect("pool lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Leases the live transport for `route`, connecting it if there is none (or it died).
    pub async fn lease(&self, route: &Route) -> Result<Lease, TunnelError> {
        let key = route.pool_key();
        let entry = {
            let mut map = self.inner.entries.lock().expect("pool lock");
            let entry = map
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        key,
                        current: tokio::sync::Mutex::new(None),
                        leases: AtomicUsize::new(0),
                    })
                })
                .clone();
            entry.leases.fetch_add(1, Ordering::SeqCst);
            entry
        };
        // Gives the lease count back if connecting fails or this future is dropped.
        let reservation = Reservation {
            entry: entry.clone(),
            pool: Arc::downgrade(&self.inner),
        };
        let transport = {
            let mut current = entry.current.lock().await;
            match current.as_ref() {
                Some(t) if !t.is_closed() => t.clone(),
                _ => {
                    *current = None;
                    let t = Transport::connect(route, &self.inner.opts).await?;
                    *current = Some(t.clone());
                    t
                }
            }
        };
        Ok(Lease {
            transport,
            _reservation: reservation,
        })
    }
}

struct Reservation {
    entry: Arc<Entry>,
    pool: Weak<Inner>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(inner) = self.pool.upgrade() else {
            return;
        };
        let last = {
            let mut map = inner.entries.lock().expect("pool lock");
            if self.entry.leases.fetch_sub(1, Ordering::SeqCst) == 1 {
                map.remove(&self.entry.key);
                true
            } else {
                false
            }
        };
        if last {
            // Nobody uses this connection any more: say goodbye to the server.
            let transport = self
                .entry
                .current
                .try_lock()
                .ok()
                .and_then(|mut c| c.take());
            if let (Some(t), Ok(rt)) = (transport, tokio::runtime::Handle::try_current()) {
                rt.spawn(async move { t.disconnect().await });
            }
        }
    }
}
