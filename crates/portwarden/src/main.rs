//! The `portwarden` binary: parses flags, sets up tracing, and hands off to the agent
//! (`serve`), the one-shot forward (`forward`), or the agent's CLI client (everything else).
#![forbid(unsafe_code)]

mod cli;
mod client;
mod forward_cmd;
mod output;
mod serve;

use clap::Parser;

/// mimalloc rather than glibc's malloc: a forward allocates each received packet on one worker
/// thread and frees it on another, and glibc's per-thread arenas then return memory to the
/// kernel and fault it back in, up to ~45,000 page faults per GiB received after an upload had
/// run on the same connection (mimalloc: ~1,500). Measured on `-L` down after 1 GiB up, ten
/// alternating pairs: CPU per GiB median 0.94 vs 1.01 s, throughput +3 %. `no_thp` keeps
/// transparent huge pages out of its arenas (with them, 10,000 held connections peaked ~20 MB
/// higher).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let default_level = match cli.command {
        cli::Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a redirected log (a file, journald) gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match runtime_for(&cli.command) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The agent hosts many transports at once and gets a worker thread per core. Everything else
/// runs on one thread, as `ssh` does: a one-shot forward has one transport, whose crypto runs
/// in its one session task anyway, and on two workers its tasks kept waking each other across
/// cores. Measured side by side on a 2-core VM (AES-GCM unless noted), two workers → one:
/// `-L` 1 GiB upload 873–918 → 987–1,039 MB/s at 0.86–0.92 → 0.79–0.80 s CPU per GiB; 4
/// parallel streams 909–970 → 988–1,015 MB/s; `-R` 4 parallel ChaCha20 streams 1.33–1.46 →
/// 1.18–1.24 s CPU per GiB; connect → 1-byte echo → close p50 0.277–0.289 → 0.265–0.276 ms;
/// downloads and `-J` within the noise.
fn runtime_for(command: &cli::Command) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        cli::Command::Serve(_) => tokio::runtime::Runtime::new(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}
