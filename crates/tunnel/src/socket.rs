//! The TCP socket under an SSH transport's first hop: no Nagle on our side, no delayed ACKs.
//!
//! OpenSSH's `sshd` turns Nagle's algorithm off only for interactive sessions, so on a
//! forwarding-only connection each small packet it sends (a window adjustment, a jumped hop's
//! packet carried as channel data) waits for the ACK of the segment before it. Linux delays that
//! ACK by up to 40 ms once it considers the connection "ping-pong" (we answer soon after each
//! read), so sshd's next packet sits in its buffer until the delayed-ACK timer fires. Through a
//! jump host this stalled the inner window for 40 ms at a time: measured on loopback, `-J` upload
//! 130 → 450 MB/s and single-hop downloads cost sshd ~15 % less CPU once ACKs went out at once.
//!
//! `TCP_QUICKACK` is not sticky (the kernel leaves quick-ACK mode again on its own), so
//! [`TransportSocket`] re-arms it after every read that brought data, through socket2's safe
//! setter (this crate forbids `unsafe`). After a bulk read ([`BULK_READ`] or more), and after
//! the few small reads that follow one, it does so at once. After a small read on a quiet
//! connection (a channel open confirmation, an echo, a lone window adjustment) the system call
//! would sit on the latency path, between the read and whatever answer or local write it wakes,
//! so a small task per transport re-arms after a scheduler turn instead, once the tasks that read
//! woke have had their go. The ACK itself is not held back by this: out of ping-pong mode the
//! kernel sends it during the read, or it rides on our answer. Measured side by side (connect →
//! 1-byte echo → close through `-L`, 40 pairs of 1,000 connections): setup p50 −1 %. Deferring
//! after every small read, a download's included, cost sshd ~4 % more CPU per GiB (8 pairs).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Reads of at least this many bytes are a bulk transfer: quick ACKs are re-armed at once.
const BULK_READ: usize = 16 * 1024;

/// After a bulk read, this many small reads still re-arm at once: they are a transfer's tail
/// or a gap in it, and deferring the re-arm there cost sshd ~4 % more CPU per GiB sent.
const BULK_TAIL: u8 = 8;

/// A connected TCP stream for an SSH transport (see the module doc).
#[derive(Debug)]
pub struct TransportSocket {
    stream: TcpStream,
    /// Asks the transport's re-arm task for a re-arm after a small read; `None` where the task
    /// could not start (no runtime, no spare descriptor), and then small reads re-arm at once.
    rearm_later: Option<mpsc::Sender<()>>,
    /// Small reads since the last bulk read (saturating); starts at [`BULK_TAIL`], as if the
    /// last bulk read were long ago.
    since_bulk: u8,
}

impl TransportSocket {
    /// Wraps `stream`, turning Nagle's algorithm off (SSH batches its own writes). Starts the
    /// re-arm task on the current tokio runtime; it ends when this socket is dropped.
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let rearm_later = Self::start_rearm_task(&stream);
        Self {
            stream,
            rearm_later,
            since_bulk: BULK_TAIL,
        }
    }

    #[cfg(target_os = "linux")]
    fn start_rearm_task(stream: &TcpStream) -> Option<mpsc::Sender<()>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        // The same socket through a second descriptor, closed when the task ends.
        let socket = socket2::SockRef::from(stream).try_clone().ok()?;
        // One pending request is enough: a re-arm covers every read before it.
        let (tx, mut rx) = mpsc::channel::<()>(1);
        runtime.spawn(async move {
            while rx.recv().await.is_some() {
                tokio::task::yield_now().await;
                let _ = socket.set_tcp_quickack(true);
            }
        });
        Some(tx)
    }

    #[cfg(not(target_os = "linux"))]
    fn start_rearm_task(_: &TcpStream) -> Option<mpsc::Sender<()>> {
        None
    }

    fn rearm_after(&mut self, read: usize) {
        self.since_bulk = if read >= BULK_READ {
            0
        } else {
            self.since_bulk.saturating_add(1)
        };
        match &self.rearm_later {
            Some(later) if self.since_bulk > BULK_TAIL => {
                // Full: a re-arm is already on its way.
                let _ = later.try_send(());
            }
            _ => {
                #[cfg(target_os = "linux")]
                let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
            }
        }
    }
}

impl AsyncRead for TransportSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if matches!(polled, Poll::Ready(Ok(()))) && read > 0 {
            self.rearm_after(read);
        }
        polled
    }
}

