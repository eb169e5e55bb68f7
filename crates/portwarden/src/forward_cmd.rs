//! `portwarden forward`: the one-shot, foreground, OpenSSH-flavoured command. No agent, no
//! store: flags → a `tunnel::Keeper` with unlimited retries on the reference's backoff, and a
//! line on stderr for every state change. Authentication and host-key failures end the command
//! (retrying cannot fix them); network failures are retried. Ctrl-C / SIGTERM stop it cleanly.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use proto::spec::{self, ForwardKind};
use tokio_util::sync::CancellationToken;
use tunnel::{
    Credentials, Forward, Hop, HostKeyPolicy, HostKeys, Keeper, KeyFile, Pool, RetryPolicy, Route,
    Secret, SshOptions, Status,
};

/// `portwarden forward` flags, as OpenSSH spells them.
#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// Local forward: [bind:]port:host:hostport (repeatable).
    #[arg(short = 'L', value_name = "SPEC")]
    pub local: Vec<String>,
    /// Dynamic SOCKS forward: [bind:]port (repeatable).
    #[arg(short = 'D', value_name = "SPEC")]
    pub dynamic: Vec<String>,
    /// Remote forward: [bind:]port:host:hostport; port 0 lets the server choose (repeatable).
    #[arg(short = 'R', value_name = "SPEC")]
    pub remote: Vec<String>,
    /// Jump hosts: [user@]host[:port][,...].
    #[arg(short = 'J', value_name = "JUMPS")]
    pub jump: Option<String>,
    /// Identity (private key) file; repeatable; used on every hop.
    #[arg(short = 'i', value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// SSH port of the destination.
    #[arg(short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Login user.
    #[arg(short = 'l', value_name = "USER")]
    pub login: Option<String>,
    /// OpenSSH-style option Key=Value (repeatable).
    #[arg(short = 'o', value_name = "OPTION")]
    pub options: Vec<String>,
    /// Compatibility with `ssh -N`: portwarden never runs a command.
    #[arg(short = 'N', hide = true)]
    pub no_command: bool,
    /// Destination: [user@]host[:port] or ssh://user@host:port.
    pub destination: String,
}

/// Everything the flags resolve to.
#[derive(Debug)]
pub struct Plan {
    pub route: Route,
    pub forwards: Vec<Forward>,
    pub options: SshOptions,
    pub exit_on_forward_failure: bool,
}

#[derive(Default)]
struct Overrides {
    known_hosts: Vec<PathBuf>,
    policy: Option<HostKeyPolicy>,
    alive_interval: Option<u64>,
    alive_max: Option<usize>,
    connect_timeout: Option<u64>,
    exit_on_forward_failure: bool,
    identity: Vec<PathBuf>,
    port: Option<u16>,
    user: Option<String>,
    ciphers: Vec<String>,
}

const SUPPORTED_OPTIONS: &str = "UserKnownHostsFile, StrictHostKeyChecking, ServerAliveInterval, ServerAliveCountMax, ConnectTimeout, ExitOnForwardFailure, IdentityFile, Port, User, Ciphers";

fn yes_no(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => bail!("-o {key}: expected yes or no, got '{v}'"),
    }
}

