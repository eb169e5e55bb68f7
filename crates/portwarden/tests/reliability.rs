//! Issue 7 — real faults against a running agent (the real `portwarden serve` binary and real
//! OpenSSH sshd processes): sshd killed mid-transfer (backoff 1, 2, 4, 8 s read off the SSE
//! stream), frozen (SIGSTOP black hole → the probe), a dying jump host, refused targets, a
//! taken port, the agent SIGKILLed in the middle of API writes, and the agent itself frozen
//! (a suspend/resume: the probe sees the clock gap and probes at once).
//!
//! Every test is bounded (deadlines on every wait); the only sleeps are the fault durations
//! themselves (how long something stays frozen), never waits for readiness.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use testkit::Sshd;

const T: Duration = Duration::from_secs(20);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn start(agent: &Agent, id: &str) {
    let (s, v) = agent.post_empty(&format!("/tunnels/{id}/start"));
    assert_eq!(s, StatusCode::OK, "start {id}: {v}");
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// A port nobody listens on (bound, then released).
fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A SOCKS5 CONNECT to `target` through `proxy`; returns the reply code and the stream.
fn socks5_connect(proxy: SocketAddr, target: SocketAddr) -> (u8, TcpStream) {
    let mut s = TcpStream::connect_timeout(&proxy, Duration::from_secs(5)).expect("connect socks");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).expect("method reply");
    assert_eq!(m, [5, 0], "no-auth method");
    let SocketAddr::V4(v4) = target else {
        panic!("v4 only")
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req).unwrap();
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).expect("connect reply");
    assert_eq!(rep[0], 5, "reply version");
    (rep[1], s)
}

/// The `tunnel` events of `id` whose `runtime` satisfies `f`, with their arrival times.
fn runtime_events(ev: &Events, id: &str) -> Vec<(Instant, Value)> {
    ev.tunnel(id)
        .into_iter()
        .map(|e| (e.at, e.data.clone()))
        .collect()
}

