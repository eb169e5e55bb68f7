//! Issue 7 — load: 1,000 concurrent connections held open through one SOCKS forward of an agent
//! tunnel while 50 other tunnels on the same pooled transport are started and stopped through
//! the API (3 rounds). No connection fails, and afterwards the agent's open file descriptors
//! (`/proc/<pid>/fd`) and live tasks (`portwarden_tasks` in /metrics) are back where they
//! started.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use testkit::Sshd;

const T: Duration = Duration::from_secs(30);
const HELD: usize = 1000;
const CHURN: usize = 50;
const ROUNDS: usize = 3;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A client that never keeps connections alive, so its own sockets never count as agent fds.
fn fresh_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn gauge(http: &reqwest::blocking::Client, agent: &Agent, name: &str) -> usize {
    let text = http
        .get(agent.url("/metrics"))
        .bearer_auth(&agent.token)
        .header("connection", "close")
        .send()
        .and_then(|r| r.text())
        .expect("GET /metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// The `/tunnels/status` item of `id`, through `http` (not the harness's pooled client).
fn status(http: &reqwest::blocking::Client, agent: &Agent, id: &str) -> serde_json::Value {
    let v: serde_json::Value = http
        .get(agent.url("/tunnels/status"))
        .bearer_auth(&agent.token)
        .header("connection", "close")
        .send()
        .and_then(|r| r.json())
        .expect("GET /tunnels/status");
    v.as_array()
        .and_then(|a| a.iter().find(|t| t["id"] == id).cloned())
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn wait(
    http: &reqwest::blocking::Client,
    agent: &Agent,
    id: &str,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = Instant::now() + T;
    loop {
        let t = status(http, agent, id);
        if f(&t) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: no {what} within {T:?}: {t}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn socks_open(proxy: SocketAddr, target: SocketAddr) -> Result<TcpStream, String> {
    let mut s =
        TcpStream::connect_timeout(&proxy, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&[5, 1, 0]).map_err(|e| format!("greet: {e}"))?;
    let mut m = [0u8; 2];
    s.read_exact(&mut m).map_err(|e| format!("method: {e}"))?;
    let SocketAddr::V4(v4) = target else {
        unreachable!()
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req).map_err(|e| format!("connect: {e}"))?;
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).map_err(|e| format!("reply: {e}"))?;
    if rep[1] != 0 {
        return Err(format!("SOCKS reply {}", rep[1]));
    }
    Ok(s)
}

fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> Result<(), String> {
    s.write_all(msg).map_err(|e| e.to_string())?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).map_err(|e| e.to_string())?;
    (got == msg)
        .then_some(())
        .ok_or_else(|| "echo mismatch".to_string())
}

#[test]
fn thousand_socks_connections_while_fifty_tunnels_churn_and_nothing_leaks() {
    let limit = testkit::raise_nofile_limit(16_384);
    assert!(
        limit >= 4 * HELD as u64,
        "RLIMIT_NOFILE {limit} too low for {HELD} connections"
    );
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let http = fresh_client();
    let prof = agent.key_profile(&sshd, "k");
    let echo = echo_server();
    let dport = testkit::free_port();
    let did = agent.socks_tunnel(&sshd, &prof, "socks", dport);
    let churn: Vec<String> = (0..CHURN)
        .map(|i| {
            agent.local_tunnel(
                &sshd,
                &prof,
                &format!("churn{i}"),
                testkit::free_port(),
                echo,
                json!({}),
            )
        })
        .collect();
    let (s, v) = agent.post_empty(&format!("/tunnels/{did}/start"));
    assert_eq!(s, StatusCode::OK, "{v}");
    agent.wait_status(&did, "connected", T);
    // Warm up (first-use allocations), then take the baseline.
    let mut w = socks_open(local(dport), echo).unwrap();
    roundtrip(&mut w, b"warm").unwrap();
    drop(w);
    wait(&http, &agent, &did, "idle", |t| {
        t["active_connections"] == 0
    });
    let pid = agent.pid();
    let (fd0, tasks0) = (fd_count(pid), gauge(&http, &agent, "portwarden_tasks"));

    let started = Instant::now();
    let failures = AtomicUsize::new(0);
    let churned = AtomicUsize::new(0);
    let held: Vec<TcpStream> = std::thread::scope(|sc| {
        // The churn: start all 50, wait until connected, stop all 50; ROUNDS times.
        sc.spawn(|| {
            let http = fresh_client();
            let post = |path: String| {
                let r = http
                    .post(agent.url(&path))
                    .bearer_auth(&agent.token)
                    .header("connection", "close")
                    .send()
                    .expect("churn request");
                assert!(r.status().is_success(), "{path}: {}", r.status());
            };
            for _ in 0..ROUNDS {
                for id in &churn {
                    post(format!("/tunnels/{id}/start"));
                }
                for id in &churn {
                    wait(&http, &agent, id, "connected", |t| {
                        t["status"] == "connected"
                    });
                }
                for id in &churn {
                    post(format!("/tunnels/{id}/stop"));
                }
                for id in &churn {
                    wait(&http, &agent, id, "disconnected", |t| {
                        t["status"] == "disconnected"
                    });
                }
                churned.fetch_add(CHURN, Ordering::Relaxed);
            }
        });
        // The load: 8 openers, each opening its share and checking every connection echoes.
        let openers: Vec<_> = (0..8)
            .map(|k| {
                let failures = &failures;
                sc.spawn(move || {
                    let mut mine = Vec::new();
                    for i in (k..HELD).step_by(8) {
                        match socks_open(local(dport), echo).and_then(|mut s| {
                            roundtrip(&mut s, format!("hello {i}").as_bytes()).map(|_| s)
                        }) {
                            Ok(s) => mine.push(s),
                            Err(e) => {
                                eprintln!("connection {i}: {e}");
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        openers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "connections failed under load"
    );
    assert_eq!(held.len(), HELD);
    let t = status(&http, &agent, &did);
    assert_eq!(t["status"], "connected", "{t}");
    assert_eq!(t["active_connections"], HELD, "{t}");
    let peak_fds = fd_count(pid);
    // All still alive after the churn: each one echoes again.
    let mut held = held;
    for (i, s) in held.iter_mut().enumerate() {
        roundtrip(s, b"still here").unwrap_or_else(|e| panic!("held connection {i}: {e}"));
    }
    drop(held);
    let elapsed = started.elapsed();

    wait(&http, &agent, &did, "all closed", |t| {
        t["active_connections"] == 0
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut fd1, mut tasks1);
    loop {
        fd1 = fd_count(pid);
        tasks1 = gauge(&http, &agent, "portwarden_tasks");
        if (fd1 <= fd0 && tasks1 <= tasks0) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !agent.log().contains("panicked"),
        "a panic in the agent log"
    );
    assert_eq!(
        gauge(&http, &agent, "portwarden_keepers"),
        1,
        "only the SOCKS keeper runs"
    );
    assert!(
        fd1 <= fd0,
        "fd leak: {fd0} before, {fd1} after (peak {peak_fds})"
    );
    assert!(
        tasks1 <= tasks0,
        "task leak: {tasks0} before, {tasks1} after"
    );
    eprintln!(
        "held {HELD} SOCKS connections ({} tunnel starts/stops beside them) in {elapsed:?}; \
         agent fds {fd0} → peak {peak_fds} → {fd1}; tasks {tasks0} → {tasks1}",
        churned.load(Ordering::Relaxed)
    );
}
