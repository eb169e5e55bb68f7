//! The queue from the session task to one channel's reading half.
//!
//! Unbounded on purpose (the session task must never wait for one channel;
//! queued data is bounded by the channel window, see `flow`), and empty until
//! used: tokio's unbounded mpsc allocates a block of 32 message slots when it
//! is created (32 × 80 bytes for `ChannelMsg`), which for ten thousand open
//! but idle channels is 26 MB of memory holding nothing. This queue is a
//! `VecDeque` behind a mutex that only the session task and the channel's
//! reader ever touch, so it costs an `Arc` and grows with what is queued.
//!
//! The API mirrors the parts of `tokio::sync::mpsc::unbounded_channel` that
//! russh uses: `send` fails once the receiver is closed or dropped, `recv`
//! returns `None` once every sender is gone and the queue is drained, and
//! `close` refuses new messages while the queued ones can still be received.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::sync::mpsc::error::SendError;

use crate::ChannelMsg;

#[derive(Debug, Default)]
struct State {
    items: VecDeque<ChannelMsg>,
    waker: Option<Waker>,
    senders: usize,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared(Mutex<State>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code path panics while holding the lock; if one ever did, the
        // queue's state is still consistent (every update is one statement).
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session task's end; cloneable.
#[derive(Debug)]
pub(crate) struct UnboundedSender(Arc<Shared>);

/// The channel's end.
#[derive(Debug)]
pub(crate) struct UnboundedReceiver(Arc<Shared>);

pub(crate) fn unbounded_channel() -> (UnboundedSender, UnboundedReceiver) {
    let shared = Arc::new(Shared(Mutex::new(State {
        senders: 1,
        ..State::default()
    })));
    (UnboundedSender(shared.clone()), UnboundedReceiver(shared))
}

impl UnboundedSender {
    /// Queues `msg` without waiting; gives it back if the receiver is closed.
    pub(crate) fn send(&self, msg: ChannelMsg) -> Result<(), SendError<ChannelMsg>> {
        let waker = {
            let mut state = self.0.lock();
            if state.closed {
                return Err(SendError(msg));
            }
            state.items.push_back(msg);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl Clone for UnboundedSender {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Self(self.0.clone())
    }
}

impl Drop for UnboundedSender {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.0.lock();
            state.senders -= 1;
            if state.senders == 0 {
                state.waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl UnboundedReceiver {
    /// The next message; `None` once every sender is gone and nothing is left.
    pub(crate) async fn recv(&mut self) -> Option<ChannelMsg> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<ChannelMsg>> {
        let mut state = self.0.lock();
        if let Some(msg) = state.items.pop_front() {
            return Poll::Ready(Some(msg));
        }
        if state.senders == 0 || state.closed {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Refuses new messages; those already queued can still be received.
    pub(crate) fn close(&mut self) {
        self.0.lock().closed = true;
    }
}

impl Drop for UnboundedReceiver {
    fn drop(&mut self) {
        let items = {
            let mut state = self.0.lock();
            state.closed = true;
            state.waker = None;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: a message may own anything.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn data(s: &'static str) -> ChannelMsg {
        ChannelMsg::Data {
            data: bytes::Bytes::from_static(s.as_bytes()),
        }
    }

    fn is_data(msg: Option<ChannelMsg>, want: &str) -> bool {
        matches!(msg, Some(ChannelMsg::Data { data }) if data == want.as_bytes())
    }

    #[tokio::test]
    async fn delivers_in_order_and_ends_when_every_sender_is_gone() {
        let (tx, mut rx) = unbounded_channel();
        let tx2 = tx.clone();
        tx.send(data("a")).unwrap();
        tx2.send(data("b")).unwrap();
        drop(tx);
        assert!(is_data(rx.recv().await, "a"));
        assert!(is_data(rx.recv().await, "b"));
        drop(tx2);
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn a_waiting_receiver_is_woken_by_a_send_and_by_the_last_sender_leaving() {
        let (tx, mut rx) = unbounded_channel();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(data("x")).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(_))));
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(tx);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn close_refuses_new_messages_but_keeps_queued_ones() {
        let (tx, mut rx) = unbounded_channel();
        tx.send(data("kept")).unwrap();
        rx.close();
        assert!(matches!(tx.send(data("refused")), Err(SendError(_))));
        assert!(is_data(rx.recv().await, "kept"));
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn dropping_the_receiver_refuses_sends_and_frees_what_was_queued() {
        let (tx, rx) = unbounded_channel();
        let payload = bytes::Bytes::from(vec![7u8; 1024]);
        tx.send(ChannelMsg::Data {
            data: payload.clone(),
        })
        .unwrap();
        drop(rx);
        assert!(tx.send(data("late")).is_err());
        // The queued message was dropped with the receiver: only our clone is left.
        assert!(payload.is_unique());
    }
}
