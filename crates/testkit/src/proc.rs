//! Process-tree plumbing over `/proc` and signals (through `nix`, so no `unsafe` here): finding
//! every descendant of a process, signalling a whole tree, waiting for processes to go away.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::wait::poll_until;

/// `(pid, ppid, state)` for every process in `/proc`.
fn all_processes() -> Vec<(u32, u32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&stat).map(|(state, ppid)| (pid, ppid, state))
        })
        .collect()
}

/// Parses `(state, ppid)` from a `/proc/<pid>/stat` line; `comm` may contain spaces and parens.
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Every live (non-zombie) descendant of `root`, parents before children. Not including `root`.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let procs = all_processes();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, state) in &procs {
            if ppid == parent && state != 'Z' && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// Sends `sig` to one process, ignoring "no such process".
pub(crate) fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// Sends `sig` to `root` and every descendant.
pub(crate) fn signal_tree(root: u32, sig: Signal) {
    signal(root, sig);
    for pid in descendants(root) {
        signal(pid, sig);
    }
}

/// The state letter of `pid` (`R`, `S`, `T`, `Z`, …), `None` if it does not exist.
pub(crate) fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(state, _)| state)
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn alive(pid: u32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// SIGSTOPs `root` and its whole tree, re-listing until no new descendant appears (so nothing
/// forks away unseen), and waits (bounded) until each one has actually stopped: signal delivery
/// is asynchronous, and a process still running could fork after the listing. Returns the
/// descendants (not including `root`).
pub(crate) fn freeze_tree(root: u32) -> Vec<u32> {
    signal(root, Signal::SIGSTOP);
    let mut seen: Vec<u32> = Vec::new();
    for _ in 0..100 {
        let fresh: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|p| !seen.contains(p))
            .collect();
        for &pid in &fresh {
            signal(pid, Signal::SIGSTOP);
        }
        seen.extend(&fresh);
        let settled = poll_until(Duration::from_secs(2), || {
            std::iter::once(&root)
                .chain(&seen)
                .all(|&p| matches!(state(p), None | Some('T' | 't' | 'Z' | 'X')))
        });
        if fresh.is_empty() && settled {
            break;
        }
    }
    seen
}

/// SIGKILLs `root` and its whole tree (frozen first with [`freeze_tree`]) and waits (bounded)
/// until the descendants are gone; the caller reaps `root` itself.
pub(crate) fn kill_tree(root: u32) {
    let tree = freeze_tree(root);
    signal(root, Signal::SIGKILL);
    for &pid in &tree {
        signal(pid, Signal::SIGKILL);
    }
    // Orphans are reaped by whoever adopts them; a zombie counts as gone.
    poll_until(Duration::from_secs(10), || !tree.iter().any(|&p| alive(p)));
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn parses_stat_with_odd_comm() {
        assert_eq!(
            parse_stat("42 (sshd: root (x) [priv]) S 7 42 42 0 -1"),
            Some(('S', 7))
        );
        assert_eq!(parse_stat("1 (init) R 0 1"), Some(('R', 0)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
