//! [`Sshd`]: a real OpenSSH `sshd` on a free loopback port, with its own temp dir, generated
//! ed25519 host key, authorized_keys, client key, config and log; and the faults tests inject
//! into it (kill with live connections, SIGSTOP black hole, restart on the same port).
//!
//! It owns the sshd processes it starts and their descendants, nothing else: every signal goes to
//! the listener pid it spawned and the tree under it (found through `/proc`).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::keys::{generate_key, pub_path, KeyFormat, KeyKind};
use crate::net::free_port;
use crate::proc;
use crate::wait::{poll_until, POLL};

/// How long start-up (and restart) may take before the harness panics.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports [`Sshd::start_with`] tries when the one it picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 20;

/// Options for [`Sshd::start_with`].
#[derive(Debug, Clone)]
pub struct SshdOptions {
    /// Raw `sshd_config` lines. Lines before the first `Match` line are written *before* the
    /// harness defaults (sshd keeps the first value it reads for a keyword, so these override
    /// them, e.g. `AllowTcpForwarding no`); a `Match` line and everything after it goes at the
    /// end of the file.
    pub extra_config: Vec<String>,
    /// `LogLevel` (default `DEBUG1`, which logs `Accepted publickey for …` and
    /// `server_request_direct_tcpip: originator … to HOST port N`).
    pub log_level: String,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            extra_config: Vec::new(),
            log_level: "DEBUG1".to_string(),
        }
    }
}

/// A running OpenSSH `sshd -D` on `127.0.0.1:<free port>`. Dropping it SIGKILLs the listener and
/// every per-connection child, so live connections die too.
///
/// The log is appended to across [`restart`](Sshd::restart)s, and start-up readiness is checked
/// by reading the banner, so the log always holds at least one pre-auth connection per start.
#[derive(Debug)]
pub struct Sshd {
    dir: TempDir,
    child: Option<Child>,
    pid: u32,
    port: u16,
    user: String,
    log_level: String,
}

impl Sshd {
    /// Starts an sshd with default options. Panics (with sshd's log) if it cannot.
    pub fn start() -> Sshd {
        Sshd::start_with(SshdOptions::default())
    }

    /// Starts an sshd with `opts`; returns once it has bound its port and sent its banner.
    ///
    /// # Panics
    /// If keys cannot be generated, sshd exits for a reason other than a taken port, or it is
    /// not ready within 10 s.
    pub fn start_with(opts: SshdOptions) -> Sshd {
        ensure_privsep_dir();
        let dir = tempfile::Builder::new()
            .prefix("testkit-sshd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create sshd temp dir: {e}"));
        let d = dir.path();
        generate_key(
            d,
            "host_ed25519",
            KeyKind::Ed25519,
            None,
            KeyFormat::OpenSsh,
        );
        let client = generate_key(
            d,
            "client_ed25519",
            KeyKind::Ed25519,
            None,
            KeyFormat::OpenSsh,
        );
        std::fs::write(d.join("authorized_keys"), read_pub(&pub_path(&client)))
            .expect("write authorized_keys");
        let mut sshd = Sshd {
            dir,
            child: None,
            pid: 0,
            port: 0,
            user: current_user(),
            log_level: opts.log_level.clone(),
        };
        for _ in 0..PORT_ATTEMPTS {
            sshd.port = free_port();
            std::fs::write(sshd.config_path(), sshd.config_text(&opts)).expect("write sshd_config");
            match sshd.spawn_and_wait(Instant::now() + READY_TIMEOUT) {
                Spawn::Ready => return sshd,
                Spawn::PortTaken => continue,
                Spawn::Failed(why) => panic!("{why}\n--- sshd log ---\n{}", sshd.diagnostics()),
            }
        }
        panic!(
            "sshd could not bind a free port in {PORT_ATTEMPTS} attempts\n--- sshd log ---\n{}",
            sshd.diagnostics()
        );
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its temp dir (config, keys, authorized_keys, log, pid file); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The login user: the user the tests run as (root in CI).
    pub fn user(&self) -> String {
        self.user.clone()
    }

    /// An ed25519 client private key without passphrase, already in its authorized_keys.
    pub fn client_key(&self) -> PathBuf {
        self.dir().join("client_ed25519")
    }

    /// Appends the public key at `pubkey_path` to its authorized_keys (takes effect for the
    /// next authentication; no restart needed).
    pub fn authorize(&self, pubkey_path: &Path) {
        let line = read_pub(pubkey_path);
        let mut f = OpenOptions::new()
            .append(true)
            .open(self.dir().join("authorized_keys"))
            .expect("open authorized_keys");
        f.write_all(line.as_bytes())
            .expect("append authorized_keys");
    }

