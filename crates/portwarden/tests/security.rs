//! Issue 7 — the security posture checked through the real binary: the token (401s; the
//! compare is constant-time in the source), the Host and Origin checks, loopback-only binds in
//! every place a bind can be given (API for all three forward types, sessions, `tunnel add`,
//! `forward`, `serve --listen`), secrets nowhere but sealed in the DB, file modes, and a changed
//! host key never accepted, including on a jump hop.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use testkit::Sshd;

const T: Duration = Duration::from_secs(20);

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn token_host_and_origin_are_enforced() {
    let agent = Agent::start_default();
    let http = agent.http();
    for path in [
        "/tunnels",
        "/profiles",
        "/metrics",
        "/events",
        "/openapi.json",
        "/known-hosts",
    ] {
        let r = http.get(agent.url(path)).send().unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "GET {path} without a token"
        );
        for bad in [
            "",
            "x",
            &agent.token[..agent.token.len() - 1],
            &format!("{}0", agent.token),
        ] {
            let r = http.get(agent.url(path)).bearer_auth(bad).send().unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "GET {path} token {bad:?}"
            );
        }
    }
    let r = http
        .post(agent.url("/tunnels"))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "POST without a token");

    for host in [
        "evil.example",
        "evil.example:7077",
        "localhost.evil.example",
        "10.0.0.1",
    ] {
        let r = http
            .get(agent.url("/tunnels"))
            .bearer_auth(&agent.token)
            .header("host", host)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "Host {host}");
    }
    for origin in [
        "http://evil.example",
        "null",
        "https://localhost.evil.example",
    ] {
        let r = http
            .post(agent.url("/profiles"))
            .bearer_auth(&agent.token)
            .header("origin", origin)
            .json(&json!({"name": "o", "username": "u", "auth_type": "agent"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "Origin {origin}");
    }
    let (s, v) = agent.get("/profiles");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v.as_array().unwrap().len(),
        0,
        "a refused request wrote something: {v}"
    );
    // The agent's own origin is fine.
    let r = http
        .post(agent.url("/profiles"))
        .bearer_auth(&agent.token)
        .header("origin", format!("http://{}", agent.addr))
        .json(&json!({"name": "o", "username": "u", "auth_type": "agent"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// The token compare is constant-time: the auth code uses `subtle` (no timing test: they are
/// flaky and prove little).
#[test]
fn token_compare_uses_subtle() {
    let src = include_str!("../../agent/src/api/auth.rs");
    assert!(
        src.contains("use subtle::ConstantTimeEq"),
        "auth.rs must use subtle"
    );
    assert!(src.contains(".ct_eq("), "auth.rs must compare with ct_eq");
    let compares: Vec<&str> = src
        .lines()
        .filter(|l| l.contains("api_token()") && (l.contains("==") || l.contains("!=")))
        .collect();
    assert!(compares.is_empty(), "plain token compare: {compares:?}");
}

const NON_LOOPBACK: [&str; 4] = ["0.0.0.0", "192.168.1.10", "::", "*"];

#[test]
fn non_loopback_binds_are_rejected_everywhere() {
    let agent = Agent::start_default();
    let prof = agent.post_ok(
        "/profiles",
        json!({"name": "p", "username": "u", "auth_type": "agent"}),
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut refused = 0;
    for bind in NON_LOOPBACK {
        for ft in ["local", "dynamic", "remote"] {
            let (s, v) = agent.post(
                "/tunnels",
                json!({"name": "t", "host": "127.0.0.1", "profile_id": prof, "forward_type": ft,
                       "local_port": 18081, "bind_address": bind, "remote_host": "127.0.0.1",
                       "remote_port": 80}),
            );
            assert_eq!(s, StatusCode::BAD_REQUEST, "API {ft} bind {bind}: {v}");
            assert!(
                Agent::error_of(&v).contains("must be a loopback address"),
                "{v}"
            );
            let (s, v) = agent.post(
                "/sessions",
                json!({"name": "s", "host": "127.0.0.1", "profile_id": prof, "forwards": [
                    {"forward_type": ft, "local_port": 18082, "bind_address": bind,
                     "remote_host": "127.0.0.1", "remote_port": 80}]}),
            );
            assert_eq!(s, StatusCode::BAD_REQUEST, "session {ft} bind {bind}: {v}");
            refused += 2;
        }
    }
    // Editing a good tunnel into a bad one is refused too.
    let t = agent.post_ok(
        "/tunnels",
        json!({"name": "ok", "host": "127.0.0.1", "profile_id": prof, "forward_type": "local",
               "local_port": 18083, "remote_host": "127.0.0.1", "remote_port": 80}),
        StatusCode::CREATED,
    );
    let mut body = t.clone();
    merge(&mut body, json!({"bind_address": "0.0.0.0"}));
    let (s, v) = agent.put(&format!("/tunnels/{}", t["id"].as_str().unwrap()), body);
    assert_eq!(s, StatusCode::BAD_REQUEST, "PUT bind 0.0.0.0: {v}");

    // The CLI: `tunnel add` and `forward`, each forward type.
    for spec in [
        vec!["-L", "0.0.0.0:18084:127.0.0.1:80"],
        vec!["-D", "0.0.0.0:18085"],
        vec!["-D", "[::]:18085"],
        vec!["-L", "192.168.1.10:18086:127.0.0.1:80"],
    ] {
        let mut args = vec![
            "tunnel",
            "add",
            "cli-bad",
            "--host",
            "127.0.0.1",
            "--profile",
            &prof,
        ];
        args.extend(spec.iter().copied());
        let out = agent.cli(&args);
        assert!(!out.status.success(), "tunnel add {spec:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback"), "tunnel add {spec:?}: {err}");

        let mut args = vec!["forward"];
        args.extend(spec.iter().copied());
        args.push("nobody@127.0.0.1");
        let out = agent.cli(&args);
        assert!(!out.status.success(), "forward {spec:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback"), "forward {spec:?}: {err}");
        refused += 2;
    }
    let (_, v) = agent.get("/tunnels");
    assert_eq!(
        v.as_array().unwrap().len(),
        1,
        "only the good tunnel exists: {v}"
    );

    // `serve --listen` on a non-loopback address.
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "serve --listen {listen} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback"), "serve --listen {listen}: {err}");
        refused += 1;
    }
    eprintln!("non-loopback binds refused: {refused}");
}

