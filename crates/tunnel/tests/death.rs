//! Death detection and the reconnect engine against a real sshd: a killed sshd is seen within a
//! second, a SIGSTOPped one by the probe within interval + timeout; a keeper reconnects after a
//! restart (retry count reset), keeps its listener bound meanwhile (a client that connects then
//! is served once sshd is back), gives up after max_retries or at once without auto_reconnect,
//! and fails at once on a taken port or a non-loopback bind.

mod common;

use std::time::{Duration, Instant};

use common::*;
use testkit::Sshd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunnel::{Forward, RetryPolicy, SshOptions, Status, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sshd_closes_the_transport_within_a_second() {
    let mut sshd = Sshd::start();
    let (route, _trust) = route(&[&sshd]);
    let t = Transport::connect(&route, &opts()).await.expect("connect");
    assert!(!t.is_closed());
    blocking(|| sshd.kill());
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(1), t.closed())
        .await
        .expect("transport death seen within 1 s of the kill");
    println!("death seen {:?} after kill() returned", start.elapsed());
    assert!(t.is_closed());
    // The connection ended by itself: there is no probe verdict to report.
    assert_eq!(t.death_reason(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_sshd_is_declared_dead_by_the_probe() {
    let sshd = Sshd::start();
    let (route, _trust) = route(&[&sshd]);
    let interval = Duration::from_secs(1);
    let timeout = Duration::from_secs(1);
    let o = SshOptions {
        probe_interval: interval,
        probe_timeout: timeout,
        ..opts()
    };
    let t = Transport::connect(&route, &o).await.expect("connect");
    // Probes succeed while sshd answers.
    t.probe(Duration::from_secs(5))
        .await
        .expect("probe of a live server");
    blocking(|| sshd.stop());
    let start = Instant::now();
    let limit = interval + timeout + Duration::from_millis(1500);
    let seen = tokio::time::timeout(limit, t.closed()).await;
    let took = start.elapsed();
    blocking(|| sshd.cont());
    seen.unwrap_or_else(|_| panic!("probe did not declare the black hole dead within {limit:?}"));
    println!(
        "black hole declared dead after {took:?} (interval {interval:?} + timeout {timeout:?})"
    );
    assert!(t.is_closed());
    let why = t
        .death_reason()
        .expect("the probe says why it declared the transport dead");
    assert!(why.starts_with("health probe of"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_reconnects_after_restart_with_retry_count_reset() {
    let mut sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    echo_small(run.local, b"before").await;

    blocking(|| sshd.kill());
    let s = wait_status(&run.handle, Duration::from_secs(3), |s| {
        s.status == Status::Reconnecting
    })
    .await;
    assert!(s.retry_count >= 1, "{s:?}");
    assert!(s.last_error.is_some(), "{s:?}");
    blocking(|| sshd.restart());
    let s = wait_status(&run.handle, Duration::from_secs(30), |s| {
        s.status == Status::Connected
    })
    .await;
    assert_eq!(s.retry_count, 0, "{s:?}");
    assert_eq!(s.last_error, None);
    echo_small(run.local, b"after").await;
    assert_eq!(sshd.count_in_log("Accepted publickey"), 2);
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_stays_bound_while_reconnecting_and_serves_a_waiting_client() {
    let mut sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    blocking(|| sshd.kill());
    wait_status(&run.handle, Duration::from_secs(3), |s| {
        s.status == Status::Reconnecting
    })
    .await;

    // Connect while reconnecting: accepted by the still-bound listener.
    let mut c = connect(run.local).await;
    c.write_all(b"waited for the tunnel").await.unwrap();
    c.shutdown().await.unwrap();
    blocking(|| sshd.restart());
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut got))
        .await
        .expect("waiting client served after the restart")
        .unwrap();
    assert_eq!(got, b"waited for the tunnel");
    assert_eq!(run.handle.state().status, Status::Connected);
    run.handle.stop().await;
}

#[tokio::test]
async fn max_retries_exhausted_fails_with_the_last_error() {
    let refused = testkit::refused_addr().await;
    let sshd = Sshd::start(); // only for user/known_hosts shapes; the route points elsewhere
    let (mut route, _trust) = route(&[&sshd]);
    route.hops[0].port = refused.port();
    let pool = tunnel::Pool::new(opts());
    let cancel = tokio_util::sync::CancellationToken::new();
    let (fwd, local) = local_forward(refused);
    let h = tunnel::Keeper {
        route,
        forwards: vec![fwd],
        policy: RetryPolicy {
            auto_reconnect: true,
            max_retries: 2,
        },
    }
    .spawn(pool, &cancel);
    let mut seen = Vec::new();
    let mut rx = h.watch();
    let end = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let s = rx.borrow_and_update().clone();
            if s.status == Status::Reconnecting && !seen.contains(&s.retry_count) {
                seen.push(s.retry_count);
            }
            if s.status == Status::Failed {
                return s;
            }
            rx.changed().await.expect("keeper state");
        }
    })
    .await
    .expect("keeper gave up in time");
    assert_eq!(seen, vec![1, 2], "reconnecting retry 1, then retry 2");
    let err = end.last_error.expect("last error kept");
    assert!(err.contains("cannot connect to"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", refused.port())),
        "{err}"
    );
    // Nothing is left half-started: the listener is gone.
    assert!(
        tokio::net::TcpStream::connect(local).await.is_err(),
        "listener closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reconnect_off_fails_with_the_reference_text() {
    let mut sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(echo);
    let run = start_with(
        route,
        vec![fwd],
        local,
        opts(),
        RetryPolicy {
            auto_reconnect: false,
            max_retries: 5,
        },
    )
    .await;
    blocking(|| sshd.kill());
    let s = wait_status(&run.handle, Duration::from_secs(5), |s| {
        s.status == Status::Failed
    })
    .await;
    assert_eq!(
        s.last_error.as_deref(),
        Some("Connection lost (auto_reconnect disabled)")
    );
    assert!(
        tokio::net::TcpStream::connect(local).await.is_err(),
        "listener torn down"
    );
}

#[tokio::test]
async fn local_port_in_use_fails_at_once_naming_the_address() {
    let sshd = Sshd::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (route, _trust) = route(&[&sshd]);
    let pool = tunnel::Pool::new(opts());
    let cancel = tokio_util::sync::CancellationToken::new();
    let h = tunnel::Keeper {
        route,
        forwards: vec![Forward::Local {
            bind: "127.0.0.1".into(),
            port,
            host: "127.0.0.1".into(),
            host_port: 9,
        }],
        policy: RetryPolicy::default(),
    }
    .spawn(pool.clone(), &cancel);
    let s = wait_status(&h, Duration::from_secs(2), |s| s.status == Status::Failed).await;
    let err = s.last_error.unwrap();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("address already in use"), "{err}");
    assert_eq!(s.retry_count, 0);
    assert!(pool.is_empty(), "no transport left behind");
    assert_eq!(
        sshd.count_in_log("Accepted publickey"),
        0,
        "never connected"
    );
}

#[tokio::test]
async fn non_loopback_bind_fails_with_the_reference_text() {
    let sshd = Sshd::start();
    let (route, _trust) = route(&[&sshd]);
    let pool = tunnel::Pool::new(opts());
    let cancel = tokio_util::sync::CancellationToken::new();
    let h = tunnel::Keeper {
        route,
        forwards: vec![Forward::Dynamic {
            bind: "0.0.0.0".into(),
            port: testkit::free_port(),
        }],
        policy: RetryPolicy::default(),
    }
    .spawn(pool, &cancel);
    let s = wait_status(&h, Duration::from_secs(2), |s| s.status == Status::Failed).await;
    assert_eq!(
        s.last_error.as_deref(),
        Some("bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth")
    );
    assert_eq!(sshd.count_in_log("Accepted publickey"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_with_a_remote_forward_survives_a_black_hole() {
    // -R on a fixed server port: after the probe gives up on the stopped sshd and it is
    // continued, the new connection asks for the same port while the old per-connection sshd
    // may still hold it; the request is retried and the forward comes back on that port.
    let sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let listen_port = testkit::free_port();
    let fwd = Forward::Remote {
        listen_host: "127.0.0.1".into(),
        listen_port,
        target_host: "127.0.0.1".into(),
        target_port: echo.port(),
    };
    let o = SshOptions {
        probe_interval: Duration::from_secs(1),
        probe_timeout: Duration::from_secs(1),
        ..opts()
    };
    let run = start_with(route, vec![fwd], echo, o, RetryPolicy::default()).await;
    assert_eq!(run.handle.state().allocated_ports, vec![Some(listen_port)]);
    let server_side = std::net::SocketAddr::from(([127, 0, 0, 1], listen_port));
    echo_small(server_side, b"before the black hole").await;

    blocking(|| sshd.stop());
    let s = wait_status(&run.handle, Duration::from_secs(6), |s| {
        s.status == Status::Reconnecting
    })
    .await;
    println!("black hole: {:?}", s.last_error);
    blocking(|| sshd.cont());
    let s = wait_status(&run.handle, Duration::from_secs(40), |s| {
        s.status == Status::Connected
    })
    .await;
    assert_eq!(s.allocated_ports, vec![Some(listen_port)]);
    assert_eq!(s.retry_count, 0);
    echo_small(server_side, b"after the black hole").await;
    run.handle.stop().await;
}
