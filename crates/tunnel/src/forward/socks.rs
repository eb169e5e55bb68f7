//! Dynamic forwards (-D): the socket glue around `proto::socks` — bounded handshake reads with
//! a deadline, a bounded number of pending handshakes, a direct-tcpip channel per request, and
//! the reply code that says why a connect failed.

use std::sync::Arc;
use std::time::Duration;

use proto::socks::{self, Negotiation, Outcome, ReplyCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::error::TunnelError;
use crate::forward::{accept_loop, current_transport, pipe::pipe, Counters, TransportSlot};

/// How long a client may take to say where it wants to go.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many clients may be mid-handshake on one listener.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// Serves one -D listener until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    slot: TransportSlot,
    counters: Arc<Counters>,
    wait_for_transport: Duration,
    cancel: CancellationToken,
) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    accept_loop(listener, "socks", cancel, |stream, peer, cancel| {
        let slot = slot.clone();
        let counters = counters.clone();
        let pending = pending.clone();
        async move {
            let _guard = counters.connection();
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = handle(stream, peer, slot, &counters, wait_for_transport, &pending, &cancel) => {}
            }
        }
    })
    .await;
}

async fn handle(
    mut stream: TcpStream,
    peer: std::net::SocketAddr,
    mut slot: TransportSlot,
    counters: &Arc<Counters>,
    wait_for_transport: Duration,
    pending: &Semaphore,
    cancel: &CancellationToken,
) {
    let negotiated = {
        let Ok(_permit) = pending.acquire().await else {
            return;
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, negotiate(&mut stream)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::info!("SOCKS negotiation failed: {e}");
                return;
            }
            Err(_) => {
                tracing::info!(
                    "SOCKS client sent no complete request within {}s",
                    HANDSHAKE_TIMEOUT.as_secs()
                );
                return;
            }
        }
    };
    let (request, early) = negotiated;
    let host = request.target.host();
    let port = request.target.port();
    let dest = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let opened = async {
        let transport = current_transport(&mut slot, wait_for_transport, &dest).await?;
        let channel = transport.open_direct_tcpip(&host, port, peer).await?;
        Ok::<_, TunnelError>((transport, channel))
    }
    .await;
    match opened {
        Ok((transport, channel)) => {
            let ok = socks::reply(request.protocol, ReplyCode::Succeeded, None);
            if stream.write_all(&ok).await.is_err() {
                return;
            }
            pipe(stream, channel, &early, &transport, counters, cancel).await;
        }
        Err(e) => {
            let code = match &e {
                TunnelError::ChannelOpen { code, .. } => *code,
                TunnelError::Timeout { .. } => ReplyCode::HostUnreachable,
                TunnelError::Closed { .. } => ReplyCode::NetworkUnreachable,
                _ => ReplyCode::GeneralFailure,
            };
            tracing::info!("SOCKS connect to {dest} failed: {e}");
            let _ = stream
                .write_all(&socks::reply(request.protocol, code, None))
                .await;
            let _ = stream.shutdown().await;
        }
    }
}

/// Reads and answers the handshake; returns the request and any payload sent after it.
async fn negotiate(stream: &mut TcpStream) -> Result<(socks::ConnectRequest, Vec<u8>), String> {
    let mut negotiation = Negotiation::new();
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        match negotiation.advance(&buf) {
            Ok(Outcome::NeedMore) => {
                if buf.len() >= socks::MAX_HANDSHAKE_BYTES {
                    return Err("handshake too long".into());
                }
                let room = (socks::MAX_HANDSHAKE_BYTES - buf.len()).min(chunk.len());
                let n = stream
                    .read(&mut chunk[..room])
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("client closed during handshake".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Ok(Outcome::Reply { bytes, consumed }) => {
                stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
                buf.drain(..consumed);
            }
            Ok(Outcome::Connect { request, consumed }) => {
                let early = buf.split_off(consumed);
                return Ok((request, early));
            }
            Err(rejection) => {
                if !rejection.reply.is_empty() {
                    let _ = stream.write_all(&rejection.reply).await;
                }
                let _ = stream.shutdown().await;
                return Err(rejection.error.to_string());
            }
        }
    }
}
