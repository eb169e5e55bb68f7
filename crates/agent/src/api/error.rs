//! The API's one error type and the JSON/query extractors that map rejections into it.
//!
//! Owns: turning every failure into a status and `{"error": "<message>"}` (400 validation and
//! malformed bodies, 401, 403, 404, 409, 500 with a generic body and the cause logged with
//! `{:#}`). Must not touch: business rules (the model's, store's and supervisor's).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::ValidationError;
use crate::store::StoreError;
use crate::supervisor::SupervisorError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for the user.
    pub error: String,
}

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request breaks a rule or its body cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong token / cookie.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: Host or Origin refused.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown id or path.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 502: an SSH server on the way could not be reached or refused us; the message says why.
    #[error("{0}")]
    BadGateway(String),
    /// 500: the cause is logged, the client sees `internal error`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 500 whose cause (with its chain) is logged.
    pub fn internal(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut s = e.to_string();
        let mut src = e.source();
        while let Some(c) = src {
            s.push_str(": ");
            s.push_str(&c.to_string());
            src = c.source();
        }
        ApiError::Internal(s)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "request failed");
                "internal error".to_string()
            }
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::BadGateway(m) => m,
        };
        (status, axum::Json(ErrorBody { error: message })).into_response()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadRequest(e.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Invalid(v) => ApiError::BadRequest(v.0),
            StoreError::InUse { .. } => ApiError::Conflict(e.to_string()),
            other => ApiError::internal(&other),
        }
    }
}

impl From<SupervisorError> for ApiError {
    fn from(e: SupervisorError) -> Self {
        match e {
            SupervisorError::AlreadyRunning | SupervisorError::SessionAlreadyConnected => {
                ApiError::Conflict(e.to_string())
            }
            SupervisorError::NoPendingKey { .. } => ApiError::NotFound(e.to_string()),
            SupervisorError::Connect(m) => ApiError::BadGateway(m),
            SupervisorError::Store(s) => s.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(&e)
    }
}

/// Strips axum's generic prefixes so the message says what is wrong in the body.
fn json_rejection_message(r: &JsonRejection) -> String {
    match r {
        JsonRejection::JsonDataError(e) => {
            let t = e.body_text();
            let t = t
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&t);
            format!("invalid request body: {t}")
        }
        JsonRejection::JsonSyntaxError(e) => {
            let t = e.body_text();
            let t = t
                .strip_prefix("Failed to parse the request body as JSON: ")
                .unwrap_or(&t);
            format!("request body is not valid JSON: {t}")
        }
        JsonRejection::MissingJsonContentType(_) => {
            "request body must be JSON (send Content-Type: application/json)".to_string()
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            format!(
                "request body is too large (the limit is {} bytes)",
                super::MAX_BODY_BYTES
            )
        }
        other => format!("could not read the request body: {}", other.body_text()),
    }
}

/// `Json<T>` whose rejections are 400 `{"error": …}` with a clear message.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(ApiError::BadRequest(json_rejection_message(&r))),
        }
    }
}

/// `Query<T>` whose rejections are 400 `{"error": …}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError::BadRequest(query_message(&r))),
        }
    }
}

fn query_message(r: &QueryRejection) -> String {
    let t = r.body_text();
    let t = t
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&t);
    format!("invalid query string: {t}")
}
