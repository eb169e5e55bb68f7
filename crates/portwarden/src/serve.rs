//! `portwarden serve`: binds the listen address (loopback only), then runs the agent until
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the API and web UI listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:7077")]
    pub listen: SocketAddr,
    /// Health-probe interval in seconds.
    #[arg(long, default_value_t = 30)]
    pub probe_interval: u64,
    /// Health-probe timeout in seconds.
    #[arg(long, default_value_t = 10)]
    pub probe_timeout: u64,
}

pub async fn run(args: ServeArgs, data_dir: Option<PathBuf>) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        return Err(agent::AgentError::NotLoopback(args.listen).into());
    }
    let data_dir = crate::client::data_dir(data_dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let shutdown = CancellationToken::new();
    crate::cli::stop_on_signals(shutdown.clone());
    let config = agent::AgentConfig {
        data_dir,
        listen: listener.local_addr()?,
        probe_interval: Duration::from_secs(args.probe_interval.max(1)),
        probe_timeout: Duration::from_secs(args.probe_timeout.max(1)),
    };
    let state = agent::open_state(&config, shutdown.clone())?;
    // The one line a user needs: the UI, signed in (valid once, for 2 minutes).
    eprintln!(
        "portwarden agent on http://{} — open the web UI: {}",
        config.listen,
        state.login_url(config.listen)
    );
    agent::serve(state, listener, shutdown)
        .await
        .context("agent stopped")?;
    Ok(())
}
