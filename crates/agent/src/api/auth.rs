//! Access control for every request: Host check (DNS-rebinding defence), Origin check on
//! mutating requests (CSRF defence), and authentication by Bearer token or UI cookie.
//!
//! Owns: the order and texts of those refusals (403 Host, 403 Origin, 401) and which paths are
//! public (`/health`, `/login`, the UI). Must not touch: issuing login codes or sessions (that
//! is `login`), or anything a handler does.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState, SESSION_COOKIE};

/// The Host header value if it names loopback (`127.0.0.1`, `localhost`, `[::1]`, any port).
pub fn allowed_host(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(raw) = headers.get(header::HOST) else {
        return Err(ApiError::Forbidden("Host header is missing".into()));
    };
    let refuse = || {
        ApiError::Forbidden(format!(
            "Host header '{}' is not allowed",
            String::from_utf8_lossy(raw.as_bytes()).escape_debug()
        ))
    };
    let host = raw.to_str().map_err(|_| refuse())?;
    if is_loopback_host(host) {
        Ok(host.to_string())
    } else {
        Err(refuse())
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, each optionally followed by `:<port>`.
pub fn is_loopback_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix("[::1]") {
        ("[::1]", rest)
    } else {
        match host.rfind(':') {
            Some(i) => (&host[..i], &host[i..]),
            None => (host, ""),
        }
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
    };
    port_ok && (name == "127.0.0.1" || name == "[::1]" || name.eq_ignore_ascii_case("localhost"))
}

fn is_public(method: &Method, path: &str) -> bool {
    if path == "/health" {
        return true;
    }
    (method == Method::GET || method == Method::HEAD)
        && (path == "/" || path == "/login" || path.starts_with("/assets/"))
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn authenticated(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        {
            if ct_eq(token.trim(), state.api_token()) {
                return true;
            }
        }
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(v) => state.login().session_valid(v),
        None => false,
    }
}

/// The middleware: Host, then Origin (mutating requests), then authentication.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = match allowed_host(req.headers()) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    if is_mutating(req.method()) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .map(|o| o.eq_ignore_ascii_case(&format!("http://{host}")))
                .unwrap_or(false);
            if !ok {
                return ApiError::Forbidden(format!(
                    "Origin '{}' is not allowed",
                    String::from_utf8_lossy(origin.as_bytes()).escape_debug()
                ))
                .into_response();
            }
        }
    }
    if !is_public(req.method(), req.uri().path()) && !authenticated(&state, req.headers()) {
        return ApiError::Unauthorized(
            "missing or invalid API token: send `Authorization: Bearer <token>` with the token \
             from the data dir's api-token file, or open a fresh link from `portwarden ui`"
                .into(),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:7077",
            "localhost",
            "LOCALHOST:1",
            "[::1]",
            "[::1]:7077",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:7077",
            "127.0.0.2",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "127.0.0.1:",
            "127.0.0.1:x",
            "127.0.0.1:123456",
            "[::1]x",
            "::1",
            "[::2]:80",
            "0.0.0.0:7077",
            "localhost:80:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; portwarden_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, "portwarden_session"), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
