//! The sockets: the target server, the SOCKS5 client handshake, and the clients of each
//! measurement (bulk transfer, echo round trips, many held connections, a stalled reader beside
//! a running stream, the agent's REST API).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::stats;
use crate::Dest;

const CHUNK: usize = 256 * 1024;

/// Incompressible-looking bytes, written again and again.
fn pattern() -> &'static [u8] {
    static BUF: OnceLock<Vec<u8>> = OnceLock::new();
    BUF.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    })
}

/// The target server: first byte `E` echo, `S` sink (count reply), `D` + u64 source.
pub async fn serve(listen: SocketAddr) -> Result<()> {
    let sock = TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(listen)?;
    let listener = sock.listen(8192)?;
    println!("{}", json!({ "port": listener.local_addr()?.port() }));
    loop {
        let (s, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let _ = handle(s).await;
        });
    }
}

async fn handle(mut s: TcpStream) -> Result<()> {
    let _ = s.set_nodelay(true);
    let mut mode = [0u8; 1];
    s.read_exact(&mut mode).await?;
    match mode[0] {
        b'E' => {
            let mut buf = vec![0u8; 4096];
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await?;
            }
            s.shutdown().await?;
        }
        b'S' => {
            let mut buf = vec![0u8; CHUNK];
            let mut total: u64 = 0;
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            s.write_all(&total.to_be_bytes()).await?;
            s.shutdown().await?;
        }
        b'D' => {
            let mut n = [0u8; 8];
            s.read_exact(&mut n).await?;
            send(&mut s, u64::from_be_bytes(n)).await?;
            s.shutdown().await?;
        }
        other => bail!("unknown mode byte {other}"),
    }
    Ok(())
}

