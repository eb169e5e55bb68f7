//! Command-line grammar and dispatch. `serve` runs the agent, `forward` the one-shot forward;
//! every other command is a client of the running agent's REST API.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use proto::spec::{self, ForwardKind};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::client::{self, Client};
use crate::forward_cmd::{self, ForwardArgs};
use crate::output::{self, str_of};
use crate::serve::{self, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "portwarden",
    version,
    about = "SSH tunnel manager: keeps -L, -D and -R forwards up"
)]
pub struct Cli {
    /// The agent's data dir (default $XDG_DATA_HOME/portwarden).
    #[arg(long, global = true, env = "PORTWARDEN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: REST API, web UI and the tunnel supervisor.
    Serve(ServeArgs),
    /// One-shot forward in the foreground, with OpenSSH's flags (no agent needed).
    Forward(ForwardArgs),
    /// Saved tunnels.
    #[command(subcommand)]
    Tunnel(TunnelCmd),
    /// Credential profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Jump hosts.
    #[command(subcommand)]
    Jump(JumpCmd),
    /// Saved sessions and their forwards.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Trusted and pending host keys.
    #[command(subcommand)]
    Hostkey(HostkeyCmd),
    /// Every tunnel with its live state (the popover as a table).
    Status,
    /// Open the web UI signed in (a fresh one-time link).
    Ui {
        /// Print the link instead of opening a browser.
        #[arg(long)]
        print_url: bool,
    },
}

