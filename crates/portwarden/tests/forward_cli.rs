//! `portwarden forward` end to end, as a user runs it: the real binary against real sshd.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use testkit::{free_port, Sshd};

const BIN: &str = env!("CARGO_BIN_EXE_portwarden");

/// A running `portwarden forward` whose stderr lines arrive on a channel.
struct Forward {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Forward {
    fn start(args: &[String]) -> Forward {
        let mut child = Command::new(BIN)
            .arg("forward")
            .args(args)
            .env_remove("SSH_AUTH_SOCK")
            .env("HOME", "/nonexistent-home-for-tests")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portwarden");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Forward {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`.
    fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {timeout:?}; saw {:?}",
                    self.seen
                ),
            }
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        wait_exit(&mut self.child, Duration::from_secs(10))
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "portwarden did not exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temp dir holding a known_hosts file that trusts each of `servers`.
fn trusting(servers: &[&Sshd]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    for s in servers {
        s.write_known_hosts(&kh);
    }
    (dir, kh)
}

/// Runs `portwarden forward ARGS` to completion (for the cases that must exit by themselves).
fn run_to_end(args: &[String]) -> std::process::Output {
    Command::new(BIN)
        .arg("forward")
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn base_args(sshd: &Sshd, known_hosts: &std::path::Path) -> Vec<String> {
    vec![
        "-i".into(),
        sshd.client_key().display().to_string(),
        "-p".into(),
        sshd.port().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
    ]
}

/// A blocking echo server on 127.0.0.1:0 (thread per connection).
fn echo() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut s = s;
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    port
}

fn roundtrip(port: u16, msg: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(msg).unwrap();
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn local_forward_survives_sshd_restart_and_stops_on_sigterm() {
    let mut sshd = Sshd::start();
    let (_dir, kh) = trusting(&[&sshd]);
    let target = echo();
    let local = free_port();
    let mut args = base_args(&sshd, &kh);
    args.extend(["-L".into(), format!("{local}:127.0.0.1:{target}")]);
    args.push(format!("{}@127.0.0.1", sshd.user()));
    let mut fwd = Forward::start(&args);
    fwd.expect("connected", Duration::from_secs(20));
    assert_eq!(roundtrip(local, b"hello through -L"), b"hello through -L");

    sshd.kill();
    let line = fwd.expect("reconnecting (retry 1, next in 1s)", Duration::from_secs(5));
    assert!(
        line.contains("lost") || line.contains("cannot connect"),
        "{line}"
    );
    sshd.restart();
    fwd.expect("connected", Duration::from_secs(30));
    assert_eq!(roundtrip(local, b"after restart"), b"after restart");

    let status = fwd.terminate();
    assert!(status.success(), "SIGTERM should stop cleanly: {status:?}");
}

#[test]
fn remote_forward_prints_the_allocated_port() {
    let sshd = Sshd::start();
    let (_dir, kh) = trusting(&[&sshd]);
    let target = echo();
    let mut args = base_args(&sshd, &kh);
    args.extend(["-R".into(), format!("0:127.0.0.1:{target}")]);
    args.push(format!("{}@127.0.0.1", sshd.user()));
    let mut fwd = Forward::start(&args);
    let line = fwd.expect("server listens on", Duration::from_secs(20));
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    assert!(port > 0);
    assert_eq!(roundtrip(port, b"back through -R"), b"back through -R");
}

#[test]
fn dynamic_forward_speaks_socks5() {
    let sshd = Sshd::start();
    let (_dir, kh) = trusting(&[&sshd]);
    let target = echo();
    let socks = free_port();
    let mut args = base_args(&sshd, &kh);
    args.extend(["-D".into(), format!("127.0.0.1:{socks}")]);
    args.push(format!("{}@127.0.0.1", sshd.user()));
    let mut fwd = Forward::start(&args);
    fwd.expect("connected", Duration::from_secs(20));
    let mut s = TcpStream::connect(("127.0.0.1", socks)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).unwrap();
    assert_eq!(m, [5, 0]);
    let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
    req.extend_from_slice(&target.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).unwrap();
    assert_eq!(rep[1], 0, "SOCKS5 success reply");
    s.write_all(b"socks!").unwrap();
    let mut back = [0u8; 6];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"socks!");
}

#[test]
fn unknown_host_key_exits_nonzero_with_fingerprint() {
    let sshd = Sshd::start();
    let (_dir, kh) = trusting(&[]);
    let mut args = base_args(&sshd, &kh);
    args.extend(["-L".into(), format!("{}:127.0.0.1:9", free_port())]);
    args.push(format!("{}@127.0.0.1", sshd.user()));
    let out = run_to_end(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not trusted") && err.contains("SHA256:"),
        "{err}"
    );
}

#[test]
fn auth_failure_exits_nonzero_naming_the_target() {
    let sshd = Sshd::start();
    let (dir, kh) = trusting(&[&sshd]);
    let stranger = testkit::generate_key(
        dir.path(),
        "stranger",
        testkit::KeyKind::Ed25519,
        None,
        testkit::KeyFormat::OpenSsh,
    );
    let args = vec![
        "-i".to_string(),
        stranger.display().to_string(),
        "-p".into(),
        sshd.port().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", kh.display()),
        "-L".into(),
        format!("{}:127.0.0.1:9", free_port()),
        format!("{}@127.0.0.1", sshd.user()),
    ];
    let out = run_to_end(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authentication failed")
            && err.contains(&format!("127.0.0.1:{}", sshd.port()))
            && err.contains("publickey"),
        "{err}"
    );
}

#[test]
fn bad_flags_get_clear_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["-L", "nonsense", "h"], "-L"),
        (
            &["-L", "0.0.0.0:8080:h:80", "h"],
            "must be a loopback address",
        ),
        (&["-o", "Bogus=1", "-L", "1:h:2", "h"], "unsupported option"),
        (
            &["-o", "StrictHostKeyChecking=maybe", "-L", "1:h:2", "h"],
            "StrictHostKeyChecking",
        ),
        (&["h"], "nothing to forward"),
    ];
    for (args, needle) in cases {
        let out = Command::new(BIN)
            .arg("forward")
            .args(*args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
}

#[test]
fn jump_chain_through_two_sshds() {
    let a = Sshd::start();
    let b = Sshd::start();
    let (_dir, kh) = trusting(&[&a, &b]);
    b.authorize(&a.client_key().with_extension("pub"));
    let target = echo();
    let local = free_port();
    let args = vec![
        "-i".to_string(),
        a.client_key().display().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", kh.display()),
        "-J".into(),
        format!("{}@127.0.0.1:{}", a.user(), a.port()),
        "-L".into(),
        format!("{local}:127.0.0.1:{target}"),
        format!("{}@127.0.0.1:{}", b.user(), b.port()),
    ];
    let mut fwd = Forward::start(&args);
    fwd.expect("connected", Duration::from_secs(20));
    assert_eq!(roundtrip(local, b"via jump"), b"via jump");
    assert!(
        a.wait_for_log(&format!("port {}", b.port()), Duration::from_secs(5)),
        "jump host A should log the direct-tcpip to B: {}",
        a.log()
    );
}
