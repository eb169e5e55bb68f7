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
//! setter (this crate forbids `unsafe`). The reads are few: russh reads the socket through a
//! 256 KiB buffer, a few thousand times per GiB.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected TCP stream for an SSH transport (see the module doc).
#[derive(Debug)]
pub struct TransportSocket {
    stream: TcpStream,
}

impl TransportSocket {
    /// Wraps `stream`, turning Nagle's algorithm off (SSH batches its own writes).
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self { stream }
    }

    fn ack_at_once(&self) {
        #[cfg(target_os = "linux")]
        let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
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
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.ack_at_once();
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Linux reports `TCP_QUICKACK` as "not in ping-pong (delayed-ACK) mode". A connection that
    /// answers each message it reads enters ping-pong mode; read through `TransportSocket`, it
    /// must be back in quick-ACK mode after every read, where the plain stream is not.
    #[tokio::test]
    async fn reads_leave_the_socket_acking_at_once() {
        async fn ping_pong(
            ours: &mut (impl AsyncRead + AsyncWrite + Unpin),
            peer: &mut TcpStream,
            quickack: impl Fn() -> bool,
        ) -> Vec<bool> {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            for round in 0..8u8 {
                peer.write_all(&[round]).await.unwrap();
                ours.read_exact(&mut byte).await.unwrap();
                assert_eq!(byte[0], round);
                ours.write_all(&byte).await.unwrap();
                peer.read_exact(&mut byte).await.unwrap();
                // The next message arrives while our answer's data is fresh: the kernel now
                // delays ACKs, unless the read re-armed quick ACKs.
                peer.write_all(&[round]).await.unwrap();
                ours.read_exact(&mut byte).await.unwrap();
                seen.push(quickack());
            }
            seen
        }

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain.set_nodelay(true).unwrap();
        let (mut peer, _) = listener.accept().await.unwrap();
        peer.set_nodelay(true).unwrap();
        let probe = socket2::SockRef::from(&plain).try_clone().unwrap();
        let plain_seen = ping_pong(&mut plain, &mut peer, || probe.tcp_quickack().unwrap()).await;
        assert!(
            plain_seen.contains(&false),
            "the plain stream never entered delayed-ACK mode ({plain_seen:?}): this kernel does \
             not show what the test checks"
        );

        let wrapped = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = listener.accept().await.unwrap();
        peer.set_nodelay(true).unwrap();
        let probe = socket2::SockRef::from(&wrapped).try_clone().unwrap();
        let mut wrapped = TransportSocket::new(wrapped);
        let seen = ping_pong(&mut wrapped, &mut peer, || probe.tcp_quickack().unwrap()).await;
        assert!(
            seen.iter().all(|&quick| quick),
            "a read left the socket in delayed-ACK mode: {seen:?}"
        );
    }
}
