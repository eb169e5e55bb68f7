//! `bench-driver`: the measuring half of `scripts/bench` (the script orchestrates sshd, ssh and
//! portwarden processes; this binary moves and times the bytes). Every measurement subcommand
//! prints one JSON line per result: `{"row", "tool", "value", "unit", "target", "note"}`; the
//! `report` subcommand turns a file of them into the markdown table and the JSON summary.
//!
//! The target server speaks a one-byte protocol so one port serves every row:
//! `E` echo everything after it; `S` sink until EOF, then reply the count as u64 BE; `D` + u64
//! BE n: send n bytes, then close.

#![forbid(unsafe_code)]

mod net;
mod report;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "bench-driver",
    about = "portwarden vs OpenSSH benchmark driver"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the driver connects: straight to `connect`, or through a SOCKS5 proxy at `connect`
/// to `target`.
#[derive(clap::Args, Clone, Debug)]
struct Dest {
    /// Address to connect to (the forward's listener, or the SOCKS5 proxy with --socks5).
    #[arg(long)]
    connect: SocketAddr,
    /// Treat --connect as a SOCKS5 proxy and ask it for --target.
    #[arg(long, requires = "target")]
    socks5: bool,
    /// The address the SOCKS5 proxy should connect to.
    #[arg(long)]
    target: Option<SocketAddr>,
}

/// How a result is labelled.
#[derive(clap::Args, Clone, Debug)]
struct Label {
    /// Row name in the report.
    #[arg(long)]
    row: String,
    /// `pw` or `ssh`.
    #[arg(long)]
    tool: String,
    /// Target spec of the row (ratio>=1, pw<=150, …).
    #[arg(long, default_value = "")]
    target_spec: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// The target server (echo / sink / source by first byte). Prints {"port": N} when bound.
    Server {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Prints a free loopback TCP port.
    FreePort,
    /// Polls until an echo round trip through `dest` works (exit 0) or the timeout passes (1).
    WaitReady {
        #[command(flatten)]
        dest: Dest,
        #[arg(long, default_value_t = 20_000)]
        timeout_ms: u64,
    },
    /// Bulk transfer: --streams connections of --bytes each, up (client→target), down, or both
    /// (streams alternate up, down). Reports MB/s (10^6 bytes/s) over the wall time; with --pid,
    /// also that process's user+sys CPU seconds per GiB as row --cpu-row.
    Throughput {
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        label: Label,
        #[arg(long)]
        bytes: u64,
        #[arg(long, default_value = "down")]
        dir: String,
        #[arg(long, default_value_t = 1)]
        streams: usize,
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long)]
        cpu_row: Option<String>,
        #[arg(long, default_value = "")]
        cpu_target: String,
        #[arg(long, default_value_t = 120)]
        timeout_s: u64,
    },
    /// Sequential connect → 1-byte echo → close, --count times; rows "<row> p50" and "<row> p99".
    /// With --versus, a second forward takes turns with the first, [`SETUP_BLOCK`] connections
    /// at a time (so the machine's drift reaches both alike), and gets rows of its own under
    /// --versus-tool.
    Setup {
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        label: Label,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// A second -L listener to take turns with.
        #[arg(long, requires = "versus_tool")]
        versus: Option<SocketAddr>,
        /// The tool behind --versus.
        #[arg(long)]
        versus_tool: Option<String>,
    },
    /// Opens --count connections, holds all open, then each echoes 1 KiB. Rows "<row> ok"
    /// (successes) and, with --pid, "<row> peak RSS" (VmHWM of that process, MB).
    Concurrency {
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        label: Label,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long, default_value = "")]
        rss_target: String,
        #[arg(long, default_value_t = 90)]
        timeout_s: u64,
    },
    /// A download of --bytes alone, then again while another connection through the same
    /// forward has stopped reading. Row value: shared / alone.
    Fairness {
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        label: Label,
        #[arg(long)]
        bytes: u64,
        #[arg(long, default_value_t = 60)]
        timeout_s: u64,
    },
    /// Agent scale: creates --tunnels saved local tunnels via the REST API, starts --running of
    /// them, then times GET /tunnels/status and reads the agent's RSS and idle CPU.
    AgentScale {
        /// Agent address (host:port).
        #[arg(long)]
        api: SocketAddr,
        #[arg(long)]
        token_file: PathBuf,
        #[arg(long)]
        agent_pid: u32,
        #[arg(long)]
        ssh_port: u16,
        #[arg(long)]
        user: String,
        #[arg(long)]
        key: PathBuf,
        /// Port of the target the forwards point at.
        #[arg(long)]
        target_port: u16,
        #[arg(long, default_value_t = 1000)]
        tunnels: usize,
        #[arg(long, default_value_t = 500)]
        running: usize,
        #[arg(long, default_value_t = 200)]
        requests: usize,
        #[arg(long, default_value_t = 30)]
        idle_s: u64,
        /// First local port of the running forwards (they use consecutive ports).
        #[arg(long)]
        base_port: u16,
    },
    /// Prints one record (for measurements the script takes itself).
    Record {
        #[command(flatten)]
        label: Label,
        /// The value; empty or "null" for a failed measurement.
        #[arg(long, default_value = "")]
        value: String,
        #[arg(long, default_value = "")]
        unit: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Medians, ratios and pass/fail from a records file; prints the markdown table.
    Report {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        json: PathBuf,
        #[arg(long)]
        md: PathBuf,
        /// Free-form meta data, key=value (repeatable).
        #[arg(long = "meta")]
        meta: Vec<String>,
    },
}

