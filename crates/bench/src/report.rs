//! The report: reads the JSON-lines records a bench run collected (one measurement each, tagged
//! with its row and tool), takes medians per row and tool, the ratio portwarden / OpenSSH, checks
//! each row's target and renders the markdown table and the JSON summary.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::stats::median;

/// One measurement, as the driver and the script print them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub row: String,
    /// `pw`, `ssh`, or anything else for context rows (reported in the portwarden column).
    pub tool: String,
    /// `null` when the measurement failed or timed out.
    pub value: Option<f64>,
    #[serde(default)]
    pub unit: String,
    /// A target spec (see [`Target::parse`]); the first non-empty one seen for a row wins.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub note: String,
}

/// A row's pass condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    RatioAtLeast(f64),
    RatioAtMost(f64),
    PwAtLeast(f64),
    PwAtMost(f64),
    PwBelow(f64),
    None,
}

impl Target {
    /// `ratio>=X`, `ratio<=X`, `pw>=X`, `pw<=X`, `pw<X`; empty → no target.
    pub fn parse(spec: &str) -> Result<Target, String> {
        let s: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        if s.is_empty() {
            return Ok(Target::None);
        }
        let num = |t: &str| {
            t.parse::<f64>()
                .map_err(|_| format!("bad target number in '{spec}'"))
        };
        if let Some(t) = s.strip_prefix("ratio>=") {
            Ok(Target::RatioAtLeast(num(t)?))
        } else if let Some(t) = s.strip_prefix("ratio<=") {
            Ok(Target::RatioAtMost(num(t)?))
        } else if let Some(t) = s.strip_prefix("pw>=") {
            Ok(Target::PwAtLeast(num(t)?))
        } else if let Some(t) = s.strip_prefix("pw<=") {
            Ok(Target::PwAtMost(num(t)?))
        } else if let Some(t) = s.strip_prefix("pw<") {
            Ok(Target::PwBelow(num(t)?))
        } else {
            Err(format!("unknown target '{spec}'"))
        }
    }

    /// `Some(pass)`, or `None` when there is no target or a needed value is missing.
    pub fn check(&self, pw: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        match *self {
            Target::RatioAtLeast(x) => ratio.map(|r| r >= x).or(pw.map(|_| false)),
            Target::RatioAtMost(x) => ratio.map(|r| r <= x).or(pw.map(|_| false)),
            Target::PwAtLeast(x) => Some(pw.is_some_and(|v| v >= x)),
            Target::PwAtMost(x) => Some(pw.is_some_and(|v| v <= x)),
            Target::PwBelow(x) => Some(pw.is_some_and(|v| v < x)),
            Target::None => None,
        }
    }

    /// For a ratio target, how many of the pairs meet it (by [`Target::check`] on the pair's own
    /// ratio) and how many pairs there are; `None` for other targets, or when the tools have
    /// different numbers of samples (then the n-th samples are not from the same round). A pair
    /// with a failed sample counts as not meeting.
    pub fn pairs_meeting(&self, pw: &[Option<f64>], ssh: &[Option<f64>]) -> Option<(usize, usize)> {
        if !matches!(self, Target::RatioAtLeast(_) | Target::RatioAtMost(_))
            || pw.len() != ssh.len()
            || pw.is_empty()
        {
            return None;
        }
        let met = pw
            .iter()
            .zip(ssh)
            .filter(|pair| match *pair {
                (Some(a), Some(b)) if *b != 0.0 => self.check(Some(*a), Some(a / b)) == Some(true),
                _ => false,
            })
            .count();
        Some((met, pw.len()))
    }

    pub fn describe(&self, unit: &str) -> String {
        let u = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        match *self {
            Target::RatioAtLeast(x) => format!("≥ {x}× ssh"),
            Target::RatioAtMost(x) => format!("≤ {x}× ssh"),
            Target::PwAtLeast(x) => format!("≥ {}{u}", fmt_num(x)),
            Target::PwAtMost(x) => format!("≤ {}{u}", fmt_num(x)),
            Target::PwBelow(x) => format!("< {}{u}", fmt_num(x)),
            Target::None => "—".into(),
        }
    }
}

/// A summarised row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub row: String,
    pub unit: String,
    pub pw: Option<f64>,
    pub ssh: Option<f64>,
    pub pw_samples: Vec<Option<f64>>,
    pub ssh_samples: Vec<Option<f64>>,
    pub ratio: Option<f64>,
    /// Same-round pairs whose own ratio meets the target, of all pairs (see
    /// [`Target::pairs_meeting`]): how much of the median ratio is noise.
    pub pairs_meeting: Option<(usize, usize)>,
    pub target: String,
    pub pass: Option<bool>,
    pub note: String,
}

