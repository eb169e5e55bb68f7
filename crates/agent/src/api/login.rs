//! Login links for the web UI: one-time codes (valid once, for 2 minutes) exchanged for an
//! HttpOnly, SameSite=Strict session cookie.
//!
//! Owns: `POST /login-links`, `GET /login`, the in-memory code and session tables and their
//! clock (advanceable in tests, so no test sleeps for two minutes). Must not touch: the API
//! token (only `auth` compares it) or anything persistent — UI sessions end with the agent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiQuery;
use super::{auth, ApiError, AppState, ErrorBody, SESSION_COOKIE};

/// How long a login code is valid.
pub const CODE_TTL: Duration = Duration::from_secs(120);
/// Most UI sessions kept (the oldest is dropped beyond this).
pub const MAX_SESSIONS: usize = 64;
/// Most outstanding login codes kept.
pub const MAX_CODES: usize = 64;

/// Codes and sessions, in memory.
#[derive(Debug)]
pub struct LoginManager {
    codes: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<Vec<String>>,
    offset_ms: AtomicU64,
}

impl Default for LoginManager {
    fn default() -> Self {
        Self::new()
    }
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl LoginManager {
    /// Empty tables.
    pub fn new() -> Self {
        LoginManager {
            codes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(Vec::new()),
            offset_ms: AtomicU64::new(0),
        }
    }

    fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this manager's clock forward (for tests of expiry).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// A new one-time code.
    pub fn issue_code(&self) -> String {
        let code = random_hex();
        let now = self.now();
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, issued| now.duration_since(*issued) <= CODE_TTL);
        if codes.len() >= MAX_CODES {
            if let Some(oldest) = codes
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            {
                codes.remove(&oldest);
            }
        }
        codes.insert(code.clone(), now);
        code
    }

    /// Consumes `code`: a new session id if it was issued, unused and not expired.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let now = self.now();
        let issued = {
            let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
            let key = codes
                .keys()
                .find(|k| bool::from(k.as_bytes().ct_eq(code.as_bytes())))
                .cloned()?;
            codes.remove(&key)?
        };
        if now.duration_since(issued) > CODE_TTL {
            return None;
        }
        let sid = random_hex();
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() >= MAX_SESSIONS {
            s.remove(0);
        }
        s.push(sid.clone());
        Some(sid)
    }

    /// Whether `sid` is a live UI session.
    pub fn session_valid(&self, sid: &str) -> bool {
        let s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = false;
        for known in s.iter() {
            found |= bool::from(known.as_bytes().ct_eq(sid.as_bytes()));
        }
        found
    }
}

/// Response of `POST /login-links`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginLink {
    /// Open this in a browser.
    pub url: String,
    /// Seconds the link stays valid (once).
    pub expires_in: u64,
}

/// A fresh one-time login link for the web UI.
#[utoipa::path(post, path = "/login-links", tag = "agent",
    responses((status = 200, body = LoginLink), (status = 401, body = ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LoginLink>, ApiError> {
    let host = auth::allowed_host(&headers)?;
    let code = state.login().issue_code();
    Ok(Json(LoginLink {
        url: format!("http://{host}/login?code={code}"),
        expires_in: CODE_TTL.as_secs(),
    }))
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// The one-time code from the link.
    pub code: Option<String>,
}

const EXPIRED_PAGE: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>portwarden: link expired</title></head>
<body><h1>This login link has expired or was already used</h1>
<p>Login links work once, for 2 minutes. Run <code>portwarden ui</code> for a new link.</p>
</body></html>
";

/// Exchanges a one-time code for the UI session cookie and redirects to `/`.
#[utoipa::path(get, path = "/login", tag = "agent", security(), params(LoginQuery),
    responses((status = 303, description = "Cookie set, redirect to /"),
              (status = 401, description = "Expired or reused code (HTML page)", content_type = "text/html")))]
pub async fn login(State(state): State<AppState>, ApiQuery(q): ApiQuery<LoginQuery>) -> Response {
    let Some(sid) = q.code.as_deref().and_then(|c| state.login().redeem(c)) else {
        return (StatusCode::UNAUTHORIZED, Html(EXPIRED_PAGE)).into_response();
    };
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_one_time_and_expire() {
        let m = LoginManager::new();
        let c = m.issue_code();
        let sid = m.redeem(&c).unwrap();
        assert!(m.session_valid(&sid));
        assert!(!m.session_valid("nope"));
        assert_eq!(m.redeem(&c), None, "second use");
        let c2 = m.issue_code();
        m.advance(Duration::from_secs(119));
        let c3 = m.issue_code();
        m.advance(Duration::from_secs(2));
        assert_eq!(m.redeem(&c2), None, "expired");
        assert!(m.redeem(&c3).is_some(), "still valid");
        assert_eq!(m.redeem(""), None);
    }
}