/// sshd SIGKILLed while bytes flow through an agent -L tunnel: the client connection ends
/// (no hang), the tunnel goes `reconnecting` and retries after 1, 2, 4 and 8 s (measured between
/// the SSE events), and once sshd is back it is `connected` with `retry_count` 0 and carries
/// data again.
#[test]
fn sshd_killed_mid_transfer_backs_off_1_2_4_8_then_recovers() {
    let mut sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let ev = agent.events();
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let port = testkit::free_port();
    let id = agent.local_tunnel(&sshd, &prof, "mid", port, echo, json!({"max_retries": 6}));
    start(&agent, &id);
    agent.wait_status(&id, "connected", T);

    // A transfer in flight: write and read back 16 KiB chunks until the connection ends.
    let moved = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(Mutex::new(None::<Instant>));
    let pump = {
        let (moved, ended) = (moved.clone(), ended.clone());
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(local(port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let chunk = vec![0x5au8; 16 * 1024];
            let mut back = vec![0u8; chunk.len()];
            loop {
                if s.write_all(&chunk).is_err() || s.read_exact(&mut back).is_err() {
                    break;
                }
                moved.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            *ended.lock().unwrap() = Some(Instant::now());
        })
    };
    testkit::wait_until(T, "bytes flowing", || {
        moved.load(Ordering::Relaxed) > 1024 * 1024
    });
    let killed = Instant::now();
    sshd.kill();

    // Loss → retry 1 at once; retry n+1 is announced when attempt n failed.
    let first = ev.wait_for(T, "retry 1", |e| {
        e.data["id"] == id.as_str()
            && e.data["status"] == "reconnecting"
            && e.data["retry_count"] == 1
    });
    assert!(
        first.at - killed < Duration::from_secs(2),
        "loss seen after {:?}",
        first.at - killed
    );
    pump.join().unwrap();
    let end = ended.lock().unwrap().expect("pump ended");
    assert!(
        end - killed < Duration::from_secs(5),
        "the in-flight client hung for {:?}",
        end - killed
    );
    ev.wait_for(Duration::from_secs(15), "retry 4", |e| {
        e.data["id"] == id.as_str() && e.data["retry_count"] == 4
    });
    // Attempt 4 is due 8 s after retry 4 was announced: have sshd back before then.
    sshd.restart();
    let back = ev.wait_for(Duration::from_secs(20), "connected again", |e| {
        e.data["id"] == id.as_str() && e.data["status"] == "connected" && e.at > first.at
    });

    let events = runtime_events(&ev, &id);
    let at_retry = |n: u64| {
        events
            .iter()
            .find(|(_, r)| r["status"] == "reconnecting" && r["retry_count"] == n)
            .unwrap_or_else(|| panic!("no retry {n} event in {events:#?}"))
            .0
    };
    let marks = [at_retry(1), at_retry(2), at_retry(3), at_retry(4), back.at];
    for (i, want) in [1.0f64, 2.0, 4.0, 8.0].into_iter().enumerate() {
        let got = (marks[i + 1] - marks[i]).as_secs_f64();
        assert!(
            got >= want - 0.15 && got <= want + 1.5,
            "backoff step {}: {got:.2}s, want {want}s (marks {marks:?})",
            i + 1
        );
    }
    let t = agent.wait_status(&id, "connected", T);
    assert_eq!(t["retry_count"], 0, "{t}");
    echo_roundtrip(local(port), b"after the storm").unwrap();
}

/// sshd frozen (SIGSTOP: TCP stays up, nothing answers): with `--probe-interval 1
/// --probe-timeout 1` the probe declares the transport dead within interval + timeout (+ slack);
/// after SIGCONT the tunnel is `connected` again.
#[test]
fn sshd_frozen_is_caught_by_the_probe_then_recovers() {
    let sshd = Sshd::start();
    let agent = Agent::start(
        AgentOpts::trusting(&[&sshd])
            .arg("--probe-interval")
            .arg("1")
            .arg("--probe-timeout")
            .arg("1"),
    );
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let port = testkit::free_port();
    let id = agent.local_tunnel(
        &sshd,
        &prof,
        "frozen",
        port,
        echo,
        json!({"max_retries": 0}),
    );
    start(&agent, &id);
    agent.wait_status(&id, "connected", T);
    echo_roundtrip(local(port), b"before").unwrap();

    sshd.stop();
    let stopped = Instant::now();
    let t = agent.wait_status(&id, "reconnecting", Duration::from_secs(10));
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "black hole detected after {took:?} (interval 1 s + timeout 1 s)"
    );
    // The status says it was the probe, not only "lost".
    let last_error = t["last_error"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("lost: health probe of"),
        "last_error does not say the probe caught it: {t}"
    );
    assert!(
        agent.log().contains("health probe of"),
        "not the probe that caught it:\n{}",
        tail(&agent.log(), 20)
    );

    sshd.cont();
    agent.wait_status(&id, "connected", Duration::from_secs(40));
    echo_roundtrip(local(port), b"after").unwrap();
}

/// A tunnel to sshd B through jump host A: A is killed (B keeps running) → `reconnecting`; A
/// back → the whole chain is rebuilt and data flows again.
#[test]
fn jump_host_dies_and_the_chain_is_rebuilt() {
    let mut jump = Sshd::start();
    let target = Sshd::start();
    let target_pid = target.pid();
    let agent = Agent::start(AgentOpts::trusting(&[&jump, &target]));
    let pj = agent.key_profile(&jump, "jump-key");
    let pt = agent.key_profile(&target, "target-key");
    let j = agent.post_ok(
        "/jump-hosts",
        json!({"name": "bastion", "host": "127.0.0.1", "port": jump.port(), "profile_id": pj}),
        StatusCode::CREATED,
    );
    let echo = echo_server();
    let port = testkit::free_port();
    let id = agent.local_tunnel(
        &target,
        &pt,
        "via-jump",
        port,
        echo,
        json!({"jump_host_id": j["id"], "max_retries": 0}),
    );
    start(&agent, &id);
    agent.wait_status(&id, "connected", T);
    echo_roundtrip(local(port), b"through the bastion").unwrap();
    assert!(jump.wait_for_log("server_request_direct_tcpip", T));

    jump.kill();
    agent.wait_status(&id, "reconnecting", Duration::from_secs(5));
    assert!(target.is_running() && target.pid() == target_pid);
    jump.restart();
    agent.wait_status(&id, "connected", Duration::from_secs(30));
    echo_roundtrip(local(port), b"rebuilt").unwrap();
    assert!(
        target.is_running() && target.pid() == target_pid,
        "B never restarted"
    );
}

