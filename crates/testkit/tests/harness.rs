//! Self-test of the harness against the system OpenSSH client: every fault the harness offers
//! (kill, stop/cont, restart, drop) and every key it generates is checked with real `ssh`,
//! `ssh-keygen` and `ssh-agent`. Every test is bounded in time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use testkit::{
    echo_server, free_port, generate_key, refused_addr, sink_server, wait_until, KeyFormat,
    KeyKind, SshAgent, Sshd, SshdOptions,
};

const T: Duration = Duration::from_secs(20);

/// Runs a command to completion, killing it (and failing) after `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("command timed out after {timeout:?}: {cmd:?}");
        }
    }
}

/// A background child (e.g. `ssh -N`) killed on drop.
struct Bg(Child);

impl Bg {
    fn spawn(mut cmd: Command) -> Bg {
        Bg(cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"))
    }

    fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn known_hosts(dir: &Path, servers: &[&Sshd]) -> PathBuf {
    let path = dir.join("known_hosts");
    for s in servers {
        s.write_known_hosts(&path);
    }
    path
}

fn ssh_true(sshd: &Sshd, kh: &Path) -> Output {
    let mut cmd = sshd.ssh_command(kh);
    cmd.arg(sshd.destination()).arg("true");
    run_bounded(cmd, T)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `ssh -N` to `sshd` and waits until sshd has authenticated it (its post-auth hand-over
/// may still be in flight: `stop()` must cope with that).
fn ssh_n(sshd: &Sshd, kh: &Path) -> Bg {
    const READY: &str = "Accepted publickey for";
    let before = sshd.count_in_log(READY);
    let mut cmd = sshd.ssh_command(kh);
    cmd.arg("-N").arg(sshd.destination());
    let mut bg = Bg::spawn(cmd);
    wait_until(T, "ssh -N to authenticate", || {
        assert!(!bg.exited(), "ssh -N exited early");
        sshd.count_in_log(READY) > before
    });
    bg
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Reads the SSH identification line within `timeout`; `None` if nothing arrives.
fn read_banner(s: &mut TcpStream, timeout: Duration) -> Option<String> {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}

#[test]
fn ssh_logs_in_with_client_key_and_strict_host_key() {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    assert!(sshd
        .known_hosts_line()
        .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 AAAA", sshd.port())));
    assert_eq!(
        sshd.known_hosts_line(),
        format!("[127.0.0.1]:{} {}", sshd.port(), sshd.host_key_line())
    );
    assert_eq!(
        sshd.addr().to_string(),
        format!("127.0.0.1:{}", sshd.port())
    );
    assert!(sshd.dir().join("sshd_config").exists());
    assert_ok(&ssh_true(&sshd, &kh), "ssh true");
    assert!(sshd.wait_for_log(&format!("Accepted publickey for {}", sshd.user()), T));
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1);
    assert!(!sshd.wait_for_log("no such line", Duration::from_millis(50)));
}

#[test]
fn wrong_host_key_is_refused() {
    let a = Sshd::start();
    let b = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    // Known-hosts entry with b's key under a's address.
    let kh = tmp.path().join("known_hosts");
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", a.port(), b.host_key_line()),
    )
    .unwrap();
    let out = ssh_true(&a, &kh);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST IDENTIFICATION HAS CHANGED"));
}

#[test]
fn proxy_jump_through_first_to_second() {
    let jump = Sshd::start();
    let target = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&jump, &target]);
    // ProxyJump passes only -F to the jump's ssh, so the options live in a config file.
    let config = tmp.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             IdentityAgent none\n  BatchMode yes\n  StrictHostKeyChecking yes\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  ConnectTimeout 10\n",
            jump.client_key().display(),
            target.client_key().display(),
            kh.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("ssh");
    cmd.arg("-F")
        .arg(&config)
        .arg("-o")
        .arg(format!("ProxyJump={}:{}", jump.destination(), jump.port()))
        .args(["-p", &target.port().to_string()])
        .arg(target.destination())
        .arg("true");
    assert_ok(&run_bounded(cmd, T), "ssh -J");
    assert!(jump.wait_for_log("server_request_direct_tcpip: originator", T));
    assert!(jump
        .log()
        .contains(&format!("to 127.0.0.1 port {}", target.port())));
    assert!(target.wait_for_log("Accepted publickey", T));
}

#[test]
fn extra_config_overrides_defaults() {
    let sshd = Sshd::start_with(SshdOptions {
        extra_config: vec!["AllowTcpForwarding no".into()],
        ..SshdOptions::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    let mut cmd = sshd.ssh_command(&kh);
    cmd.arg("-W")
        .arg(format!("127.0.0.1:{}", sshd.port()))
        .arg(sshd.destination());
    let out = run_bounded(cmd, T);
    assert!(!out.status.success(), "-W should be refused");
    assert!(
        sshd.wait_for_log("refused local port forward", T),
        "{}",
        sshd.log()
    );
}

#[test]
fn kill_drops_live_connections_and_restart_keeps_port_and_host_key() {
    let mut sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    let mut conn = ssh_n(&sshd, &kh);
    let children = sshd.connection_pids();
    assert!(!children.is_empty(), "no per-connection sshd found");
    let (port, key, old_pid) = (sshd.port(), sshd.host_key_line(), sshd.pid());

    sshd.kill();
    assert!(!sshd.is_running());
    wait_until(T, "ssh -N to die with its server", || conn.exited());
    for pid in children.iter().chain([&old_pid]) {
        assert!(
            matches!(proc_state(*pid), None | Some('Z')),
            "pid {pid} survived kill"
        );
    }
    assert!(TcpStream::connect(sshd.addr()).is_err(), "port still open");
    sshd.kill(); // idempotent

    sshd.restart();
    assert!(sshd.is_running());
    assert_ne!(sshd.pid(), old_pid);
    assert_eq!(sshd.port(), port);
    assert_eq!(sshd.host_key_line(), key);
    assert_ok(&ssh_true(&sshd, &kh), "ssh after restart");
    // restart() on a running server kills it first.
    sshd.restart();
    assert_ok(&ssh_true(&sshd, &kh), "ssh after second restart");
}

#[test]
fn stop_is_a_black_hole_and_cont_resumes() {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    let mut conn = ssh_n(&sshd, &kh);

    sshd.stop();
    let mut all = sshd.connection_pids();
    all.push(sshd.pid());
    for pid in &all {
        assert_eq!(
            proc_state(*pid),
            Some('T'),
            "pid {pid} not stopped: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
        );
    }
    // The kernel still completes the TCP handshake, but nobody says hello.
    let mut s = TcpStream::connect_timeout(&sshd.addr(), T).expect("connect while stopped");
    assert_eq!(read_banner(&mut s, Duration::from_millis(300)), None);
    assert!(!conn.exited(), "established connection should stay open");

    sshd.cont();
    for pid in &all {
        assert_ne!(proc_state(*pid), Some('T'), "pid {pid} still stopped");
    }
    let banner = read_banner(&mut s, T).expect("banner after cont");
    assert!(banner.starts_with("SSH-2.0"), "{banner}");
    assert_ok(&ssh_true(&sshd, &kh), "ssh after cont");
    if conn.exited() {
        let mut e = String::new();
        conn.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut e)
            .unwrap();
        panic!("ssh -N died: {e}\n{}", sshd.log());
    }
}

#[test]
fn drop_kills_listener_and_connection_children() {
    let tmp = tempfile::tempdir().unwrap();
    let sshd = Sshd::start();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    let mut conn = ssh_n(&sshd, &kh);
    let mut pids = sshd.connection_pids();
    pids.push(sshd.pid());
    let dir = sshd.dir().to_path_buf();
    drop(sshd);
    for pid in &pids {
        assert!(
            matches!(proc_state(*pid), None | Some('Z')),
            "pid {pid} survived drop"
        );
    }
    assert!(!dir.exists(), "temp dir not removed");
    wait_until(T, "ssh -N to die", || conn.exited());
}

#[test]
fn dropping_a_stopped_server_still_kills_it() {
    let sshd = Sshd::start();
    let pid = sshd.pid();
    sshd.stop();
    drop(sshd);
    assert!(matches!(proc_state(pid), None | Some('Z')));
}

#[test]
fn agent_auth_works() {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    let agent = SshAgent::start();
    assert!(agent.sock().exists());

    let plain = generate_key(
        tmp.path(),
        "plain",
        KeyKind::Ecdsa,
        None,
        KeyFormat::OpenSsh,
    );
    let locked = generate_key(
        tmp.path(),
        "locked",
        KeyKind::Rsa,
        Some("sekrit-pass"),
        KeyFormat::Pem,
    );
    sshd.authorize(&tmp.path().join("plain.pub"));
    sshd.authorize(&tmp.path().join("locked.pub"));
    agent.add(&plain);
    agent.add_with_passphrase(&locked, "sekrit-pass");
    let list = Command::new("ssh-add")
        .arg("-l")
        .env("SSH_AUTH_SOCK", agent.sock())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("(ECDSA)") && list.contains("(RSA)"), "{list}");
    // Only the agent holds the keys now.
    std::fs::remove_file(&plain).unwrap();
    std::fs::remove_file(&locked).unwrap();

    let mut cmd = Command::new("ssh");
    cmd.args([
        "-F",
        "/dev/null",
        "-o",
        "IdentityFile=none",
        "-o",
        "BatchMode=yes",
    ])
    .arg("-o")
    .arg(format!("IdentityAgent={}", agent.sock().display()))
    .args(["-o", "StrictHostKeyChecking=yes"])
    .arg("-o")
    .arg(format!("UserKnownHostsFile={}", kh.display()))
    .args(["-p", &sshd.port().to_string()])
    .arg(sshd.destination())
    .arg("true");
    assert_ok(&run_bounded(cmd, T), "ssh via agent");
    assert!(sshd.wait_for_log("Accepted publickey", T));
}

#[test]
fn generated_keys_are_readable_by_ssh_keygen() {
    let tmp = tempfile::tempdir().unwrap();
    for kind in [KeyKind::Ed25519, KeyKind::Ecdsa, KeyKind::Rsa] {
        for format in [KeyFormat::OpenSsh, KeyFormat::Pem] {
            for pass in [None, Some("correct horse")] {
                let name = format!("{kind:?}-{format:?}-{}", pass.is_some());
                let key = generate_key(tmp.path(), &name, kind, pass, format);
                let text = std::fs::read_to_string(&key).unwrap();
                let pem_header = match (format, kind) {
                    (KeyFormat::OpenSsh, _) | (KeyFormat::Pem, KeyKind::Ed25519) => {
                        "-----BEGIN OPENSSH PRIVATE KEY-----"
                    }
                    (KeyFormat::Pem, KeyKind::Ecdsa) => "-----BEGIN EC PRIVATE KEY-----",
                    (KeyFormat::Pem, KeyKind::Rsa) => "-----BEGIN RSA PRIVATE KEY-----",
                };
                assert!(text.starts_with(pem_header), "{name}: {text}");
                if format == KeyFormat::Pem && kind != KeyKind::Ed25519 {
                    assert_eq!(text.contains("ENCRYPTED"), pass.is_some(), "{name}");
                }
                let mut cmd = Command::new("ssh-keygen");
                cmd.args(["-y", "-P", pass.unwrap_or("")])
                    .arg("-f")
                    .arg(&key);
                let out = run_bounded(cmd, T);
                assert_ok(&out, &name);
                let derived = String::from_utf8_lossy(&out.stdout);
                let public =
                    std::fs::read_to_string(tmp.path().join(format!("{name}.pub"))).unwrap();
                let first2 = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                assert_eq!(first2(&derived), first2(&public), "{name}");
                if pass.is_some() {
                    let mut cmd = Command::new("ssh-keygen");
                    cmd.args(["-y", "-P", "wrong pass"]).arg("-f").arg(&key);
                    assert!(!run_bounded(cmd, T).status.success(), "{name}");
                }
            }
        }
    }
    // Regenerating under the same name replaces the files instead of prompting.
    let again = generate_key(
        tmp.path(),
        "Rsa-Pem-false",
        KeyKind::Ed25519,
        None,
        KeyFormat::OpenSsh,
    );
    assert!(std::fs::read_to_string(format!("{}.pub", again.display()))
        .unwrap()
        .starts_with("ssh-ed25519 "));
}

#[test]
fn many_servers_start_in_parallel() {
    let servers: Vec<Sshd> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(Sshd::start)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(Sshd::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
}

#[tokio::test]
async fn echo_server_is_half_close_aware() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, handle) = echo_server().await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"hello, world").await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .expect("echo timed out")
        .unwrap();
    assert_eq!(got, b"hello, world");
    handle.abort();
}

#[tokio::test]
async fn sink_counts_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, handle) = sink_server().await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&vec![7u8; 100_000]).await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = String::new();
    tokio::time::timeout(T, s.read_to_string(&mut got))
        .await
        .expect("sink timed out")
        .unwrap();
    assert_eq!(got, "100000");
    handle.abort();
}

#[tokio::test]
async fn refused_addr_refuses_and_free_port_is_free() {
    let addr = refused_addr().await;
    assert!(addr.ip().is_loopback());
    let err = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("free port should be bindable");
}

#[test]
#[should_panic(expected = "timed out after 50ms waiting for the impossible")]
fn wait_until_panics_with_what() {
    wait_until(Duration::from_millis(50), "the impossible", || false);
}

#[test]
fn banner_io_helper_sanity() {
    // A raw TCP client sees sshd's identification line.
    let sshd = Sshd::start();
    let mut s = TcpStream::connect(sshd.addr()).unwrap();
    let banner = read_banner(&mut s, T).unwrap();
    assert!(banner.starts_with("SSH-2.0-OpenSSH"), "{banner}");
    s.write_all(b"SSH-2.0-test\r\n").unwrap();
}
