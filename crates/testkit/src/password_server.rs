//! [`PasswordServer`]: a small in-process SSH server (russh) for password authentication only,
//! because OpenSSH's sshd cannot check a password for root without PAM. It accepts exactly user
//! [`PASSWORD_USER`] with [`PASSWORD`], opens session channels (for health probes) and
//! direct-tcpip channels to loopback targets only. Everything else is the real sshd's job.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelOpenFailure, MethodKind, MethodSet};
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::keys::{generate_key, pub_path, KeyFormat, KeyKind};

/// The only user the password server lets in.
pub const PASSWORD_USER: &str = "tester";
/// The only password it accepts.
pub const PASSWORD: &str = "correct horse";

/// A running password-only SSH server on `127.0.0.1:<port 0>`; stopped on drop.
#[derive(Debug)]
pub struct PasswordServer {
    _dir: TempDir,
    addr: SocketAddr,
    host_key_line: String,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

struct Handler {
    accepted: Arc<AtomicUsize>,
}

impl russh::server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if user == PASSWORD_USER && password == PASSWORD {
            self.accepted.fetch_add(1, Ordering::SeqCst);
            Ok(Auth::Accept)
        } else {
            Ok(Auth::Reject {
                proceed_with_methods: None,
                partial_success: false,
            })
        }
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let ip: Option<IpAddr> = if host_to_connect == "localhost" {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            host_to_connect.parse().ok()
        };
        let (Some(ip), Ok(port)) = (
            ip.filter(IpAddr::is_loopback),
            u16::try_from(port_to_connect),
        ) else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        let connect = TcpStream::connect((ip, port));
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(mut tcp)) => {
                reply.accept().await;
                tokio::spawn(async move {
                    let mut stream = channel.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await;
                });
            }
            _ => reply.reject(ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }
}

impl PasswordServer {
    /// Starts the server (generating an ed25519 host key with ssh-keygen).
    ///
    /// # Panics
    /// If the key cannot be generated or loaded, or `127.0.0.1:0` cannot be bound.
    pub async fn start() -> PasswordServer {
        let dir = tempfile::Builder::new()
            .prefix("testkit-pwserver-")
            .tempdir()
            .expect("password server temp dir");
        let key_path = generate_key(
            dir.path(),
            "host_ed25519",
            KeyKind::Ed25519,
            None,
            KeyFormat::OpenSsh,
        );
        let key = russh::keys::load_secret_key(&key_path, None)
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", key_path.display()));
        let host_key_line = read_key_line(&pub_path(&key_path));
        let config = Arc::new(russh::server::Config {
            methods: MethodSet::from(&[MethodKind::Password][..]),
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::from_millis(0)),
            keys: vec![key],
            ..Default::default()
        });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    a = listener.accept() => {
                        let Ok((stream, _)) = a else { continue };
                        let handler = Handler { accepted: counter.clone() };
                        let config = config.clone();
                        sessions.spawn(async move {
                            if let Ok(running) = russh::server::run_stream(config, stream, handler).await {
                                let _ = running.await;
                            }
                        });
                    }
                    Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                }
            }
        });
        PasswordServer {
            _dir: dir,
            addr,
            host_key_line,
            accepted,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many password logins it accepted.
    pub fn accepted_logins(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port(), self.host_key_line)
    }

    /// Appends [`known_hosts_line`](PasswordServer::known_hosts_line) to `path`.
    pub fn write_known_hosts(&self, path: &Path) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        writeln!(f, "{}", self.known_hosts_line()).expect("write known_hosts");
    }
}

impl Drop for PasswordServer {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every session.
        self.task.abort();
    }
}

fn read_key_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