fn parse_options(opts: &[String]) -> Result<Overrides> {
    let mut o = Overrides::default();
    for raw in opts {
        let (key, value) = raw
            .split_once('=')
            .or_else(|| raw.split_once(' '))
            .with_context(|| format!("-o '{raw}': expected Key=Value"))?;
        let (key, value) = (key.trim(), value.trim());
        let num = |what: &str| -> Result<u64> {
            value
                .parse::<u64>()
                .with_context(|| format!("-o {what}: '{value}' is not a whole number"))
        };
        match key.to_ascii_lowercase().as_str() {
            "userknownhostsfile" => {
                o.known_hosts = value.split_whitespace().map(expand_tilde).collect()
            }
            "stricthostkeychecking" => {
                o.policy = Some(match value.to_ascii_lowercase().as_str() {
                    "yes" | "ask" => HostKeyPolicy::Strict,
                    "accept-new" => HostKeyPolicy::AcceptNew,
                    "no" | "off" => HostKeyPolicy::Off,
                    _ => bail!(
                        "-o StrictHostKeyChecking: expected yes, accept-new or no, got '{value}'"
                    ),
                })
            }
            "serveraliveinterval" => o.alive_interval = Some(num("ServerAliveInterval")?),
            "serveralivecountmax" => o.alive_max = Some(num("ServerAliveCountMax")? as usize),
            "connecttimeout" => o.connect_timeout = Some(num("ConnectTimeout")?),
            "exitonforwardfailure" => o.exit_on_forward_failure = yes_no(key, value)?,
            "identityfile" => o.identity.push(expand_tilde(value)),
            "port" => {
                o.port = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .with_context(|| format!("-o Port: '{value}' is not a port (1-65535)"))?,
                )
            }
            "user" => o.user = Some(value.to_string()),
            "ciphers" => {
                for c in value.split(',') {
                    if russh_cipher_known(c) {
                        o.ciphers.push(c.to_string());
                    } else {
                        bail!("-o Ciphers: unsupported cipher '{c}' (supported: aes128-gcm@openssh.com, aes256-gcm@openssh.com, chacha20-poly1305@openssh.com, aes128-ctr, aes192-ctr, aes256-ctr)");
                    }
                }
            }
            _ => bail!("-o {key}: unsupported option (supported: {SUPPORTED_OPTIONS})"),
        }
    }
    Ok(o)
}

fn russh_cipher_known(c: &str) -> bool {
    matches!(
        c,
        "aes128-gcm@openssh.com"
            | "aes256-gcm@openssh.com"
            | "chacha20-poly1305@openssh.com"
            | "aes128-ctr"
            | "aes192-ctr"
            | "aes256-ctr"
    )
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn expand_tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p),
    }
}

fn default_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into())
}

/// Turns flags into a plan; every error names the flag and the bad value.
pub fn plan(args: &ForwardArgs) -> Result<Plan> {
    let o = parse_options(&args.options)?;
    let mut forwards = Vec::new();
    for (kind, specs) in [
        (ForwardKind::Local, &args.local),
        (ForwardKind::Dynamic, &args.dynamic),
        (ForwardKind::Remote, &args.remote),
    ] {
        for s in specs {
            let f = spec::parse_forward(kind, s).map_err(anyhow::Error::from)?;
            forwards.push(match kind {
                ForwardKind::Local => {
                    let bind = f.bind_address.unwrap_or_else(|| "127.0.0.1".into());
                    proto::loopback::check_bind_address(&bind)?;
                    Forward::Local {
                        bind,
                        port: f.port,
                        host: f.host.unwrap_or_default(),
                        host_port: f.host_port.unwrap_or_default(),
                    }
                }
                ForwardKind::Dynamic => {
                    let bind = f.bind_address.unwrap_or_else(|| "127.0.0.1".into());
                    proto::loopback::check_bind_address(&bind)?;
                    Forward::Dynamic { bind, port: f.port }
                }
                ForwardKind::Remote => Forward::Remote {
                    listen_host: f.bind_address.unwrap_or_else(|| "localhost".into()),
                    listen_port: f.port,
                    target_host: f.host.unwrap_or_default(),
                    target_port: f.host_port.unwrap_or_default(),
                },
            });
        }
    }
    if forwards.is_empty() {
        bail!("nothing to forward: give at least one -L, -D or -R");
    }
    let dest = spec::parse_destination(&args.destination).map_err(anyhow::Error::from)?;
    let user = dest
        .user
        .clone()
        .or_else(|| args.login.clone())
        .or_else(|| o.user.clone())
        .unwrap_or_else(default_user);
    let port = dest.port.or(args.port).or(o.port).unwrap_or(22);

    let mut keys: Vec<PathBuf> = args.identity.clone();
    keys.extend(o.identity.iter().cloned());
    let agent_socket = std::env::var_os("SSH_AUTH_SOCK")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if keys.is_empty() {
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let p = home().join(".ssh").join(name);
            if p.exists() {
                keys.push(p);
            }
        }
    }
    for k in &keys {
        if !k.exists() {
            bail!("-i {}: no such key file", k.display());
        }
    }
    let passphrase = std::env::var("PORTWARDEN_PASSPHRASE").ok().map(Secret::new);
    let mut password = std::env::var("PORTWARDEN_PASSWORD").ok().map(Secret::new);
    if password.is_none() && keys.is_empty() && agent_socket.is_none() {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            let p = rpassword::prompt_password(format!("{user}@{}'s password: ", dest.host))
                .context("reading the password")?;
            password = Some(Secret::new(p));
        } else {
            bail!("no credentials: give -i KEY, run an ssh-agent, or set PORTWARDEN_PASSWORD");
        }
    }
    let credentials = Credentials {
        password,
        keys: keys
            .into_iter()
            .map(|path| KeyFile {
                path,
                passphrase: passphrase.clone(),
            })
            .collect(),
        agent_socket,
    };
    let mut hops = Vec::new();
    if let Some(j) = &args.jump {
        for d in spec::parse_jump_list(j).map_err(anyhow::Error::from)? {
            hops.push(Hop {
                user: d.user.unwrap_or_else(|| user.clone()),
                port: d.port.unwrap_or(22),
                host: d.host,
                credentials: credentials.clone(),
            });
        }
    }
    hops.push(Hop {
        host: dest.host,
        port,
        user,
        credentials,
    });
    let files = if o.known_hosts.is_empty() {
        vec![home().join(".ssh/known_hosts")]
    } else {
        o.known_hosts.clone()
    };
    let policy = o.policy.unwrap_or(HostKeyPolicy::Strict);
    let route = Route {
        hops,
        host_keys: HostKeys {
            policy,
            write_to: files.first().cloned(),
            files,
        },
    };
    let mut options = SshOptions::default();
    if let Some(t) = o.connect_timeout {
        options.connect_timeout = Duration::from_secs(t.max(1));
    }
    if let Some(i) = o.alive_interval.filter(|i| *i > 0) {
        options.keepalive_interval = Some(Duration::from_secs(i));
    }
    if let Some(m) = o.alive_max {
        options.keepalive_max = m;
    }
    options.ciphers = o.ciphers.clone();
    Ok(Plan {
        route,
        forwards,
        options,
        exit_on_forward_failure: o.exit_on_forward_failure,
    })
}

