//! `/jump-hosts` — hops for ProxyJump chains (cycles are refused with the chain named).
//!
//! Owns: the jump host handlers. Must not touch: cycle detection (store), validation (model).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::model::{JumpHost, JumpHostInput};

/// List jump hosts.
#[utoipa::path(get, path = "/jump-hosts", tag = "jump-hosts",
    responses((status = 200, body = Vec<JumpHost>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<JumpHost>>, ApiError> {
    Ok(Json(state.db(|s| s.list_jump_hosts()).await?))
}

/// Create a jump host.
#[utoipa::path(post, path = "/jump-hosts", tag = "jump-hosts", request_body = JumpHostInput,
    responses((status = 201, body = JumpHost), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<JumpHostInput>,
) -> Result<(StatusCode, Json<JumpHost>), ApiError> {
    let f = input.validate()?;
    let j = state.db(move |s| s.create_jump_host(&f)).await?;
    Ok((StatusCode::CREATED, Json(j)))
}

/// One jump host.
#[utoipa::path(get, path = "/jump-hosts/{id}", tag = "jump-hosts", params(("id" = String, Path)),
    responses((status = 200, body = JumpHost), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JumpHost>, ApiError> {
    Ok(Json(state.db(move |s| s.get_jump_host(&id)).await?))
}

/// Replace a jump host (400 if the chain would loop).
#[utoipa::path(put, path = "/jump-hosts/{id}", tag = "jump-hosts", params(("id" = String, Path)),
    request_body = JumpHostInput,
    responses((status = 200, body = JumpHost), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<JumpHostInput>,
) -> Result<Json<JumpHost>, ApiError> {
    let f = input.validate()?;
    Ok(Json(state.db(move |s| s.update_jump_host(&id, &f)).await?))
}

/// Delete a jump host (409 naming its users if it is in use).
#[utoipa::path(delete, path = "/jump-hosts/{id}", tag = "jump-hosts",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.db(move |s| s.delete_jump_host(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