/// A target that refuses: SOCKS answers 0x05 (connection refused), the -L client is closed,
/// and both tunnels stay `connected` and keep serving good requests.
#[test]
fn refused_targets_close_the_client_and_the_tunnel_stays_up() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let refused = local(refused_port());

    let lport = testkit::free_port();
    let lid = agent.local_tunnel(&sshd, &prof, "L-refused", lport, refused, json!({}));
    let dport = testkit::free_port();
    let d = agent.post_ok(
        "/tunnels",
        json!({"name": "D", "host": "127.0.0.1", "port": sshd.port(), "profile_id": prof,
               "forward_type": "dynamic", "local_port": dport}),
        StatusCode::CREATED,
    );
    let did = d["id"].as_str().unwrap().to_string();
    start(&agent, &lid);
    start(&agent, &did);
    agent.wait_status(&lid, "connected", T);
    agent.wait_status(&did, "connected", T);

    for round in 0..3 {
        let (rep, _s) = socks5_connect(local(dport), refused);
        assert_eq!(rep, 0x05, "round {round}: SOCKS reply for a refused target");

        let mut c = TcpStream::connect(local(lport)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(b"hello?");
        let mut buf = [0u8; 16];
        match c.read(&mut buf) {
            Ok(0) => {}
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut => {}
            other => panic!("round {round}: -L client to a refused target not closed: {other:?}"),
        }
    }
    for id in [&lid, &did] {
        let t = agent.status_of(id).unwrap();
        assert_eq!(t["status"], "connected", "{t}");
        assert_eq!(t["retry_count"], 0, "{t}");
    }
    // The SOCKS tunnel still serves a good target.
    let (rep, mut s) = socks5_connect(local(dport), echo);
    assert_eq!(rep, 0);
    s.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ping");
}

/// A local port another process holds when the tunnel starts → `failed`, and the error names
/// the address; nothing half-started is left (after the port is freed, a start succeeds).
#[test]
fn taken_local_port_fails_naming_the_address() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let prof = agent.key_profile(&sshd, "k");
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    for (kind, extra) in [
        ("local", json!({})),
        (
            "dynamic",
            json!({"forward_type": "dynamic", "remote_host": null, "remote_port": null}),
        ),
    ] {
        let id = agent.local_tunnel(&sshd, &prof, kind, port, echo_server(), extra);
        let _ = agent.post_empty(&format!("/tunnels/{id}/start"));
        let t = agent.wait_status(&id, "failed", T);
        let err = t["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{kind}: {t}");
        let (s, v) = agent.delete(&format!("/tunnels/{id}"));
        assert!(s.is_success(), "{v}");
    }
    drop(squatter);
    let id = agent.local_tunnel(&sshd, &prof, "now-free", port, echo_server(), json!({}));
    start(&agent, &id);
    agent.wait_status(&id, "connected", T);
    echo_roundtrip(local(port), b"free now").unwrap();
}

