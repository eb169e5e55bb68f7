//! Per-channel flow control on one real SSH transport: a client that never reads stalls only its
//! own channel. While client A sits on a firehose it never reads, client B moves 64 MiB through
//! another connection of the same -L forward, and a health probe still gets through.

mod common;

use std::time::{Duration, Instant};

use common::*;
use testkit::Sshd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The far side: the first byte picks the mode. `F` = firehose (writes as fast as it can until
/// the peer goes away), anything else = echo of the rest.
async fn mode_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut mode = [0u8; 1];
                if s.read_exact(&mut mode).await.is_err() {
                    return;
                }
                if mode[0] == b'F' {
                    let chunk = pattern(1 << 20, 42);
                    for _ in 0..64 {
                        if s.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    // Keep the connection open until the peer goes.
                    let mut sink = [0u8; 1];
                    let _ = s.read(&mut sink).await;
                } else {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                }
            });
        }
    });
    addr
}

async fn echo_through(addr: std::net::SocketAddr, data: &[u8]) -> Duration {
    let mut s = connect(addr).await;
    s.write_all(b"E").await.unwrap();
    let t = Instant::now();
    echo_check(s, data).await;
    t.elapsed()
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_does_not_block_other_channels_or_the_probe() {
    let sshd = Sshd::start();
    let target = mode_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(target);
    let run = start(route.clone(), vec![fwd], local).await;
    let data = pattern(BIG, 8);

    let alone = tokio::time::timeout(Duration::from_secs(60), echo_through(run.local, &data))
        .await
        .expect("B alone timed out");

    // A: asks for the firehose and never reads.
    let mut a = connect(run.local).await;
    a.write_all(b"F").await.unwrap();
    let counters = run.handle.counters().clone();
    let before = counters.snapshot().bytes_in;
    let deadline = Instant::now() + Duration::from_secs(20);
    while counters.snapshot().bytes_in < before + (1 << 20) {
        assert!(Instant::now() < deadline, "firehose never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // B: 64 MiB through another connection of the same forward, same transport.
    let stalled = tokio::time::timeout(Duration::from_secs(60), echo_through(run.local, &data))
        .await
        .expect("B must complete while A is stalled (head-of-line blocking?)");
    println!(
        "B alone: {:.1} MiB/s; B beside a stalled A: {:.1} MiB/s",
        mib_per_s(BIG, alone),
        mib_per_s(BIG, stalled)
    );

    // A probe on the same (pooled) transport still gets through.
    let lease = run
        .pool
        .lease(&route)
        .await
        .expect("lease the same transport");
    let t0 = Instant::now();
    lease
        .transport()
        .probe(Duration::from_secs(10))
        .await
        .expect("probe while A is stalled");
    println!("probe beside a stalled channel: {:?}", t0.elapsed());
    assert_eq!(
        sshd.count_in_log("Accepted publickey"),
        1,
        "one transport throughout"
    );
    drop(lease);
    drop(a);
    run.handle.stop().await;
}
