//! No secret reaches a log line, at any level (the whole API exercised under a trace-level
//! subscriber that records everything).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::Harness;
use serde_json::json;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs_at_trace_level() {
    let sink = Sink::default();
    let writer = sink.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let h = Harness::new();
    let pw = "LogLeakCanary-pw-4711";
    let pp = "LogLeakCanary-pp-0815";
    let r = h
        .post(
            "/profiles",
            json!({"name": "ops", "username": "admin", "auth_type": "key", "key_path": "/k",
                   "password": pw, "key_passphrase": pp}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_string();
    // a bad body carrying the secret: the error must not echo it either
    let r = h
        .post(
            "/profiles",
            json!({"name": "", "username": "admin", "auth_type": "password", "password": pw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.text().contains(pw));
    let r = h
        .put(
            &format!("/profiles/{id}"),
            json!({"name": "ops", "username": "admin", "auth_type": "password",
                   "password": pw, "bogus": pp}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        !r.text().contains(pw) && !r.text().contains(pp),
        "{}",
        r.text()
    );
    let r = h.post_empty("/login-links").await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    let code = url.split("code=").nth(1).unwrap().to_string();
    let path = &url["http://127.0.0.1:7077".len()..];
    let login = axum::http::Request::builder()
        .uri(path)
        .header("host", common::HOST)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(h.send(login).await.status, StatusCode::SEE_OTHER);
    let secrets = h.state.store().profile_secrets(&id).unwrap();
    tracing::debug!(?secrets, "debug-printing the secrets struct");
    assert_eq!(secrets.password.as_ref().unwrap().expose(), pw);

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("debug-printing the secrets struct"),
        "the sink sees the logs"
    );
    assert!(logs.contains("/profiles"), "request spans are logged");
    for (what, s) in [
        ("password", pw),
        ("passphrase", pp),
        ("api token", h.token.as_str()),
        ("login code", code.as_str()),
    ] {
        assert!(!logs.contains(s), "{what} leaked into the logs:\n{logs}");
    }
}
