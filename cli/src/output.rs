//! The table a person reads in a terminal or CI log.

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use unbreakable_shared::evaluation::{Outcome, SignatureResult, Verdict};

fn time(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

fn shown(s: &SignatureResult, value: Option<f64>) -> String {
    value
        .map(|v| s.unit.display(v))
        .unwrap_or_else(|| "—".into())
}

fn limit(s: &SignatureResult) -> String {
    match (s.lower_limit, s.upper_limit) {
        (Some(l), Some(u)) => format!("({}, {})", s.unit.display(l), s.unit.display(u)),
        (Some(l), None) => format!("≥ {}", s.unit.display(l)),
        (None, Some(u)) => format!("≤ {}", s.unit.display(u)),
        (None, None) => "—".into(),
    }
}

fn outcome(s: &SignatureResult) -> &'static str {
    match (s.outcome, s.blocks_approval) {
        (Outcome::Pass, _) => "pass",
        (Outcome::Violation, _) => "VIOLATION",
        (Outcome::NoData, true) => "NODATA",
        (Outcome::NoData, false) => "nodata",
        (Outcome::Error, _) => "ERROR",
    }
}

pub fn table(verdict: &Verdict) -> String {
    let mut out = String::new();
    for c in &verdict.configurations {
        let compare = c
            .compare
            .as_ref()
            .map(|e| {
                format!(
                    " vs {} [{} … {}]",
                    e.environment,
                    time(e.window.from_ms),
                    time(e.window.to_ms)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} ({}): {} [{} … {}]{}",
            c.key,
            verdict.comparison,
            c.source.environment,
            time(c.source.window.from_ms),
            time(c.source.window.to_ms),
            compare
        );
        let rows: Vec<[String; 5]> = c
            .signatures
            .iter()
            .map(|s| {
                [
                    s.label.clone(),
                    outcome(s).to_string(),
                    shown(s, s.source_value),
                    shown(s, s.compare_value),
                    limit(s),
                ]
            })
            .collect();
        let header = ["SIGNATURE", "OUTCOME", "SOURCE", "COMPARE", "LIMIT"].map(String::from);
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |r: &[String; 5]| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}", w = *w))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let _ = writeln!(out, "  {}", line(&header).trim_end());
        for (row, s) in rows.iter().zip(&c.signatures) {
            let _ = writeln!(out, "  {}", line(row).trim_end());
            if s.outcome != Outcome::Pass {
                let _ = writeln!(out, "      ↳ {}", s.reason);
            }
            for note in &s.notes {
                let _ = writeln!(out, "      note: {note}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{}",
        verdict
            .summary_line(None)
            .split(" — ")
            .next()
            .unwrap_or_default()
    );
    out
}