async fn send(s: &mut TcpStream, mut left: u64) -> Result<()> {
    let p = pattern();
    while left > 0 {
        let n = left.min(p.len() as u64) as usize;
        s.write_all(&p[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

/// Connects to `dest` (through SOCKS5 when asked).
pub async fn connect(dest: &Dest) -> Result<TcpStream> {
    let mut s = TcpStream::connect(dest.connect)
        .await
        .with_context(|| format!("connect {}", dest.connect))?;
    let _ = s.set_nodelay(true);
    if dest.socks5 {
        let target = dest.target.context("--socks5 needs --target")?;
        socks5_handshake(&mut s, target).await?;
    }
    Ok(s)
}

/// The request bytes of a SOCKS5 no-auth CONNECT to an IPv4 address, greeting included.
pub fn socks5_request(target: SocketAddr) -> Result<Vec<u8>> {
    let SocketAddr::V4(v4) = target else {
        bail!("SOCKS5 target must be IPv4: {target}")
    };
    let mut req = vec![5, 1, 0, 5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    Ok(req)
}

async fn socks5_handshake(s: &mut TcpStream, target: SocketAddr) -> Result<()> {
    // Greeting and request in one write; both OpenSSH and portwarden accept the pipelining.
    s.write_all(&socks5_request(target)?).await?;
    let mut greet = [0u8; 2];
    s.read_exact(&mut greet)
        .await
        .context("SOCKS5 greeting reply")?;
    ensure!(greet == [5, 0], "SOCKS5 method refused: {greet:?}");
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.context("SOCKS5 reply")?;
    ensure!(
        head[0] == 5 && head[1] == 0,
        "SOCKS5 connect failed: {head:?}"
    );
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l).await?;
            l[0] as usize + 2
        }
        t => bail!("SOCKS5 reply address type {t}"),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).await?;
    Ok(())
}

/// Connect, `E` + n bytes, read them back, close.
pub async fn echo_once(dest: &Dest, n: usize) -> Result<()> {
    let mut s = connect(dest).await?;
    let mut msg = Vec::with_capacity(n + 1);
    msg.push(b'E');
    msg.extend_from_slice(&pattern()[..n]);
    s.write_all(&msg).await?;
    let mut back = vec![0u8; n];
    s.read_exact(&mut back).await?;
    ensure!(back == msg[1..], "echo mismatch");
    Ok(())
}

/// `count` timed connect → 1-byte echo → close round trips through each of `dests`, which take
/// turns of `block` (the last turn may be shorter). With more than one destination each turn
/// starts with one round trip that is not timed: a forward is still tearing down its previous
/// connection when the next one starts, and that overlap belongs on its own clock, not on the
/// next tool's. Returns per destination the times in ms and the number of failed round trips.
pub async fn setup_turns(dests: &[Dest], count: usize, block: usize) -> Vec<(Vec<f64>, usize)> {
    let mut out = vec![(Vec::with_capacity(count), 0usize); dests.len()];
    let limit = Duration::from_secs(5);
    let mut done = 0;
    while done < count {
        let n = block.max(1).min(count - done);
        for (dest, (ms, failures)) in dests.iter().zip(out.iter_mut()) {
            if dests.len() > 1 {
                let _ = tokio::time::timeout(limit, echo_once(dest, 1)).await;
            }
            for _ in 0..n {
                let t0 = Instant::now();
                match tokio::time::timeout(limit, echo_once(dest, 1)).await {
                    Ok(Ok(())) => ms.push(t0.elapsed().as_secs_f64() * 1e3),
                    _ => *failures += 1,
                }
            }
        }
        done += n;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dir {
    Up,
    Down,
}

/// `up`, `down`, or `both` (alternating, starting with up) for `streams` streams.
pub fn directions(dir: &str, streams: usize) -> Result<Vec<Dir>> {
    ensure!(streams > 0, "--streams must be at least 1");
    Ok(match dir {
        "up" => vec![Dir::Up; streams],
        "down" => vec![Dir::Down; streams],
        "both" => (0..streams)
            .map(|i| if i % 2 == 0 { Dir::Up } else { Dir::Down })
            .collect(),
        other => bail!("--dir {other}: expected up, down or both"),
    })
}

/// One stream per entry of `dirs`, all at once; the wall time until the last one is done.
pub async fn throughput(dest: &Dest, bytes: u64, dirs: &[Dir]) -> Result<Duration> {
    let t0 = Instant::now();
    let mut all: FuturesUnordered<_> = dirs.iter().map(|d| one_stream(dest, bytes, *d)).collect();
    while let Some(r) = all.next().await {
        r?;
    }
    Ok(t0.elapsed())
}

async fn one_stream(dest: &Dest, bytes: u64, dir: Dir) -> Result<()> {
    let mut s = connect(dest).await?;
    match dir {
        Dir::Up => {
            s.write_all(b"S").await?;
            send(&mut s, bytes).await?;
            s.shutdown().await?;
            let mut n = [0u8; 8];
            s.read_exact(&mut n).await.context("sink count")?;
            let got = u64::from_be_bytes(n);
            ensure!(got == bytes, "sink got {got} of {bytes} bytes");
        }
        Dir::Down => {
            let mut req = vec![b'D'];
            req.extend_from_slice(&bytes.to_be_bytes());
            s.write_all(&req).await?;
            let got = drain(&mut s).await?;
            ensure!(got == bytes, "received {got} of {bytes} bytes");
        }
    }
    Ok(())
}

async fn drain(s: &mut TcpStream) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(got);
        }
        got += n as u64;
    }
}

/// Opens `count` connections (256 handshakes in flight), holds them all, then each echoes
/// 1 KiB. Returns the successes and the VmHWM (kB) of `pid` while they are all open.
pub async fn concurrency(
    dest: &Dest,
    count: usize,
    pid: Option<u32>,
    limit: Duration,
) -> (usize, Option<u64>) {
    let deadline = tokio::time::Instant::now() + limit;
    let opened: Vec<Option<TcpStream>> = futures::stream::iter(0..count)
        .map(|_| async {
            let open = async {
                let mut s = connect(dest).await?;
                s.write_all(b"E").await?;
                anyhow::Ok(s)
            };
            tokio::time::timeout_at(deadline, open)
                .await
                .ok()
                .and_then(Result::ok)
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let mut streams: Vec<TcpStream> = opened.into_iter().flatten().collect();
    let payload = &pattern()[..1024];
    let ok = {
        let mut echoes: FuturesUnordered<_> = streams
            .iter_mut()
            .map(|s| async move {
                let round = async {
                    s.write_all(payload).await?;
                    let mut back = [0u8; 1024];
                    s.read_exact(&mut back).await?;
                    anyhow::Ok(back[..] == payload[..])
                };
                matches!(tokio::time::timeout_at(deadline, round).await, Ok(Ok(true)))
            })
            .collect();
        let mut ok = 0;
        while let Some(good) = echoes.next().await {
            ok += good as usize;
        }
        ok
    };
    let hwm = pid.and_then(|p| stats::status_kb(p, "VmHWM"));
    drop(streams);
    (ok, hwm)
}

/// (alone, shared) download MB/s; shared runs beside a connection that never reads.
///
/// Measured alone, shared, shared, alone, each side over both of its transfers, so a machine
/// that speeds up or slows down during the measurement does not count as (un)fairness.
pub async fn fairness(dest: &Dest, bytes: u64, limit: Duration) -> Result<(f64, f64)> {
    let download = |what: &'static str| async move {
        tokio::time::timeout(limit, throughput(dest, bytes, &[Dir::Down]))
            .await
            .with_context(|| format!("{what}: timed out"))?
    };
    let mut alone = download("alone").await?;
    let mut stalled = connect(dest).await?;
    let mut req = vec![b'D'];
    req.extend_from_slice(&(1u64 << 40).to_be_bytes());
    stalled.write_all(&req).await?;
    // Let the stalled channel fill every buffer and window on its way.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut shared = download("beside the stalled reader").await?;
    shared += download("beside the stalled reader").await?;
    drop(stalled);
    alone += download("alone, after").await?;
    let mbps = |t: Duration| 2.0 * bytes as f64 / t.as_secs_f64() / 1e6;
    Ok((mbps(alone), mbps(shared)))
}

pub struct AgentScale {
    pub api: SocketAddr,
    pub token: String,
    pub agent_pid: u32,
    pub ssh_port: u16,
    pub user: String,
    pub key: PathBuf,
    pub target_port: u16,
    pub tunnels: usize,
    pub running: usize,
    pub requests: usize,
    pub idle: Duration,
    pub base_port: u16,
}

fn rec(row: &str, value: Option<f64>, unit: &str, target: &str, note: &str) {
    println!(
        "{}",
        json!({"row": row, "tool": "pw", "value": value, "unit": unit, "target": target, "note": note})
    );
}

/// The first port ≥ `from` with `n` consecutive bindable loopback ports.
fn free_run(from: u16, n: usize) -> Result<u16> {
    // Outbound connections (the driver's own HTTP requests, the agent's SSH connection) take
    // ports from the kernel's ephemeral range while the tunnels start, so a run inside it can
    // lose ports to them between this check and the agent's bind.
    let ephemeral = ephemeral_port_range();
    let mut base = from as usize;
    while base + n < 65000 {
        if base < ephemeral.1 && ephemeral.0 < base + n {
            base = ephemeral.1 + 1;
            continue;
        }
        let taken = (base..base + n)
            .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p as u16)).is_err());
        match taken {
            Some(p) => base = p + 1,
            None => return Ok(base as u16),
        }
    }
    bail!("no run of {n} free ports above {from} outside the ephemeral range {ephemeral:?}")
}

