//! Pure logic for portwarden: forward specs, the loopback rule, the backoff schedule, uptime
//! text, SOCKS/HTTP CONNECT negotiation and known_hosts. No I/O, no async, no clocks.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod known_hosts;
pub mod loopback;
pub mod socks;
pub mod spec;
pub mod uptime;