/// Runs the plan until `shutdown` fires or a failure that retrying cannot fix.
pub async fn run(plan: Plan, shutdown: CancellationToken) -> Result<()> {
    let pool = Pool::new(plan.options.clone());
    let keeper = Keeper {
        route: plan.route,
        forwards: plan.forwards.clone(),
        policy: RetryPolicy {
            auto_reconnect: true,
            max_retries: 0,
        },
    };
    let handle = keeper.spawn(pool, &shutdown);
    let mut rx = handle.watch();
    let mut last_status = None;
    let result = loop {
        let state = rx.borrow_and_update().clone();
        if Some((state.status, state.retry_count)) != last_status {
            last_status = Some((state.status, state.retry_count));
            match state.status {
                Status::Connected => {
                    eprintln!("connected");
                    for (f, port) in plan.forwards.iter().zip(&state.allocated_ports) {
                        if let (Forward::Remote { listen_host, .. }, Some(p)) = (f, port) {
                            eprintln!("{}: server listens on {listen_host}:{p}", f.describe());
                        }
                    }
                }
                Status::Reconnecting => {
                    let next = state.next_retry_in.map(|d| d.as_secs()).unwrap_or(0);
                    eprintln!(
                        "reconnecting (retry {}, next in {next}s): {}",
                        state.retry_count,
                        state.last_error.as_deref().unwrap_or("connection lost")
                    );
                    if plan.exit_on_forward_failure
                        && state
                            .last_error
                            .as_deref()
                            .is_some_and(|e| e.contains("remote forward"))
                    {
                        break Err(anyhow::anyhow!(
                            "{} (ExitOnForwardFailure=yes)",
                            state.last_error.unwrap_or_default()
                        ));
                    }
                }
                Status::Connecting => eprintln!("connecting"),
                Status::Failed => {
                    break Err(anyhow::anyhow!(
                        "{}",
                        state.last_error.unwrap_or_else(|| "failed".into())
                    ))
                }
                Status::Disconnected => break Ok(()),
            }
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break Ok(()) },
            _ = shutdown.cancelled() => {
                break Ok(());
            }
        }
    };
    handle.stop().await;
    if result.is_ok() {
        eprintln!("stopped");
    }
    result
}
