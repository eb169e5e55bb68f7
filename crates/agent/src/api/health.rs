//! `GET /health` (no auth) and `GET /openapi.json`.
//!
//! Owns: those two handlers. Must not touch: anything else.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// `{"status":"ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness; needs no auth.
#[utoipa::path(get, path = "/health", tag = "agent", security(),
    responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

static DOC: LazyLock<String> = LazyLock::new(|| {
    super::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "agent",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOC.as_str())
}
