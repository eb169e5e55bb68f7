//! `/profiles` — credential profiles. Secrets are write-only: responses say `has_password` /
//! `has_passphrase`, never the value.
//!
//! Owns: the profile handlers. Must not touch: sealing (store), validation (model).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::model::{Profile, ProfileInput};

/// List profiles.
#[utoipa::path(get, path = "/profiles", tag = "profiles",
    responses((status = 200, body = Vec<Profile>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Profile>>, ApiError> {
    Ok(Json(state.db(|s| s.list_profiles()).await?))
}

/// Create a profile.
#[utoipa::path(post, path = "/profiles", tag = "profiles", request_body = ProfileInput,
    responses((status = 201, body = Profile), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    let f = input.validate()?;
    let p = state.db(move |s| s.create_profile(&f)).await?;
    tracing::info!(profile_id = %p.id, name = %p.name, "profile created");
    Ok((StatusCode::CREATED, Json(p)))
}

/// One profile.
#[utoipa::path(get, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path)),
    responses((status = 200, body = Profile), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(state.db(move |s| s.get_profile(&id)).await?))
}

/// Replace a profile; absent/null secrets are kept, `""` clears them.
#[utoipa::path(put, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path)),
    request_body = ProfileInput,
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Json<Profile>, ApiError> {
    let f = input.validate()?;
    Ok(Json(state.db(move |s| s.update_profile(&id, &f)).await?))
}

/// Delete a profile (409 naming its users if it is in use).
#[utoipa::path(delete, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.db(move |s| s.delete_profile(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
