//! [`SshAgent`]: a real `ssh-agent -D -a <sock>` in its own temp dir, and `ssh-add` against it.
//! It owns that agent process only; it never touches the caller's `SSH_AUTH_SOCK`.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::wait::poll_until;

/// A running `ssh-agent` in the foreground (`-D`) on a socket in its own temp dir; killed on
/// drop.
#[derive(Debug)]
pub struct SshAgent {
    dir: TempDir,
    sock: PathBuf,
    child: Child,
}

impl SshAgent {
    /// Starts the agent and returns once its socket accepts connections.
    ///
    /// # Panics
    /// If it cannot be started or is not ready within 10 s.
    pub fn start() -> SshAgent {
        let dir = tempfile::Builder::new()
            .prefix("testkit-agent-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create agent temp dir: {e}"));
        let sock = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ssh-agent: {e}"));
        let mut agent = SshAgent { dir, sock, child };
        let ready = poll_until(Duration::from_secs(10), || {
            UnixStream::connect(&agent.sock).is_ok()
                || matches!(agent.child.try_wait(), Ok(Some(_)))
        });
        assert!(
            ready && UnixStream::connect(&agent.sock).is_ok(),
            "ssh-agent did not come up on {}",
            agent.sock.display()
        );
        agent
    }

    /// The agent's socket (what `SSH_AUTH_SOCK` would be).
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// `ssh-add <key>` against this agent (for keys without a passphrase).
    ///
    /// # Panics
    /// If ssh-add fails.
    pub fn add(&self, key: &Path) {
        self.run_add(key, None);
    }

    /// `ssh-add <key>` for a passphrase-protected key, answering through `SSH_ASKPASS`.
    ///
    /// # Panics
    /// If ssh-add fails.
    pub fn add_with_passphrase(&self, key: &Path, passphrase: &str) {
        self.run_add(key, Some(passphrase));
    }

    fn run_add(&self, key: &Path, passphrase: Option<&str>) {
        let mut cmd = Command::new("ssh-add");
        cmd.arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::null());
        if let Some(pass) = passphrase {
            use std::os::unix::fs::PermissionsExt;
            let askpass = self.dir.path().join("askpass.sh");
            let pass_file = self.dir.path().join("askpass.txt");
            std::fs::write(&pass_file, pass).expect("write askpass passphrase");
            let script = format!("#!/bin/sh\ncat '{}'\n", pass_file.display());
            std::fs::write(&askpass, script).expect("write askpass script");
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
                .expect("chmod askpass");
            cmd.env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0");
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run ssh-add: {e}"));
        assert!(
            out.status.success(),
            "ssh-add {} failed ({}): {}",
            key.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