/// Passwords and passphrases: write-only in the API, sealed in the DB file, absent from logs at
/// trace level, from /metrics, from events and from error messages (auth failures included).
#[test]
fn secrets_never_leak() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]).env("RUST_LOG", "trace"));
    let ev = agent.events();
    let pw = "Pw-9f3c1d-never-show-me";
    let pp = "Pp-77ab02-never-show-me";
    let p1 = agent.post_ok(
        "/profiles",
        json!({"name": "pw", "username": sshd.user(), "auth_type": "password", "password": pw}),
        StatusCode::CREATED,
    );
    let p2 = agent.post_ok(
        "/profiles",
        json!({"name": "kp", "username": sshd.user(), "auth_type": "key",
               "key_path": sshd.client_key(), "key_passphrase": pp}),
        StatusCode::CREATED,
    );
    assert_eq!(p1["has_password"], true, "{p1}");
    let mut ids = Vec::new();
    for (i, p) in [&p1, &p2].into_iter().enumerate() {
        let port = testkit::free_port();
        let id = agent.local_tunnel(
            &sshd,
            p["id"].as_str().unwrap(),
            &format!("s{i}"),
            port,
            echo_server(),
            json!({"max_retries": 1}),
        );
        let _ = agent.post_empty(&format!("/tunnels/{id}/start"));
        ids.push(id);
    }
    // The password profile fails auth (sshd takes keys only); the key one connects.
    agent.wait_status(&ids[0], "failed", Duration::from_secs(30));
    agent.wait_status(&ids[1], "connected", T);
    // An update with a new password, then a failing request that echoes input back.
    let pid = p1["id"].as_str().unwrap();
    let (s, _) = agent.put(
        &format!("/profiles/{pid}"),
        json!({"name": "pw", "username": sshd.user(), "auth_type": "password", "password": pw}),
    );
    assert!(s.is_success());
    let (s, v) = agent.post(
        "/profiles",
        json!({"name": "", "username": "u", "auth_type": "password", "password": pw}),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        !v.to_string().contains(pw),
        "error echoes the password: {v}"
    );
    let (s, v) = agent.post(
        "/profiles",
        json!({"name": "x", "auth_type": "nope", "password": pw}),
    );
    assert!(s.is_client_error());
    assert!(
        !v.to_string().contains(pw),
        "error echoes the password: {v}"
    );

    let mut seen = String::new();
    for path in [
        "/profiles",
        &format!("/profiles/{pid}"),
        "/tunnels",
        "/tunnels/status",
        "/metrics",
        "/known-hosts",
        "/sessions",
        "/jump-hosts",
    ] {
        let (_, v) = agent.get(path);
        seen.push_str(&v.to_string());
    }
    for e in ev.snapshot() {
        seen.push_str(&e.data.to_string());
    }
    let cli = agent.cli_ok(&["--json", "profile", "ls"]) + &agent.cli_ok(&["status"]);
    seen.push_str(&cli);
    let db_dir = agent.data_dir().to_path_buf();
    let mut db = Vec::new();
    for f in ["portwarden.db", "portwarden.db-wal", "portwarden.db-shm"] {
        db.extend(file_bytes(&db_dir.join(f)));
    }
    let log = agent.log();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "agent not at trace level"
    );
    for secret in [pw, pp] {
        assert!(
            !seen.contains(secret),
            "{secret} in an API response / event / CLI output"
        );
        assert!(!log.contains(secret), "{secret} in the trace log");
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the DB file bytes"
        );
    }
    assert!(!log.contains(&agent.token), "API token in the log");
}

