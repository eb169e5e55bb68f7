//! Compact uptime rendering.
//!
//! Owns: turning an uptime in seconds into the reference product's compact text — the largest
//! whole unit among s / m / h / d (`45s`, `12m`, `3h`, `2d`).
//!
//! Must not touch: clocks or the measuring of uptime (the supervisor owns that); this is only
//! formatting.

/// Renders `secs` as the largest whole unit: under a minute in seconds, under an hour in whole
/// minutes, under a day in whole hours, else whole days (`0s`, `59s`, `1m`, `59m`, `1h`, `23h`,
/// `1d`, …). Values are truncated, never rounded up.
pub fn compact(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    if secs < MIN {
        format!("{secs}s")
    } else if secs < HOUR {
        format!("{}m", secs / MIN)
    } else if secs < DAY {
        format!("{}h", secs / HOUR)
    } else {
        format!("{}d", secs / DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_largest_whole_unit() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (45, "45s"),
            (59, "59s"),
            (60, "1m"),
            (119, "1m"),
            (720, "12m"),
            (3599, "59m"),
            (3600, "1h"),
            (3 * 3600 + 59 * 60, "3h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (2 * 86_400 + 5, "2d"),
            (400 * 86_400, "400d"),
            (u64::MAX, "213503982334601d"),
        ];
        for &(secs, want) in cases {
            assert_eq!(compact(secs), want, "{secs}");
        }
    }
}