    /// `ssh-ed25519 AAAA…` of its (only) host key.
    pub fn host_key_line(&self) -> String {
        let text = read_pub(&self.dir().join("host_ed25519.pub"));
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…`, as OpenSSH writes it for a non-22 port.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key_line())
    }

    /// Appends [`known_hosts_line`](Sshd::known_hosts_line) and a newline to `path` (created if
    /// missing).
    pub fn write_known_hosts(&self, path: &Path) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        writeln!(f, "{}", self.known_hosts_line()).expect("write known_hosts");
    }

    /// sshd's log so far (all runs, including before restarts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// How many times `needle` occurs in the log so far.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Polls the log until it contains `needle` (→ `true`) or `timeout` passes (→ `false`).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        poll_until(timeout, || self.log().contains(needle))
    }

    /// Pid of the listening sshd (the last one started, even if it has been killed since).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Pids of every process under the listener: per-connection sshd children, their
    /// privilege-separated children, and sessions' commands.
    pub fn connection_pids(&self) -> Vec<u32> {
        if self.child.is_none() {
            return Vec::new();
        }
        proc::descendants(self.pid)
    }

    /// Whether the listener process is running (possibly stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some() && proc::alive(self.pid)
    }

    /// SIGKILLs the listener and every process under it (so established connections die too)
    /// and waits for them to exit. A no-op if already killed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            proc::kill_tree(child.id());
            let _ = child.wait();
        }
    }

    /// SIGSTOPs the listener and all its children: a black hole. TCP connections stay open and
    /// new ones still complete the kernel handshake, but nothing answers. Returns once every
    /// process of the tree has actually stopped.
    ///
    /// sshd does not survive being stopped in the middle of its post-authentication hand-over
    /// (the connection dies after [`cont`](Sshd::cont)), and a client sees itself authenticated
    /// before that hand-over is done. So with a `DEBUG*` log level, `stop` first waits (up to
    /// 5 s) until every `Accepted … for …` connection has logged `Entering interactive session`.
    /// Connections still mid-handshake when `stop` is called may fail after `cont`.
    pub fn stop(&self) {
        if self.child.is_none() {
            return;
        }
        if self.log_level.to_ascii_uppercase().starts_with("DEBUG") {
            poll_until(Duration::from_secs(5), || {
                let log = self.log();
                let accepted = log
                    .lines()
                    .filter(|l| {
                        l.starts_with("Accepted ") && l.contains(" for ") && l.contains(" ssh2")
                    })
                    .count();
                accepted <= log.matches("Entering interactive session for SSH2").count()
            });
        }
        proc::freeze_tree(self.pid);
    }

    /// SIGCONTs what [`stop`](Sshd::stop) stopped.
    pub fn cont(&self) {
        if self.child.is_some() {
            proc::signal_tree(self.pid, Signal::SIGCONT);
        }
    }

    /// Starts sshd again on the same port with the same host key, authorized keys and config
    /// (killing the current one first if it is still running). Retries while the port is
    /// momentarily busy; returns once it accepts and sends its banner.
    ///
    /// # Panics
    /// If it is not back within 10 s.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn_and_wait(deadline) {
                Spawn::Ready => return,
                Spawn::PortTaken if Instant::now() < deadline => std::thread::sleep(POLL),
                Spawn::PortTaken => panic!(
                    "sshd restart: port {} still taken after {READY_TIMEOUT:?}\n--- sshd log ---\n{}",
                    self.port,
                    self.diagnostics()
                ),
                Spawn::Failed(why) => panic!(
                    "sshd restart on port {}: {why}\n--- sshd log ---\n{}",
                    self.port,
                    self.diagnostics()
                ),
            }
        }
    }

    /// A `Command` for the system `ssh` client set up for this server: `-F /dev/null`, its
    /// client key only (no agent), batch mode, strict host-key checking against
    /// `known_hosts`, its port and a 10 s connect timeout. Add the destination
    /// (`user@127.0.0.1`) and any command yourself.
    pub fn ssh_command(&self, known_hosts: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(self.client_key())
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args(["-p", &self.port.to_string()]);
        cmd
    }

    /// `user@127.0.0.1`.
    pub fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    fn config_path(&self) -> PathBuf {
        self.dir().join("sshd_config")
    }

    fn log_path(&self) -> PathBuf {
        self.dir().join("sshd.log")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir().join("sshd.stderr")
    }

    fn config_text(&self, opts: &SshdOptions) -> String {
        let d = self.dir().display();
        let split = opts
            .extra_config
            .iter()
            .position(|l| l.trim_start().to_ascii_lowercase().starts_with("match"))
            .unwrap_or(opts.extra_config.len());
        let (head, tail) = opts.extra_config.split_at(split);
        let mut lines: Vec<String> = head.to_vec();
        lines.extend([
            format!("ListenAddress 127.0.0.1:{}", self.port),
            format!("HostKey {d}/host_ed25519"),
            format!("PidFile {d}/sshd.pid"),
            format!("AuthorizedKeysFile {d}/authorized_keys"),
            "StrictModes no".into(),
            "PermitRootLogin prohibit-password".into(),
            "PubkeyAuthentication yes".into(),
            "PasswordAuthentication no".into(),
            "KbdInteractiveAuthentication no".into(),
            "UsePAM no".into(),
            "AllowTcpForwarding yes".into(),
            "AllowStreamLocalForwarding yes".into(),
            "GatewayPorts no".into(),
            "PermitOpen any".into(),
            "PermitListen any".into(),
            format!("LogLevel {}", opts.log_level),
            "MaxStartups 100:30:200".into(),
            "MaxSessions 1000".into(),
            "ClientAliveInterval 0".into(),
            "UseDNS no".into(),
            "PrintMotd no".into(),
        ]);
        if sshd_version() >= (9, 8) {
            // Otherwise repeated failed/refused connections from 127.0.0.1 get penalised.
            lines.push("PerSourcePenalties no".into());
        }
        lines.extend(tail.iter().cloned());
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Spawns sshd with the current config and waits until it is ready, has exited, or the
    /// deadline passes.
    fn spawn_and_wait(&mut self, deadline: Instant) -> Spawn {
        let log_offset = std::fs::metadata(self.log_path())
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("open sshd.stderr");
        let child = Command::new(sshd_path())
            .arg("-D")
            .arg("-f")
            .arg(self.config_path())
            .arg("-E")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", sshd_path()));
        self.pid = child.id();
        self.child = Some(child);
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let logs_info = !matches!(
            self.log_level.to_ascii_uppercase().as_str(),
            "QUIET" | "FATAL" | "ERROR"
        );
        loop {
            let child = self.child.as_mut().expect("child just spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                let log = self.log();
                let new = log.get(log_offset..).unwrap_or("");
                return if new.contains("Address already in use") {
                    Spawn::PortTaken
                } else {
                    Spawn::Failed(format!("sshd exited during start-up ({status})"))
                };
            }
            let bound = !logs_info || {
                let log = self.log();
                log.get(log_offset..).unwrap_or("").contains(&listening)
            };
            if bound && banner_ok(self.addr()) {
                return Spawn::Ready;
            }
            if Instant::now() >= deadline {
                self.kill();
                return Spawn::Failed(format!(
                    "sshd on port {} not ready after {READY_TIMEOUT:?}",
                    self.port
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn diagnostics(&self) -> String {
        let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
        format!("{}{}", self.log(), stderr)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Spawn {
    Ready,
    PortTaken,
    Failed(String),
}

/// Connects and reads the identification line; `true` if it starts with `SSH-2.0`.
fn banner_ok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 256];
    let mut len = 0;
    while len < buf.len() {
        match s.read(&mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                len += n;
                if buf[..len].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    buf[..len].starts_with(b"SSH-2.0")
}

/// Reads a `.pub` file, newline-terminated.
fn read_pub(path: &Path) -> String {
    let mut text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// sshd needs an absolute path (it re-executes itself per connection).
fn sshd_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("/usr/sbin/sshd")
            .to_string()
    })
}

/// `(major, minor)` of the installed sshd, `(0, 0)` if it cannot be told.
fn sshd_version() -> (u32, u32) {
    static VERSION: OnceLock<(u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = Command::new(sshd_path()).arg("-V").output();
        let text = match out {
            Ok(o) => format!(
                "{}{}",
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&o.stdout)
            ),
            Err(_) => return (0, 0),
        };
        parse_version(&text).unwrap_or((0, 0))
    })
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let rest = &text[text.find("OpenSSH_")? + "OpenSSH_".len()..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Privilege separation needs `/run/sshd` (normally made by the init script).
fn ensure_privsep_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "root".to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_openssh_version() {
        assert_eq!(
            parse_version("OpenSSH_9.2p1 Debian-2, OpenSSL 3.0"),
            Some((9, 2))
        );
        assert_eq!(parse_version("OpenSSH_10.0, OpenSSL"), Some((10, 0)));
        assert_eq!(parse_version("unknown option"), None);
    }
}
