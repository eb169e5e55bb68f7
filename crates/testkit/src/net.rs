//! Plain TCP helpers for the far side of forwards: a half-close-aware echo server, a sink, a
//! refused address and a free port number. Tokio-based ones must run inside a tokio runtime.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A loopback port that was free a moment ago, for places that need a number (e.g. a tunnel's
/// `local_port`); callers accept the small race that someone else takes it.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`), so the many
/// outgoing connections of a load test can never grab a port a test is about to listen on, and
/// one process never gets the same port twice (a counter walks the range from a random start).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = listen_range();
    let span = u32::from(high - low);
    let _ = NEXT.compare_exchange(
        0,
        1 + random_u32() % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = low + (n % span) as u16;
        if StdListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    // Everything below the ephemeral range is taken: let the kernel choose.
    StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
}

/// The ports `free_port` hands out: from 10000 up to the start of the ephemeral range.
fn listen_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    if ephemeral_low > 12000 {
        (10000, ephemeral_low)
    } else {
        (ephemeral_low.saturating_sub(2000).max(1024), ephemeral_low)
    }
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() as u32
}

/// A loopback address with nothing listening (bound to port 0, address taken, socket dropped):
/// connecting to it is refused (barring the same small race as [`free_port`]).
pub async fn refused_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()))
}

/// Starts an echo server on `127.0.0.1:0`. Each connection is echoed until the peer's EOF, then
/// the server shuts down its write half (so half-close is passed on, and bytes sent back after
/// the client's EOF still arrive). Aborting the returned handle stops the listener and every
/// connection.
pub async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
    serve(|mut stream| async move {
        let (mut r, mut w) = stream.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .await
}

/// Starts a sink on `127.0.0.1:0`: reads and discards everything until EOF, then writes the
/// number of bytes it received as a decimal string and closes. Aborting the handle stops it.
pub async fn sink_server() -> (SocketAddr, JoinHandle<()>) {
    serve(|mut stream| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total: u64 = 0;
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
        let _ = stream.write_all(total.to_string().as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
}

async fn serve<F, Fut>(handler: F) -> (SocketAddr, JoinHandle<()>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    let addr = listener.local_addr().expect("local_addr");
    let handle = tokio::spawn(async move {
        // Owned here so aborting the accept task also aborts every connection task.
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        conns.spawn(handler(stream));
                    }
                    Err(_) => continue,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    (addr, handle)
}

/// Raises this process's soft `RLIMIT_NOFILE` to at least `want` (capped by the hard limit) and
/// returns the soft limit now in force. Children started afterwards (sshd, the agent) inherit
/// it. For load tests that hold thousands of sockets.
pub fn raise_nofile_limit(want: u64) -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let target = want.min(hard);
    if soft >= target {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
        Ok(()) => target,
        Err(_) => soft,
    }
}
