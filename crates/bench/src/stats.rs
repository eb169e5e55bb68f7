//! Plain statistics over samples (median, nearest-rank percentiles) and the `/proc` readings the
//! driver takes of a forwarding process (CPU seconds, peak RSS). No I/O besides `/proc`.

/// Median of `xs` (mean of the two middle values for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Nearest-rank percentile `p` (0–100] of `xs`; `None` when empty.
pub fn percentile(xs: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// user+sys CPU seconds of process `pid` (all its threads), from `/proc/<pid>/stat`.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&text).map(|t| t as f64 / clock_ticks())
}

/// utime+stime in clock ticks from the text of a `/proc/<pid>/stat` file.
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `/proc` reports times in USER_HZ, which Linux fixes at 100 on every architecture it exports
/// to user space.
fn clock_ticks() -> f64 {
    100.0
}

/// A `Vm*:` value in kB from `/proc/<pid>/status` (e.g. `VmHWM`, `VmRSS`).
pub fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kb(&text, key)
}

/// Finds `key:` in the text of a `/proc/<pid>/status` file and returns its kB value.
pub fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn percentiles_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        assert_eq!(percentile(&xs, 50.0), Some(50.0));
        assert_eq!(percentile(&xs, 99.0), Some(99.0));
        assert_eq!(percentile(&xs, 100.0), Some(100.0));
        assert_eq!(percentile(&xs, 0.0), Some(1.0));
        let few = [5.0, 1.0, 3.0];
        assert_eq!(percentile(&few, 50.0), Some(3.0));
        assert_eq!(percentile(&few, 99.0), Some(5.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn parses_proc_stat_with_odd_comm() {
        let text = "1234 (weird ) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 \
                    12345 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(text), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_proc_status() {
        let text = "Name:\tssh\nVmPeak:\t  20000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t 7000 kB\n";
        assert_eq!(parse_status_kb(text, "VmHWM"), Some(8123));
        assert_eq!(parse_status_kb(text, "VmRSS"), Some(7000));
        assert_eq!(parse_status_kb(text, "VmSwap"), None);
    }
}
