//! `GET /metrics` — Prometheus text exposition from the supervisor's snapshot.
//!
//! Owns: metric names and labels (`portwarden_tunnel_status`, `_bytes_in_total`,
//! `_bytes_out_total`, `_active_connections`, `_reconnects_total`; the agent-wide gauges
//! `portwarden_tasks`, `portwarden_keepers`, `portwarden_pooled_transports`). Must not touch:
//! counting (the supervisor's and the runtime's).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::supervisor::{Status, StatusItem};

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Agent-wide gauges: leak checks compare them before and after a load.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentGauges {
    /// Tasks alive in the agent's tokio runtime (every keeper, connection, probe, request).
    pub tasks: usize,
    /// Keepers running (persistent and session tunnels).
    pub keepers: usize,
    /// Transports held by the pool.
    pub pooled_transports: usize,
}

/// Renders the exposition text.
pub fn render(items: &[StatusItem], gauges: AgentGauges) -> String {
    let mut out = String::new();
    for (name, help, v) in [
        (
            "portwarden_tasks",
            "Tasks alive in the agent's async runtime.",
            gauges.tasks,
        ),
        (
            "portwarden_keepers",
            "Tunnel keepers running.",
            gauges.keepers,
        ),
        (
            "portwarden_pooled_transports",
            "SSH transports held by the pool.",
            gauges.pooled_transports,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let labels = |i: &StatusItem| {
        format!(
            "id=\"{}\",name=\"{}\",kind=\"{}\"",
            esc(&i.id),
            esc(&i.name),
            match i.kind {
                crate::supervisor::TunnelKind::Persistent => "persistent",
                crate::supervisor::TunnelKind::Session => "session",
            }
        )
    };
    let _ = writeln!(
        out,
        "# HELP portwarden_tunnel_status 1 for the tunnel's current status, 0 for the others.\n# TYPE portwarden_tunnel_status gauge"
    );
    for i in items {
        for s in Status::ALL {
            let _ = writeln!(
                out,
                "portwarden_tunnel_status{{{},status=\"{}\"}} {}",
                labels(i),
                s.as_str(),
                u8::from(i.runtime.status == s)
            );
        }
    }
    type Getter = fn(&StatusItem) -> u64;
    let series: [(&str, &str, &str, Getter); 4] = [
        (
            "portwarden_tunnel_bytes_in_total",
            "counter",
            "Bytes delivered from the SSH side to local clients.",
            |i| i.runtime.bytes_in,
        ),
        (
            "portwarden_tunnel_bytes_out_total",
            "counter",
            "Bytes delivered from local clients to the SSH side.",
            |i| i.runtime.bytes_out,
        ),
        (
            "portwarden_tunnel_active_connections",
            "gauge",
            "Client connections open now.",
            |i| i.runtime.active_connections,
        ),
        (
            "portwarden_tunnel_reconnects_total",
            "counter",
            "Reconnects since the agent started.",
            |i| i.runtime.reconnects_total,
        ),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for i in items {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(i), get(i));
        }
    }
    out
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "agent",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let sup = state.supervisor();
    let items = sup.snapshot().await;
    let gauges = AgentGauges {
        tasks: tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        keepers: sup.running_count(),
        pooled_transports: sup.pool().len(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&items, gauges),
    )
}
