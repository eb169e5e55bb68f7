//! Harness for end-to-end tests against a RUNNING agent: the real `portwarden serve` binary on
//! `127.0.0.1:0` with a fresh temp data dir, talked to over HTTP with its bearer token, and the
//! CLI run against the same data dir. Everything is polled with deadlines; nothing sleeps for
//! readiness. Dropping an [`Agent`] SIGKILLs its process.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;
use testkit::Sshd;

pub const BIN: &str = env!("CARGO_BIN_EXE_portwarden");

/// How long the agent may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Options for [`Agent::start`].
#[derive(Debug, Clone, Default)]
pub struct AgentOpts {
    /// Extra `serve` arguments (e.g. `--probe-interval 1`).
    pub args: Vec<String>,
    /// Lines written to `D/known_hosts` before the first start (e.g. `sshd.known_hosts_line()`).
    pub known_hosts: Vec<String>,
    /// Extra environment for the agent process (e.g. `RUST_LOG=trace`).
    pub env: Vec<(String, String)>,
}

impl AgentOpts {
    /// Options that pre-trust the host keys of `sshds`.
    pub fn trusting(sshds: &[&Sshd]) -> AgentOpts {
        AgentOpts {
            known_hosts: sshds.iter().map(|s| s.known_hosts_line()).collect(),
            ..AgentOpts::default()
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// One server-sent event as received: when, its `event:` name and its `data:` JSON.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    pub name: String,
    pub data: Value,
}

/// A thread reading `/events`; every event lands in `events` with its arrival time.
pub struct Events {
    pub events: Arc<Mutex<Vec<Event>>>,
}

impl Events {
    /// A copy of everything received so far.
    pub fn snapshot(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// `tunnel` events for tunnel `id`, in order.
    pub fn tunnel(&self, id: &str) -> Vec<Event> {
        self.snapshot()
            .into_iter()
            .filter(|e| e.name == "tunnel" && e.data["id"] == id)
            .collect()
    }

    /// Waits until some event satisfies `f`; returns it.
    pub fn wait_for(&self, timeout: Duration, what: &str, f: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.snapshot().into_iter().find(|e| f(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no event {what} within {timeout:?}; got {:#?}",
                self.snapshot()
                    .iter()
                    .map(|e| format!("{} {}", e.name, e.data))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running `portwarden serve`. Its log is printed when a test panics (or always with
/// `PW_E2E_PRINT_LOG=1`).
pub struct Agent {
    dir: TempDir,
    home: TempDir,
    opts: AgentOpts,
    child: Option<Child>,
    pub addr: SocketAddr,
    pub token: String,
    http: reqwest::blocking::Client,
    /// How many times the process was started (each start appends to the same log file).
    starts: usize,
}

impl Agent {
    /// Starts the agent with `opts` on a fresh data dir and waits until it listens.
    pub fn start(opts: AgentOpts) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("pw-e2e-")
            .tempdir()
            .expect("temp data dir");
        let home = tempfile::Builder::new()
            .prefix("pw-e2e-home-")
            .tempdir()
            .expect("temp home");
        if !opts.known_hosts.is_empty() {
            let mut text = opts.known_hosts.join("\n");
            text.push('\n');
            std::fs::write(dir.path().join("known_hosts"), text).expect("write known_hosts");
        }
        let mut a = Agent {
            dir,
            home,
            opts,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: String::new(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            starts: 0,
        };
        a.spawn();
        a
    }

    /// Starts with default options (no host key pre-trusted).
    pub fn start_default() -> Agent {
        Agent::start(AgentOpts::default())
    }

    fn spawn(&mut self) {
        // A SIGKILLed agent leaves agent.addr behind: remove it so we wait for the new one.
        let _ = std::fs::remove_file(self.addr_path());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open agent log");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(&self.opts.args)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("PORTWARDEN_DATA_DIR")
            .env("HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn portwarden serve");
        self.starts += 1;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(self.addr_path()) {
                if let Ok(a) = text.trim().parse::<SocketAddr>() {
                    break a;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("agent exited during start-up ({status}):\n{}", self.log());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "agent not listening after {START_TIMEOUT:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.addr = addr;
        self.token = std::fs::read_to_string(self.dir.path().join("api-token"))
            .expect("read api-token")
            .trim()
            .to_string();
        self.child = Some(child);
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn addr_path(&self) -> PathBuf {
        self.dir.path().join("agent.addr")
    }

    pub fn log_path(&self) -> PathBuf {
        // Outside the data dir so it never counts as agent state.
        self.home.path().join("agent.log")
    }

    /// Everything the agent wrote to stdout/stderr (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("agent running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A blocking client (no redirects followed, 30 s timeout).
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// Sends `method path` with the token and an optional JSON body; `(status, JSON or Null)`.
    /// A non-JSON body comes back as a JSON string.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n--- agent log ---\n{}", self.log()));
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        let v = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None)
    }
    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(&body))
    }
    /// POST without a body.
    pub fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, None)
    }
    pub fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(&body))
    }
    pub fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None)
    }

    /// `POST path body`, asserting `expect`; returns the JSON.
    pub fn post_ok(&self, path: &str, body: Value, expect: StatusCode) -> Value {
        let (s, v) = self.post(path, body);
        assert_eq!(s, expect, "POST {path}: {v}");
        v
    }

    /// The `{"error": …}` text of a response.
    pub fn error_of(v: &Value) -> String {
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field in {v}"))
            .to_string()
    }

    /// The `/tunnels/status` item of `id`, if listed.
    pub fn status_of(&self, id: &str) -> Option<Value> {
        let (s, v) = self.get("/tunnels/status");
        assert_eq!(s, StatusCode::OK, "GET /tunnels/status: {v}");
        v.as_array()?.iter().find(|t| t["id"] == id).cloned()
    }

    /// Polls `/tunnels/status` until tunnel `id` has `status`; returns that item. Panics with
    /// the last item and the agent log on timeout.
    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        self.wait_tunnel(id, timeout, &format!("status {status}"), |t| {
            t["status"] == status
        })
    }

    /// Polls `/tunnels/status` until the item of `id` satisfies `f`.
    pub fn wait_tunnel(
        &self,
        id: &str,
        timeout: Duration,
        what: &str,
        f: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(t) = self.status_of(id) {
                if f(&t) {
                    return t;
                }
                last = Some(t);
            }
            if Instant::now() >= deadline {
                panic!(
                    "tunnel {id}: no {what} within {timeout:?}; last: {}\n--- agent log ---\n{}",
                    last.map(|t| t.to_string())
                        .unwrap_or_else(|| "not listed".into()),
                    tail(&self.log(), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Subscribes to `/events` in a thread (returns once the response headers arrived).
    pub fn events(&self) -> Events {
        let events = Arc::new(Mutex::new(Vec::new()));
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .expect("sse client");
        let resp = client
            .get(self.url("/events"))
            .bearer_auth(&self.token)
            .send()
            .expect("GET /events");
        assert_eq!(resp.status(), StatusCode::OK, "GET /events");
        let sink = events.clone();
        std::thread::spawn(move || {
            let mut name = String::new();
            let mut data = String::new();
            for line in BufReader::new(resp).lines() {
                let Ok(line) = line else { break };
                if line.is_empty() {
                    if !data.is_empty() || !name.is_empty() {
                        let v = serde_json::from_str(&data).unwrap_or(Value::String(data.clone()));
                        sink.lock().unwrap().push(Event {
                            at: Instant::now(),
                            name: std::mem::take(&mut name),
                            data: v,
                        });
                        data.clear();
                    }
                } else if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
        });
        Events { events }
    }

    /// SIGKILL (the process cannot clean up).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit (panics after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("agent running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = c.try_wait().expect("wait agent") {
                return s;
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "agent did not exit within {timeout:?} of SIGTERM\n{}",
                    tail(&self.log(), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the agent again on the same data dir (after [`kill9`](Agent::kill9) or
    /// [`terminate`](Agent::terminate); kills a running one first).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Runs the CLI with `--data-dir` of this agent.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_in(self.data_dir(), self.home.path(), args)
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "portwarden {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a key profile for `sshd` (its client key and user); returns the id.
    pub fn key_profile(&self, sshd: &Sshd, name: &str) -> String {
        let v = self.post_ok(
            "/profiles",
            key_profile_body(sshd, name),
            StatusCode::CREATED,
        );
        v["id"].as_str().expect("profile id").to_string()
    }

    /// `POST /tunnels body` (must be 201); returns the id.
    pub fn local_tunnel_raw(&self, body: Value) -> String {
        let v = self.post_ok("/tunnels", body, StatusCode::CREATED);
        v["id"].as_str().expect("tunnel id").to_string()
    }

    /// Creates a local tunnel `127.0.0.1:local_port → target` through `sshd` with `profile`,
    /// with `extra` fields merged over the defaults; returns the id.
    pub fn local_tunnel(
        &self,
        sshd: &Sshd,
        profile: &str,
        name: &str,
        local_port: u16,
        target: SocketAddr,
        extra: Value,
    ) -> String {
        let mut body = json!({
            "name": name,
            "host": "127.0.0.1",
            "port": sshd.port(),
            "profile_id": profile,
            "forward_type": "local",
            "local_port": local_port,
            "remote_host": target.ip().to_string(),
            "remote_port": target.port(),
        });
        merge(&mut body, extra);
        let v = self.post_ok("/tunnels", body, StatusCode::CREATED);
        v["id"].as_str().expect("tunnel id").to_string()
    }

    /// Creates a dynamic (SOCKS) tunnel on `127.0.0.1:local_port` through `sshd`; returns the id.
    pub fn socks_tunnel(&self, sshd: &Sshd, profile: &str, name: &str, local_port: u16) -> String {
        self.local_tunnel_raw(json!({
            "name": name,
            "host": "127.0.0.1",
            "port": sshd.port(),
            "profile_id": profile,
            "forward_type": "dynamic",
            "local_port": local_port,
        }))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() || std::env::var_os("PW_E2E_PRINT_LOG").is_some() {
            eprintln!("--- agent log (tail) ---\n{}", tail(&self.log(), 80));
        }
    }
}

/// Runs the binary with `--data-dir dir` and `args` (HOME = `home`, no SSH agent).
pub fn cli_in(dir: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("PORTWARDEN_DATA_DIR")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run portwarden")
}

/// A key profile body for `sshd`: auth_type key, its client key, its user.
pub fn key_profile_body(sshd: &Sshd, name: &str) -> Value {
    json!({
        "name": name,
        "username": sshd.user(),
        "auth_type": "key",
        "key_path": sshd.client_key(),
    })
}

/// Shallow-merges the fields of `extra` (an object) into `body`.
pub fn merge(body: &mut Value, extra: Value) {
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A small blocking HTTP server on 127.0.0.1:0: every request gets `200` with `body`.
/// Returns its address; runs until the test process exits.
pub fn http_server(body: &'static str) -> SocketAddr {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http server");
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
            });
        }
    });
    addr
}

/// A blocking echo server on 127.0.0.1:0 (thread per connection).
pub fn echo_server() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut s = s;
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    addr
}

/// Sends `msg` through `addr` and expects it echoed back (5 s timeout).
pub fn echo_roundtrip(addr: SocketAddr, msg: &[u8]) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(msg).map_err(|e| format!("write: {e}"))?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).map_err(|e| format!("read: {e}"))?;
    if got == msg {
        Ok(())
    } else {
        Err(format!(
            "echo mismatch: {:?}",
            String::from_utf8_lossy(&got)
        ))
    }
}

/// `GET http://addr/` over a raw TCP connection (so it works through any plain forward);
/// returns the response body.
pub fn http_get_body(addr: SocketAddr) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("read: {e}"))?;
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!("bad response: {text:?}")),
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Whether 127.0.0.1:`port` can be bound right now (nobody holds it).
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Reads a whole file as bytes (empty if missing).
pub fn file_bytes(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    if let Ok(mut f) = File::open(p) {
        use std::io::Read;
        let _ = f.read_to_end(&mut v);
    }
    v
}
