//! The byte pump between a local TCP connection and an SSH channel, in both directions at
//! once. Half-close is passed on (TCP FIN ↔ SSH EOF); the channel closes only after both
//! directions are done, so a reply sent after the client's EOF still arrives. Bytes are
//! counted after each write succeeds. If the transport dies mid-stream the local side is reset,
//! so a cut stream never looks complete.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use russh::client::Msg;
use russh::Channel;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::forward::Counters;
use crate::ssh::Transport;

const BUF: usize = 32 * 1024;

/// Pumps until both directions are finished, the transport dies, or `cancel` fires.
pub async fn pipe(
    local: TcpStream,
    channel: Channel<Msg>,
    early: &[u8],
    transport: &Transport,
    counters: &Arc<Counters>,
    cancel: &CancellationToken,
) {
    let _ = local.set_nodelay(true);
    let (mut rx, tx) = channel.split();
    let mut ch_writer = tx.make_writer();
    let (mut local_read, mut local_write) = local.into_split();

    let upstream = async {
        if !early.is_empty() {
            if ch_writer.write_all(early).await.is_err() {
                return;
            }
            counters
                .bytes_out
                .fetch_add(early.len() as u64, Ordering::Relaxed);
        }
        copy(&mut local_read, &mut ch_writer, &counters.bytes_out).await;
        // Client EOF (or error): pass EOF on; the other direction keeps going.
        let _ = ch_writer.shutdown().await;
    };
    let downstream = async {
        let mut ch_reader = rx.make_reader();
        copy(&mut ch_reader, &mut local_write, &counters.bytes_in).await;
        if transport.is_closed() {
            false
        } else {
            let _ = local_write.shutdown().await;
            true
        }
    };
    let clean = tokio::select! {
        (_, clean) = async { tokio::join!(upstream, downstream) } => clean,
        _ = cancel.cancelled() => false,
        _ = transport.closed() => false,
    };
    let _ = tx.close().await;
    if !clean {
        // Reset instead of FIN: the client must not mistake a cut stream for a complete one.
        if let Ok(stream) = local_read.reunite(local_write) {
            // A zero linger never blocks: the kernel drops the socket with an RST.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(std::time::Duration::ZERO));
        }
    }
}

async fn copy<R, W>(reader: &mut R, writer: &mut W, counter: &AtomicU64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if writer.write_all(&buf[..n]).await.is_err() {
            return;
        }
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
