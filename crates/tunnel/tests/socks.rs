//! The -D listener against a real sshd: every SOCKS5 address type, every error reply we can
//! provoke for real (refused 0x05, not allowed 0x02, command 0x07, address type 0x08, no
//! acceptable method 0xFF with its log line), SOCKS4, SOCKS4a and HTTP CONNECT.
//! Targets are only 127.0.0.1, ::1 and "localhost".

mod common;

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::*;
use testkit::{Sshd, SshdOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Everything the tunnel crate logged in this test binary.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
    });
}

fn logged() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

struct Proxy {
    _sshd: Sshd,
    _trust: Trust,
    run: Running,
}

async fn proxy_with(opts: SshdOptions) -> Proxy {
    capture_logs();
    let sshd = Sshd::start_with(opts);
    let (route, trust) = route(&[&sshd]);
    let (fwd, local) = dynamic_forward();
    let run = start(route, vec![fwd], local).await;
    Proxy {
        _sshd: sshd,
        _trust: trust,
        run,
    }
}

async fn proxy() -> Proxy {
    proxy_with(SshdOptions::default()).await
}

async fn read_some(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut buf))
        .await
        .expect("reply timed out")
        .expect("read reply");
    buf
}

/// Reads until the end of an HTTP response head.
async fn read_http_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut b))
            .await
            .expect("HTTP reply timed out")
            .expect("read HTTP reply");
        if n == 0 {
            break;
        }
        head.push(b[0]);
        assert!(head.len() < 4096, "HTTP head too long");
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn socks5_ipv4_target() {
    let p = proxy().await;
    let (echo, _t) = testkit::echo_server().await;
    let s = socks5_connect(p.run.local, &atyp_v4([127, 0, 0, 1]), echo.port())
        .await
        .expect("SOCKS5 IPv4 connect");
    echo_check(s, &pattern(200_000, 11)).await;
}

#[tokio::test]
async fn socks5_domain_target_localhost() {
    let p = proxy().await;
    let (echo, _t) = testkit::echo_server().await;
    let s = socks5_connect(p.run.local, &atyp_domain("localhost"), echo.port())
        .await
        .expect("SOCKS5 domain connect");
    echo_check(s, &pattern(200_000, 12)).await;
}

#[tokio::test]
async fn socks5_ipv6_target() {
    let p = proxy().await;
    let listener = match TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).await {
        Ok(l) => l,
        Err(e) => {
            println!("NOTE: skipping the IPv6 SOCKS5 test: cannot bind [::1]:0 ({e})");
            return;
        }
    };
    let port = listener.local_addr().unwrap().port();
    let _echo = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    let s = socks5_connect(p.run.local, &atyp_v6(Ipv6Addr::LOCALHOST), port)
        .await
        .expect("SOCKS5 IPv6 connect");
    echo_check(s, &pattern(200_000, 13)).await;
}

#[tokio::test]
async fn socks5_connection_refused_is_0x05() {
    let p = proxy().await;
    let refused = testkit::refused_addr().await;
    let r = socks5_connect(p.run.local, &atyp_v4([127, 0, 0, 1]), refused.port()).await;
    assert_eq!(r.err(), Some(0x05), "refused target → 0x05");
}

#[tokio::test]
async fn socks5_not_allowed_is_0x02() {
    let p = proxy_with(SshdOptions {
        extra_config: vec!["PermitOpen 127.0.0.1:1".into()],
        ..Default::default()
    })
    .await;
    let (echo, _t) = testkit::echo_server().await;
    let r = socks5_connect(p.run.local, &atyp_v4([127, 0, 0, 1]), echo.port()).await;
    assert_eq!(r.err(), Some(0x02), "PermitOpen refusal → 0x02");
}

async fn socks5_raw_request(p: &Proxy, req: &[u8]) -> u8 {
    let mut s = connect(p.run.local).await;
    s.write_all(&[5, 1, 0]).await.unwrap();
    assert_eq!(read_some(&mut s, 2).await, [5, 0]);
    s.write_all(req).await.unwrap();
    read_socks5_reply(&mut s).await
}

