//! The agent's REST API end to end: the real `portwarden serve` binary, real OpenSSH sshd,
//! real traffic through the tunnels it creates. Every wait is a poll with a deadline.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use testkit::{free_port, Sshd};

const T: Duration = Duration::from_secs(20);

fn lo(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

const LOOPBACK_TEXT: &str = "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth";

/// The reference's POST /tunnels body (local), verbatim but for the profile id.
fn reference_local(profile_id: &str) -> Value {
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

/// The reference's POST /tunnels body (dynamic), verbatim but for the profile id.
fn reference_dynamic(profile_id: &str) -> Value {
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

/// Every validation rule and error text, through the running binary (no sshd needed).
#[test]
fn validation_rules_and_error_texts() {
    let agent = Agent::start_default();
    let prof = id_of(&agent.post_ok(
        "/profiles",
        json!({"name": "ops", "username": "u", "auth_type": "key", "key_path": "/nonexistent/key"}),
        StatusCode::CREATED,
    ));
    let base = || {
        json!({"name": "t", "host": "127.0.0.1", "profile_id": prof, "forward_type": "local",
               "local_port": free_port(), "remote_host": "127.0.0.1", "remote_port": 80})
    };
    let bad = |extra: Value, want: &str| {
        let mut b = base();
        merge(&mut b, extra.clone());
        let (s, v) = agent.post("/tunnels", b);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{extra}: {v}");
        let e = Agent::error_of(&v);
        assert!(e.contains(want), "{extra}: error {e:?} lacks {want:?}");
        e
    };
    // The loopback rule, exact text.
    assert_eq!(
        bad(json!({"bind_address": "0.0.0.0"}), "loopback"),
        LOOPBACK_TEXT
    );
    bad(
        json!({"bind_address": "192.168.1.10"}),
        "must be a loopback address",
    );
    bad(json!({"name": ""}), "name");
    bad(json!({"name": null}), "name is required");
    bad(json!({"host": null}), "host is required");
    bad(json!({"profile_id": null}), "profile_id is required");
    bad(json!({"forward_type": null}), "forward_type is required");
    bad(
        json!({"forward_type": "sideways"}),
        "invalid request body: forward_type",
    );
    bad(json!({"local_port": null}), "local_port is required");
    bad(
        json!({"local_port": 0}),
        "local_port must be between 1 and 65535, got 0",
    );
    bad(json!({"local_port": 70000}), "local_port");
    bad(
        json!({"port": 0}),
        "port must be between 1 and 65535, got 0",
    );
    bad(
        json!({"remote_host": null}),
        "remote_host is required for a local forward",
    );
    bad(
        json!({"remote_port": null}),
        "remote_port is required for a local forward",
    );
    bad(
        json!({"forward_type": "dynamic"}),
        "remote_host must be null for a dynamic forward",
    );
    bad(
        json!({"forward_type": "dynamic", "remote_host": null}),
        "remote_port must be null for a dynamic forward",
    );
    bad(json!({"bogus_field": 1}), "invalid request body");
    bad(
        json!({"local_port": "80"}),
        "invalid request body: local_port",
    );
    bad(
        json!({"profile_id": "prof_x"}),
        "profile_id 'prof_x' does not exist (no profile with that id)",
    );
    bad(
        json!({"jump_host_id": "jump_aaaaaaaaaaaa", "jump_session_id": "sess_aaaaaaaaaaaa"}),
        "jump_host_id and jump_session_id are mutually exclusive: set at most one",
    );
    bad(
        json!({"jump_host_id": "jump_x"}),
        "jump_host_id 'jump_x' does not exist",
    );
    bad(
        json!({"jump_session_id": "sess_x"}),
        "jump_session_id 'sess_x' does not exist",
    );

    // Body problems.
    let raw = |ct: Option<&str>, body: &str| {
        let mut r = agent
            .http()
            .post(agent.url("/tunnels"))
            .bearer_auth(&agent.token)
            .body(body.to_string());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let resp = r.send().unwrap();
        let s = resp.status();
        let v: Value = resp.json().unwrap();
        (s, Agent::error_of(&v))
    };
    let (s, e) = raw(Some("application/json"), "{not json");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.starts_with("request body is not valid JSON: "), "{e}");
    let (s, e) = raw(None, "{}");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        e,
        "request body must be JSON (send Content-Type: application/json)"
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1_100_000));
    let (s, e) = raw(Some("application/json"), &big);
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e, "request body is too large (the limit is 1048576 bytes)");

    // 404s.
    let (s, v) = agent.get("/tunnels/tun_nope");
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(Agent::error_of(&v), "Tunnel not found: tun_nope");
    for (m, p) in [
        (reqwest::Method::PUT, "/tunnels/tun_nope"),
        (reqwest::Method::DELETE, "/tunnels/tun_nope"),
        (reqwest::Method::POST, "/tunnels/tun_nope/start"),
        (reqwest::Method::POST, "/tunnels/tun_nope/stop"),
        (reqwest::Method::POST, "/tunnels/tun_nope/reconnect"),
    ] {
        let body = (m == reqwest::Method::PUT).then(base);
        let (s, v) = agent.call(m.clone(), p, body.as_ref());
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}: {v}");
        assert_eq!(Agent::error_of(&v), "Tunnel not found: tun_nope", "{m} {p}");
    }
    let (s, v) = agent.get("/profiles/prof_nope");
    assert_eq!(
        (s, Agent::error_of(&v)),
        (StatusCode::NOT_FOUND, "Profile not found: prof_nope".into())
    );
    let (s, v) = agent.get("/jump-hosts/jump_nope");
    assert_eq!(
        (s, Agent::error_of(&v)),
        (
            StatusCode::NOT_FOUND,
            "Jump host not found: jump_nope".into()
        )
    );
    let (s, v) = agent.post_empty("/sessions/sess_nope/connect");
    assert_eq!(
        (s, Agent::error_of(&v)),
        (StatusCode::NOT_FOUND, "Session not found: sess_nope".into())
    );
    let (s, v) = agent.get("/no/such/path");
    assert_eq!(
        (s, Agent::error_of(&v)),
        (StatusCode::NOT_FOUND, "Not found: /no/such/path".into())
    );

    // Defaults of a minimal body.
    let t = agent.post_ok(
        "/tunnels",
        json!({"name": "Switch UI", "host": "127.0.0.1", "profile_id": prof, "forward_type": "local",
               "local_port": 8443, "remote_host": "10.0.0.5", "remote_port": 443}),
        StatusCode::CREATED,
    );
    assert_eq!(t["port"], 22);
    assert_eq!(t["bind_address"], "127.0.0.1");
    assert_eq!(t["auto_start"], false);
    assert_eq!(t["auto_reconnect"], true);
    assert_eq!(t["max_retries"], 5);
    assert_eq!(t["status"], "disconnected");
    assert_eq!(t["spec"], "L :8443 → 10.0.0.5:443");
    assert!(t["id"].as_str().unwrap().starts_with("tun_"), "{t}");

    // 409 already running: a tunnel to a refused port keeps reconnecting (it is running).
    let tid = agent.local_tunnel_raw(
        json!({"name": "r", "host": "127.0.0.1", "port": free_port(),
        "profile_id": prof, "forward_type": "local", "local_port": free_port(),
        "remote_host": "127.0.0.1", "remote_port": 80}),
    );
    let (s, v) = agent.post_empty(&format!("/tunnels/{tid}/start"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = agent.post_empty(&format!("/tunnels/{tid}/start"));
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(Agent::error_of(&v), "Tunnel is already running");
    agent.post_empty(&format!("/tunnels/{tid}/stop"));

    // Referential integrity: the profile is in use.
    let jump = id_of(&agent.post_ok(
        "/jump-hosts",
        json!({"name": "bastion", "host": "127.0.0.1", "profile_id": prof}),
        StatusCode::CREATED,
    ));
    let (s, v) = agent.delete(&format!("/profiles/{prof}"));
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let e = Agent::error_of(&v);
    assert!(
        e.starts_with("Profile 'ops' is in use by tunnel")
            && e.contains("jump host 'bastion'")
            && e.ends_with("; change or delete them first"),
        "{e}"
    );
    // Jump chains: a cycle is refused.
    let j2 = id_of(&agent.post_ok(
        "/jump-hosts",
        json!({"name": "inner", "host": "127.0.0.1", "profile_id": prof, "jump_host_id": jump}),
        StatusCode::CREATED,
    ));
    let (s, v) = agent.put(
        &format!("/jump-hosts/{jump}"),
        json!({"name": "bastion", "host": "127.0.0.1", "profile_id": prof, "jump_host_id": j2}),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        Agent::error_of(&v).starts_with("jump_host_id would create a cycle: "),
        "{v}"
    );
    // Session forward validation carries the forward's index.
    let (s, v) = agent.post(
        "/sessions",
        json!({"name": "s", "host": "127.0.0.1", "profile_id": prof, "forwards": [
            {"forward_type": "local", "local_port": 1, "remote_host": "h", "remote_port": 1},
            {"forward_type": "local", "local_port": 2, "bind_address": "0.0.0.0", "remote_host": "h", "remote_port": 1}]}),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(Agent::error_of(&v).starts_with("forwards[1]."), "{v}");
    // Profiles: auth_type enum.
    let (s, v) = agent.post(
        "/profiles",
        json!({"name": "p", "username": "u", "auth_type": "magic"}),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

/// The reference's two JSON bodies, pointed at a real sshd and local targets, create tunnels
/// that carry traffic: HTTP through the local forward, curl through the SOCKS5 one. Both use
/// one pooled SSH connection (one "Accepted publickey" in sshd's log).
#[test]
fn reference_bodies_carry_traffic_over_one_pooled_connection() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "bastion key");
    let web = http_server("hello through the tunnel\n");

    let mut local = reference_local(&prof);
    let lport = free_port();
    merge(
        &mut local,
        json!({"host": "127.0.0.1", "port": sshd.port(), "local_port": lport,
               "remote_host": "127.0.0.1", "remote_port": web.port()}),
    );
    let t = agent.post_ok("/tunnels", local, StatusCode::CREATED);
    let lid = id_of(&t);
    assert_eq!(t["spec"], format!("L :{lport} → 127.0.0.1:{}", web.port()));

    let mut dynamic = reference_dynamic(&prof);
    let dport = free_port();
    merge(
        &mut dynamic,
        json!({"host": "127.0.0.1", "port": sshd.port(), "local_port": dport}),
    );
    let t = agent.post_ok("/tunnels", dynamic, StatusCode::CREATED);
    let did = id_of(&t);
    assert_eq!(t["spec"], format!("D :{dport} SOCKS5"));
    assert_eq!(t["auto_start"], true);

    // start-all starts the auto_start one only.
    let v = agent.post_ok("/tunnels/start-all", json!({}), StatusCode::OK);
    assert_eq!(v["started"], 1, "{v}");
    agent.wait_status(&did, "connected", T);
    assert_eq!(agent.status_of(&lid).unwrap()["status"], "disconnected");
    let (s, v) = agent.post_empty(&format!("/tunnels/{lid}/start"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = agent.wait_status(&lid, "connected", T);
    assert_eq!(st["kind"], "persistent");
    assert_eq!(st["retry_count"], 0);

    assert_eq!(
        http_get_body(lo(lport)).unwrap(),
        "hello through the tunnel\n"
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--socks5-hostname"])
        .arg(format!("127.0.0.1:{dport}"))
        .arg(format!("http://localhost:{}/", web.port()))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello through the tunnel\n"
    );

    // Counters and runtime fields.
    let st = agent.wait_tunnel(&lid, T, "bytes counted", |t| {
        t["bytes_in"].as_u64() > Some(0) && t["bytes_out"].as_u64() > Some(0)
    });
    assert!(st["uptime_secs"].is_u64(), "{st}");
    assert!(st["total_connections"].as_u64() >= Some(1), "{st}");

    // Pooling: one SSH authentication for both tunnels.
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1, "{}", sshd.log());

    // stop-all stops both; the listeners are gone.
    let v = agent.post_ok("/tunnels/stop-all", json!({}), StatusCode::OK);
    assert_eq!(v["stopped"], 2, "{v}");
    agent.wait_status(&lid, "disconnected", T);
    agent.wait_status(&did, "disconnected", T);
    testkit::wait_until(T, "listeners released", || {
        port_free(lport) && port_free(dport)
    });
    let st = agent.status_of(&lid).unwrap();
    assert!(st["uptime_secs"].is_null(), "uptime while stopped: {st}");
    // The pooled connection is closed once its last tunnel stopped.
    testkit::wait_until(T, "pooled SSH connection closed", || {
        sshd.connection_pids().is_empty()
    });
    // DELETE of a running tunnel stops it first.
    agent.post_ok(&format!("/tunnels/{did}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&did, "connected", T);
    let (s, v) = agent.delete(&format!("/tunnels/{did}"));
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    testkit::wait_until(T, "deleted tunnel's listener released", || port_free(dport));
    assert!(
        agent.status_of(&did).is_none(),
        "deleted tunnel still in /tunnels/status"
    );
    let (s, _) = agent.get(&format!("/tunnels/{did}"));
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A remote forward with remote_port 0: the server allocates the port, GET /tunnels/status
/// reports it, and a connection to it reaches the local target.
#[test]
fn remote_forward_reports_allocated_port_and_carries_traffic() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let web = http_server("remote says hi\n");
    let t = agent.post_ok(
        "/tunnels",
        json!({"name": "expose", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forward_type": "remote", "local_port": web.port(), "remote_host": "127.0.0.1",
               "remote_port": 0}),
        StatusCode::CREATED,
    );
    let id = id_of(&t);
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    let st = agent.wait_tunnel(&id, T, "connected with allocated_port", |t| {
        t["status"] == "connected" && t["allocated_port"].as_u64().unwrap_or(0) > 0
    });
    let port = st["allocated_port"].as_u64().unwrap() as u16;
    assert_eq!(http_get_body(lo(port)).unwrap(), "remote says hi\n");
    let (_, one) = agent.get(&format!("/tunnels/{id}"));
    assert_eq!(one["allocated_port"], port, "{one}");
    agent.post_ok(&format!("/tunnels/{id}/stop"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "disconnected", T);
    testkit::wait_until(T, "server-side listener cancelled", || !port_open(port));
}

/// Kill sshd: `reconnecting` with retry_count 1, 2, 3 … at the schedule's 1, 2, 4 s gaps
/// (measured on /events arrival times); restart sshd: `connected`, retry_count 0.
#[test]
fn sshd_killed_reconnects_on_schedule_and_recovers() {
    let mut sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let port = free_port();
    let id = agent.local_tunnel(
        &sshd,
        &prof,
        "flappy",
        port,
        echo,
        json!({"max_retries": 0}),
    );
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    let events = agent.events();
    sshd.kill();
    let first_at = |n: u64| {
        events
            .wait_for(Duration::from_secs(30), &format!("retry_count {n}"), |e| {
                e.name == "tunnel"
                    && e.data["id"] == id.as_str()
                    && e.data["status"] == "reconnecting"
                    && e.data["retry_count"] == n
            })
            .at
    };
    let t1 = first_at(1);
    let t2 = first_at(2);
    let t3 = first_at(3);
    // The listener stays bound while reconnecting.
    assert!(!port_free(port), "listener released while reconnecting");
    // The 4 s wait after retry 3: bring sshd back during it; the next attempt succeeds.
    sshd.restart();
    let st = agent.wait_status(&id, "connected", Duration::from_secs(30));
    let t_back = Instant::now();
    assert_eq!(st["retry_count"], 0, "{st}");
    let gaps = [t2 - t1, t3 - t2, t_back - t3];
    for (gap, want) in gaps.iter().zip([1.0f64, 2.0, 4.0]) {
        let g = gap.as_secs_f64();
        assert!(
            (want - 0.25..=want + 0.9).contains(&g),
            "backoff gaps {gaps:?}, expected ≈ 1, 2, 4 s"
        );
    }
    let lost = events.tunnel(&id);
    let r3 = lost.iter().find(|e| e.data["retry_count"] == 3).unwrap();
    assert!(r3.data["last_error"].is_string(), "{}", r3.data);
    echo_roundtrip(lo(port), b"back again").unwrap();
}

/// max_retries 2, sshd gone for good: `failed` after the second retry, the last error kept.
#[test]
fn max_retries_exhausted_fails_with_last_error() {
    let mut sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let port = free_port();
    let id = agent.local_tunnel(
        &sshd,
        &prof,
        "fragile",
        port,
        echo_server(),
        json!({"max_retries": 2}),
    );
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    let t0 = Instant::now();
    sshd.kill();
    let st = agent.wait_status(&id, "failed", T);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "failed after {took:?}: retries 1 s + 2 s"
    );
    assert_eq!(st["retry_count"], 2, "{st}");
    let err = st["last_error"].as_str().unwrap_or_default();
    assert!(!err.is_empty(), "{st}");
    assert!(port_free(port), "listener kept after failed");
    // Manual reconnect is one-shot: sshd is back, the tunnel connects, the count is reset.
    sshd.restart();
    let (s, v) = agent.post_empty(&format!("/tunnels/{id}/reconnect"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = agent.wait_status(&id, "connected", T);
    assert_eq!(st["retry_count"], 0, "{st}");
    echo_roundtrip(lo(port), b"manual").unwrap();
}

/// Failures that retrying cannot fix end in `failed` at once, without retries: a local port
/// that is taken, and an authentication failure.
#[test]
fn permanent_failures_fail_at_once() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tport = taken.local_addr().unwrap().port();
    let id = agent.local_tunnel(&sshd, &prof, "taken", tport, echo_server(), json!({}));
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    let st = agent.wait_status(&id, "failed", T);
    assert_eq!(st["retry_count"], 0, "{st}");
    let err = st["last_error"].as_str().unwrap();
    assert!(err.contains(&tport.to_string()), "{err}");

    let keydir = tempfile::tempdir().unwrap();
    let stranger = testkit::generate_key(
        keydir.path(),
        "stranger",
        testkit::KeyKind::Ed25519,
        None,
        testkit::KeyFormat::OpenSsh,
    );
    let bad = id_of(&agent.post_ok(
        "/profiles",
        json!({"name": "stranger", "username": sshd.user(), "auth_type": "key", "key_path": stranger}),
        StatusCode::CREATED,
    ));
    let port = free_port();
    let id = agent.local_tunnel(
        &sshd,
        &bad,
        "denied",
        port,
        echo_server(),
        json!({"max_retries": 0}),
    );
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    let st = agent.wait_status(&id, "failed", T);
    assert_eq!(st["retry_count"], 0, "{st}");
    assert!(
        st["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("auth"),
        "{st}"
    );
    assert!(port_free(port), "half-started tunnel left its listener");
    drop(taken);
}

/// auto_reconnect false: the connection drops → `failed` with the reference's exact text.
#[test]
fn auto_reconnect_off_fails_with_exact_text() {
    let mut sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let port = free_port();
    let id = agent.local_tunnel(
        &sshd,
        &prof,
        "once",
        port,
        echo_server(),
        json!({"auto_reconnect": false}),
    );
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    sshd.kill();
    let st = agent.wait_status(&id, "failed", T);
    assert_eq!(
        st["last_error"], "Connection lost (auto_reconnect disabled)",
        "{st}"
    );
    testkit::wait_until(T, "listener torn down", || port_free(port));
}

/// The reference's missing-secret texts end up as last_error of a failed tunnel after start.
#[test]
fn missing_secrets_fail_with_reference_texts() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let pw = id_of(&agent.post_ok(
        "/profiles",
        json!({"name": "pw", "username": sshd.user(), "auth_type": "password"}),
        StatusCode::CREATED,
    ));
    let nokey = id_of(&agent.post_ok(
        "/profiles",
        json!({"name": "nokey", "username": sshd.user(), "auth_type": "key"}),
        StatusCode::CREATED,
    ));
    for (prof, text) in [(pw, "No password found"), (nokey, "No SSH key path found")] {
        let id = agent.local_tunnel(&sshd, &prof, text, free_port(), echo_server(), json!({}));
        let (s, v) = agent.post_empty(&format!("/tunnels/{id}/start"));
        assert_eq!(s, StatusCode::OK, "{v}");
        let st = agent.wait_status(&id, "failed", T);
        assert_eq!(st["last_error"], text, "{st}");
        let (_, t) = agent.get(&format!("/tunnels/{id}"));
        assert_eq!(t["last_error"], text, "{t}");
    }
    assert_eq!(sshd.count_in_log("Accepted"), 0);
}

/// Not pre-trusted: `failed` with the SHA256 fingerprint, listed as pending; POST trusts it;
/// start → connected.
#[test]
fn untrusted_host_key_is_pending_until_trusted() {
    let sshd = Sshd::start();
    let agent = Agent::start_default();
    let prof = agent.key_profile(&sshd, "k");
    let port = free_port();
    let id = agent.local_tunnel(&sshd, &prof, "new host", port, echo_server(), json!({}));
    let events = agent.events();
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    let st = agent.wait_status(&id, "failed", T);
    let err = st["last_error"].as_str().unwrap().to_string();
    let fp = fingerprint_of(&sshd);
    events.wait_for(T, "known_host with the pending key", |e| {
        e.name == "known_host" && e.data["pending"][0]["fingerprint"] == fp.as_str()
    });
    assert!(err.contains(&fp), "last_error {err:?} lacks {fp}");
    let (s, kh) = agent.get("/known-hosts");
    assert_eq!(s, StatusCode::OK);
    let pending = kh["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{kh}");
    assert_eq!(pending[0]["host"], "127.0.0.1");
    assert_eq!(pending[0]["port"], sshd.port());
    assert_eq!(pending[0]["fingerprint"], fp.as_str());
    assert_eq!(pending[0]["key_type"], "ssh-ed25519");
    // Trusting a key that is not pending is a 404.
    let (s, _) = agent.post(
        "/known-hosts",
        json!({"host": "127.0.0.1", "port": sshd.port(), "fingerprint": "SHA256:nope"}),
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
    let kh = agent.post_ok(
        "/known-hosts",
        json!({"host": "127.0.0.1", "port": sshd.port(), "fingerprint": fp}),
        StatusCode::OK,
    );
    assert_eq!(kh["pending"].as_array().unwrap().len(), 0, "{kh}");
    assert!(
        kh["trusted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["fingerprint"] == fp.as_str() && k["source"] == "agent"),
        "{kh}"
    );
    let text = std::fs::read_to_string(agent.data_dir().join("known_hosts")).unwrap();
    assert!(text.contains(&sshd.host_key_line()), "{text}");
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    echo_roundtrip(lo(port), b"trusted").unwrap();
}

/// `SHA256:…` of the sshd's host key, by ssh-keygen.
fn fingerprint_of(sshd: &Sshd) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(sshd.dir().join("host_ed25519.pub"))
        .output()
        .expect("ssh-keygen -l");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

/// Session connect starts a tunnel per enabled forward (ids, names, flags as the reference
/// says), disconnect stops them; a connected session is the jump of a tunnel to a second sshd.
#[test]
fn session_forwards_follow_connect_and_serve_as_jump() {
    let sshd = Sshd::start();
    let inner = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd, &inner]));
    let prof = agent.key_profile(&sshd, "outer");
    let prof2 = agent.key_profile(&inner, "inner");
    let web = http_server("session web\n");
    let (p0, p2) = (free_port(), free_port());
    let sess = agent.post_ok(
        "/sessions",
        json!({"name": "edge", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forwards": [
                   {"forward_type": "local", "local_port": p0, "remote_host": "127.0.0.1", "remote_port": web.port()},
                   {"forward_type": "dynamic", "local_port": free_port(), "enabled": false},
                   {"forward_type": "dynamic", "local_port": p2},
               ]}),
        StatusCode::CREATED,
    );
    let sid = id_of(&sess);
    assert_eq!(sess["connected"], false);
    let (s, v) = agent.post_empty(&format!("/sessions/{sid}/connect"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let t0 = format!("session:{sid}:0");
    let t2 = format!("session:{sid}:2");
    let st = agent.wait_status(&t0, "connected", T);
    assert_eq!(st["name"], format!("Session forward :{p0}"));
    assert_eq!(st["kind"], "session");
    assert_eq!(st["session_id"], sid.as_str());
    assert_eq!(st["session_name"], "edge");
    assert_eq!(st["auto_start"], false);
    assert_eq!(st["bind_address"], "127.0.0.1");
    assert_eq!(st["host"], "127.0.0.1");
    agent.wait_status(&t2, "connected", T);
    assert!(
        agent.status_of(&format!("session:{sid}:1")).is_none(),
        "disabled forward started"
    );
    let (_, s1) = agent.get(&format!("/sessions/{sid}"));
    assert_eq!(s1["connected"], true, "{s1}");
    // Never saved as tunnels.
    let (_, list) = agent.get("/tunnels");
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    assert_eq!(http_get_body(lo(p0)).unwrap(), "session web\n");
    let (s, v) = agent.post_empty(&format!("/sessions/{sid}/connect"));
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(Agent::error_of(&v), "Session is already connected");

    // A tunnel to the second sshd through the connected session.
    let lport = free_port();
    let id = agent.local_tunnel(
        &inner,
        &prof2,
        "via session",
        lport,
        web,
        json!({"jump_session_id": sid}),
    );
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    assert_eq!(http_get_body(lo(lport)).unwrap(), "session web\n");
    assert!(
        sshd.log()
            .contains(&format!("to 127.0.0.1 port {}", inner.port())),
        "the jump did not go through the session's sshd"
    );
    assert_eq!(inner.count_in_log("Accepted publickey"), 1);

    let (s, v) = agent.post_empty(&format!("/sessions/{sid}/disconnect"));
    assert_eq!(s, StatusCode::OK, "{v}");
    testkit::wait_until(T, "session tunnels gone", || {
        agent
            .status_of(&t0)
            .is_none_or(|t| t["status"] == "disconnected")
            && agent
                .status_of(&t2)
                .is_none_or(|t| t["status"] == "disconnected")
    });
    testkit::wait_until(T, "session listeners released", || {
        port_free(p0) && port_free(p2)
    });
    let (_, s1) = agent.get(&format!("/sessions/{sid}"));
    assert_eq!(s1["connected"], false, "{s1}");
}

/// SIGKILL the agent and start it again on the same data dir: every definition is intact and
/// the auto_start tunnels come back by themselves.
#[test]
fn sigkill_and_restart_keeps_definitions_and_autostarts() {
    let sshd = Sshd::start();
    let mut agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let (pa, pb) = (free_port(), free_port());
    let echo = echo_server();
    let a = agent.local_tunnel(&sshd, &prof, "auto", pa, echo, json!({"auto_start": true}));
    let b = agent.local_tunnel(&sshd, &prof, "manual", pb, echo, json!({}));
    let jump = agent.post_ok(
        "/jump-hosts",
        json!({"name": "j", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof}),
        StatusCode::CREATED,
    );
    let sess = agent.post_ok(
        "/sessions",
        json!({"name": "s", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forwards": [{"forward_type": "dynamic", "local_port": free_port()}]}),
        StatusCode::CREATED,
    );
    agent.post_ok(&format!("/tunnels/{a}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&a, "connected", T);
    let before: Vec<Value> = ["/tunnels", "/profiles", "/jump-hosts", "/sessions"]
        .iter()
        .map(|p| agent.get(p).1)
        .collect();
    agent.kill9();
    agent.restart();
    let after: Vec<Value> = ["/tunnels", "/profiles", "/jump-hosts", "/sessions"]
        .iter()
        .map(|p| agent.get(p).1)
        .collect();
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        for item in v.as_array_mut().unwrap() {
            for k in [
                "status",
                "retry_count",
                "last_error",
                "uptime_secs",
                "bytes_in",
                "bytes_out",
                "active_connections",
                "total_connections",
                "allocated_port",
                "connected",
            ] {
                item.as_object_mut().unwrap().remove(k);
            }
        }
        v
    };
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(strip(x), strip(y));
    }
    assert!(after[2].to_string().contains(jump["id"].as_str().unwrap()));
    assert!(after[3].to_string().contains(sess["id"].as_str().unwrap()));
    agent.wait_status(&a, "connected", T);
    assert_eq!(agent.status_of(&b).unwrap()["status"], "disconnected");
    echo_roundtrip(lo(pa), b"after restart").unwrap();
}

/// SIGTERM: every tunnel stops cleanly (its port is free right after exit) and agent.addr goes.
#[test]
fn sigterm_stops_tunnels_and_removes_agent_addr() {
    let sshd = Sshd::start();
    let mut agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let (pa, pb) = (free_port(), free_port());
    let a = agent.local_tunnel(&sshd, &prof, "a", pa, echo_server(), json!({}));
    let b = agent.post_ok(
        "/tunnels",
        json!({"name": "b", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forward_type": "dynamic", "local_port": pb}),
        StatusCode::CREATED,
    );
    agent.post_ok(&format!("/tunnels/{a}/start"), json!({}), StatusCode::OK);
    agent.post_ok(
        &format!("/tunnels/{}/start", id_of(&b)),
        json!({}),
        StatusCode::OK,
    );
    agent.wait_status(&a, "connected", T);
    agent.wait_status(&id_of(&b), "connected", T);
    // A client connection is open through the tunnel while the agent is told to stop.
    let mut live = std::net::TcpStream::connect(lo(pa)).unwrap();
    {
        use std::io::{Read, Write};
        live.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        live.read_exact(&mut one).unwrap();
    }
    let status = agent.terminate(T);
    assert!(status.success(), "agent exit status {status}");
    assert!(
        port_free(pa) && port_free(pb),
        "a tunnel port is still held after SIGTERM"
    );
    assert!(!agent.addr_path().exists(), "agent.addr left behind");
    testkit::wait_until(T, "sshd sessions closed", || {
        sshd.connection_pids().is_empty()
    });
    drop(live);
}

/// The access checks against the running binary: token, Host header, Origin.
#[test]
fn token_host_and_origin_checks() {
    let agent = Agent::start_default();
    let http = agent.http();
    let r = http.get(agent.url("/health")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http.get(agent.url("/tunnels")).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().unwrap();
    assert!(
        Agent::error_of(&v).starts_with("missing or invalid API token"),
        "{v}"
    );
    let r = http
        .get(agent.url("/tunnels"))
        .bearer_auth("wrong-token")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(agent.url("/tunnels"))
        .bearer_auth(&agent.token)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Host header (DNS rebinding).
    let r = http
        .get(agent.url("/tunnels"))
        .bearer_auth(&agent.token)
        .header("host", "evil.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().unwrap();
    assert_eq!(
        Agent::error_of(&v),
        "Host header 'evil.example' is not allowed"
    );
    for ok in ["localhost:1234", "127.0.0.1", "[::1]:7077"] {
        let r = http
            .get(agent.url("/tunnels"))
            .bearer_auth(&agent.token)
            .header("host", ok)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "Host {ok}");
    }
    // Origin on a mutating request.
    let body = json!({"name": "p", "username": "u", "auth_type": "agent"});
    let r = http
        .post(agent.url("/profiles"))
        .bearer_auth(&agent.token)
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().unwrap();
    assert_eq!(
        Agent::error_of(&v),
        "Origin 'http://evil.example' is not allowed"
    );
    let (_, list) = agent.get("/profiles");
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "refused POST still created: {list}"
    );
    let r = http
        .post(agent.url("/profiles"))
        .bearer_auth(&agent.token)
        .header("origin", format!("http://{}", agent.addr))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A foreign Origin on GET is fine (only mutations are checked).
    let r = http
        .get(agent.url("/profiles"))
        .bearer_auth(&agent.token)
        .header("origin", "http://evil.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Secrets (a password actually used to log in, a key passphrase) appear in no response, no
/// log line at trace level, and not in the database files.
#[test]
fn no_secret_in_responses_logs_or_database() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(testkit::PasswordServer::start());
    let pass_secret = "pp-Secret-4f9c1e";
    let agent = Agent::start(
        AgentOpts {
            known_hosts: vec![server.known_hosts_line()],
            ..AgentOpts::default()
        }
        .env("RUST_LOG", "trace"),
    );
    let web = http_server("pw ok\n");
    let p = agent.post_ok(
        "/profiles",
        json!({"name": "pw", "username": testkit::PASSWORD_USER, "auth_type": "password",
               "password": testkit::PASSWORD}),
        StatusCode::CREATED,
    );
    assert_eq!(p["has_password"], true);
    let k = agent.post_ok(
        "/profiles",
        json!({"name": "key", "username": "u", "auth_type": "key", "key_path": "/nonexistent",
               "key_passphrase": pass_secret}),
        StatusCode::CREATED,
    );
    assert_eq!(k["has_passphrase"], true);
    let port = free_port();
    let id = id_of(&agent.post_ok(
        "/tunnels",
        json!({"name": "pw", "host": "127.0.0.1", "port": server.port(), "profile_id": id_of(&p),
               "forward_type": "local", "local_port": port, "remote_host": "127.0.0.1",
               "remote_port": web.port()}),
        StatusCode::CREATED,
    ));
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    assert_eq!(http_get_body(lo(port)).unwrap(), "pw ok\n");
    assert!(server.accepted_logins() >= 1);
    // A PUT that keeps the secrets, then a passphrase change.
    agent.put(
        &format!("/profiles/{}", id_of(&k)),
        json!({"name": "key", "username": "u", "auth_type": "key", "key_path": "/nonexistent",
               "key_passphrase": format!("{pass_secret}-2")}),
    );
    let secrets = [testkit::PASSWORD, pass_secret];
    let mut responses = String::new();
    for path in [
        "/profiles",
        "/tunnels",
        "/tunnels/status",
        "/known-hosts",
        "/metrics",
        "/openapi.json",
        &format!("/profiles/{}", id_of(&p)),
        &format!("/profiles/{}", id_of(&k)),
    ] {
        let (_, v) = agent.get(path);
        responses.push_str(&v.to_string());
    }
    for s in secrets {
        assert!(!responses.contains(s), "secret {s:?} in a response");
    }
    let log = agent.log();
    assert!(log.contains("TRACE"), "RUST_LOG=trace had no effect");
    for s in secrets {
        assert!(!log.contains(s), "secret {s:?} in the agent's log");
    }
    let dir = agent.data_dir();
    for f in ["portwarden.db", "portwarden.db-wal"] {
        let bytes = file_bytes(&dir.join(f));
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "secret {s:?} in {f}"
            );
        }
    }
    assert!(
        !file_bytes(&dir.join("portwarden.db")).is_empty()
            || !file_bytes(&dir.join("portwarden.db-wal")).is_empty()
    );
    drop(agent);
    drop(server);
}

/// A session's sshd dies: its tunnels (no auto-reconnect) end `failed` with the reference's
/// text and the session reports itself disconnected; once sshd is back, connecting again brings
/// them up on a fresh connection.
/// Connecting a session whose host key is untrusted fails with the fingerprint, pending.
#[test]
fn session_survives_sshd_restart_by_reconnecting_and_untrusted_session() {
    let mut sshd = Sshd::start();
    let other = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let events = agent.events();
    let p0 = free_port();
    let sid = id_of(&agent.post_ok(
        "/sessions",
        json!({"name": "s", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forwards": [{"forward_type": "dynamic", "local_port": p0}]}),
        StatusCode::CREATED,
    ));
    agent.post_ok(
        &format!("/sessions/{sid}/connect"),
        json!({}),
        StatusCode::OK,
    );
    let tid = format!("session:{sid}:0");
    agent.wait_status(&tid, "connected", T);
    events.wait_for(T, "session connected event", |e| {
        e.name == "session" && e.data["id"] == sid.as_str() && e.data["connected"] == true
    });
    sshd.kill();
    let st = agent.wait_status(&tid, "failed", T);
    assert_eq!(
        st["last_error"], "Connection lost (auto_reconnect disabled)",
        "{st}"
    );
    testkit::wait_until(T, "session listener torn down", || port_free(p0));
    // The session itself says it is no longer connected.
    events.wait_for(T, "session disconnected event after the loss", |e| {
        e.name == "session" && e.data["id"] == sid.as_str() && e.data["connected"] == false
    });
    assert_eq!(agent.get(&format!("/sessions/{sid}")).1["connected"], false);
    sshd.restart();
    agent.post_ok(
        &format!("/sessions/{sid}/disconnect"),
        json!({}),
        StatusCode::OK,
    );
    events.wait_for(T, "session disconnected event", |e| {
        e.name == "session" && e.data["id"] == sid.as_str() && e.data["connected"] == false
    });
    agent.post_ok(
        &format!("/sessions/{sid}/connect"),
        json!({}),
        StatusCode::OK,
    );
    agent.wait_status(&tid, "connected", T);
    assert!(!port_free(p0));

    // A session to a host whose key is not trusted.
    let prof2 = agent.key_profile(&other, "other");
    let sid2 = id_of(&agent.post_ok(
        "/sessions",
        json!({"name": "untrusted", "host": "127.0.0.1", "port": other.port(), "profile_id": prof2,
               "forwards": []}),
        StatusCode::CREATED,
    ));
    let (s, v) = agent.post_empty(&format!("/sessions/{sid2}/connect"));
    let fp = fingerprint_of(&other);
    assert!(!s.is_success(), "{s} {v}");
    assert!(Agent::error_of(&v).contains(&fp), "{v}");
    let (_, kh) = agent.get("/known-hosts");
    assert_eq!(kh["pending"][0]["fingerprint"], fp.as_str(), "{kh}");
    let (_, sess) = agent.get(&format!("/sessions/{sid2}"));
    assert_eq!(sess["connected"], false);
}

/// PUT on a running tunnel: an invalid body is refused and the tunnel keeps running; a valid
/// one restarts it with the new definition. Stop of a failed tunnel leaves it disconnected.
#[test]
fn put_on_running_tunnel_and_stop_of_failed() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let port = free_port();
    let id = agent.local_tunnel(&sshd, &prof, "p", port, echo, json!({}));
    agent.post_ok(&format!("/tunnels/{id}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&id, "connected", T);
    let (_, t) = agent.get(&format!("/tunnels/{id}"));
    let mut body = json!({});
    for k in [
        "name",
        "host",
        "port",
        "profile_id",
        "forward_type",
        "local_port",
        "bind_address",
        "remote_host",
        "remote_port",
        "auto_start",
        "auto_reconnect",
        "max_retries",
    ] {
        body[k] = t[k].clone();
    }
    let mut invalid = body.clone();
    invalid["bind_address"] = json!("0.0.0.0");
    let (s, v) = agent.put(&format!("/tunnels/{id}"), invalid);
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(agent.status_of(&id).unwrap()["status"], "connected");
    echo_roundtrip(lo(port), b"still").unwrap();
    let port2 = free_port();
    body["local_port"] = json!(port2);
    body["name"] = json!("renamed");
    let (s, v) = agent.put(&format!("/tunnels/{id}"), body);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "renamed");
    let st = agent.wait_tunnel(&id, T, "connected on the new port", |t| {
        t["status"] == "connected" && t["local_port"] == port2
    });
    assert_eq!(st["name"], "renamed");
    echo_roundtrip(lo(port2), b"moved").unwrap();
    testkit::wait_until(T, "old port released", || port_free(port));

    let bad = id_of(&agent.post_ok(
        "/profiles",
        json!({"name": "nopw", "username": "u", "auth_type": "password"}),
        StatusCode::CREATED,
    ));
    let fid = agent.local_tunnel(&sshd, &bad, "f", free_port(), echo, json!({}));
    agent.post_ok(&format!("/tunnels/{fid}/start"), json!({}), StatusCode::OK);
    agent.wait_status(&fid, "failed", T);
    let (s, v) = agent.post_empty(&format!("/tunnels/{fid}/stop"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = agent.wait_status(&fid, "disconnected", T);
    assert_eq!(st["retry_count"], 0, "{st}");
    // Metrics name the tunnels.
    let r = agent
        .http()
        .get(agent.url("/metrics"))
        .bearer_auth(&agent.token)
        .send()
        .unwrap();
    let text = r.text().unwrap();
    assert!(
        text.contains("portwarden_tunnel_status") && text.contains(&id),
        "{text}"
    );
}

/// The agent's log, redirected to a file, is plain text: no terminal colour codes.
#[test]
fn redirected_log_has_no_colour_codes() {
    let agent = Agent::start_default();
    let (s, _) = agent.get("/tunnels");
    assert_eq!(s, StatusCode::OK);
    let log = agent.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "ANSI escapes in a redirected log: {log:?}"
    );
}
