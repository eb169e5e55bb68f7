use std::sync::Arc;

use tokio::sync::mpsc::error::SendError;
use tokio::sync::mpsc::UnboundedSender;

use super::WindowSizeRef;
use super::flow::ChannelFlow;
use super::queue;
use crate::{ChannelId, ChannelMsg, ChannelReadHalf};

/// A handle to the [`super::Channel`]'s to be able to transmit messages
/// to it and update it's `window_size`.
///
/// The queue behind it is unbounded so that the session task never waits on
/// one channel; the amount of queued data is bounded by the channel window,
/// which is only re-opened as the application consumes data.
#[derive(Debug)]
pub struct ChannelRef {
    pub(super) sender: queue::UnboundedSender,
    pub(super) window_size: WindowSizeRef,
    pub(super) flow: Arc<ChannelFlow>,
}

impl ChannelRef {
    /// A reference and the reading half of its queue, for the application.
    pub(crate) fn new() -> (Self, ChannelReadHalf) {
        let (sender, receiver) = queue::unbounded_channel();
        let flow = Arc::new(ChannelFlow::default());
        let read_half = ChannelReadHalf {
            receiver,
            flow: flow.clone(),
        };
        let this = Self {
            sender,
            window_size: WindowSizeRef::new(0),
            flow,
        };
        (this, read_half)
    }

    pub(crate) fn window_size(&self) -> &WindowSizeRef {
        &self.window_size
    }

    /// Called by the session task when it registers the channel under `id`:
    /// consumption reports from the application side are sent to `wake`.
    pub(crate) fn attach(&self, id: ChannelId, wake: UnboundedSender<ChannelId>) {
        self.flow.attach(id, wake);
    }

    /// Queue `ChannelMsg::Data`/`ExtendedData` without blocking. Its bytes
    /// count as unconsumed (holding the window closed) until the
    /// application reads them; if the receiving half is gone they count as
    /// consumed right away. Empty payloads are not queued (they carry
    /// nothing, and an empty read would look like EOF to `AsyncRead` users).
    pub(crate) fn send_data(&self, msg: ChannelMsg) {
        let len = match &msg {
            ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => data.len(),
            _ => 0,
        };
        if len == 0 {
            return;
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.flow.queued(len);
        if self.sender.send(msg).is_err() {
            self.flow.unqueued(len);
        }
    }

    /// Queue an informational `ChannelMsg::WindowAdjusted`, unless one is
    /// already waiting in the queue.
    pub(crate) fn send_window_adjusted(&self, new_size: u32) {
        if self.flow.want_window_notice() {
            let _ = self.sender.send(ChannelMsg::WindowAdjusted { new_size });
        }
    }

    /// Bytes queued for the application and not consumed yet (0 once the
    /// application dropped its reading half).
    pub(crate) fn unconsumed(&self) -> u32 {
        self.flow.unconsumed()
    }

    /// The wake-up for this channel was taken off the session's queue.
    pub(crate) fn woken(&self) {
        self.flow.woken()
    }

    /// Queue a message without blocking.
    pub fn send(&self, msg: ChannelMsg) -> Result<(), SendError<ChannelMsg>> {
        self.sender.send(msg)
    }

    /// Remember the description of an open failure for
    /// [`crate::Error::ChannelOpenFailureDescribed`].
    pub(crate) fn set_open_failure_description(&self, description: String) {
        self.flow.set_open_failure_description(description)
    }
}
