//! The approval summary of an SLO evaluation: result and score first, then each objective
//! that did not pass with its value, target and baseline, so a person reading CodePipeline's
//! approval sees why without opening the report.

use super::score::{Evaluation, IndicatorResult, Outcome, Status, TargetResult};
use crate::evaluation::verdict::SUMMARY_LIMIT;

/// A number as a person reads it (re-exported: the summary's callers format with it).
pub use crate::text::number;

pub fn result_word(result: Outcome) -> &'static str {
    match result {
        Outcome::Pass => "PASS",
        Outcome::Warning => "WARNING",
        Outcome::Fail => "FAIL",
    }
}

fn name(i: &IndicatorResult) -> String {
    match (&i.display_name, &i.value) {
        (d, _) if !d.is_empty() => d.clone(),
        (_, Some(v)) => v.metric.clone(),
        _ => "?".into(),
    }
}

fn violated(targets: &[TargetResult]) -> Vec<String> {
    targets
        .iter()
        .filter(|t| t.violated)
        .map(|t| format!("{} → {}", t.criteria.trim(), number(t.target_value)))
        .collect()
}

/// One objective that did not pass, in one clause.
fn objective_clause(i: &IndicatorResult) -> String {
    let status = match i.status {
        Status::Warning => "warning",
        _ => "fail",
    };
    let key = if i.key_sli { " [key]" } else { "" };
    let Some(value) = i.value.as_ref().filter(|v| v.success) else {
        let why = i
            .value
            .as_ref()
            .map(|v| v.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "no value".into());
        return format!("{}{key} {status}: {why}", name(i));
    };
    let mut clause = format!("{}{key} {status}: {}", name(i), number(value.value));
    let broken = violated(&i.pass_targets);
    if !broken.is_empty() {
        clause.push_str(&format!(" violates {}", broken.join(", ")));
    }
    if i.pass_targets.iter().any(|t| t.no_baseline) {
        clause.push_str(" (no baseline)");
    } else if value.compared_value != 0.0 {
        clause.push_str(&format!(", baseline {}", number(value.compared_value)));
    }
    clause
}