/// Groups records by row (in first-seen order), medians per tool, ratio and target check.
pub fn summarise(records: &[Record]) -> Vec<Row> {
    let mut order: Vec<String> = Vec::new();
    for r in records {
        if !order.contains(&r.row) {
            order.push(r.row.clone());
        }
    }
    order
        .into_iter()
        .map(|name| {
            let of = |tool_is_ssh: bool| -> Vec<Option<f64>> {
                records
                    .iter()
                    .filter(|r| r.row == name && (r.tool == "ssh") == tool_is_ssh)
                    .map(|r| r.value)
                    .collect()
            };
            let pw_samples = of(false);
            let ssh_samples = of(true);
            let flat = |v: &[Option<f64>]| v.iter().flatten().copied().collect::<Vec<f64>>();
            let pw = median(&flat(&pw_samples));
            let ssh = median(&flat(&ssh_samples));
            let ratio = match (pw, ssh) {
                (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                _ => None,
            };
            let first = records.iter().find(|r| r.row == name).expect("row seen");
            let spec = records
                .iter()
                .filter(|r| r.row == name)
                .map(|r| r.target.as_str())
                .find(|t| !t.is_empty())
                .unwrap_or("");
            let target = Target::parse(spec).unwrap_or(Target::None);
            let notes: Vec<&str> = records
                .iter()
                .filter(|r| r.row == name && !r.note.is_empty())
                .map(|r| r.note.as_str())
                .collect();
            let mut note = String::new();
            for n in notes {
                if !note.contains(n) {
                    if !note.is_empty() {
                        note.push_str("; ");
                    }
                    note.push_str(n);
                }
            }
            Row {
                row: name.clone(),
                unit: first.unit.clone(),
                pass: target.check(pw, ratio),
                pairs_meeting: target.pairs_meeting(&pw_samples, &ssh_samples),
                target: target.describe(&first.unit),
                pw,
                ssh,
                pw_samples,
                ssh_samples,
                ratio,
                note,
            }
        })
        .collect()
}

/// A number with about three significant digits.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 || (a.fract() == 0.0 && a < 1e15) {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn cell(v: Option<f64>, unit: &str, samples: &[Option<f64>]) -> String {
    match v {
        Some(x) if unit.is_empty() => fmt_num(x),
        Some(x) => format!("{} {unit}", fmt_num(x)),
        None if samples.is_empty() => "—".into(),
        None => "failed".into(),
    }
}

/// The markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| Row | portwarden | OpenSSH | pw/ssh | Pairs at target | Target | Result |\n|---|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let ratio = r
            .ratio
            .map(|x| format!("{x:.2}×"))
            .unwrap_or_else(|| "—".into());
        let pairs = r
            .pairs_meeting
            .map(|(met, of)| format!("{met}/{of}"))
            .unwrap_or_else(|| "—".into());
        let pass = match r.pass {
            Some(true) => "pass",
            Some(false) => "**FAIL**",
            None => "",
        };
        let row = if r.note.is_empty() {
            r.row.clone()
        } else {
            format!("{} ({})", r.row, r.note)
        };
        s.push_str(&format!(
            "| {row} | {} | {} | {ratio} | {pairs} | {} | {pass} |\n",
            cell(r.pw, &r.unit, &r.pw_samples),
            cell(r.ssh, &r.unit, &r.ssh_samples),
            r.target
        ));
    }
    s
}

/// The JSON summary: meta, rows, and every raw record.
pub fn json_summary(meta: &Value, rows: &[Row], records: &[Record]) -> Value {
    let passed = rows.iter().filter(|r| r.pass == Some(true)).count();
    let failed = rows.iter().filter(|r| r.pass == Some(false)).count();
    json!({ "meta": meta, "passed": passed, "failed": failed, "rows": rows, "records": records })
}

