//! Shared helpers for the tunnel integration tests: routes, hops and host-key settings built
//! from real `testkit::Sshd` processes, keepers with one forward, and byte-exact transfer checks
//! (sha256 of what was sent against what came back).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::TempDir;
use testkit::Sshd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tunnel::{
    Credentials, Forward, Hop, HostKeyPolicy, HostKeys, KeeperHandle, KeyFile, Pool, RetryPolicy,
    Route, SshOptions, State, Status,
};

/// 64 MiB: what each direction must carry intact.
pub const BIG: usize = 64 * 1024 * 1024;

/// A hop for `sshd` that logs in with its generated client key.
pub fn hop(sshd: &Sshd) -> Hop {
    hop_with(sshd, key_creds(&sshd.client_key()))
}

/// A hop for `sshd` with the given credentials.
pub fn hop_with(sshd: &Sshd, credentials: Credentials) -> Hop {
    Hop {
        host: "127.0.0.1".into(),
        port: sshd.port(),
        user: sshd.user(),
        credentials,
    }
}

/// Credentials with one unencrypted key file.
pub fn key_creds(path: &Path) -> Credentials {
    Credentials {
        keys: vec![KeyFile {
            path: path.to_path_buf(),
            passphrase: None,
        }],
        ..Default::default()
    }
}

/// A temp dir with a known_hosts file trusting every given sshd (strict policy).
pub struct Trust {
    pub dir: TempDir,
    pub file: PathBuf,
}

impl Trust {
    pub fn new(servers: &[&Sshd]) -> Trust {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, "").expect("write known_hosts");
        for s in servers {
            s.write_known_hosts(&file);
        }
        Trust { dir, file }
    }

    pub fn strict(&self) -> HostKeys {
        HostKeys {
            policy: HostKeyPolicy::Strict,
            files: vec![self.file.clone()],
            write_to: None,
        }
    }
}

/// A route through `servers` in order (jumps first, target last), each hop with its own key,
/// every host key trusted. Keep the returned `Trust` alive as long as the route is used.
pub fn route(servers: &[&Sshd]) -> (Route, Trust) {
    let trust = Trust::new(servers);
    let route = Route {
        hops: servers.iter().map(|s| hop(s)).collect(),
        host_keys: trust.strict(),
    };
    (route, trust)
}

/// Test-friendly timeouts (short but generous for a loaded 2-core machine).
pub fn opts() -> SshOptions {
    SshOptions {
        connect_timeout: Duration::from_secs(10),
        auth_timeout: Duration::from_secs(10),
        channel_timeout: Duration::from_secs(10),
        wait_for_transport: Duration::from_secs(20),
        ..Default::default()
    }
}

/// A running keeper plus what keeps it alive.
pub struct Running {
    pub handle: KeeperHandle,
    pub pool: Pool,
    pub cancel: CancellationToken,
    /// Local listen address of the first forward (for -L and -D).
    pub local: SocketAddr,
}

/// A -L forward from a free loopback port to `target` (as seen from the server).
pub fn local_forward(target: SocketAddr) -> (Forward, SocketAddr) {
    let port = testkit::free_port();
    (
        Forward::Local {
            bind: "127.0.0.1".into(),
            port,
            host: target.ip().to_string(),
            host_port: target.port(),
        },
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

/// A -D forward on a free loopback port.
pub fn dynamic_forward() -> (Forward, SocketAddr) {
    let port = testkit::free_port();
    (
        Forward::Dynamic {
            bind: "127.0.0.1".into(),
            port,
        },
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

/// Spawns a keeper for `forwards` over `route` on a fresh pool and waits until it is connected.
pub async fn start(route: Route, forwards: Vec<Forward>, local: SocketAddr) -> Running {
    start_with(route, forwards, local, opts(), RetryPolicy::default()).await
}

pub async fn start_with(
    route: Route,
    forwards: Vec<Forward>,
    local: SocketAddr,
    opts: SshOptions,
    policy: RetryPolicy,
) -> Running {
    let pool = Pool::new(opts);
    let cancel = CancellationToken::new();
    let handle = tunnel::Keeper {
        route,
        forwards,
        policy,
    }
    .spawn(pool.clone(), &cancel);
    let state = wait_status(&handle, Duration::from_secs(20), |s| {
        matches!(s.status, Status::Connected | Status::Failed)
    })
    .await;
    assert_eq!(
        state.status,
        Status::Connected,
        "keeper did not connect: {state:?}"
    );
    Running {
        handle,
        pool,
        cancel,
        local,
    }
}

/// Waits (bounded) for a keeper state that satisfies `pred`; panics with the last state.
pub async fn wait_status(
    handle: &KeeperHandle,
    limit: Duration,
    pred: impl Fn(&State) -> bool,
) -> State {
    match tokio::time::timeout(limit, handle.wait_for(&pred)).await {
        Ok(s) if pred(&s) => s,
        Ok(s) => panic!("keeper ended in {s:?}"),
        Err(_) => panic!(
            "timed out after {limit:?} waiting for a keeper state; last: {:?}",
            handle.state()
        ),
    }
}

/// Deterministic pseudo-random bytes (xorshift), different per `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `data` and reads the echo at the same time (full duplex), then checks the echo is
/// exactly what was sent. `stream` must reach an echo server. Returns bytes moved each way.
pub async fn echo_check<S>(stream: S, data: &[u8]) -> usize
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut r, mut w) = tokio::io::split(stream);
    let sent = data.to_vec();
    let len = sent.len();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(256 * 1024) {
            w.write_all(chunk).await.expect("write through the tunnel");
        }
        w.shutdown().await.expect("shutdown write half");
        w
    });
    let mut hasher = Sha256::new();
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).await.expect("read through the tunnel");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        got += n;
    }
    let _w = writer.await.expect("writer task");
    assert_eq!(got, len, "echo returned {got} bytes of {len}");
    assert_eq!(
        hex::encode(hasher.finalize()),
        sha256(data),
        "echoed bytes differ from what was sent"
    );
    got
}

