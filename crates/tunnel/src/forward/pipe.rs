//! The byte pump between a local TCP connection and an SSH channel, in both directions at
//! once. Half-close is passed on (TCP FIN ↔ SSH EOF); the channel closes only after both
//! directions are done, so a reply sent after the client's EOF still arrives. Bytes are
//! counted after each write succeeds. If the transport dies mid-stream the local side is reset,
//! so a cut stream never looks complete.
//!
//! Bytes are not copied between the socket and the channel: a read from the socket is handed
//! to russh as it is (`data_bytes`), and a received packet's payload is written to the socket
//! straight from russh's buffer (`wait`). Nothing is buffered for an idle connection.
//!
//! A connection's teardown (passing the client's EOF on, shutting the local socket) first lets
//! the scheduler run once. A client that closes one connection and opens the next (a pool, a
//! health check, a request loop) otherwise has the old connection's EOF, shutdown and close on
//! the new one's critical path on a one-thread `forward`: the channel open and the first bytes
//! of the new connection now go first, and the old EOF often leaves in the same write as those
//! bytes. Measured side by side (connect → 1-byte echo → close, 20 pairs of 1,000): p50 −2 %,
//! 17 of the 20 pairs faster.

use std::future::Future;
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::FutureExt;
use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::forward::Counters;
use crate::ssh::{Transport, MAX_PACKET};

/// The first read buffer of a connection, and the size after a short read.
const READ_MIN: usize = 4 * 1024;

/// The largest read buffer: four SSH packets' worth, which russh sends on as four packets
/// without copying them apart.
const READ_MAX: usize = 128 * 1024;

/// The most one vectored write to the local socket carries.
const BATCH_MAX: usize = 256 * 1024;

/// A batch this large (a full SSH packet) is a bulk stream: before writing it, the pump lets
/// the runtime turn once, and so poll the sockets, and takes what that turn delivered. The
/// transport reader then decrypts the packets sshd has sent meanwhile and they join this write,
/// instead of each transport read making a write of its own and waking the local reader for
/// it. Measured on 1 GiB `-L` downloads with AES-GCM (2 vCPUs, with sshd, the forward and both
/// ends of the transfer all busy), against the same build without the turn: paired medians
/// +7.1 % and +3.3 % in two runs of 16 pairs, with CPU per GiB lower for the forward (−4 to
/// −8 %) and for sshd (−6 %); ChaCha20 +2.6 % (10 pairs), `-R` upload ±0 (10 pairs). Three
/// turns gained less (+3.9 %). Smaller batches (an interactive echo, a request) go at once.
const BULK_BATCH: usize = MAX_PACKET as usize;

/// Where [`download`] takes the channel's messages from: the russh channel (or, in tests, a
/// queue that can be fed between two turns of the runtime).
trait Inbox {
    fn next(&mut self) -> impl Future<Output = Option<ChannelMsg>> + Send + '_;
}

