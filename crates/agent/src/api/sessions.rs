//! `/sessions` — saved connections with port forwards, and connect/disconnect.
//!
//! Owns: the session handlers and filling `connected` from the supervisor. Must not touch:
//! session tunnels themselves (the supervisor starts and stops them).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::model::{Session, SessionInput};

fn with_connected(state: &AppState, mut s: Session) -> Session {
    s.connected = state.supervisor().is_session_connected(&s.id);
    s
}

async fn load(state: &AppState, id: String) -> Result<Session, ApiError> {
    let s = state.db(move |st| st.get_session(&id)).await?;
    Ok(with_connected(state, s))
}

/// List sessions.
#[utoipa::path(get, path = "/sessions", tag = "sessions",
    responses((status = 200, body = Vec<Session>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Session>>, ApiError> {
    let all = state.db(|s| s.list_sessions()).await?;
    Ok(Json(
        all.into_iter().map(|s| with_connected(&state, s)).collect(),
    ))
}

/// Create a session.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = SessionInput,
    responses((status = 201, body = Session), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SessionInput>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let f = input.validate()?;
    let s = state.db(move |st| st.create_session(&f)).await?;
    Ok((StatusCode::CREATED, Json(with_connected(&state, s))))
}

/// One session.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(load(&state, id).await?))
}

/// Replace a session (its forwards change on the next connect).
#[utoipa::path(put, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    request_body = SessionInput,
    responses((status = 200, body = Session), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SessionInput>,
) -> Result<Json<Session>, ApiError> {
    let f = input.validate()?;
    let s = state.db(move |st| st.update_session(&id, &f)).await?;
    Ok(Json(with_connected(&state, s)))
}

/// Disconnect then delete a session (409 naming its users if it is another's jump).
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id2 = id.clone();
    state.db(move |st| st.check_deletable_session(&id2)).await?;
    state.supervisor().disconnect_session(&id).await?;
    state.db(move |st| st.delete_session(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect a session and start its enabled forwards.
#[utoipa::path(post, path = "/sessions/{id}/connect", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    state.supervisor().connect_session(&id).await?;
    Ok(Json(load(&state, id).await?))
}

/// Disconnect a session and stop its forwards.
#[utoipa::path(post, path = "/sessions/{id}/disconnect", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody)))]
pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    state.supervisor().disconnect_session(&id).await?;
    Ok(Json(load(&state, id).await?))
}
