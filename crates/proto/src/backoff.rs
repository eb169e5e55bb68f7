//! The reconnect backoff schedule.
//!
//! Owns: the reference product's delays between reconnect attempts — 1 s, 2 s, 4 s, 8 s, 16 s,
//! 32 s, then 60 s for every later attempt.
//!
//! Must not touch: timers, sleeping, retry counting or `max_retries` (the supervisor owns those;
//! this module only maps an attempt number to a delay).

use std::time::Duration;

/// The longest delay between two reconnect attempts.
pub const CAP: Duration = Duration::from_secs(60);

/// The delay before reconnect attempt `attempt` (1-based): `2^(attempt-1)` seconds, capped at
/// [`CAP`]. Attempt `0` (not a reconnect) waits nothing.
pub fn delay(attempt: u32) -> Duration {
    match attempt {
        0 => Duration::ZERO,
        // 2^6 = 64 > 60, so everything from attempt 7 on is the cap (and no shift overflows).
        1..=6 => Duration::from_secs(1u64 << (attempt - 1)).min(CAP),
        _ => CAP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule() {
        let cases: &[(u32, u64)] = &[
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 32),
            (7, 60),
            (8, 60),
            (31, 60),
            (32, 60),
            (64, 60),
            (u32::MAX, 60),
        ];
        for &(attempt, secs) in cases {
            assert_eq!(
                delay(attempt),
                Duration::from_secs(secs),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn cap_is_sixty_seconds_and_never_exceeded() {
        assert_eq!(CAP, Duration::from_secs(60));
        for a in 0..1000 {
            assert!(delay(a) <= CAP);
            assert!(delay(a) <= delay(a + 1), "monotonic at {a}");
        }
    }
}
