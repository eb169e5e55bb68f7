//! `GET /metrics` — Prometheus text exposition from the supervisor's snapshot.
//!
//! Owns: metric names and labels (`portwarden_tunnel_status`, `_bytes_in_total`,
//! `_bytes_out_total`, `_active_connections`, `_reconnects_total`). Must not touch: counting
//! (the supervisor's).

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

/// Renders the exposition text.
pub fn render(items: &[StatusItem]) -> String {
    let mut out = String::new();
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
    let items = state.supervisor().snapshot().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&items),
    )
}