/// Where a tunnel forwards: exactly one of -L, -D, -R.
#[derive(Debug, Args, Default)]
pub struct ForwardFlags {
    /// Local forward [bind:]port:host:hostport.
    #[arg(short = 'L', value_name = "SPEC")]
    pub local: Option<String>,
    /// Dynamic (SOCKS5) forward [bind:]port.
    #[arg(short = 'D', value_name = "SPEC")]
    pub dynamic: Option<String>,
    /// Remote forward [remote_host:]remote_port:localhost:local_port.
    #[arg(short = 'R', value_name = "SPEC")]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct TunnelFields {
    /// SSH server host.
    #[arg(long)]
    pub host: Option<String>,
    /// SSH server port (22).
    #[arg(long)]
    pub port: Option<u16>,
    /// Credential profile (id or name).
    #[arg(long)]
    pub profile: Option<String>,
    /// Jump host (id or name).
    #[arg(long, conflicts_with = "jump_session")]
    pub jump_host: Option<String>,
    /// A session to use as the jump (id or name).
    #[arg(long)]
    pub jump_session: Option<String>,
    #[command(flatten)]
    pub forward: ForwardFlags,
    /// Start with the agent.
    #[arg(long)]
    pub auto_start: Option<bool>,
    /// Reconnect with backoff when the connection drops.
    #[arg(long)]
    pub auto_reconnect: Option<bool>,
    /// Reconnect attempts before failing (0 = unlimited).
    #[arg(long)]
    pub max_retries: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum TunnelCmd {
    /// List tunnels.
    Ls,
    /// Create a tunnel.
    Add {
        name: String,
        #[command(flatten)]
        fields: TunnelFields,
    },
    /// Change a tunnel (a running one restarts).
    Edit {
        tunnel: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: TunnelFields,
    },
    /// Delete a tunnel (stopped first).
    Rm {
        tunnel: String,
    },
    Start {
        tunnel: String,
    },
    Stop {
        tunnel: String,
    },
    /// Force a fresh connection (resets the retry count).
    Reconnect {
        tunnel: String,
    },
}

#[derive(Debug, Args)]
pub struct ProfileFields {
    #[arg(long)]
    pub username: Option<String>,
    /// password | key | agent
    #[arg(long)]
    pub auth: Option<String>,
    /// Private key file (auth key).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the key passphrase from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Default jump host (id or name).
    #[arg(long)]
    pub jump_host: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    Ls,
    Add {
        name: String,
        #[command(flatten)]
        fields: ProfileFields,
    },
    Edit {
        profile: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: ProfileFields,
    },
    Rm {
        profile: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JumpCmd {
    Ls,
    Add {
        name: String,
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// Credential profile (id or name).
        #[arg(long)]
        profile: String,
        /// The jump host behind which this one sits (chains).
        #[arg(long)]
        via: Option<String>,
    },
    Rm {
        jump: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    Ls,
    Add {
        name: String,
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        #[arg(long)]
        profile: String,
        #[arg(long)]
        jump_host: Option<String>,
        /// Local forwards (repeatable).
        #[arg(short = 'L', value_name = "SPEC")]
        local: Vec<String>,
        /// Dynamic forwards (repeatable).
        #[arg(short = 'D', value_name = "SPEC")]
        dynamic: Vec<String>,
        /// Remote forwards (repeatable).
        #[arg(short = 'R', value_name = "SPEC")]
        remote: Vec<String>,
    },
    Rm {
        session: String,
    },
    Connect {
        session: String,
    },
    Disconnect {
        session: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostkeyCmd {
    Ls,
    /// Trust a pending key: HOST[:PORT] FINGERPRINT (as shown by `hostkey ls`).
    Trust {
        host: String,
        fingerprint: String,
    },
    /// Forget the agent's keys for HOST[:PORT].
    Forget {
        host: String,
    },
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn stop_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        token.cancel();
    });
}

pub async fn dispatch(cli: Cli) -> Result<()> {
    let json_out = cli.json;
    match cli.command {
        Command::Serve(args) => serve::run(args, cli.data_dir).await,
        Command::Forward(args) => {
            let plan = forward_cmd::plan(&args)?;
            let shutdown = CancellationToken::new();
            stop_on_signals(shutdown.clone());
            forward_cmd::run(plan, shutdown).await
        }
        other => {
            let dir = client::data_dir(cli.data_dir)?;
            let c = Client::from_data_dir(&dir)?;
            agent_command(&c, other, json_out).await
        }
    }
}

/// Splits `host[:port]` / `[v6]:port`.
fn host_port(s: &str) -> Result<(String, u16)> {
    let d = spec::parse_destination(s).map_err(anyhow::Error::from)?;
    Ok((d.host, d.port.unwrap_or(22)))
}

fn apply_forward(body: &mut Value, f: &ForwardFlags) -> Result<()> {
    let given = [&f.local, &f.dynamic, &f.remote]
        .iter()
        .filter(|o| o.is_some())
        .count();
    if given > 1 {
        bail!("give only one of -L, -D, -R");
    }
    if let Some(s) = &f.local {
        let p = spec::parse_forward(ForwardKind::Local, s)?;
        body["forward_type"] = json!("local");
        body["local_port"] = json!(p.port);
        body["bind_address"] = json!(p.bind_address.unwrap_or_else(|| "127.0.0.1".into()));
        body["remote_host"] = json!(p.host);
        body["remote_port"] = json!(p.host_port);
    } else if let Some(s) = &f.dynamic {
        let p = spec::parse_forward(ForwardKind::Dynamic, s)?;
        body["forward_type"] = json!("dynamic");
        body["local_port"] = json!(p.port);
        body["bind_address"] = json!(p.bind_address.unwrap_or_else(|| "127.0.0.1".into()));
        body["remote_host"] = Value::Null;
        body["remote_port"] = Value::Null;
    } else if let Some(s) = &f.remote {
        let p = spec::parse_forward(ForwardKind::Remote, s)?;
        body["forward_type"] = json!("remote");
        body["remote_host"] = json!(p.bind_address.unwrap_or_else(|| "localhost".into()));
        body["remote_port"] = json!(p.port);
        body["local_port"] = json!(p.host_port);
        let target = p.host.unwrap_or_else(|| "localhost".into());
        let bind = if target == "localhost" {
            "127.0.0.1".to_string()
        } else {
            target
        };
        body["bind_address"] = json!(bind);
    }
    Ok(())
}

async fn apply_tunnel_fields(c: &Client, body: &mut Value, f: &TunnelFields) -> Result<()> {
    if let Some(h) = &f.host {
        body["host"] = json!(h);
    }
    if let Some(p) = f.port {
        body["port"] = json!(p);
    }
    if let Some(p) = &f.profile {
        body["profile_id"] = c.resolve("/profiles", p).await?["id"].clone();
    }
    if let Some(j) = &f.jump_host {
        body["jump_host_id"] = c.resolve("/jump-hosts", j).await?["id"].clone();
        body["jump_session_id"] = Value::Null;
    }
    if let Some(s) = &f.jump_session {
        body["jump_session_id"] = c.resolve("/sessions", s).await?["id"].clone();
        body["jump_host_id"] = Value::Null;
    }
    apply_forward(body, &f.forward)?;
    if let Some(v) = f.auto_start {
        body["auto_start"] = json!(v);
    }
    if let Some(v) = f.auto_reconnect {
        body["auto_reconnect"] = json!(v);
    }
    if let Some(v) = f.max_retries {
        body["max_retries"] = json!(v);
    }
    Ok(())
}

/// The writable fields of a tunnel object (what PUT takes).
fn tunnel_input(t: &Value) -> Value {
    let mut out = json!({});
    for k in [
        "name",
        "host",
        "port",
        "profile_id",
        "jump_host_id",
        "jump_session_id",
        "forward_type",
        "local_port",
        "bind_address",
        "remote_host",
        "remote_port",
        "auto_start",
        "auto_reconnect",
        "max_retries",
    ] {
        out[k] = t[k].clone();
    }
    out
}

fn secret_from_env(var: &Option<String>) -> Result<Option<String>> {
    match var {
        None => Ok(None),
        Some(v) => std::env::var(v)
            .map(Some)
            .with_context(|| format!("environment variable {v} is not set")),
    }
}

async fn profile_body(c: &Client, body: &mut Value, f: &ProfileFields) -> Result<()> {
    if let Some(u) = &f.username {
        body["username"] = json!(u);
    }
    if let Some(k) = &f.key {
        body["key_path"] = json!(k);
        if f.auth.is_none() {
            body["auth_type"] = json!("key");
        }
    }
    if let Some(a) = &f.auth {
        body["auth_type"] = json!(a);
    }
    if let Some(p) = secret_from_env(&f.password_env)? {
        body["password"] = json!(p);
        if body["auth_type"].is_null() {
            body["auth_type"] = json!("password");
        }
    }
    if let Some(p) = secret_from_env(&f.passphrase_env)? {
        body["key_passphrase"] = json!(p);
    }
    if let Some(j) = &f.jump_host {
        body["jump_host_id"] = c.resolve("/jump-hosts", j).await?["id"].clone();
    }
    Ok(())
}

fn session_forwards(local: &[String], dynamic: &[String], remote: &[String]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (flags, pick) in [(local, 0), (dynamic, 1), (remote, 2)] {
        for s in flags {
            let mut f = ForwardFlags::default();
            match pick {
                0 => f.local = Some(s.clone()),
                1 => f.dynamic = Some(s.clone()),
                _ => f.remote = Some(s.clone()),
            }
            let mut body = json!({"enabled": true});
            apply_forward(&mut body, &f)?;
            out.push(body);
        }
    }
    Ok(out)
}

async fn agent_command(c: &Client, cmd: Command, json_out: bool) -> Result<()> {
    let print = |v: &Value| {
        if json_out {
            output::json(v);
        }
    };
    match cmd {
        Command::Status => {
            let items = c.get("/tunnels/status").await?;
            if json_out {
                output::json(&items);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .as_array()
                .map(|a| a.iter().map(output::status_row).collect())
                .unwrap_or_default();
            if rows.is_empty() {
                println!("no tunnels");
            } else {
                output::table(
                    &[
                        "",
                        "NAME",
                        "SPEC",
                        "HOST",
                        "STATUS",
                        "UPTIME",
                        "RETRY",
                        "LAST ERROR",
                    ],
                    &rows,
                );
            }
        }
        Command::Ui { print_url } => {
            let link = c.post("/login-links", &json!({})).await?;
            let url = str_of(&link, "url");
            if json_out {
                output::json(&link);
            } else if print_url {
                println!("{url}");
            } else {
                let opened = std::process::Command::new("xdg-open")
                    .arg(&url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if opened {
                    println!("opened {url}");
                } else {
                    println!("open this link (valid once, for 2 minutes): {url}");
                }
            }
        }
        Command::Tunnel(t) => match t {
            TunnelCmd::Ls => {
                list(
                    c,
                    "/tunnels",
                    json_out,
                    &["", "ID", "NAME", "SPEC", "SSH", "STATUS", ""],
                    |t| {
                        vec![
                            output::dot(&str_of(t, "status")),
                            str_of(t, "id"),
                            str_of(t, "name"),
                            str_of(t, "spec"),
                            format!("{}:{}", str_of(t, "host"), str_of(t, "port")),
                            str_of(t, "status"),
                            if t["auto_start"] == true {
                                "auto-start".into()
                            } else {
                                String::new()
                            },
                        ]
                    },
                )
                .await?;
            }
            TunnelCmd::Add { name, fields } => {
                let mut body = json!({ "name": name });
                apply_tunnel_fields(c, &mut body, &fields).await?;
                if body.get("forward_type").is_none() {
                    bail!("give one of -L, -D or -R");
                }
                let t = c.post("/tunnels", &body).await?;
                print(&t);
                if !json_out {
                    println!(
                        "created {} {} ({})",
                        str_of(&t, "id"),
                        str_of(&t, "name"),
                        str_of(&t, "spec")
                    );
                }
            }
            TunnelCmd::Edit {
                tunnel,
                name,
                fields,
            } => {
                let current = c.resolve("/tunnels", &tunnel).await?;
                let mut body = tunnel_input(&current);
                if let Some(n) = name {
                    body["name"] = json!(n);
                }
                apply_tunnel_fields(c, &mut body, &fields).await?;
                let t = c
                    .put(&format!("/tunnels/{}", str_of(&current, "id")), &body)
                    .await?;
                print(&t);
                if !json_out {
                    println!("updated {} ({})", str_of(&t, "name"), str_of(&t, "spec"));
                }
            }
            TunnelCmd::Rm { tunnel } => remove(c, "/tunnels", &tunnel, json_out).await?,
            TunnelCmd::Start { tunnel } => tunnel_action(c, &tunnel, "start", json_out).await?,
            TunnelCmd::Stop { tunnel } => tunnel_action(c, &tunnel, "stop", json_out).await?,
            TunnelCmd::Reconnect { tunnel } => {
                tunnel_action(c, &tunnel, "reconnect", json_out).await?
            }
        },
        Command::Profile(p) => match p {
            ProfileCmd::Ls => {
                list(
                    c,
                    "/profiles",
                    json_out,
                    &["ID", "NAME", "USER", "AUTH", "KEY", ""],
                    |p| {
                        vec![
                            str_of(p, "id"),
                            str_of(p, "name"),
                            str_of(p, "username"),
                            str_of(p, "auth_type"),
                            str_of(p, "key_path"),
                            if p["has_password"] == true {
                                "password set".into()
                            } else {
                                String::new()
                            },
                        ]
                    },
                )
                .await?;
            }
            ProfileCmd::Add { name, fields } => {
                let mut body = json!({ "name": name });
                profile_body(c, &mut body, &fields).await?;
                let p = c.post("/profiles", &body).await?;
                print(&p);
                if !json_out {
                    println!("created {} {}", str_of(&p, "id"), str_of(&p, "name"));
                }
            }
            ProfileCmd::Edit {
                profile,
                name,
                fields,
            } => {
                let current = c.resolve("/profiles", &profile).await?;
                let mut body = json!({});
                for k in [
                    "name",
                    "username",
                    "auth_type",
                    "key_path",
                    "jump_host_id",
                    "jump_session_id",
                ] {
                    body[k] = current[k].clone();
                }
                if let Some(n) = name {
                    body["name"] = json!(n);
                }
                profile_body(c, &mut body, &fields).await?;
                let p = c
                    .put(&format!("/profiles/{}", str_of(&current, "id")), &body)
                    .await?;
                print(&p);
                if !json_out {
                    println!("updated {}", str_of(&p, "name"));
                }
            }
            ProfileCmd::Rm { profile } => remove(c, "/profiles", &profile, json_out).await?,
        },
        Command::Jump(j) => match j {
            JumpCmd::Ls => {
                list(
                    c,
                    "/jump-hosts",
                    json_out,
                    &["ID", "NAME", "SSH", "PROFILE", "VIA"],
                    |j| {
                        vec![
                            str_of(j, "id"),
                            str_of(j, "name"),
                            format!("{}:{}", str_of(j, "host"), str_of(j, "port")),
                            str_of(j, "profile_id"),
                            str_of(j, "jump_host_id"),
                        ]
                    },
                )
                .await?;
            }
            JumpCmd::Add {
                name,
                host,
                port,
                profile,
                via,
            } => {
                let profile_id = c.resolve("/profiles", &profile).await?["id"].clone();
                let via = match via {
                    Some(v) => c.resolve("/jump-hosts", &v).await?["id"].clone(),
                    None => Value::Null,
                };
                let body = json!({"name": name, "host": host, "port": port, "profile_id": profile_id, "jump_host_id": via});
                let j = c.post("/jump-hosts", &body).await?;
                print(&j);
                if !json_out {
                    println!("created {} {}", str_of(&j, "id"), str_of(&j, "name"));
                }
            }
            JumpCmd::Rm { jump } => remove(c, "/jump-hosts", &jump, json_out).await?,
        },
        Command::Session(s) => match s {
            SessionCmd::Ls => {
                list(
                    c,
                    "/sessions",
                    json_out,
                    &["ID", "NAME", "SSH", "FORWARDS", "STATE"],
                    |s| {
                        vec![
                            str_of(s, "id"),
                            str_of(s, "name"),
                            format!("{}:{}", str_of(s, "host"), str_of(s, "port")),
                            s["forwards"]
                                .as_array()
                                .map(|f| f.len())
                                .unwrap_or(0)
                                .to_string(),
                            if s["connected"] == true {
                                "connected".into()
                            } else {
                                "disconnected".into()
                            },
                        ]
                    },
                )
                .await?;
            }
            SessionCmd::Add {
                name,
                host,
                port,
                profile,
                jump_host,
                local,
                dynamic,
                remote,
            } => {
                let profile_id = c.resolve("/profiles", &profile).await?["id"].clone();
                let jump = match jump_host {
                    Some(j) => c.resolve("/jump-hosts", &j).await?["id"].clone(),
                    None => Value::Null,
                };
                let body = json!({
                    "name": name, "host": host, "port": port, "profile_id": profile_id,
                    "jump_host_id": jump, "forwards": session_forwards(&local, &dynamic, &remote)?,
                });
                let s = c.post("/sessions", &body).await?;
                print(&s);
                if !json_out {
                    println!("created {} {}", str_of(&s, "id"), str_of(&s, "name"));
                }
            }
            SessionCmd::Rm { session } => remove(c, "/sessions", &session, json_out).await?,
            SessionCmd::Connect { session } => {
                let s = c.resolve("/sessions", &session).await?;
                let r = c
                    .post(
                        &format!("/sessions/{}/connect", str_of(&s, "id")),
                        &json!({}),
                    )
                    .await?;
                print(&r);
                if !json_out {
                    println!("connected {}", str_of(&s, "name"));
                }
            }
            SessionCmd::Disconnect { session } => {
                let s = c.resolve("/sessions", &session).await?;
                let r = c
                    .post(
                        &format!("/sessions/{}/disconnect", str_of(&s, "id")),
                        &json!({}),
                    )
                    .await?;
                print(&r);
                if !json_out {
                    println!("disconnected {}", str_of(&s, "name"));
                }
            }
        },
        Command::Hostkey(h) => match h {
            HostkeyCmd::Ls => {
                let v = c.get("/known-hosts").await?;
                if json_out {
                    output::json(&v);
                } else {
                    let mut rows = Vec::new();
                    for p in v["pending"].as_array().cloned().unwrap_or_default() {
                        rows.push(vec![
                            "pending".into(),
                            format!("{}:{}", str_of(&p, "host"), str_of(&p, "port")),
                            str_of(&p, "key_type"),
                            str_of(&p, "fingerprint"),
                            String::new(),
                        ]);
                    }
                    for t in v["trusted"].as_array().cloned().unwrap_or_default() {
                        rows.push(vec![
                            "trusted".into(),
                            format!("{}:{}", str_of(&t, "host"), str_of(&t, "port")),
                            str_of(&t, "key_type"),
                            str_of(&t, "fingerprint"),
                            str_of(&t, "source"),
                        ]);
                    }
                    output::table(&["STATE", "HOST", "TYPE", "FINGERPRINT", "SOURCE"], &rows);
                }
            }
            HostkeyCmd::Trust { host, fingerprint } => {
                let (h, p) = host_port(&host)?;
                let r = c
                    .post(
                        "/known-hosts",
                        &json!({"host": h, "port": p, "fingerprint": fingerprint}),
                    )
                    .await?;
                print(&r);
                if !json_out {
                    println!("trusted {fingerprint} for {h}:{p}");
                }
            }
            HostkeyCmd::Forget { host } => {
                let (h, p) = host_port(&host)?;
                c.delete(&format!("/known-hosts?host={}&port={p}", urlencode(&h)))
                    .await?;
                if !json_out {
                    println!("forgot the keys of {h}:{p}");
                }
            }
        },
        Command::Serve(_) | Command::Forward(_) => unreachable!("handled by dispatch"),
    }
    Ok(())
}

/// Prints a collection as a table (or JSON).
async fn list(
    c: &Client,
    path: &str,
    json_out: bool,
    header: &[&str],
    row: impl Fn(&Value) -> Vec<String>,
) -> Result<()> {
    let items = c.get(path).await?;
    if json_out {
        output::json(&items);
    } else {
        let rows: Vec<Vec<String>> = items
            .as_array()
            .map(|a| a.iter().map(&row).collect())
            .unwrap_or_default();
        output::table(header, &rows);
    }
    Ok(())
}

/// Deletes an object of a collection found by id or name.
async fn remove(c: &Client, collection: &str, id_or_name: &str, json_out: bool) -> Result<()> {
    let v = c.resolve(collection, id_or_name).await?;
    c.delete(&format!("{collection}/{}", str_of(&v, "id")))
        .await?;
    if !json_out {
        println!("deleted {}", str_of(&v, "name"));
    }
    Ok(())
}

async fn tunnel_action(c: &Client, tunnel: &str, action: &str, json_out: bool) -> Result<()> {
    let t = c.resolve("/tunnels", tunnel).await?;
    let r = c
        .post(
            &format!("/tunnels/{}/{action}", str_of(&t, "id")),
            &json!({}),
        )
        .await?;
    if json_out {
        output::json(&r);
    } else {
        println!(
            "{} {}: {}",
            action,
            str_of(&t, "name"),
            str_of(&r, "status")
        );
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