/// The agent SIGKILLed at a random point of 200 API writes (profiles with secrets, tunnels):
/// after a restart every acknowledged (2xx) write is there and SQLite's integrity check passes.
#[test]
fn agent_sigkilled_mid_writes_keeps_every_acknowledged_write() {
    let mut agent = Agent::start_default();
    let prof = agent.post_ok(
        "/profiles",
        json!({"name": "base", "username": "u", "auth_type": "password", "password": "pw-base"}),
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let kill_after = 30 + (nanos % 140) as usize; // somewhere in 30..170 of 200
    let acked: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (url, token) = (agent.url(""), agent.token.clone());
    let writer = {
        let (acked, stop, prof) = (acked.clone(), stop.clone(), prof.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            for i in 0..200 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (path, body) = if i % 2 == 0 {
                    (
                        "/profiles",
                        json!({"name": format!("p{i} ✓"), "username": "u",
                        "auth_type": "password", "password": format!("secret-{i}")}),
                    )
                } else {
                    (
                        "/tunnels",
                        json!({"name": format!("t{i}"), "host": "127.0.0.1",
                        "port": 22, "profile_id": prof, "forward_type": "local",
                        "local_port": 20000 + i, "remote_host": "127.0.0.1", "remote_port": 80}),
                    )
                };
                let Ok(r) = http
                    .post(format!("{url}{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                else {
                    continue; // the agent is gone: not acknowledged
                };
                if r.status().is_success() {
                    let v: Value = r.json().unwrap_or(Value::Null);
                    if let Some(id) = v["id"].as_str() {
                        acked.lock().unwrap().push((path, id.to_string()));
                    }
                }
            }
        })
    };
    testkit::wait_until(Duration::from_secs(60), "writes acknowledged", || {
        acked.lock().unwrap().len() >= kill_after
    });
    agent.kill9();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= kill_after);

    let db = agent.data_dir().join("portwarden.db");
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    drop(conn);

    agent.restart();
    let ids = |path: &str| -> Vec<String> {
        let (s, v) = agent.get(path);
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (profiles, tunnels) = (ids("/profiles"), ids("/tunnels"));
    for (path, id) in &acked {
        let have = if *path == "/profiles" {
            &profiles
        } else {
            &tunnels
        };
        assert!(
            have.contains(id),
            "acknowledged {path} {id} lost after SIGKILL"
        );
    }
    eprintln!(
        "killed after {} acknowledged writes; {} profiles, {} tunnels after restart",
        acked.len(),
        profiles.len(),
        tunnels.len()
    );
}

/// Suspend/resume: the agent process itself is frozen (SIGSTOP) for longer than its 1 s probe
/// tick while its sshd turned into a black hole. With a 30 s probe interval, the probe would
/// only run 30 s later; the clock gap makes it probe at once, so the dead link is seen within
/// the probe timeout of the resume.
#[test]
fn agent_frozen_then_resumed_probes_at_once() {
    let sshd = Sshd::start();
    let agent = Agent::start(
        AgentOpts::trusting(&[&sshd])
            .arg("--probe-interval")
            .arg("30")
            .arg("--probe-timeout")
            .arg("2"),
    );
    let prof = agent.key_profile(&sshd, "k");
    let port = testkit::free_port();
    let id = agent.local_tunnel(
        &sshd,
        &prof,
        "sleepy",
        port,
        echo_server(),
        json!({"max_retries": 0}),
    );
    start(&agent, &id);
    agent.wait_status(&id, "connected", T);
    echo_roundtrip(local(port), b"awake").unwrap();

    sshd.stop();
    signal(agent.pid(), "-STOP");
    std::thread::sleep(Duration::from_secs(4)); // the "suspend" (a fault, not a readiness wait)
    signal(agent.pid(), "-CONT");
    let resumed = Instant::now();
    agent.wait_status(&id, "reconnecting", Duration::from_secs(15));
    let took = resumed.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "dead link seen {took:?} after resume (probe timeout 2 s; interval 30 s)"
    );
    assert!(
        agent.log().contains("clock gap"),
        "no clock-gap probe logged:\n{}",
        tail(&agent.log(), 30)
    );
    sshd.cont();
    agent.wait_status(&id, "connected", Duration::from_secs(40));
}