/// Timed connections per turn when `setup` alternates between two forwards.
const SETUP_BLOCK: usize = 20;

/// Prints one record line.
fn emit(label: &Label, row: &str, value: Option<f64>, unit: &str, target: &str, note: &str) {
    let line = json!({
        "row": row,
        "tool": label.tool,
        "value": value,
        "unit": unit,
        "target": target,
        "note": note,
    });
    println!("{line}");
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.cmd))
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Server { listen } => net::serve(listen).await,
        Cmd::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
        Cmd::WaitReady { dest, timeout_ms } => {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
            loop {
                let attempt =
                    tokio::time::timeout(Duration::from_secs(2), net::echo_once(&dest, 1)).await;
                if matches!(attempt, Ok(Ok(_))) {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    bail!("{} not ready after {timeout_ms} ms", dest.connect);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Cmd::Throughput {
            dest,
            label,
            bytes,
            dir,
            streams,
            pid,
            cpu_row,
            cpu_target,
            timeout_s,
        } => {
            let dirs = net::directions(&dir, streams)?;
            let cpu0 = pid.and_then(stats::cpu_secs);
            let fut = net::throughput(&dest, bytes, &dirs);
            match tokio::time::timeout(Duration::from_secs(timeout_s), fut).await {
                Ok(Ok(t)) => {
                    let cpu1 = pid.and_then(stats::cpu_secs);
                    let total = bytes as f64 * streams as f64;
                    emit(
                        &label,
                        &label.row,
                        Some(total / t.as_secs_f64() / 1e6),
                        "MB/s",
                        &label.target_spec,
                        "",
                    );
                    if let (Some(row), Some(a), Some(b)) = (cpu_row, cpu0, cpu1) {
                        let gib = total / (1u64 << 30) as f64;
                        emit(&label, &row, Some((b - a) / gib), "s/GiB", &cpu_target, "");
                    }
                }
                Ok(Err(e)) => {
                    eprintln!("throughput {}: {e:#}", label.row);
                    emit(
                        &label,
                        &label.row,
                        None,
                        "MB/s",
                        &label.target_spec,
                        "error",
                    );
                    if let Some(row) = cpu_row {
                        emit(&label, &row, None, "s/GiB", &cpu_target, "");
                    }
                }
                Err(_) => {
                    eprintln!("throughput {}: timed out after {timeout_s} s", label.row);
                    emit(
                        &label,
                        &label.row,
                        None,
                        "MB/s",
                        &label.target_spec,
                        "timeout",
                    );
                    if let Some(row) = cpu_row {
                        emit(&label, &row, None, "s/GiB", &cpu_target, "");
                    }
                }
            }
            Ok(())
        }
        Cmd::Setup {
            dest,
            label,
            count,
            versus,
            versus_tool,
        } => {
            let mut dests = vec![dest.clone()];
            let mut labels = vec![label.clone()];
            if let (Some(addr), Some(tool)) = (versus, versus_tool) {
                dests.push(Dest {
                    connect: addr,
                    ..dest
                });
                labels.push(Label { tool, ..label });
            }
            let timings = net::setup_turns(&dests, count, SETUP_BLOCK).await;
            for (label, (ms, failures)) in labels.iter().zip(timings) {
                let note = if failures > 0 {
                    format!("{failures} failed")
                } else {
                    String::new()
                };
                let p50 = format!("{} p50", label.row);
                let p99 = format!("{} p99", label.row);
                let target = &label.target_spec;
                emit(
                    label,
                    &p50,
                    stats::percentile(&ms, 50.0),
                    "ms",
                    target,
                    &note,
                );
                emit(label, &p99, stats::percentile(&ms, 99.0), "ms", "", &note);
            }
            Ok(())
        }
        Cmd::Concurrency {
            dest,
            label,
            count,
            pid,
            rss_target,
            timeout_s,
        } => {
            let (ok, hwm_kb) =
                net::concurrency(&dest, count, pid, Duration::from_secs(timeout_s)).await;
            let row_ok = format!("{} ok", label.row);
            emit(&label, &row_ok, Some(ok as f64), "", &label.target_spec, "");
            if pid.is_some() {
                let row_rss = format!("{} peak RSS", label.row);
                emit(
                    &label,
                    &row_rss,
                    hwm_kb.map(|k| k as f64 / 1024.0),
                    "MB",
                    &rss_target,
                    "",
                );
            }
            Ok(())
        }
        Cmd::Fairness {
            dest,
            label,
            bytes,
            timeout_s,
        } => {
            let limit = Duration::from_secs(timeout_s);
            let ratio = net::fairness(&dest, bytes, limit).await;
            match ratio {
                Ok((alone, shared)) => {
                    let note = String::new();
                    emit(
                        &label,
                        &label.row,
                        Some(shared / alone),
                        "×",
                        &label.target_spec,
                        &note,
                    );
                    let r_alone = format!("{} — alone", label.row);
                    let r_shared = format!("{} — beside a stalled channel", label.row);
                    emit(&label, &r_alone, Some(alone), "MB/s", "", "");
                    emit(&label, &r_shared, Some(shared), "MB/s", "", "");
                }
                Err(e) => {
                    eprintln!("fairness: {e:#}");
                    emit(
                        &label,
                        &label.row,
                        Some(0.0),
                        "×",
                        &label.target_spec,
                        "stalled",
                    );
                }
            }
            Ok(())
        }
        Cmd::AgentScale {
            api,
            token_file,
            agent_pid,
            ssh_port,
            user,
            key,
            target_port,
            tunnels,
            running,
            requests,
            idle_s,
            base_port,
        } => {
            let token = std::fs::read_to_string(&token_file)
                .with_context(|| format!("reading {}", token_file.display()))?;
            net::agent_scale(net::AgentScale {
                api,
                token: token.trim().to_string(),
                agent_pid,
                ssh_port,
                user,
                key,
                target_port,
                tunnels,
                running,
                requests,
                idle: Duration::from_secs(idle_s),
                base_port,
            })
            .await
        }
        Cmd::Record {
            label,
            value,
            unit,
            note,
        } => {
            let v = match value.trim() {
                "" | "null" => None,
                s => Some(s.parse::<f64>().with_context(|| format!("--value {s}"))?),
            };
            emit(&label, &label.row, v, &unit, &label.target_spec, &note);
            Ok(())
        }
        Cmd::Report {
            input,
            json,
            md,
            meta,
        } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let records = report::parse_records(&text).map_err(anyhow::Error::msg)?;
            let rows = report::summarise(&records);
            let mut m = serde_json::Map::new();
            for kv in meta {
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                m.insert(k.to_string(), json!(v));
            }
            let meta = serde_json::Value::Object(m);
            let table = report::markdown(&rows);
            let summary = report::json_summary(&meta, &rows, &records);
            std::fs::write(&json, serde_json::to_string_pretty(&summary)? + "\n")?;
            std::fs::write(&md, &table)?;
            print!("{table}");
            Ok(())
        }
    }
}
