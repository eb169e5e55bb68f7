//! Terminal output for CLI commands: tables with coloured status dots, compact uptime, and the
//! reference's spec text. `--json` bypasses all of it.

use serde_json::Value;

/// A coloured dot for a status (plain when stdout is not a terminal).
pub fn dot(status: &str) -> String {
    let color = match status {
        "connected" => "32",
        "connecting" | "reconnecting" => "33",
        "failed" => "31",
        _ => "90",
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        format!("\x1b[{color}m●\x1b[0m")
    } else {
        "●".to_string()
    }
}

/// Prints rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = visible_len(c);
            if i < widths.len() && w > widths[i] {
                widths[i] = w;
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(visible_len(c)) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for ch in s.chars() {
        if in_escape {
            if ch == 'm' {
                in_escape = false;
            }
        } else if ch == '\x1b' {
            in_escape = true;
        } else {
            n += 1;
        }
    }
    n
}

pub fn str_of(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The popover's row for a tunnel status item.
pub fn status_row(item: &Value) -> Vec<String> {
    let status = str_of(item, "status");
    let uptime = item["uptime_secs"]
        .as_u64()
        .map(proto::uptime::compact)
        .unwrap_or_default();
    let retry = if status == "reconnecting" {
        format!("retry {}", item["retry_count"].as_u64().unwrap_or(0))
    } else {
        String::new()
    };
    let mut spec = str_of(item, "spec");
    if let Some(p) = item["allocated_port"].as_u64() {
        if str_of(item, "forward_type") == "remote" {
            spec = format!("{spec} (server port {p})");
        }
    }
    vec![
        dot(&status),
        str_of(item, "name"),
        spec,
        format!("via {}", str_of(item, "host")),
        status,
        uptime,
        retry,
        str_of(item, "last_error"),
    ]
}

pub fn json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}
