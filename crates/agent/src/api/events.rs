//! `GET /events` — server-sent events of every runtime change (`tunnel`, `session`,
//! `known_host`), from the supervisor's broadcast.
//!
//! Owns: the SSE stream (ends on agent shutdown so graceful shutdown never waits on it; a
//! subscriber that falls behind gets `event: resync` and should refetch). Must not touch:
//! producing events (the supervisor's).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;

/// Server-sent events: `event: tunnel` (StatusItem), `event: session` ({id, connected}),
/// `event: known_host` ({pending}).
#[utoipa::path(get, path = "/events", tag = "agent",
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.supervisor().subscribe();
    let shutdown = state.shutdown().clone();
    let stream = futures::stream::unfold((rx, shutdown), |(mut rx, shutdown)| async move {
        tokio::select! {
            _ = shutdown.cancelled() => None,
            r = rx.recv() => match r {
                Ok(ev) => {
                    let e = SseEvent::default().event(ev.name()).data(ev.data());
                    Some((Ok(e), (rx, shutdown)))
                }
                Err(RecvError::Lagged(n)) => {
                    let e = SseEvent::default()
                        .event("resync")
                        .data(format!("{{\"missed\":{n}}}"));
                    Some((Ok(e), (rx, shutdown)))
                }
                Err(RecvError::Closed) => None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
