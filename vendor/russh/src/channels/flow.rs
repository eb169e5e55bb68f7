//! Receive-side flow control shared between a session task and the
//! application half of one channel (RFC 4254 §5.2).
//!
//! The session task never waits for the application: incoming channel
//! messages go into an unbounded per-channel queue. What keeps that queue
//! bounded is the window: the session only gives the peer new window
//! (`SSH_MSG_CHANNEL_WINDOW_ADJUST`) for bytes the application has actually
//! *consumed* — returned from [`super::ChannelReadHalf::wait`] or copied out
//! by the `AsyncRead` readers — so a channel whose reader stalls stalls
//! only itself, and its queue never holds more than the window we advertised.
//!
//! Book-keeping: the session adds a data message's length to `unconsumed`
//! before queueing it, the application side subtracts what it consumes and
//! then wakes the session (at most one wake-up per channel is in flight, see
//! `wake_pending`), and the session recomputes how much window it may grant.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::mpsc::UnboundedSender;

use crate::ChannelId;

#[derive(Debug, Default)]
pub(crate) struct ChannelFlow {
    /// Data bytes queued for the application and not consumed yet.
    unconsumed: AtomicU32,
    /// The application side was dropped: nothing queued will ever be
    /// consumed, so none of it should hold the window closed.
    detached: AtomicBool,
    /// A wake-up for this channel is queued to the session task.
    wake_pending: AtomicBool,
    /// A `WindowAdjusted` notice is queued and not received yet (notices are
    /// informational; one in the queue is enough).
    window_notice_queued: AtomicBool,
    /// Set by the session task when it registers the channel.
    link: OnceLock<(ChannelId, UnboundedSender<ChannelId>)>,
    /// Description text of a `SSH_MSG_CHANNEL_OPEN_FAILURE`, handed from the
    /// session task to the task waiting for the open confirmation.
    open_failure_description: Mutex<Option<String>>,
}

impl ChannelFlow {
    /// Session side: connect this channel to the session's wake-up queue.
    pub(crate) fn attach(&self, id: ChannelId, wake: UnboundedSender<ChannelId>) {
        let _ = self.link.set((id, wake));
        // A wake-up attempted before the link existed went nowhere; the
        // session re-evaluates the window on every data arrival anyway.
        self.wake_pending.store(false, Ordering::SeqCst);
    }

    /// Session side: `len` bytes are about to be queued.
    pub(crate) fn queued(&self, len: u32) {
        self.unconsumed.fetch_add(len, Ordering::SeqCst);
    }

    /// Session side: queueing `len` bytes failed (receiver gone).
    pub(crate) fn unqueued(&self, len: u32) {
        self.sub(len);
    }

    /// Session side: bytes that still hold the window closed.
    pub(crate) fn unconsumed(&self) -> u32 {
        if self.detached.load(Ordering::SeqCst) {
            0
        } else {
            self.unconsumed.load(Ordering::SeqCst)
        }
    }

    /// Session side: called when the wake-up for this channel is taken off
    /// the queue, before [`Self::unconsumed`] is read.
    pub(crate) fn woken(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
    }

    /// Session side: returns `true` if a `WindowAdjusted` notice should be
    /// queued (none is waiting in the queue already).
    pub(crate) fn want_window_notice(&self) -> bool {
        !self.window_notice_queued.swap(true, Ordering::SeqCst)
    }

    /// Application side: `len` bytes were handed to the application.
    pub(crate) fn consumed(&self, len: usize) {
        if len == 0 {
            return;
        }
        // `len` never exceeds what was queued, which fits a u32 window.
        self.sub(u32::try_from(len).unwrap_or(u32::MAX));
        self.wake();
    }

    /// Application side: a message was taken off the queue.
    pub(crate) fn received(&self, msg: &super::ChannelMsg) {
        if let super::ChannelMsg::WindowAdjusted { .. } = msg {
            self.window_notice_queued.store(false, Ordering::SeqCst);
        }
    }

    /// Application side: the reading half is gone.
    pub(crate) fn detach(&self) {
        self.detached.store(true, Ordering::SeqCst);
        self.wake();
    }

    pub(crate) fn set_open_failure_description(&self, description: String) {
        if let Ok(mut slot) = self.open_failure_description.lock() {
            *slot = Some(description);
        }
    }

    pub(crate) fn take_open_failure_description(&self) -> Option<String> {
        self.open_failure_description
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
    }

    fn sub(&self, len: u32) {
        let _ = self
            .unconsumed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(len))
            });
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst)
            && let Some((id, wake)) = self.link.get()
        {
            let _ = wake.send(*id);
        }
    }
}

/// The session task's end of the consumption wake-ups of its channels.
#[derive(Debug)]
pub(crate) struct WindowWake {
    pub(crate) sender: UnboundedSender<ChannelId>,
    pub(crate) receiver: tokio::sync::mpsc::UnboundedReceiver<ChannelId>,
}

impl WindowWake {
    pub(crate) fn new() -> Self {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        Self { sender, receiver }
    }
}
