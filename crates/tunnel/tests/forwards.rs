//! -L, -D and -R against a real sshd: 64 MiB each way intact (full duplex through an echo
//! server), 200 concurrent connections through one -L, and half-close (a reply sent after the
//! client's EOF still arrives).

mod common;

use std::time::{Duration, Instant};

use common::*;
use testkit::Sshd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tunnel::Forward;

const BIG_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_forward_carries_64_mib_both_ways() {
    let sshd = Sshd::start();
    let (echo, _echo_task) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    let data = pattern(BIG, 1);
    let t = Instant::now();
    let s = connect(run.local).await;
    let n = tokio::time::timeout(BIG_LIMIT, echo_check(s, &data))
        .await
        .expect("64 MiB echo through -L timed out");
    println!("-L: {} MiB each way in {:?}", n >> 20, t.elapsed());
    let c = run.handle.counters().snapshot();
    assert_eq!(c.bytes_out, BIG as u64, "bytes_out counts delivered bytes");
    assert_eq!(c.bytes_in, BIG as u64, "bytes_in counts delivered bytes");
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_forward_carries_64_mib_both_ways() {
    let sshd = Sshd::start();
    let (echo, _echo_task) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = dynamic_forward();
    let run = start(route, vec![fwd], local).await;
    let s = socks5_connect(run.local, &atyp_v4([127, 0, 0, 1]), echo.port())
        .await
        .expect("SOCKS5 connect to the echo server");
    let data = pattern(BIG, 2);
    let t = Instant::now();
    let n = tokio::time::timeout(BIG_LIMIT, echo_check(s, &data))
        .await
        .expect("64 MiB echo through -D timed out");
    println!("-D: {} MiB each way in {:?}", n >> 20, t.elapsed());
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_forward_carries_64_mib_both_ways() {
    let sshd = Sshd::start();
    let (echo, _echo_task) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let fwd = Forward::Remote {
        listen_host: "127.0.0.1".into(),
        listen_port: 0,
        target_host: "127.0.0.1".into(),
        target_port: echo.port(),
    };
    let run = start(route, vec![fwd], echo).await;
    let port = run.handle.state().allocated_ports[0].expect("server-allocated port reported");
    assert_ne!(port, 0);
    // The server side of -R: sshd listens on 127.0.0.1:<port>.
    let s = connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await;
    let data = pattern(BIG, 3);
    let t = Instant::now();
    let n = tokio::time::timeout(BIG_LIMIT, echo_check(s, &data))
        .await
        .expect("64 MiB echo through -R timed out");
    println!("-R: {} MiB each way in {:?}", n >> 20, t.elapsed());
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_through_one_local_forward() {
    let sshd = Sshd::start();
    let (echo, _echo_task) = testkit::echo_server().await;
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u64 {
        let addr = run.local;
        tasks.spawn(async move {
            let data = pattern(64 * 1024 + i as usize * 97, 1000 + i);
            let s = connect(addr).await;
            echo_check(s, &data).await
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(90), async {
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            r.expect("connection task");
            ok += 1;
        }
        ok
    })
    .await
    .expect("200 concurrent echoes timed out");
    assert_eq!(all, 200);
    assert_eq!(run.handle.counters().snapshot().total, 200);
    assert_eq!(
        sshd.count_in_log("Accepted publickey"),
        1,
        "all 200 connections ran over one SSH connection"
    );
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_reply_after_client_eof_arrives_through_local_forward() {
    let sshd = Sshd::start();
    // The far side: reads the whole request to EOF, only then answers (1 MiB + a trailer).
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = server.local_addr().unwrap();
    let reply = pattern(1024 * 1024, 77);
    let expected_reply = reply.clone();
    let far = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let mut request = Vec::new();
        s.read_to_end(&mut request).await.unwrap();
        s.write_all(&reply).await.unwrap();
        s.write_all(format!("got {} bytes", request.len()).as_bytes())
            .await
            .unwrap();
        s.shutdown().await.unwrap();
        request
    });
    let (route, _trust) = route(&[&sshd]);
    let (fwd, local) = local_forward(target);
    let run = start(route, vec![fwd], local).await;

    let mut c = connect(run.local).await;
    let request = pattern(300_000, 5);
    c.write_all(&request).await.unwrap();
    c.shutdown().await.unwrap(); // our EOF: the far side may now answer
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut got))
        .await
        .expect("reply after half-close timed out")
        .expect("read reply");
    let far_got = far.await.unwrap();
    assert_eq!(sha256(&far_got), sha256(&request), "request arrived intact");
    let trailer = format!("got {} bytes", request.len());
    assert_eq!(
        got.len(),
        expected_reply.len() + trailer.len(),
        "whole reply arrived"
    );
    assert_eq!(
        sha256(&got[..expected_reply.len()]),
        sha256(&expected_reply)
    );
    assert_eq!(&got[expected_reply.len()..], trailer.as_bytes());
    run.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_channel_open_says_why_and_where() {
    let sshd = Sshd::start();
    let (route, _trust) = route(&[&sshd]);
    let t = tunnel::Transport::connect(&route, &opts()).await.unwrap();
    let refused = testkit::refused_addr().await;
    let origin = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    let err = t
        .open_direct_tcpip("127.0.0.1", refused.port(), origin)
        .await
        .expect_err("nothing listens there");
    match &err {
        tunnel::TunnelError::ChannelOpen { code, .. } => {
            assert_eq!(*code, proto::socks::ReplyCode::ConnectionRefused, "{err}")
        }
        other => panic!("expected ChannelOpen, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&refused.to_string()),
        "names the target: {msg}"
    );
    assert!(
        msg.contains(&format!("127.0.0.1:{}", sshd.port())),
        "names the hop: {msg}"
    );
    // OpenSSH's own description is passed on.
    assert!(msg.contains("Connection refused"), "{msg}");
    assert!(
        !t.is_closed(),
        "a refused channel does not end the transport"
    );
    t.disconnect().await;
}