#[test]
fn data_dir_and_secret_files_are_private() {
    let sshd = Sshd::start();
    // No pre-trusted key: the agent writes known_hosts itself when a key is trusted.
    let agent = Agent::start_default();
    let d = agent.data_dir();
    assert_eq!(mode(d), 0o700, "data dir");
    let prof = agent.key_profile(&sshd, "k");
    let port = testkit::free_port();
    let id = agent.local_tunnel(&sshd, &prof, "t", port, echo_server(), json!({}));
    let _ = agent.post_empty(&format!("/tunnels/{id}/start"));
    agent.wait_status(&id, "failed", T);
    let (_, kh) = agent.get("/known-hosts");
    let pending = kh["pending"][0].clone();
    assert!(pending["fingerprint"].is_string(), "{kh}");
    let (s, v) = agent.post(
        "/known-hosts",
        json!({"host": pending["host"], "port": pending["port"], "fingerprint": pending["fingerprint"]}),
    );
    assert!(s.is_success(), "trust: {v}");
    let _ = agent.post_empty(&format!("/tunnels/{id}/start"));
    agent.wait_status(&id, "connected", T);
    for f in ["api-token", "secret.key", "known_hosts", "portwarden.db"] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
    for f in ["portwarden.db-wal", "portwarden.db-shm"] {
        if d.join(f).exists() {
            assert_eq!(mode(&d.join(f)), 0o600, "{f}");
        }
    }
}

/// A known host key that differs from what a jump host offers: the tunnel fails with HOST KEY
/// CHANGED, nothing is recorded (known_hosts unchanged, nothing pending to click through), and
/// the target behind it is never reached. Same for the direct hop.
#[test]
fn changed_host_key_is_never_accepted_including_on_a_jump_hop() {
    let jump = Sshd::start();
    let target = Sshd::start();
    let impostor = Sshd::start(); // its key is what the agent "knew" for the jump host
    let lines = [
        format!("[127.0.0.1]:{} {}", jump.port(), impostor.host_key_line()),
        target.known_hosts_line(),
    ];
    let agent = Agent::start(AgentOpts {
        known_hosts: lines.to_vec(),
        ..AgentOpts::default()
    });
    let kh_path = agent.data_dir().join("known_hosts");
    let before = file_bytes(&kh_path);
    let pj = agent.key_profile(&jump, "j");
    let pt = agent.key_profile(&target, "t");
    let j = agent.post_ok(
        "/jump-hosts",
        json!({"name": "bastion", "host": "127.0.0.1", "port": jump.port(), "profile_id": pj}),
        StatusCode::CREATED,
    );
    let port = testkit::free_port();
    let id = agent.local_tunnel(
        &target,
        &pt,
        "via",
        port,
        echo_server(),
        json!({"jump_host_id": j["id"]}),
    );
    for _ in 0..2 {
        let _ = agent.post_empty(&format!("/tunnels/{id}/start"));
        let t = agent.wait_status(&id, "failed", T);
        let err = t["last_error"].as_str().unwrap_or_default();
        assert!(err.contains("HOST KEY CHANGED"), "{t}");
        assert!(
            err.contains(&jump.port().to_string()),
            "names the jump host: {err}"
        );
    }
    let (_, kh) = agent.get("/known-hosts");
    assert_eq!(
        kh["pending"],
        json!([]),
        "a changed key was offered for trust: {kh}"
    );
    // Trusting it anyway by fingerprint is refused.
    let (s, v) = agent.post(
        "/known-hosts",
        json!({"host": "127.0.0.1", "port": jump.port(), "fingerprint": "SHA256:anything"}),
    );
    assert!(s.is_client_error(), "{s} {v}");
    assert_eq!(file_bytes(&kh_path), before, "known_hosts changed");
    assert_eq!(
        target.count_in_log("Accepted publickey"),
        0,
        "the target was reached through an unverified jump host"
    );
    assert!(!port_open(port));

    // The direct hop too: the target itself with a changed key.
    let direct_port = testkit::free_port();
    let mut body = json!({"jump_host_id": null});
    merge(&mut body, json!({}));
    let id2 = agent.local_tunnel(&jump, &pj, "direct", direct_port, echo_server(), body);
    let _ = agent.post_empty(&format!("/tunnels/{id2}/start"));
    let t: Value = agent.wait_status(&id2, "failed", T);
    assert!(
        t["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("HOST KEY CHANGED"),
        "{t}"
    );
    assert_eq!(file_bytes(&kh_path), before, "known_hosts changed");
}
