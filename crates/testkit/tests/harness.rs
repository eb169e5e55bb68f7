//! Self-test of the harness against the system OpenSSH client: every fault the harness offers
//! (kill, stop/cont, restart) and every key it generates is checked with real `ssh`,
//! `ssh-keygen` and `ssh-agent`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use testkit::Sshd;
#[allow(unused_imports)]
use testkit::{
    echo_server, free_port, generate_key, refused_addr, sink_server, wait_until, KeyFormat,
    KeyKind, SshAgent, SshdOptions,
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

fn known_hosts(dir: &Path, servers: &[&Sshd]) -> std::path::PathBuf {
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

#[test]
fn ssh_logs_in_with_client_key_and_strict_host_key() {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let kh = known_hosts(tmp.path(), &[&sshd]);
    assert!(sshd
        .known_hosts_line()
        .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 AAAA", sshd.port())));
    assert_eq!(sshd.addr().port(), sshd.port());
    assert_ok(&ssh_true(&sshd, &kh), "ssh true");
    assert!(sshd.wait_for_log(&format!("Accepted publickey for {}", sshd.user()), T));
}
