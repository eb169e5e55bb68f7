//! Shared helpers for the API tests: a real state on a tempdir, requests through `oneshot`.
#![allow(dead_code)]

use agent::{api, open_state, AgentConfig, AppState};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const HOST: &str = "127.0.0.1:7077";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
    pub token: String,
    pub shutdown: CancellationToken,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} (status {})",
                String::from_utf8_lossy(&self.body),
                self.status
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {}", self.text()))
            .to_string()
    }
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::on(dir)
    }

    pub fn on(dir: tempfile::TempDir) -> Self {
        let shutdown = CancellationToken::new();
        let config = AgentConfig::new(dir.path().join("data"));
        let state = open_state(&config, shutdown.clone()).unwrap();
        let token = state
            .data_dir()
            .read_api_token()
            .unwrap()
            .unwrap()
            .to_string();
        let app = api::app(state.clone());
        Harness {
            dir,
            state,
            app,
            token,
            shutdown,
        }
    }

    pub fn data_path(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.app.clone().oneshot(req),
        )
        .await
        .expect("request timed out")
        .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn builder(&self, method: Method, path: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let b = self.builder(method, path);
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.call(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn profile(&self, name: &str) -> String {
        let r = self
            .post(
                "/profiles",
                json!({"name": name, "username": "admin", "auth_type": "password",
                       "password": "s3cr3t-Pa55w0rd"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// A local tunnel whose SSH server is a loopback port with nothing listening: starting it
    /// really runs the supervisor, and every attempt stays on this machine.
    pub async fn tunnel(&self, profile: &str, name: &str, local_port: u16) -> String {
        let r = self
            .post(
                "/tunnels",
                json!({"name": name, "host": "127.0.0.1", "port": closed_port(), "profile_id": profile,
                       "forward_type": "local", "local_port": local_port,
                       "remote_host": "10.0.0.5", "remote_port": 443}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }
}

/// A loopback port with nothing listening (bound to port 0, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `body` with its SSH server moved to a closed loopback port, for tests that start it (the
/// reference's own bodies name hosts that must never be contacted from a test).
pub fn on_loopback(mut body: Value) -> Value {
    body["host"] = json!("127.0.0.1");
    body["port"] = json!(closed_port());
    body
}

/// The reference's POST /tunnels body (local).
pub fn reference_local(profile_id: &str) -> Value {
    let text = r#"{
  "name": "Switch UI",
  "host": "bastion.example.net",
  "port": 22,
  "profile_id": "prof_abc123",
  "jump_host_id": null,
  "jump_session_id": null,
  "forward_type": "local",
  "local_port": 8443,
  "bind_address": "127.0.0.1",
  "remote_host": "10.0.0.5",
  "remote_port": 443,
  "auto_start": false,
  "auto_reconnect": true,
  "max_retries": 5
}"#;
    serde_json::from_str(&text.replace("prof_abc123", profile_id)).unwrap()
}

/// The reference's POST /tunnels body (dynamic).
pub fn reference_dynamic(profile_id: &str) -> Value {
    let text = r#"{
  "name": "Bastion SOCKS",
  "host": "bastion.example.net",
  "port": 22,
  "profile_id": "prof_abc123",
  "forward_type": "dynamic",
  "local_port": 1080,
  "bind_address": "127.0.0.1",
  "remote_host": null,
  "remote_port": null,
  "auto_start": true,
  "auto_reconnect": true,
  "max_retries": 0
}"#;
    serde_json::from_str(&text.replace("prof_abc123", profile_id)).unwrap()
}