/// Parses JSON lines, skipping blank lines; a bad line is an error naming its number.
pub fn parse_records(text: &str) -> Result<Vec<Record>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}: {l}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(row: &str, tool: &str, value: Option<f64>, target: &str) -> Record {
        Record {
            row: row.into(),
            tool: tool.into(),
            value,
            unit: "MB/s".into(),
            target: target.into(),
            note: String::new(),
        }
    }

    #[test]
    fn target_specs() {
        assert_eq!(Target::parse("ratio>=1"), Ok(Target::RatioAtLeast(1.0)));
        assert_eq!(
            Target::parse(" ratio <= 1.0 "),
            Ok(Target::RatioAtMost(1.0))
        );
        assert_eq!(Target::parse("pw<=150"), Ok(Target::PwAtMost(150.0)));
        assert_eq!(Target::parse("pw<1"), Ok(Target::PwBelow(1.0)));
        assert_eq!(Target::parse("pw>=10000"), Ok(Target::PwAtLeast(10000.0)));
        assert_eq!(Target::parse(""), Ok(Target::None));
        assert!(Target::parse("fast").is_err());
        assert!(Target::parse("pw<=x").is_err());
    }

    #[test]
    fn target_checks() {
        assert_eq!(
            Target::RatioAtLeast(1.0).check(Some(2.0), Some(1.0)),
            Some(true)
        );
        assert_eq!(
            Target::RatioAtLeast(1.0).check(Some(2.0), Some(0.99)),
            Some(false)
        );
        // portwarden measured but OpenSSH not: no ratio, cannot pass a ratio target.
        assert_eq!(
            Target::RatioAtLeast(1.0).check(Some(2.0), None),
            Some(false)
        );
        assert_eq!(Target::RatioAtLeast(1.0).check(None, None), None);
        assert_eq!(Target::PwBelow(1.0).check(Some(0.2), None), Some(true));
        assert_eq!(Target::PwAtMost(150.0).check(None, None), Some(false));
        assert_eq!(Target::None.check(Some(1.0), Some(1.0)), None);
    }

    #[test]
    fn summarises_medians_ratio_and_order() {
        let records = vec![
            rec("b", "pw", Some(100.0), "ratio>=1"),
            rec("b", "ssh", Some(200.0), ""),
            rec("a", "pw", Some(10.0), ""),
            rec("b", "pw", Some(300.0), ""),
            rec("b", "ssh", Some(100.0), ""),
            rec("b", "pw", None, ""),
            rec("b", "ssh", Some(150.0), ""),
            rec("b", "pw", Some(200.0), ""),
        ];
        let rows = summarise(&records);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, "b");
        assert_eq!(rows[0].pw, Some(200.0));
        assert_eq!(rows[0].ssh, Some(150.0));
        assert_eq!(rows[0].pass, Some(true));
        assert!((rows[0].ratio.unwrap() - 200.0 / 150.0).abs() < 1e-9);
        // Four portwarden samples against three of OpenSSH: not paired by round.
        assert_eq!(rows[0].pairs_meeting, None);
        assert_eq!(rows[1].row, "a");
        assert_eq!(rows[1].ssh, None);
        assert_eq!(rows[1].pass, None);
        let md = markdown(&rows);
        assert!(
            md.contains("| b | 200 MB/s | 150 MB/s | 1.33× | — | ≥ 1× ssh | pass |"),
            "{md}"
        );
        assert!(md.contains("| a | 10 MB/s | — | — | — | — |  |"), "{md}");
    }

    #[test]
    fn pairs_meeting_pair_the_nth_samples() {
        let at_least = Target::RatioAtLeast(1.0);
        let pw = [Some(110.0), Some(90.0), Some(100.0), None];
        let ssh = [Some(100.0), Some(100.0), Some(100.0), Some(100.0)];
        // 1.1 and 1.0 meet ≥ 1; 0.9 does not; a failed portwarden sample does not.
        assert_eq!(at_least.pairs_meeting(&pw, &ssh), Some((2, 4)));
        assert_eq!(
            Target::RatioAtMost(1.0).pairs_meeting(&pw, &ssh),
            Some((2, 4))
        );
        // Unequal sample counts cannot be paired by round; other targets have no pairs.
        assert_eq!(at_least.pairs_meeting(&pw[..3], &ssh), None);
        assert_eq!(Target::PwAtMost(150.0).pairs_meeting(&pw, &ssh), None);
        assert_eq!(at_least.pairs_meeting(&[], &[]), None);
    }

    #[test]
    fn parses_lines_and_reports_bad_ones() {
        let ok = "{\"row\":\"r\",\"tool\":\"pw\",\"value\":1.5,\"unit\":\"ms\"}\n\n{\"row\":\"r\",\"tool\":\"ssh\",\"value\":null}\n";
        let recs = parse_records(ok).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].value, None);
        assert!(parse_records("{nope").unwrap_err().starts_with("line 1:"));
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(fmt_num(312.44), "312");
        assert_eq!(fmt_num(31.24), "31.2");
        assert_eq!(fmt_num(3.124), "3.12");
        assert_eq!(fmt_num(0.3124), "0.312");
        assert_eq!(fmt_num(1000.0), "1000");
        assert_eq!(fmt_num(2.0), "2");
    }
}
