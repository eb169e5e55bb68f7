//! Issue 7 — hostile input against the running agent: malformed, oversized and mistyped JSON,
//! huge ports, unicode names, path traversal in `key_path`, and garbage / slowloris clients on
//! SOCKS and -L ports (a good client keeps being served while 50 bad ones hang around).
//! Whatever comes in, the answer is a 4xx with `{"error": …}` (never a 5xx) and the agent keeps
//! running.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use testkit::Sshd;

const T: Duration = Duration::from_secs(20);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends a raw body to `path` with the token.
fn raw(
    agent: &Agent,
    method: reqwest::Method,
    path: &str,
    ctype: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let r = agent
        .http()
        .request(method, agent.url(path))
        .bearer_auth(&agent.token)
        .header("content-type", ctype)
        .body(body)
        .send();
    let r = match r {
        Ok(r) => r,
        // The server may answer 413 and close before the client finished sending a huge body.
        Err(e) if e.is_request() => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        Err(e) => panic!("send: {e}"),
    };
    let s = r.status();
    (s, r.text().unwrap_or_default())
}

fn assert_client_error(what: &str, s: StatusCode, body: &str) {
    assert!(s.is_client_error(), "{what}: expected 4xx, got {s}: {body}");
    if s != StatusCode::PAYLOAD_TOO_LARGE && s != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        let v: Value = serde_json::from_str(body)
            .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {body:?}"));
        assert!(v["error"].is_string(), "{what}: no error text: {body}");
    }
}

