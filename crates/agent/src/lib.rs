//! The portwarden agent: data dir, secrets, model, SQLite store, supervisor and REST API.
#![forbid(unsafe_code)]

pub mod datadir;
pub mod model;
pub mod secrets;
pub mod store;
pub mod supervisor;
