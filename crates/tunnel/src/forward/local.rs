//! Local forwards (-L): accept on the bound listener and carry each connection over a
//! direct-tcpip channel to the fixed destination, passing the client's address as originator.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::forward::{accept_loop, current_transport, pipe::pipe, Counters, TransportSlot};

/// Serves one -L listener until `cancel` fires. Connections run as children of `cancel`.
pub async fn serve(
    listener: TcpListener,
    slot: TransportSlot,
    host: String,
    port: u16,
    counters: Arc<Counters>,
    wait_for_transport: Duration,
    cancel: CancellationToken,
) {
    let host = Arc::new(host);
    accept_loop(listener, "local", cancel, |stream, peer, cancel| {
        let mut slot = slot.clone();
        let host = host.clone();
        let counters = counters.clone();
        async move {
            let _guard = counters.connection();
            let dest = format!("{host}:{port}");
            let transport = tokio::select! {
                _ = cancel.cancelled() => return,
                t = current_transport(&mut slot, wait_for_transport, &dest) => t,
            };
            let transport = match transport {
                Ok(t) => t,
                Err(e) => {
                    tracing::info!("closing client: {e}");
                    return;
                }
            };
            match transport.open_direct_tcpip(&host, port, peer).await {
                Ok(channel) => {
                    pipe(stream, channel, &[], &transport, &counters, &cancel).await;
                }
                Err(e) => tracing::info!("closing client: {e}"),
            }
        }
    })
    .await;
}
