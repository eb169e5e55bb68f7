//! Binding local listeners: the loopback rule first, then a bind whose failure names the
//! address and, when /proc shows it, the process that holds the port.

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;

use crate::error::TunnelError;

/// Binds `bind:port` after checking that `bind` is loopback.
pub fn bind_loopback(bind: &str, port: u16) -> Result<TcpListener, TunnelError> {
    let ip: IpAddr = proto::loopback::check_bind_address(bind)?;
    let addr = SocketAddr::new(ip, port);
    let shown = addr.to_string();
    let std_listener = (|| {
        let socket = match ip {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    })();
    std_listener.map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::AddrInUse {
            match port_holder(port) {
                Some(holder) => format!("address already in use (held by {holder})"),
                None => "address already in use".to_string(),
            }
        } else {
            e.to_string()
        };
        TunnelError::Bind {
            addr: shown,
            reason,
        }
    })
}

/// The process listening on a local TCP port, as "name (pid N)", from /proc.
pub fn port_holder(port: u16) -> Option<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue; // 0A = LISTEN
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.chars().all(|c| c.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                    let comm = std::fs::read_to_string(entry.path().join("comm"))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Some(format!("{comm} (pid {pid})"));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_non_loopback_with_the_reference_text() {
        let err = bind_loopback("0.0.0.0", 0).unwrap_err().to_string();
        assert_eq!(
            err,
            "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth"
        );
    }

    #[tokio::test]
    async fn port_in_use_names_address_and_holder() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind_loopback("127.0.0.1", port).unwrap_err().to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("address already in use"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
}
