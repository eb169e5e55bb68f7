//! Test harness for portwarden's integration tests: real OpenSSH `sshd` and `ssh-agent`
//! processes on free loopback ports/sockets with generated keys, tokio echo servers for the far
//! side of forwards, and small polling helpers.
//!
//! Everything here starts real processes and stops them on `Drop`; nothing uses fixed ports or
//! sleeps to wait for start-up (readiness is polled with a deadline). This crate owns only test
//! scaffolding: it must not depend on (or know about) portwarden's own crates.
#![forbid(unsafe_code)]

mod agent;
mod keys;
mod net;
mod password_server;
mod proc;
mod sshd;
mod wait;

pub use agent::SshAgent;
pub use keys::{generate_key, KeyFormat, KeyKind};
pub use net::{echo_server, free_port, raise_nofile_limit, refused_addr, sink_server};
pub use password_server::{PasswordServer, PASSWORD, PASSWORD_USER};
pub use sshd::{Sshd, SshdOptions};
pub use wait::wait_until;
