//! `/tunnels` — the reference's tunnel endpoints, exactly.
//!
//! Owns: the handlers (list, create, get, replace, delete, start, stop, reconnect, status,
//! start-all, stop-all) and the response shape (definition + spec + runtime). Must not touch:
//! validation rules (model), SQL (store), runtime state (supervisor).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::model::{format_spec, Tunnel, TunnelInput};
use crate::supervisor::{Runtime, StatusItem};

/// A tunnel with its spec and runtime state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TunnelView {
    /// The saved tunnel.
    #[serde(flatten)]
    pub tunnel: Tunnel,
    /// Compact spec (`L :8443 → 10.0.0.5:443`); for a remote forward with `remote_port` 0,
    /// the allocated port once known.
    pub spec: String,
    /// Runtime state.
    #[serde(flatten)]
    pub runtime: Runtime,
}

/// The view of `t` with the supervisor's runtime.
pub fn view(state: &AppState, tunnel: Tunnel) -> TunnelView {
    let runtime = state.supervisor().runtime(&tunnel.id);
    let f = &tunnel.fields;
    let remote_port = match (f.remote_port, runtime.allocated_port) {
        (Some(0), Some(p)) => Some(p),
        (p, _) => p,
    };
    let spec = format_spec(
        f.forward_type,
        f.local_port,
        f.remote_host.as_deref(),
        remote_port,
    );
    TunnelView {
        tunnel,
        spec,
        runtime,
    }
}

async fn load(state: &AppState, id: String) -> Result<TunnelView, ApiError> {
    let t = state.db(move |s| s.get_tunnel(&id)).await?;
    Ok(view(state, t))
}

/// `{"started": n}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    /// Tunnels started.
    pub started: usize,
}

/// `{"stopped": n}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stopped {
    /// Tunnels stopped.
    pub stopped: usize,
}

/// List tunnels with runtime state.
#[utoipa::path(get, path = "/tunnels", tag = "tunnels",
    responses((status = 200, body = Vec<TunnelView>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<TunnelView>>, ApiError> {
    let all = state.db(|s| s.list_tunnels()).await?;
    Ok(Json(all.into_iter().map(|t| view(&state, t)).collect()))
}

/// Create a tunnel.
#[utoipa::path(post, path = "/tunnels", tag = "tunnels", request_body = TunnelInput,
    responses((status = 201, body = TunnelView), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TunnelInput>,
) -> Result<(StatusCode, Json<TunnelView>), ApiError> {
    let fields = input.validate()?;
    let t = state.db(move |s| s.create_tunnel(&fields)).await?;
    tracing::info!(tunnel_id = %t.id, name = %t.fields.name, "tunnel created");
    Ok((StatusCode::CREATED, Json(view(&state, t))))
}

/// One tunnel.
#[utoipa::path(get, path = "/tunnels/{id}", tag = "tunnels", params(("id" = String, Path)),
    responses((status = 200, body = TunnelView), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TunnelView>, ApiError> {
    Ok(Json(load(&state, id).await?))
}

/// Replace a tunnel; a running tunnel is restarted with the new definition.
#[utoipa::path(put, path = "/tunnels/{id}", tag = "tunnels", params(("id" = String, Path)),
    request_body = TunnelInput,
    responses((status = 200, body = TunnelView), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TunnelInput>,
) -> Result<Json<TunnelView>, ApiError> {
    let fields = input.validate()?;
    let id2 = id.clone();
    state.db(move |s| s.update_tunnel(&id2, &fields)).await?;
    state.supervisor().restart_if_running(&id).await?;
    Ok(Json(load(&state, id).await?))
}

/// Stop then delete a tunnel.
#[utoipa::path(delete, path = "/tunnels/{id}", tag = "tunnels", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.supervisor().stop(&id).await?;
    let id2 = id.clone();
    state.db(move |s| s.delete_tunnel(&id2)).await?;
    tracing::info!(tunnel_id = %id, "tunnel deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Start a tunnel (409 `Tunnel is already running`).
#[utoipa::path(post, path = "/tunnels/{id}/start", tag = "tunnels", params(("id" = String, Path)),
    responses((status = 200, body = TunnelView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TunnelView>, ApiError> {
    state.supervisor().start(&id).await?;
    Ok(Json(load(&state, id).await?))
}

/// Stop a tunnel.
#[utoipa::path(post, path = "/tunnels/{id}/stop", tag = "tunnels", params(("id" = String, Path)),
    responses((status = 200, body = TunnelView), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TunnelView>, ApiError> {
    state.supervisor().stop(&id).await?;
    Ok(Json(load(&state, id).await?))
}

/// Force a fresh connection now (manual one-shot; resets `retry_count`).
#[utoipa::path(post, path = "/tunnels/{id}/reconnect", tag = "tunnels",
    params(("id" = String, Path)),
    responses((status = 200, body = TunnelView), (status = 404, body = ErrorBody)))]
pub async fn reconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TunnelView>, ApiError> {
    state.supervisor().reconnect(&id).await?;
    Ok(Json(load(&state, id).await?))
}

/// Runtime state only, persistent and session tunnels (the popover polls this).
#[utoipa::path(get, path = "/tunnels/status", tag = "tunnels",
    responses((status = 200, body = Vec<StatusItem>)))]
pub async fn status(State(state): State<AppState>) -> Json<Vec<StatusItem>> {
    Json(state.supervisor().snapshot().await)
}

/// Start every `auto_start` tunnel.
#[utoipa::path(post, path = "/tunnels/start-all", tag = "tunnels",
    responses((status = 200, body = Started)))]
pub async fn start_all(State(state): State<AppState>) -> Json<Started> {
    Json(Started {
        started: state.supervisor().start_auto().await,
    })
}

/// Stop every running tunnel.
#[utoipa::path(post, path = "/tunnels/stop-all", tag = "tunnels",
    responses((status = 200, body = Stopped)))]
pub async fn stop_all(State(state): State<AppState>) -> Json<Stopped> {
    Json(Stopped {
        stopped: state.supervisor().stop_all().await,
    })
}