#[tokio::test]
async fn socks5_bind_and_udp_associate_are_0x07() {
    let p = proxy().await;
    for cmd in [2u8, 3u8] {
        let code = socks5_raw_request(&p, &[5, cmd, 0, 1, 127, 0, 0, 1, 0, 80]).await;
        assert_eq!(code, 0x07, "command {cmd} → 0x07");
    }
}

#[tokio::test]
async fn socks5_unknown_address_type_is_0x08() {
    let p = proxy().await;
    let code = socks5_raw_request(&p, &[5, 1, 0, 9, 127, 0, 0, 1, 0, 80]).await;
    assert_eq!(code, 0x08, "ATYP 9 → 0x08");
}

#[tokio::test]
async fn socks5_without_no_auth_method_gets_0xff_and_is_logged() {
    let p = proxy().await;
    let mut s = connect(p.run.local).await;
    s.write_all(&[5, 1, 2]).await.unwrap(); // username/password only
    assert_eq!(read_some(&mut s, 2).await, [5, 0xFF]);
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "connection closed after 0xFF");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !logged().contains("Client does not support no-auth method") {
        assert!(
            std::time::Instant::now() < deadline,
            "log line missing; log:\n{}",
            logged()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn socks4_connect() {
    let p = proxy().await;
    let (echo, _t) = testkit::echo_server().await;
    let mut s = connect(p.run.local).await;
    let mut req = vec![4, 1];
    req.extend_from_slice(&echo.port().to_be_bytes());
    req.extend_from_slice(&[127, 0, 0, 1]);
    req.extend_from_slice(b"tester\0");
    s.write_all(&req).await.unwrap();
    let reply = read_some(&mut s, 8).await;
    assert_eq!(reply[..2], [0, 0x5A], "SOCKS4 granted");
    echo_check(s, &pattern(100_000, 14)).await;
}

#[tokio::test]
async fn socks4a_connect_by_name() {
    let p = proxy().await;
    let (echo, _t) = testkit::echo_server().await;
    let mut s = connect(p.run.local).await;
    let mut req = vec![4, 1];
    req.extend_from_slice(&echo.port().to_be_bytes());
    req.extend_from_slice(&[0, 0, 0, 1]);
    req.extend_from_slice(b"tester\0localhost\0");
    s.write_all(&req).await.unwrap();
    let reply = read_some(&mut s, 8).await;
    assert_eq!(reply[..2], [0, 0x5A], "SOCKS4a granted");
    echo_check(s, &pattern(100_000, 15)).await;
}

#[tokio::test]
async fn socks4_refused_target_is_rejected() {
    let p = proxy().await;
    let refused = testkit::refused_addr().await;
    let mut s = connect(p.run.local).await;
    let mut req = vec![4, 1];
    req.extend_from_slice(&refused.port().to_be_bytes());
    req.extend_from_slice(&[127, 0, 0, 1, 0]);
    s.write_all(&req).await.unwrap();
    let reply = read_some(&mut s, 8).await;
    assert_eq!(reply[..2], [0, 0x5B], "SOCKS4 rejected");
}

#[tokio::test]
async fn http_connect_200_then_data() {
    let p = proxy().await;
    let (echo, _t) = testkit::echo_server().await;
    let mut s = connect(p.run.local).await;
    let target = SocketAddr::from(([127, 0, 0, 1], echo.port()));
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_http_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "got {head:?}");
    echo_check(s, &pattern(100_000, 16)).await;
}

#[tokio::test]
async fn http_connect_failing_target_is_not_200() {
    let p = proxy().await;
    let refused = testkit::refused_addr().await;
    let mut s = connect(p.run.local).await;
    s.write_all(format!("CONNECT {refused} HTTP/1.1\r\nHost: {refused}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_http_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 "), "got {head:?}");
    assert!(!head.starts_with("HTTP/1.1 200"), "got {head:?}");
    assert!(
        head.starts_with("HTTP/1.1 502"),
        "refused → 502 Bad Gateway, got {head:?}"
    );
}