impl AsyncWrite for TransportSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Lets the runtime run the tasks a read woke (bounded), then reports quick-ACK mode.
    async fn quickack_after_a_turn(probe: &socket2::Socket) -> bool {
        for _ in 0..4 {
            if probe.tcp_quickack().unwrap() {
                return true;
            }
            tokio::task::yield_now().await;
        }
        probe.tcp_quickack().unwrap()
    }

    /// Talks with `peer` so that Linux puts `ours` in ping-pong (delayed-ACK) mode, then sends it
    /// `last` bytes; returns once `ours` could read them all at once.
    async fn answer_then_receive(
        ours: &mut (impl AsyncRead + AsyncWrite + Unpin),
        peer: &mut TcpStream,
        probe: &socket2::Socket,
        last: usize,
    ) {
        let mut byte = [0u8; 1];
        peer.write_all(&[1]).await.unwrap();
        ours.read_exact(&mut byte).await.unwrap();
        ours.write_all(&byte).await.unwrap();
        peer.read_exact(&mut byte).await.unwrap();
        // The next message arrives while our answer's data is fresh: the kernel now delays ACKs.
        peer.write_all(&vec![7u8; last]).await.unwrap();
        let mut seen = vec![MaybeUninit::uninit(); last];
        for _ in 0..100_000 {
            if probe.peek(&mut seen).unwrap_or(0) >= last {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("{last} bytes never arrived");
    }

    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream, socket2::Socket) {
        let ours = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        ours.set_nodelay(true).unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        peer.set_nodelay(true).unwrap();
        let probe = socket2::SockRef::from(&ours).try_clone().unwrap();
        (ours, peer, probe)
    }

    /// Linux reports `TCP_QUICKACK` as "not in ping-pong (delayed-ACK) mode". A connection that
    /// answers each message it reads enters ping-pong mode; read through `TransportSocket`, it
    /// must be back in quick-ACK mode after every small read once the runtime has had a turn,
    /// and at once after a bulk read, where the plain stream stays in ping-pong mode.
    #[tokio::test]
    async fn reads_leave_the_socket_acking_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();

        let (mut plain, mut peer, probe) = pair(&listener).await;
        let mut plain_seen = Vec::new();
        for _ in 0..8 {
            answer_then_receive(&mut plain, &mut peer, &probe, 1).await;
            plain.read_exact(&mut [0u8; 1]).await.unwrap();
            plain_seen.push(quickack_after_a_turn(&probe).await);
        }
        assert!(
            plain_seen.contains(&false),
            "the plain stream never entered delayed-ACK mode ({plain_seen:?}): this kernel does \
             not show what the test checks"
        );

        let (ours, mut peer, probe) = pair(&listener).await;
        let mut ours = TransportSocket::new(ours);
        assert!(ours.rearm_later.is_some(), "the re-arm task did not start");
        // Small reads only: re-armed by the task, after a turn.
        let mut small = Vec::new();
        for _ in 0..BULK_TAIL + 4 {
            answer_then_receive(&mut ours, &mut peer, &probe, 1).await;
            ours.read_exact(&mut [0u8; 1]).await.unwrap();
            small.push(quickack_after_a_turn(&probe).await);
        }
        // A bulk read, then a small one within its tail (the second small read after it, since
        // `answer_then_receive` reads one byte first): both re-armed at once.
        let mut bulk = Vec::new();
        let mut tail = Vec::new();
        for _ in 0..8 {
            answer_then_receive(&mut ours, &mut peer, &probe, 2 * BULK_READ).await;
            let mut buf = vec![0u8; 2 * BULK_READ];
            let n = ours.read(&mut buf).await.unwrap();
            assert!(n >= BULK_READ, "a bulk read brought only {n} bytes");
            bulk.push(probe.tcp_quickack().unwrap());
            ours.read_exact(&mut buf[n..]).await.unwrap();

            answer_then_receive(&mut ours, &mut peer, &probe, 1).await;
            ours.read_exact(&mut [0u8; 1]).await.unwrap();
            tail.push(probe.tcp_quickack().unwrap());
        }
        assert!(
            small.iter().all(|&quick| quick),
            "a small read left the socket in delayed-ACK mode after a turn: {small:?}"
        );
        assert!(
            bulk.iter().all(|&quick| quick),
            "a bulk read left the socket in delayed-ACK mode: {bulk:?}"
        );
        assert!(
            tail.iter().all(|&quick| quick),
            "a small read right after a bulk one was not re-armed at once: {tail:?}"
        );
    }

    /// The re-arm task holds a second descriptor of the socket: it must end, and let the
    /// connection close, once the transport socket is dropped.
    #[tokio::test]
    async fn dropping_the_socket_ends_the_rearm_task() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (ours, mut peer, probe) = pair(&listener).await;
        drop(probe);
        let ours = TransportSocket::new(ours);
        drop(ours);
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), peer.read_to_end(&mut rest));
        assert_eq!(
            read.await.expect("the peer never saw the close").unwrap(),
            0
        );
    }
}