#[test]
fn malformed_oversized_and_mistyped_json_get_4xx() {
    let agent = Agent::start_default();
    let prof = agent.post_ok(
        "/profiles",
        json!({"name": "p", "username": "u", "auth_type": "password", "password": "pw"}),
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let good_tunnel = json!({"name": "t", "host": "127.0.0.1", "port": 22, "profile_id": prof,
        "forward_type": "local", "local_port": 18080, "remote_host": "127.0.0.1", "remote_port": 80});

    let mut tried = 0usize;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("truncated", b"{\"name\": \"x\"".to_vec()),
        ("not json", b"hello".to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        (
            "bad utf-8",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
        ),
        ("nul bytes", b"{\"name\": \"a\0b\"}".to_vec()),
        ("deep nesting", {
            let mut v = vec![b'['; 100_000];
            v.extend(vec![b']'; 100_000]);
            v
        }),
        ("oversized", {
            let mut v = b"{\"name\": \"".to_vec();
            v.extend(vec![b'a'; 3 * 1024 * 1024]);
            v.extend_from_slice(b"\"}");
            v
        }),
    ];
    for path in [
        "/profiles",
        "/tunnels",
        "/jump-hosts",
        "/sessions",
        "/known-hosts",
    ] {
        for (what, body) in &bodies {
            let (s, b) = raw(
                &agent,
                reqwest::Method::POST,
                path,
                "application/json",
                body.clone(),
            );
            assert_client_error(&format!("POST {path} {what}"), s, &b);
            tried += 1;
        }
        let (s, b) = raw(
            &agent,
            reqwest::Method::POST,
            path,
            "text/plain",
            b"{}".to_vec(),
        );
        assert_client_error(&format!("POST {path} text/plain"), s, &b);
        tried += 1;
    }

    // Wrong types, out-of-range numbers, unknown enum values.
    let tweaks: Vec<(&str, Value)> = vec![
        ("port string", json!({"port": "22"})),
        ("port huge", json!({"port": 70000})),
        ("port negative", json!({"port": -1})),
        (
            "port 2^64",
            json!({"port": 18446744073709551616u128 as f64}),
        ),
        ("local_port huge", json!({"local_port": 4294967296u64})),
        ("local_port float", json!({"local_port": 80.5})),
        ("remote_port 0", json!({"remote_port": 0})),
        ("remote_port huge", json!({"remote_port": 65536})),
        ("max_retries negative", json!({"max_retries": -5})),
        ("max_retries huge", json!({"max_retries": 1u64 << 40})),
        ("forward_type bogus", json!({"forward_type": "sideways"})),
        ("name number", json!({"name": 5})),
        ("name empty", json!({"name": ""})),
        ("name huge", json!({"name": "n".repeat(100_000)})),
        ("auto_start string", json!({"auto_start": "yes"})),
        ("profile missing", json!({"profile_id": "prof_nope"})),
        ("host empty", json!({"host": ""})),
        ("host with space", json!({"host": "a b"})),
        ("bind 0.0.0.0", json!({"bind_address": "0.0.0.0"})),
        ("bind garbage", json!({"bind_address": "../../etc"})),
    ];
    for (what, tweak) in tweaks {
        let mut body = good_tunnel.clone();
        merge(&mut body, tweak);
        let (s, v) = agent.post("/tunnels", body);
        assert!(s.is_client_error(), "tunnel {what}: {s} {v}");
        assert!(v["error"].is_string(), "tunnel {what}: {v}");
        tried += 1;
    }

    // Unicode everywhere it is allowed: stored and returned exactly.
    for (i, name) in ["tünnel", "隧道", "🚇 prod", "\u{202e}rtl", "a\u{0301}"]
        .into_iter()
        .enumerate()
    {
        let mut body = good_tunnel.clone();
        merge(&mut body, json!({"name": name, "local_port": 18100 + i}));
        let (s, v) = agent.post("/tunnels", body);
        if s.is_success() {
            let id = v["id"].as_str().unwrap();
            let (_, got) = agent.get(&format!("/tunnels/{id}"));
            assert_eq!(got["name"], name);
        } else {
            assert!(
                s.is_client_error() && v["error"].is_string(),
                "{name:?}: {s} {v}"
            );
        }
        tried += 1;
    }

    // Path and query garbage.
    for path in [
        "/tunnels/..%2F..%2Fetc%2Fpasswd",
        "/tunnels/%00",
        "/tunnels/%ff%fe",
        "/profiles/'%20OR%201=1--",
        "/known-hosts?host=%00&port=99999999",
    ] {
        let (s, v) = agent.get(path);
        assert!(!s.is_server_error(), "GET {path}: {s} {v}");
        let (s, v) = agent.delete(path);
        assert!(!s.is_server_error(), "DELETE {path}: {s} {v}");
        tried += 2;
    }
    let (s, v) = agent.get("/health");
    assert_eq!(s, StatusCode::OK, "{v}");
    eprintln!("bad inputs tried: {tried}");
}

/// Path traversal and missing files in `key_path`: accepted or refused at save time, but a
/// start never panics and ends in a clear `last_error` that names the file.
#[test]
fn key_path_traversal_and_missing_files_are_clear_errors() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let echo = echo_server();
    for (i, key) in [
        "../../../../../../etc/shadow-nope",
        "/nonexistent/dir/id_ed25519",
        "~/../../nope/id_rsa",
        "/etc",
        "/dev/null",
    ]
    .into_iter()
    .enumerate()
    {
        let (s, v) = agent.post(
            "/profiles",
            json!({"name": format!("bad{i}"), "username": sshd.user(), "auth_type": "key", "key_path": key}),
        );
        if s.is_client_error() {
            assert!(v["error"].is_string(), "{key}: {v}");
            continue;
        }
        assert_eq!(s, StatusCode::CREATED, "{key}: {v}");
        let prof = v["id"].as_str().unwrap();
        let port = testkit::free_port();
        let id = agent.local_tunnel(&sshd, prof, &format!("k{i}"), port, echo, json!({}));
        let (s, v) = agent.post_empty(&format!("/tunnels/{id}/start"));
        assert!(!s.is_server_error(), "{key}: start {s} {v}");
        let t = agent.wait_status(&id, "failed", T);
        let err = t["last_error"].as_str().unwrap_or_default();
        assert!(!err.is_empty(), "{key}: {t}");
        let shown = key.rsplit('/').next().unwrap();
        assert!(
            err.contains(shown),
            "{key}: error does not name the file: {err}"
        );
        assert!(
            !port_open(port),
            "{key}: half-started listener left on {port}"
        );
    }
    let (s, _) = agent.get("/health");
    assert_eq!(s, StatusCode::OK);
}

