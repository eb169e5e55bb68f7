//! Polling with a deadline: the one way tests in this workspace wait for something to happen.

use std::time::{Duration, Instant};

/// How often [`wait_until`] (and the harness internally) re-checks a condition.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// Polls `f` every 10 ms until it returns `true`.
///
/// # Panics
/// With `timed out after Xs waiting for <what>` once `timeout` has passed.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    if !poll_until(timeout, &mut f) {
        panic!("timed out after {:?} waiting for {what}", timeout);
    }
}

/// Polls `f` every 10 ms until it returns `true` (→ `true`) or `timeout` passes (→ `false`).
pub(crate) fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