/// Every objective in one line, `name status value (baseline b)`: what a person scans to
/// see how a build did, passing or not.
pub fn objective_values(e: &Evaluation) -> String {
    e.indicator_results
        .iter()
        .map(|i| {
            let status = match i.status {
                Status::Pass => "pass",
                Status::Warning => "warning",
                Status::Fail => "fail",
                Status::Info => "info",
            };
            match i.value.as_ref().filter(|v| v.success) {
                Some(v) if v.compared_value != 0.0 => format!(
                    "{} {status} {} (baseline {})",
                    name(i),
                    number(v.value),
                    number(v.compared_value)
                ),
                Some(v) => format!("{} {status} {}", name(i), number(v.value)),
                None => format!("{} {status}: no value", name(i)),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `"SLO FAIL, score 33.3/100: key SLI Error rate failed — Error rate [key] fail: 25
/// violates <=1 → 1; … Report: URL"`, at most [`SUMMARY_LIMIT`] characters with the report
/// link kept whole.
pub fn approval_summary(e: &Evaluation, report_url: Option<&str>) -> String {
    let mut line = format!(
        "SLO {}, score {}/100: {}",
        result_word(e.result),
        number(e.score),
        e.reason
    );
    let clauses: Vec<String> = e
        .indicator_results
        .iter()
        .filter(|i| matches!(i.status, Status::Fail | Status::Warning))
        .map(objective_clause)
        .collect();
    if !clauses.is_empty() {
        line.push_str(" — ");
        line.push_str(&clauses.join("; "));
    }
    let tail = report_url
        .map(|u| format!(" Report: {u}"))
        .unwrap_or_default();
    let mut line =
        crate::text::truncate_chars(&line, SUMMARY_LIMIT.saturating_sub(tail.chars().count()));
    line.push_str(&tail);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::{evaluate, parse_slo, SliValue};

    fn slo() -> crate::slo::Slo {
        parse_slo(
            "slo.yaml",
            r#"
spec_version: "1.0"
comparison: {compare_with: single_result, include_result_with_score: pass}
objectives:
  - sli: response_time_p95
    displayName: Response time p95
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: error_rate
    displayName: Error rate
    key_sli: true
    pass: [{criteria: ["<=1"]}]
  - sli: throughput
total_score: {pass: "90%", warning: "75%"}
"#,
        )
        .unwrap()
    }

    fn value(metric: &str, value: f64) -> SliValue {
        SliValue {
            metric: metric.into(),
            value,
            compared_value: 0.0,
            success: true,
            message: String::new(),
        }
    }

    #[test]
    fn a_failure_leads_with_result_and_score_then_each_objective_with_target_and_baseline() {
        let previous: Vec<crate::slo::PreviousEvaluation> = serde_json::from_value(serde_json::json!([
            {"result": "pass", "score": 100, "indicatorResults": [{"value": {"metric": "response_time_p95", "value": 500, "success": true}}]}
        ]))
        .unwrap();
        let e = evaluate(
            &slo(),
            &[value("response_time_p95", 612.0), value("error_rate", 25.0)],
            &previous,
        );
        let line = approval_summary(&e, Some("https://r.example/report"));
        assert!(
            line.starts_with("SLO FAIL, score 25/100: key SLI Error rate failed — "),
            "{line}"
        );
        assert!(
            line.contains(
                "Response time p95 warning: 612 violates <=+10% → 550, <600 → 600, baseline 500"
            ),
            "{line}"
        );
        assert!(
            line.contains("Error rate [key] fail: 25 violates <=1 → 1"),
            "{line}"
        );
        assert!(
            line.ends_with(" Report: https://r.example/report"),
            "{line}"
        );
    }

    #[test]
    fn a_pass_says_so_and_a_missing_value_gives_its_message() {
        let pass = evaluate(
            &slo(),
            &[value("response_time_p95", 400.0), value("error_rate", 0.0)],
            &[],
        );
        let line = approval_summary(&pass, None);
        assert!(line.starts_with("SLO PASS, score 100/100: "), "{line}");
        assert!(!line.contains(" — "), "nothing failed: {line}");

        let mut missing = value("error_rate", 0.0);
        missing.success = false;
        missing.message = "no data: the query matched no series".into();
        let e = evaluate(&slo(), &[value("response_time_p95", 400.0), missing], &[]);
        let line = approval_summary(&e, None);
        assert!(
            line.contains("Error rate [key] fail: no data: the query matched no series"),
            "{line}"
        );
    }

    #[test]
    fn objective_values_list_every_objective_with_its_baseline() {
        let previous: Vec<crate::slo::PreviousEvaluation> = serde_json::from_value(serde_json::json!([
            {"result": "pass", "score": 100, "indicatorResults": [{"value": {"metric": "response_time_p95", "value": 500, "success": true}}]}
        ]))
        .unwrap();
        let e = evaluate(
            &slo(),
            &[
                value("response_time_p95", 520.5),
                value("error_rate", 0.0),
                value("throughput", 3.0),
            ],
            &previous,
        );
        assert_eq!(
            objective_values(&e),
            "Response time p95 pass 520.5 (baseline 500); Error rate pass 0; throughput info 3"
        );
    }

    #[test]
    fn a_long_summary_is_cut_but_keeps_the_report_link() {
        let mut e = evaluate(&slo(), &[], &[]);
        e.reason = "x".repeat(2000);
        let url = "https://r.example/report?pipelineName=Sample";
        let line = approval_summary(&e, Some(url));
        assert!(line.chars().count() <= SUMMARY_LIMIT, "{}", line.len());
        assert!(line.ends_with(url), "{line}");
    }
}