/// The kernel's ephemeral port range (inclusive), Linux's default when it cannot be read.
fn ephemeral_port_range() -> (usize, usize) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|v| v.parse().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// Creates the saved tunnels, starts some, then measures status latency, RSS and idle CPU.
pub async fn agent_scale(a: AgentScale) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = format!("http://{}", a.api);
    let auth = format!("Bearer {}", a.token);
    let request = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .header("Authorization", &auth)
    };
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = request(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let text = resp.text().await?;
            if !status.is_success() {
                bail!("{status}: {text}");
            }
            anyhow::Ok(if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            })
        }
    };
    use reqwest::Method;
    let profile = call(
        Method::POST,
        "/profiles",
        Some(
            json!({"name": "bench", "username": a.user, "auth_type": "key",
                    "key_path": a.key.display().to_string()}),
        ),
    )
    .await
    .context("POST /profiles")?;
    let profile_id = profile["id"].as_str().context("profile id")?.to_string();
    let base_port = free_run(a.base_port, a.running)?;
    let mut ids = Vec::with_capacity(a.tunnels);
    let t0 = Instant::now();
    for i in 0..a.tunnels {
        // Saved-but-stopped tunnels get ports above the running block; they never bind.
        let local_port = if i < a.running {
            base_port as usize + i
        } else {
            (base_port as usize + i) % 64000 + 1024
        };
        let t = call(
            Method::POST,
            "/tunnels",
            Some(
                json!({"name": format!("bench-{i}"), "host": "127.0.0.1", "port": a.ssh_port,
                        "profile_id": profile_id, "forward_type": "local",
                        "local_port": local_port, "remote_host": "127.0.0.1",
                        "remote_port": a.target_port, "max_retries": 0}),
            ),
        )
        .await
        .with_context(|| format!("POST /tunnels #{i}"))?;
        ids.push(t["id"].as_str().context("tunnel id")?.to_string());
    }
    let create_s = t0.elapsed().as_secs_f64();
    // Trust the sshd's host key: start one tunnel, then trust what the agent saw.
    let first = &ids[0];
    let started = call(Method::POST, &format!("/tunnels/{first}/start"), None).await;
    let started = match started {
        Ok(v) => format!("{}", v["status"]),
        Err(e) => format!("{e:#}"),
    };
    let trust_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let kh = call(Method::GET, "/known-hosts", None).await?;
        let trusted = kh["trusted"].as_array().is_some_and(|v| {
            v.iter()
                .any(|k| k["port"].as_u64() == Some(a.ssh_port as u64))
        });
        if trusted {
            break;
        }
        if let Some(p) = kh["pending"].as_array().and_then(|v| {
            v.iter()
                .find(|k| k["port"].as_u64() == Some(a.ssh_port as u64))
                .cloned()
        }) {
            call(
                Method::POST,
                "/known-hosts",
                Some(
                    json!({"host": p["host"], "port": p["port"], "fingerprint": p["fingerprint"]}),
                ),
            )
            .await
            .context("POST /known-hosts")?;
            let _ = call(Method::POST, &format!("/tunnels/{first}/stop"), None).await;
            break;
        }
        if Instant::now() >= trust_deadline {
            let st = call(Method::GET, "/tunnels/status", None).await?;
            let mine = st
                .as_array()
                .and_then(|v| v.iter().find(|t| t["id"] == first.as_str()).cloned());
            bail!("the agent never reported the host key; start said {started}; known hosts {kh}; first tunnel {mine:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t1 = Instant::now();
    let mut starts: FuturesUnordered<_> = ids[..a.running]
        .iter()
        .map(|id| call(Method::POST, &format!("/tunnels/{id}/start"), None))
        .collect();
    let mut start_errors = 0;
    while let Some(r) = starts.next().await {
        if let Err(e) = r {
            if !e.to_string().contains("already running") {
                start_errors += 1;
                if start_errors <= 3 {
                    eprintln!("start: {e:#}");
                }
            }
        }
    }
    let up_deadline = Instant::now() + Duration::from_secs(60);
    let connected = loop {
        let st = call(Method::GET, "/tunnels/status", None).await?;
        let n = st
            .as_array()
            .map(|v| v.iter().filter(|t| t["status"] == "connected").count())
            .unwrap_or(0);
        if n >= a.running || Instant::now() >= up_deadline {
            if n < a.running {
                // Say why on stderr (the script shows it): status and error of those not up.
                let mut why: BTreeMap<String, usize> = BTreeMap::new();
                let started: std::collections::HashSet<&str> =
                    ids[..a.running].iter().map(String::as_str).collect();
                for t in st.as_array().into_iter().flatten() {
                    let id = t["id"].as_str().unwrap_or_default();
                    if t["status"] != "connected" && started.contains(id) {
                        let key = format!("{} {}", t["status"], t["last_error"]);
                        *why.entry(key).or_default() += 1;
                    }
                }
                eprintln!(
                    "agent-scale: {} of {} not connected: {why:?}",
                    a.running - n,
                    a.running
                );
            }
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let start_s = t1.elapsed().as_secs_f64();
    // One forward must actually carry bytes.
    let dest = Dest {
        connect: SocketAddr::from(([127, 0, 0, 1], base_port)),
        socks5: false,
        target: None,
    };
    let works = tokio::time::timeout(Duration::from_secs(5), echo_once(&dest, 1))
        .await
        .is_ok_and(|r| r.is_ok());
    let note = format!(
        "{} saved, {connected} connected in {start_s:.1} s (created in {create_s:.1} s){}",
        a.tunnels,
        if works {
            ""
        } else {
            "; echo through the first forward FAILED"
        }
    );
    rec(
        &format!("agent: running tunnels of {}", a.tunnels),
        Some(connected as f64),
        "",
        &format!("pw>={}", a.running),
        &note,
    );
    // Timed from the request to the last byte of the body; the client's own JSON parsing
    // (a few ms for 1,000 items) is not the agent's latency.
    let mut ms = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        let t = Instant::now();
        let resp = request(Method::GET, "/tunnels/status").send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if !status.is_success() {
            bail!(
                "GET /tunnels/status: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    rec(
        "agent: GET /tunnels/status p50",
        stats::percentile(&ms, 50.0),
        "ms",
        "",
        "",
    );
    rec(
        "agent: GET /tunnels/status p99",
        stats::percentile(&ms, 99.0),
        "ms",
        "pw<20",
        "",
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c0 = stats::cpu_secs(a.agent_pid);
    let w0 = Instant::now();
    tokio::time::sleep(a.idle).await;
    let c1 = stats::cpu_secs(a.agent_pid);
    let idle_pct = match (c0, c1) {
        (Some(x), Some(y)) => Some((y - x) / w0.elapsed().as_secs_f64() * 100.0),
        _ => None,
    };
    rec(
        &format!("agent: idle CPU over {} s", a.idle.as_secs()),
        idle_pct,
        "% core",
        "pw<1",
        "",
    );
    let rss = stats::status_kb(a.agent_pid, "VmRSS").map(|k| k as f64 / 1024.0);
    rec("agent: RSS", rss, "MB", "", "");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn socks5_request_bytes() {
        let req = socks5_request("127.0.0.1:8080".parse().unwrap()).unwrap();
        assert_eq!(req, vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);
        assert!(socks5_request("[::1]:80".parse().unwrap()).is_err());
    }

    #[test]
    fn port_runs_stay_out_of_the_ephemeral_range() {
        let (lo, hi) = ephemeral_port_range();
        assert!(lo <= hi, "{lo}..{hi}");
        for from in [
            1024,
            (lo as u16).saturating_sub(100),
            (lo as u16).saturating_add(1000),
        ] {
            let base = free_run(from, 500).unwrap() as usize;
            assert!(base >= from as usize);
            assert!(
                base + 500 <= lo || base > hi,
                "run {base}+500 overlaps {lo}..={hi}"
            );
        }
    }

    #[test]
    fn direction_lists() {
        assert_eq!(directions("up", 2).unwrap(), vec![Dir::Up, Dir::Up]);
        assert_eq!(
            directions("both", 4).unwrap(),
            vec![Dir::Up, Dir::Down, Dir::Up, Dir::Down]
        );
        assert!(directions("sideways", 1).is_err());
        assert!(directions("up", 0).is_err());
    }

    #[tokio::test]
    async fn server_round_trips() {
        let (dest, _) = counting_server().await;
        echo_once(&dest, 100).await.unwrap();
        let dirs = directions("both", 2).unwrap();
        throughput(&dest, 3 * CHUNK as u64 + 7, &dirs)
            .await
            .unwrap();
    }

    /// The target server on a free port, and the number of connections it has accepted.
    async fn counting_server() -> (Dest, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = Dest {
            connect: listener.local_addr().unwrap(),
            socks5: false,
            target: None,
        };
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(s));
            }
        });
        (dest, seen)
    }

    #[tokio::test]
    async fn setup_turns_time_count_round_trips_per_destination() {
        let (a, seen_a) = counting_server().await;
        let (b, seen_b) = counting_server().await;
        let got = setup_turns(&[a, b], 45, 20).await;
        for (ms, failures) in &got {
            assert_eq!((ms.len(), *failures), (45, 0));
        }
        // Turns of 20, 20 and 5, each opened by one untimed round trip.
        assert_eq!(seen_a.load(Ordering::SeqCst), 48);
        assert_eq!(seen_b.load(Ordering::SeqCst), 48);

        let (alone, seen) = counting_server().await;
        let got = setup_turns(&[alone], 7, 7).await;
        assert_eq!(got[0].0.len(), 7);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            7,
            "one destination: nothing untimed"
        );
    }
}
