//! The portwarden tunnel engine: SSH transports and the forwards that run over them.
//!
//! This crate owns everything that touches the network for a tunnel — connecting and
//! authenticating (`ssh`), verifying host keys (`hostkey`), chaining jump hosts, pooling
//! transports (`pool`), detecting their death (`probe` and the transport's own close signal),
//! and the three forward kinds (`forward::local`, `forward::socks`, `forward::remote`), plus the
//! reconnect engine that keeps a set of forwards up (`keeper`).
//!
//! It knows nothing of ids, profiles, HTTP, SQL or JSON: callers hand it a resolved [`Route`]
//! and get live forwards and state changes back. Pure parsing lives in the `proto` crate.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod forward;
pub mod hostkey;
pub mod keeper;
pub mod pool;
pub mod secret;
mod socket;
pub mod ssh;

pub use config::{Credentials, Hop, HostKeyPolicy, HostKeys, KeyFile, Route, SshOptions};
pub use error::TunnelError;
pub use forward::{Counters, CountersSnapshot, Forward};
pub use keeper::{Keeper, KeeperHandle, RetryPolicy, State, Status};
pub use pool::{Lease, Pool};
pub use secret::Secret;
pub use ssh::Transport;
