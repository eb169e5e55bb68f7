//! Remote forwards (-R): the `tcpip-forward` request (retried briefly when the server still
//! holds the old listener after a reconnect), and the glue that carries each forwarded-tcpip
//! channel to the local target.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::TunnelError;
use crate::forward::{pipe::pipe, Counters};
use crate::ssh::{ForwardedChannel, Transport};

/// How often a refused request is retried (the server may not have freed the old port yet).
pub const REQUEST_ATTEMPTS: u32 = 5;

/// Asks the server to listen; returns the port it listens on and the incoming channels.
pub async fn request(
    transport: &Transport,
    listen_host: &str,
    listen_port: u16,
) -> Result<(u16, mpsc::UnboundedReceiver<ForwardedChannel>), TunnelError> {
    let mut attempt = 1;
    loop {
        match transport.tcpip_forward(listen_host, listen_port).await {
            Ok(r) => return Ok(r),
            Err(TunnelError::RemoteForward { .. })
                if attempt < REQUEST_ATTEMPTS && listen_port != 0 =>
            {
                tracing::info!(
                    "remote forward {listen_host}:{listen_port} refused (attempt {attempt}); retrying"
                );
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Carries forwarded channels to `target_host:target_port` until `cancel` fires or the
/// transport ends.
pub async fn serve(
    transport: Arc<Transport>,
    mut incoming: mpsc::UnboundedReceiver<ForwardedChannel>,
    target_host: String,
    target_port: u16,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) {
    let tasks = TaskTracker::new();
    loop {
        let fwd = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = transport.closed() => break,
            f = incoming.recv() => match f { Some(f) => f, None => break },
        };
        let transport = transport.clone();
        let counters = counters.clone();
        let cancel = cancel.child_token();
        let host = target_host.clone();
        tasks.spawn(async move {
            let _guard = counters.connection();
            let connect = TcpStream::connect((host.as_str(), target_port));
            match tokio::time::timeout(Duration::from_secs(10), connect).await {
                Ok(Ok(stream)) => {
                    tracing::debug!(from = %fwd.originator, "remote forward connection");
                    pipe(stream, fwd.channel, &[], &transport, &counters, &cancel).await;
                }
                Ok(Err(e)) => {
                    tracing::info!("remote forward: cannot connect to {host}:{target_port}: {e}");
                    let _ = fwd.channel.close().await;
                }
                Err(_) => {
                    tracing::info!("remote forward: connect to {host}:{target_port} timed out");
                    let _ = fwd.channel.close().await;
                }
            }
        });
    }
    tasks.close();
    tasks.wait().await;
}