impl Inbox for ChannelReadHalf {
    fn next(&mut self) -> impl Future<Output = Option<ChannelMsg>> + Send + '_ {
        self.wait()
    }
}

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
    let (mut local_read, mut local_write) = local.into_split();

    let upstream = async {
        if !early.is_empty() {
            if tx.data_bytes(early.to_vec()).await.is_err() {
                return;
            }
            counters
                .bytes_out
                .fetch_add(early.len() as u64, Ordering::Relaxed);
        }
        upload(&mut local_read, &tx, &counters.bytes_out).await;
        // Client EOF (or error): pass EOF on; the other direction keeps going. Teardown waits
        // one scheduler turn (see the module doc).
        tokio::task::yield_now().await;
        let _ = tx.eof().await;
    };
    let downstream = async {
        download(&mut rx, &mut local_write, &counters.bytes_in).await;
        if transport.is_closed() {
            false
        } else {
            // Shut the local socket after one scheduler turn, as with the EOF above.
            tokio::task::yield_now().await;
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

/// Local socket → channel. Each read goes to the channel as it is, without a second copy; the
/// buffer is allocated once the socket is readable, so an idle connection holds none. Its
/// size adapts: it starts at [`READ_MIN`], doubles after a read that filled it (a bulk
/// stream) up to [`READ_MAX`], and falls back after a short read (an interactive one), so
/// ten thousand chatty connections do not each pin a bulk-sized buffer.
async fn upload(local: &mut OwnedReadHalf, tx: &ChannelWriteHalf<Msg>, counter: &AtomicU64) {
    let mut size = READ_MIN;
    loop {
        if local.readable().await.is_err() {
            return;
        }
        let mut buf = BytesMut::with_capacity(size);
        let n = match local.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        size = if n == size {
            (size * 2).min(READ_MAX)
        } else {
            READ_MIN
        };
        if tx.data_bytes(buf.freeze()).await.is_err() {
            return;
        }
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Channel → local socket, writing payloads straight from the packets. What has already
/// arrived is written together (one vectored write for up to [`BATCH_MAX`] bytes), as OpenSSH
/// drains its channel buffer in one write. A batch of [`BULK_BATCH`] or more first waits one
/// scheduler turn for the packets already on their way (see there). Extended data (a stderr
/// stream) has no place on a TCP forward and is dropped; it still counts as consumed, so it
/// cannot hold the window shut.
async fn download<I: Inbox, W: AsyncWrite + Unpin>(rx: &mut I, local: &mut W, counter: &AtomicU64) {
    let mut batch: Vec<Bytes> = Vec::new();
    let mut more = true;
    while more {
        let mut len = 0;
        let mut waited = false;
        more = take(rx.next().await, &mut batch, &mut len);
        while more && len < BATCH_MAX {
            match rx.next().now_or_never() {
                Some(msg) => more = take(msg, &mut batch, &mut len),
                None if len >= BULK_BATCH && !waited => {
                    waited = true;
                    tokio::task::yield_now().await;
                }
                None => break,
            }
        }
        if write_batch(local, &mut batch).await.is_err() {
            return;
        }
        counter.fetch_add(len as u64, Ordering::Relaxed);
    }
}

/// Adds a message's payload to `batch` and its length to `len`; false once the channel has no
/// more data (EOF, close).
fn take(msg: Option<ChannelMsg>, batch: &mut Vec<Bytes>, len: &mut usize) -> bool {
    match msg {
        Some(ChannelMsg::Data { data }) => {
            *len += data.len();
            batch.push(data);
            true
        }
        Some(ChannelMsg::Eof | ChannelMsg::Close) | None => false,
        Some(_) => true,
    }
}

/// Writes every buffer of `batch`, in order, with as few system calls as the socket allows.
async fn write_batch<W: AsyncWrite + Unpin>(
    local: &mut W,
    batch: &mut Vec<Bytes>,
) -> std::io::Result<()> {
    let mut first = 0;
    while let Some(rest) = batch.get(first..).filter(|r| !r.is_empty()) {
        let slices: Vec<IoSlice<'_>> = rest.iter().map(|b| IoSlice::new(b)).collect();
        let mut n = local.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        for b in &mut batch[first..] {
            if n < b.len() {
                b.advance(n);
                break;
            }
            n -= b.len();
            first += 1;
        }
    }
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::sync::mpsc;

    use super::*;

    impl Inbox for mpsc::UnboundedReceiver<ChannelMsg> {
        fn next(&mut self) -> impl Future<Output = Option<ChannelMsg>> + Send + '_ {
            self.recv()
        }
    }

    /// A local socket that takes everything at once and keeps the size of each write.
    #[derive(Default)]
    struct Writes(Vec<usize>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.get_mut().0.push(buf.len());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let n = bufs.iter().map(|b| b.len()).sum();
            self.get_mut().0.push(n);
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn data(len: usize) -> ChannelMsg {
        ChannelMsg::Data {
            data: Bytes::from(vec![7u8; len]),
        }
    }

    /// Runs `download` on a one-thread runtime (as `forward` runs) with a message of `first`
    /// bytes queued and one of `second` bytes sent by another task, which runs in the next
    /// turn of the runtime; then EOF. Returns the sizes of the writes to the local socket.
    fn writes(first: usize, second: usize) -> Vec<usize> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send(data(first)).expect("queued");
            tokio::spawn(async move {
                tx.send(data(second)).expect("queued");
                tx.send(ChannelMsg::Eof).expect("queued");
            });
            let mut local = Writes::default();
            let counter = AtomicU64::new(0);
            download(&mut rx, &mut local, &counter).await;
            assert_eq!(counter.load(Ordering::Relaxed), (first + second) as u64);
            local.0
        })
    }

    #[test]
    fn a_bulk_batch_waits_one_turn_for_the_packets_on_their_way() {
        assert_eq!(writes(BULK_BATCH, 1000), vec![BULK_BATCH + 1000]);
    }

    #[test]
    fn a_small_batch_is_written_at_once() {
        assert_eq!(writes(BULK_BATCH - 1, 1000), vec![BULK_BATCH - 1, 1000]);
    }
}
