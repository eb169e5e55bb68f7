//! `/known-hosts` — trusted host keys (the agent's file and the user's `~/.ssh/known_hosts`),
//! keys waiting for trust, trusting one, and forgetting a host.
//!
//! Owns: listing both files (parsed by `proto::known_hosts`) and removing a host's lines from
//! the agent's file (atomically replaced). Must not touch: the user's `~/.ssh/known_hosts`
//! (read only, never written) or pending keys (the supervisor's; trusting goes through it).

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use proto::known_hosts::{remove_host, KnownHosts};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiQuery;
use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::supervisor::PendingHostKey;

/// Where a trusted key is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The agent's own known_hosts (in the data dir).
    Agent,
    /// The user's `~/.ssh/known_hosts` (read only).
    User,
}

/// A trusted key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrustedKey {
    /// Host as filed (the pattern list or hashed name when it is not a single host).
    pub host: String,
    /// Port (22 unless filed as `[host]:port`).
    pub port: u16,
    /// e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// Which file.
    pub source: KeySource,
}

/// `GET /known-hosts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KnownHostsList {
    /// Trusted keys, agent's first.
    pub trusted: Vec<TrustedKey>,
    /// Keys seen but not trusted.
    pub pending: Vec<PendingHostKey>,
}

/// Body of `POST /known-hosts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustRequest {
    /// Host of the pending key.
    pub host: String,
    /// Port of the pending key (default 22).
    pub port: Option<u16>,
    /// Its fingerprint (`SHA256:…`), as shown in the pending list / `last_error`.
    pub fingerprint: String,
}

/// Query of `DELETE /known-hosts`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForgetQuery {
    /// Host to forget.
    pub host: String,
    /// Port (default 22).
    pub port: Option<u16>,
}

fn user_known_hosts() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".ssh/known_hosts"))
}

fn split_host(hosts: &str) -> (String, u16) {
    if !hosts.contains(',') {
        if let Some(rest) = hosts.strip_prefix('[') {
            if let Some((h, p)) = rest.split_once("]:") {
                if let Ok(port) = p.parse() {
                    return (h.to_string(), port);
                }
            }
        }
    }
    (hosts.to_string(), 22)
}

fn read_entries(path: &Path, source: KeySource) -> Vec<TrustedKey> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read known_hosts");
            return Vec::new();
        }
    };
    let (kh, _warnings) = KnownHosts::parse(&text);
    kh.entries()
        .into_iter()
        .filter(|e| e.marker.is_none())
        .map(|e| {
            let (host, port) = split_host(&e.hosts);
            TrustedKey {
                host,
                port,
                key_type: e.key_type,
                fingerprint: e.fingerprint,
                source,
            }
        })
        .collect()
}

/// Removes `host`:`port` lines from the agent's file; returns how many were removed.
pub fn forget_in_file(path: &Path, host: &str, port: u16) -> std::io::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let (new_text, removed) = remove_host(&text, host, port);
    if removed > 0 {
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(new_text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
    }
    Ok(removed)
}

async fn listing(state: &AppState) -> Result<KnownHostsList, ApiError> {
    let agent_path = state.data_dir().known_hosts_path();
    let mut trusted = tokio::task::spawn_blocking(move || {
        let mut v = read_entries(&agent_path, KeySource::Agent);
        if let Some(u) = user_known_hosts() {
            v.extend(read_entries(&u, KeySource::User));
        }
        v
    })
    .await?;
    trusted.sort_by_key(|k| k.source == KeySource::User);
    Ok(KnownHostsList {
        trusted,
        pending: state.supervisor().pending_host_keys(),
    })
}

/// Trusted and pending host keys.
#[utoipa::path(get, path = "/known-hosts", tag = "known-hosts",
    responses((status = 200, body = KnownHostsList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<KnownHostsList>, ApiError> {
    Ok(Json(listing(&state).await?))
}

/// Trust a pending key (written to the agent's known_hosts).
#[utoipa::path(post, path = "/known-hosts", tag = "known-hosts", request_body = TrustRequest,
    responses((status = 200, body = KnownHostsList), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn trust(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TrustRequest>,
) -> Result<Json<KnownHostsList>, ApiError> {
    let host = req.host.trim();
    if host.is_empty() {
        return Err(ApiError::BadRequest("host is required".into()));
    }
    let fingerprint = req.fingerprint.trim();
    if fingerprint.is_empty() {
        return Err(ApiError::BadRequest("fingerprint is required".into()));
    }
    state
        .supervisor()
        .trust_pending(host, req.port.unwrap_or(22), fingerprint)
        .await?;
    Ok(Json(listing(&state).await?))
}

/// Forget the agent's keys for a host (the user's `~/.ssh/known_hosts` is never written).
#[utoipa::path(delete, path = "/known-hosts", tag = "known-hosts", params(ForgetQuery),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn forget(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ForgetQuery>,
) -> Result<StatusCode, ApiError> {
    let path = state.data_dir().known_hosts_path();
    let port = q.port.unwrap_or(22);
    let host = q.host.clone();
    let removed = tokio::task::spawn_blocking(move || forget_in_file(&path, &host, port))
        .await?
        .map_err(|e| ApiError::internal(&e))?;
    if removed == 0 {
        return Err(ApiError::NotFound(format!(
            "No key for {}:{port} in the agent's known_hosts",
            q.host
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_split() {
        assert_eq!(split_host("[127.0.0.1]:2222"), ("127.0.0.1".into(), 2222));
        assert_eq!(split_host("bastion"), ("bastion".into(), 22));
        assert_eq!(split_host("a,b"), ("a,b".into(), 22));
    }
}