/// 50 garbage / slowloris clients on a SOCKS port and on a -L port do not hurt a good client:
/// it keeps getting echoed, promptly, the whole time.
#[test]
fn garbage_and_slowloris_clients_do_not_hurt_good_ones() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let lport = testkit::free_port();
    let lid = agent.local_tunnel(&sshd, &prof, "L", lport, echo, json!({}));
    let dport = testkit::free_port();
    let did = agent.socks_tunnel(&sshd, &prof, "D", dport);
    for id in [&lid, &did] {
        let (s, v) = agent.post_empty(&format!("/tunnels/{id}/start"));
        assert_eq!(s, StatusCode::OK, "{v}");
        agent.wait_status(id, "connected", T);
    }

    // 25 bad clients per port: half send garbage, half open and dribble a byte now and then.
    let mut bad: Vec<TcpStream> = Vec::new();
    let mut n = 0u32;
    for port in [dport, lport] {
        for i in 0..25 {
            let mut s = TcpStream::connect(local(port)).unwrap();
            if i % 2 == 0 {
                let junk: Vec<u8> = (0..4096u32)
                    .map(|b| (b.wrapping_mul(2654435761) >> 24) as u8 ^ n as u8)
                    .collect();
                let _ = s.write_all(&junk);
            } else {
                let _ = s.write_all(&[5]); // SOCKS version byte, then nothing more
            }
            n += 1;
            bad.push(s);
        }
    }

    let socks_echo = |msg: &[u8]| -> Result<(), String> {
        let mut s = TcpStream::connect_timeout(&local(dport), Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&[5, 1, 0]).map_err(|e| e.to_string())?;
        let mut m = [0u8; 2];
        s.read_exact(&mut m).map_err(|e| e.to_string())?;
        let SocketAddr::V4(v4) = echo else {
            unreachable!()
        };
        let mut req = vec![5, 1, 0, 1];
        req.extend_from_slice(&v4.ip().octets());
        req.extend_from_slice(&v4.port().to_be_bytes());
        s.write_all(&req).map_err(|e| e.to_string())?;
        let mut rep = [0u8; 10];
        s.read_exact(&mut rep).map_err(|e| e.to_string())?;
        if rep[1] != 0 {
            return Err(format!("socks reply {}", rep[1]));
        }
        s.write_all(msg).map_err(|e| e.to_string())?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).map_err(|e| e.to_string())?;
        (got == msg).then_some(()).ok_or("mismatch".into())
    };

    // For a while, with the bad clients dribbling, good clients on both ports are served fast.
    let until = Instant::now() + Duration::from_secs(4);
    let mut good = 0;
    let mut worst = Duration::ZERO;
    while Instant::now() < until {
        for (i, s) in bad.iter_mut().enumerate() {
            if i % 2 == 1 {
                let _ = s.write_all(&[1]);
            }
        }
        let t0 = Instant::now();
        socks_echo(b"good socks").unwrap_or_else(|e| panic!("good SOCKS client: {e}"));
        echo_roundtrip(local(lport), b"good -L").unwrap_or_else(|e| panic!("good -L client: {e}"));
        worst = worst.max(t0.elapsed());
        good += 2;
    }
    assert!(
        worst < Duration::from_secs(2),
        "a good round trip took {worst:?}"
    );
    for id in [&lid, &did] {
        assert_eq!(agent.status_of(id).unwrap()["status"], "connected");
    }
    drop(bad);
    eprintln!("{good} good round trips beside 50 bad clients; worst {worst:?}");
}
