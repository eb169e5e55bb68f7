//! Jump chains and the pool against real sshds: A → B (A's log shows the direct-tcpip to B's
//! port), A → B → C, and two keepers on one route sharing one SSH connection that is closed
//! (sshd logs the disconnect) when the last one stops.

mod common;

use std::time::Duration;

use common::*;
use testkit::Sshd;

fn shows_direct_tcpip_to(jump: &Sshd, port: u16) -> bool {
    let log = jump.log();
    log.lines().any(|l| {
        l.contains("server_request_direct_tcpip") && l.contains(&format!("127.0.0.1 port {port}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hop_chain_runs_the_second_hop_over_direct_tcpip() {
    let a = Sshd::start();
    let b = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&a, &b]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    echo_small(run.local, b"over two hops").await;
    assert!(
        shows_direct_tcpip_to(&a, b.port()),
        "A's log has the direct-tcpip to B:\n{}",
        a.log()
    );
    // The forward's own channel is opened by B, not A.
    assert!(
        shows_direct_tcpip_to(&b, echo.port()),
        "B opened the forward:\n{}",
        b.log()
    );
    assert!(!shows_direct_tcpip_to(&a, echo.port()));
    assert_eq!(a.count_in_log("Accepted publickey"), 1);
    assert_eq!(b.count_in_log("Accepted publickey"), 1);
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hop_chain_works() {
    let a = Sshd::start();
    let b = Sshd::start();
    let c = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&a, &b, &c]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    let s = connect(run.local).await;
    tokio::time::timeout(Duration::from_secs(60), echo_check(s, &pattern(4 << 20, 9)))
        .await
        .expect("4 MiB over three hops");
    assert!(shows_direct_tcpip_to(&a, b.port()), "{}", a.log());
    assert!(shows_direct_tcpip_to(&b, c.port()), "{}", b.log());
    assert!(shows_direct_tcpip_to(&c, echo.port()), "{}", c.log());
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_keepers_on_one_route_share_one_connection_closed_with_the_last() {
    let sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let pool = tunnel::Pool::new(opts());
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut handles = Vec::new();
    let mut locals = Vec::new();
    for _ in 0..2 {
        let (fwd, local) = local_forward(echo);
        let h = tunnel::Keeper {
            route: route.clone(),
            forwards: vec![fwd],
            policy: tunnel::RetryPolicy::default(),
        }
        .spawn(pool.clone(), &cancel);
        wait_status(&h, Duration::from_secs(20), |s| {
            s.status == tunnel::Status::Connected
        })
        .await;
        handles.push(h);
        locals.push(local);
    }
    for l in &locals {
        echo_small(*l, b"shared").await;
    }
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1, "{}", sshd.log());
    assert_eq!(pool.len(), 1);

    let second = handles.pop().unwrap();
    let first = handles.pop().unwrap();
    first.stop().await;
    // Still up for the other keeper.
    echo_small(locals[1], b"still shared").await;
    assert_eq!(sshd.count_in_log("Received disconnect"), 0);
    second.stop().await;
    assert!(
        blocking(|| sshd.wait_for_log("Received disconnect", Duration::from_secs(10))),
        "sshd saw the client disconnect:\n{}",
        sshd.log()
    );
    assert!(pool.is_empty());
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_leases_share_one_connection_attempt() {
    let sshd = Sshd::start();
    let (route, _trust) = route(&[&sshd]);
    let pool = tunnel::Pool::new(opts());
    let (a, b) = tokio::join!(pool.lease(&route), pool.lease(&route));
    let (a, b) = (a.expect("lease a"), b.expect("lease b"));
    assert!(std::sync::Arc::ptr_eq(a.transport(), b.transport()));
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1);
    drop(a);
    assert!(!b.transport().is_closed());
    // A disconnect that arrives while sshd is still in its post-auth hand-over is handled
    // without a "Received disconnect" line; one round trip first makes the log line certain.
    b.transport()
        .probe(Duration::from_secs(10))
        .await
        .expect("probe the shared transport");
    drop(b);
    assert!(
        blocking(|| sshd.wait_for_log("Received disconnect", Duration::from_secs(10))),
        "{}",
        sshd.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reconnect_serves_every_keeper_of_a_dead_pooled_transport() {
    let mut sshd = Sshd::start();
    let (echo, _t) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let pool = tunnel::Pool::new(opts());
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut handles = Vec::new();
    let mut locals = Vec::new();
    for _ in 0..3 {
        let (fwd, local) = local_forward(echo);
        let h = tunnel::Keeper {
            route: route.clone(),
            forwards: vec![fwd],
            policy: tunnel::RetryPolicy::default(),
        }
        .spawn(pool.clone(), &cancel);
        wait_status(&h, Duration::from_secs(20), |s| {
            s.status == tunnel::Status::Connected
        })
        .await;
        handles.push(h);
        locals.push(local);
    }
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1);
    blocking(|| sshd.restart()); // kills the shared connection, then comes back
    for h in &handles {
        wait_status(h, Duration::from_secs(30), |s| {
            s.status == tunnel::Status::Connected
        })
        .await;
    }
    for l in &locals {
        echo_small(*l, b"after the reconnect").await;
    }
    assert_eq!(
        sshd.count_in_log("Accepted publickey"),
        2,
        "one reconnect for all three keepers:\n{}",
        sshd.log()
    );
    for h in handles {
        h.stop().await;
    }
}