/// Connects to `addr` (a -L listener) with a deadline.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("connect to {addr} timed out"))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// A small echo round trip through `addr` (a -L listener to an echo server).
pub async fn echo_small(addr: SocketAddr, msg: &[u8]) {
    let s = connect(addr).await;
    tokio::time::timeout(Duration::from_secs(20), echo_check(s, msg))
        .await
        .expect("small echo timed out");
}

/// `ssh-keygen -lf FILE` → the `SHA256:…` field.
pub fn keygen_fingerprint(pub_file: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_file)
        .output()
        .expect("run ssh-keygen -lf");
    assert!(out.status.success(), "ssh-keygen -lf failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint field")
        .to_string()
}

/// SOCKS5 no-auth CONNECT to `127.0.0.1:port`-style IPv4 / IPv6 / domain targets: sends the
/// greeting and the request, returns the stream after a success reply or the reply code.
pub async fn socks5_connect(
    proxy: SocketAddr,
    atyp_and_addr: &[u8],
    port: u16,
) -> Result<TcpStream, u8> {
    let mut s = connect(proxy).await;
    s.write_all(&[5, 1, 0]).await.expect("greeting");
    let mut method = [0u8; 2];
    s.read_exact(&mut method).await.expect("method reply");
    assert_eq!(method, [5, 0], "server must choose no-auth");
    let mut req = vec![5, 1, 0];
    req.extend_from_slice(atyp_and_addr);
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.expect("request");
    let code = read_socks5_reply(&mut s).await;
    if code == 0 {
        Ok(s)
    } else {
        Err(code)
    }
}

/// Reads a whole SOCKS5 reply (`VER REP RSV ATYP BND.ADDR BND.PORT`) and returns REP.
pub async fn read_socks5_reply(s: &mut TcpStream) -> u8 {
    let mut head = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut head))
        .await
        .expect("SOCKS5 reply timed out")
        .expect("SOCKS5 reply");
    assert_eq!(head[0], 5, "reply version");
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l).await.expect("domain length");
            l[0] as usize + 2
        }
        other => panic!("bad ATYP {other} in reply"),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).await.expect("reply address");
    head[1]
}

/// SOCKS5 address bytes for an IPv4 target.
pub fn atyp_v4(ip: [u8; 4]) -> Vec<u8> {
    let mut v = vec![1];
    v.extend_from_slice(&ip);
    v
}

/// SOCKS5 address bytes for a domain target.
pub fn atyp_domain(name: &str) -> Vec<u8> {
    let mut v = vec![3, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v
}

/// SOCKS5 address bytes for an IPv6 target.
pub fn atyp_v6(ip: std::net::Ipv6Addr) -> Vec<u8> {
    let mut v = vec![4];
    v.extend_from_slice(&ip.octets());
    v
}

/// Runs a blocking testkit call (kill, restart, stop, wait_for_log …) from async code without
/// starving the runtime: `block_in_place` hands this worker's queued tasks (including the one
/// just spawned into its LIFO slot, which other workers cannot steal) to another thread.
/// Needs the multi-thread runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
