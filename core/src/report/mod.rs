//! The build validation report: a pure model of a pipeline's validations across builds,
//! rendered as HTML (askama, inline SVG charts, no scripts) or as JSON. [`timeline`] renders
//! the remediation sequences the same way.

pub mod canary;
pub mod chart;
pub mod slo;
pub mod stored;
/// Sample requests and results for the report's tests and the handlers' (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod test_data;
pub mod timeline;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::store::ValidationRequest;
use crate::validation::params::is_pipeline_name;

pub const REPORT_SCHEMA_VERSION: u32 = 1;
pub const DEFAULT_TIMESPAN_MINUTES: i64 = 10_080;

/// What the report was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportRequest {
    /// No pipeline named: show the form.
    Form,
    Report {
        pipeline: String,
        comparison: Option<String>,
        timespan_minutes: i64,
        json: bool,
    },
}

/// Read the query parameters; the error says which one is wrong and how.
pub fn parse_request(get: impl Fn(&str) -> Option<String>) -> Result<ReportRequest, String> {
    let pipeline = get("pipelineName")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let comparison = get("comparisonName")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let json = match get("json").as_deref() {
        None | Some("false") | Some("") => false,
        Some("true") => true,
        Some(other) => return Err(format!("json must be true or false, got \"{other}\"")),
    };
    let timespan_minutes = match get("timespan").filter(|s| !s.is_empty()) {
        None => DEFAULT_TIMESPAN_MINUTES,
        Some(text) => match text.parse::<i64>() {
            Ok(m) if (1..=525_600).contains(&m) => m,
            _ => {
                return Err(format!(
                    "timespan must be a whole number of minutes from 1 to 525600, got \"{text}\""
                ))
            }
        },
    };
    let Some(pipeline) = pipeline else {
        return if json {
            Err("pipelineName is required with json=true".into())
        } else {
            Ok(ReportRequest::Form)
        };
    };
    if !is_pipeline_name(&pipeline) {
        return Err(format!(
            "pipelineName \"{pipeline}\" is not a pipeline name (1-100 characters of A-Z a-z 0-9 . @ _ -)"
        ));
    }
    Ok(ReportRequest::Report {
        pipeline,
        comparison,
        timespan_minutes,
        json,
    })
}

/// One validation (a build may have several: a comparison per stage, an SLO gate).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRow {
    pub timestamp: i64,
    pub registered_at: String,
    pub comparison: String,
    pub stage: String,
    pub execution_id: String,
    pub approval_action: String,
    pub status: String,
    pub status_message: String,
    pub decision: Option<String>,
    pub summary: Option<String>,
    /// What became of the build at this gate: `approved`, `rejected`, `waiting`, `manual`
    /// (left for a person), `superseded`, `error`, or a status this report does not know.
    pub verdict: String,
    /// The SLO evaluation's or canary judgement's score (0–100); those validations only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The checks that blocked approval, or the failed and warning objectives.
    pub failing_checks: Vec<FailingCheck>,
    /// The stored result JSON, passed on as stored.
    pub result: Option<stored::StoredJson>,
    /// The SLO evaluation in `result`, read once: the charts read it here, then the SLO
    /// section takes it (`ReportModel::slo`), so it is `None` in a built model.
    #[serde(skip)]
    pub evaluation: Option<slo::Evaluation>,
    /// The monspec result in `result`, read once (the charts and the failing checks).
    #[serde(skip)]
    pub monspec: Option<stored::MonspecResult>,
    /// The canary judgement in `result`, read once (its figures and failing metrics).
    #[serde(skip)]
    pub canary: Option<canary::CanaryResult>,
}

impl ValidationRow {
    pub fn verdict_label(&self) -> &str {
        verdict_label(&self.verdict)
    }

    pub fn verdict_class(&self) -> &'static str {
        match self.verdict.as_str() {
            "approved" => "ok",
            "rejected" | "error" => "violation",
            "manual" => "manual",
            _ => "waiting",
        }
    }

    pub fn score_text(&self) -> Option<String> {
        self.score.map(format_number)
    }
}

/// A check that failed (or warned), with what it measured and what it was held to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailingCheck {
    /// The monspec signature (`key: label`) or the objective's display name.
    pub check: String,
    /// `violation`, `nodata` or `error` (monspec); `fail` or `warning` (SLO).
    pub status: String,
    pub value: Option<f64>,
    /// The limit (monspec) or the first violated criterion's target (SLO).
    pub target: Option<f64>,
    pub baseline: Option<f64>,
    pub unit: String,
    /// The monspec reason, or the SLO criteria with their targets and the SLI's message.
    pub detail: String,
}

impl FailingCheck {
    fn with_unit(&self, v: Option<f64>) -> String {
        match v {
            None => "none".into(),
            Some(v) if self.unit.is_empty() => format_number(v),
            Some(v) => format!("{} {}", format_number(v), self.unit),
        }
    }

    /// `value 900 ms, target 576 ms, baseline 480 ms`
    pub fn figures(&self) -> String {
        format!(
            "value {}, target {}, baseline {}",
            self.with_unit(self.value),
            self.with_unit(self.target),
            self.with_unit(self.baseline)
        )
    }
}

fn monspec_failing(result: &stored::MonspecResult) -> Vec<FailingCheck> {
    let mut found = Vec::new();
    for config in &result.configurations {
        for sig in config.signatures.iter().filter(|s| s.blocks_approval) {
            let (divisor, unit) = chart::scale(&sig.unit);
            let scaled = |v: Option<f64>| v.map(|v| v / divisor);
            found.push(FailingCheck {
                check: format!("{}: {}", config.key, sig.label),
                status: sig.outcome.clone().unwrap_or_default(),
                value: scaled(sig.source_value),
                target: scaled(sig.limit()),
                baseline: scaled(sig.compare_value),
                unit,
                detail: sig.reason.clone(),
            });
        }
    }
    found
}

fn slo_failing(evaluation: &slo::Evaluation) -> Vec<FailingCheck> {
    evaluation
        .indicator_results
        .iter()
        .filter(|i| matches!(i.status.as_str(), "fail" | "warning"))
        .map(|i| {
            let targets = if i.status == "fail" {
                &i.pass_targets
            } else {
                &i.warning_targets
            };
            let violated: Vec<&slo::Target> = targets.iter().filter(|t| t.violated).collect();
            let mut detail = violated
                .iter()
                .map(|t| t.text())
                .collect::<Vec<_>>()
                .join(", ");
            if !i.message().is_empty() {
                if !detail.is_empty() {
                    detail.push_str("; ");
                }
                detail.push_str(i.message());
            }
            FailingCheck {
                check: i.name().to_string(),
                status: i.status.clone(),
                value: i.measured(),
                target: violated.first().and_then(|t| t.target_value),
                baseline: i.baseline(),
                unit: String::new(),
                detail,
            }
        })
        .collect()
}

/// What became of the build at this gate. A decided request is being applied: its verdict
/// is the decision's outcome.
fn verdict(status: &str, decision_outcome: Option<&str>) -> String {
    let status = match (status, decision_outcome) {
        ("decided", Some(outcome)) => outcome,
        _ => status,
    };
    match status {
        "ok" => "approved",
        "violation" => "rejected",
        "waiting" | "evaluating" | "decided" => "waiting",
        other => other,
    }
    .to_string()
}

pub fn verdict_label(verdict: &str) -> &str {
    match verdict {
        "manual" => "left for a person",
        other => other,
    }
}

/// One build: a pipeline execution and its validations.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub execution_id: String,
    /// When its first validation was registered.
    pub registered_at: String,
    /// Indices into [`ReportModel::validations`], oldest first.
    pub validations: Vec<usize>,
}

impl Build {
    pub fn short_id(&self) -> &str {
        short_id(&self.execution_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportModel {
    pub pipeline: String,
    pub comparison: Option<String>,
    pub timespan_minutes: i64,
    /// Oldest first.
    pub validations: Vec<ValidationRow>,
    /// Oldest first (by their first validation).
    pub builds: Vec<Build>,
    pub charts: Vec<chart::MetricChart>,
    pub slo: Option<slo::SloSection>,
    pub canary: Option<canary::CanarySection>,
    /// Older validations in the timespan are not in this report: it keeps to a row limit and
    /// to what Lambda can answer.
    pub older_left_out: bool,
}

fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Execution ids are UUIDs: eight characters tell builds apart on an axis.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(8).map_or(id, |(end, _)| &id[..end])
}

/// A value as the page prints it: three significant figures or so, no trailing zeros.
pub fn format_number(v: f64) -> String {
    let mut text = String::new();
    write_number(&mut text, v);
    text
}

/// [`format_number`] written onto the end of `out`, for text made of many numbers.
pub fn write_number(out: &mut String, v: f64) {
    use std::fmt::Write;
    if !v.is_finite() {
        let _ = write!(out, "{v}");
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    if v.abs() >= 100.0 && v.abs() < 1e15 {
        // What `{v:.0}` writes (both round the exact value half to even), without the exact
        // decimal expansion `{:.0}` runs: a report writes some 30,000 numbers.
        let _ = write!(out, "{}", v.round_ties_even() as i64);
        return;
    }
    let start = out.len();
    let _ = if v.abs() >= 100.0 {
        write!(out, "{v:.0}")
    } else if v.abs() >= 10.0 {
        write!(out, "{v:.1}")
    } else {
        write!(out, "{v:.2}")
    };
    if out[start..].contains('.') {
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
    }
}

fn validation_row(r: &ValidationRequest) -> ValidationRow {
    let (result, read) = match r.result_json.as_deref() {
        Some(text) => stored::read(text),
        None => (None, None),
    };
    let (evaluation, monspec, canary_result) = match read {
        Some(stored::ReadResult::Slo(e)) => (Some(e), None, None),
        Some(stored::ReadResult::Monspec(m)) => (None, Some(m), None),
        Some(stored::ReadResult::Canary(c)) => (None, None, Some(c)),
        None => (None, None, None),
    };
    let failing_checks = match (&evaluation, &monspec, &canary_result) {
        (Some(e), _, _) => slo_failing(e),
        (None, Some(m), _) => monspec_failing(m),
        (None, None, Some(c)) => canary::failing(c),
        (None, None, None) => Vec::new(),
    };
    let outcome = r.decision.as_ref().map(|d| d.outcome.as_str());
    ValidationRow {
        timestamp: r.timestamp_ms,
        registered_at: rfc3339(r.timestamp_ms),
        comparison: r.comparison.clone(),
        stage: r.stage.clone(),
        execution_id: r.execution_id.clone(),
        approval_action: r.approval_action.clone(),
        status: r.status.as_str().to_string(),
        status_message: r.status_msg.clone(),
        decision: r
            .decision
            .as_ref()
            .map(|d| if d.approve { "Approved" } else { "Rejected" }.to_string()),
        summary: r.decision.as_ref().map(|d| d.summary.clone()),
        verdict: verdict(r.status.as_str(), outcome),
        score: evaluation
            .as_ref()
            .and_then(|e| e.score)
            .or_else(|| canary_result.as_ref().and_then(|c| c.score)),
        failing_checks,
        result,
        evaluation,
        monspec,
        canary: canary_result,
    }
}

/// Validations grouped by execution, in the order each build first registered one. A
/// validation without an execution id is a build of its own.
fn group_by_build(validations: &[ValidationRow]) -> Vec<Build> {
    let mut builds: Vec<Build> = Vec::new();
    let mut by_execution: HashMap<&str, usize> = HashMap::new();
    for (index, v) in validations.iter().enumerate() {
        let existing = if v.execution_id.is_empty() {
            None
        } else {
            by_execution.get(v.execution_id.as_str()).copied()
        };
        match existing {
            Some(b) => builds[b].validations.push(index),
            None => {
                by_execution.insert(&v.execution_id, builds.len());
                builds.push(Build {
                    execution_id: v.execution_id.clone(),
                    registered_at: v.registered_at.clone(),
                    validations: vec![index],
                });
            }
        }
    }
    builds
}

impl ReportModel {
    pub fn build(
        pipeline: &str,
        comparison: Option<&str>,
        timespan_minutes: i64,
        requests: &[ValidationRequest],
    ) -> Self {
        let mut validations: Vec<ValidationRow> = requests
            .iter()
            .filter(|r| comparison.is_none_or(|c| r.comparison == c))
            .map(validation_row)
            .collect();
        validations.sort_by_key(|v| v.timestamp);
        let builds = group_by_build(&validations);
        let charts = chart::charts(&validations, &builds);
        let slo = slo::SloSection::new(slo::take_evaluations(&mut validations));
        let canary = canary::CanarySection::new(&validations);
        ReportModel {
            pipeline: pipeline.to_string(),
            comparison: comparison.map(str::to_string),
            timespan_minutes,
            validations,
            builds,
            charts,
            slo,
            canary,
            older_left_out: false,
        }
    }

    /// The charts of each comparison, in the order the comparisons first ran.
    pub fn charts_by_comparison(&self) -> Vec<(&str, Vec<&chart::MetricChart>)> {
        let mut groups: Vec<(&str, Vec<&chart::MetricChart>)> = Vec::new();
        for c in &self.charts {
            match groups.last_mut() {
                Some((comparison, charts)) if *comparison == c.comparison => charts.push(c),
                _ => groups.push((&c.comparison, vec![c])),
            }
        }
        groups
    }

    /// A build's validations, oldest first.
    pub fn validations_of<'a>(
        &'a self,
        build: &'a Build,
    ) -> impl Iterator<Item = &'a ValidationRow> {
        build.validations.iter().map(|&i| &self.validations[i])
    }

    /// The JSON mode's document (README, "Report JSON").
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.document()).expect("the report serializes")
    }

    /// The same document as text, written straight from the model: building a `Value`
    /// first would copy every result JSON once more.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.document()).expect("the report serializes")
    }

    fn document(&self) -> ReportDocument<'_> {
        ReportDocument {
            schema_version: REPORT_SCHEMA_VERSION,
            older_left_out: self.older_left_out,
            pipeline: &self.pipeline,
            comparison: self.comparison.as_deref(),
            timespan_minutes: self.timespan_minutes,
            validations: &self.validations,
            builds: self
                .builds
                .iter()
                .map(|b| BuildDocument {
                    execution_id: &b.execution_id,
                    registered_at: &b.registered_at,
                    validations: self
                        .validations_of(b)
                        .map(|v| BuildValidationDocument {
                            timestamp: v.timestamp,
                            comparison: &v.comparison,
                            verdict: &v.verdict,
                            score: v.score,
                        })
                        .collect(),
                })
                .collect(),
            slo_evaluations: self
                .slo
                .as_ref()
                .map(|s| s.evaluations.as_slice())
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportDocument<'a> {
    schema_version: u32,
    pipeline: &'a str,
    comparison: Option<&'a str>,
    timespan_minutes: i64,
    validations: &'a [ValidationRow],
    builds: Vec<BuildDocument<'a>>,
    slo_evaluations: &'a [slo::BuildEvaluation],
    older_left_out: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildDocument<'a> {
    execution_id: &'a str,
    registered_at: &'a str,
    validations: Vec<BuildValidationDocument<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildValidationDocument<'a> {
    timestamp: i64,
    comparison: &'a str,
    verdict: &'a str,
    score: Option<f64>,
}

#[derive(askama::Template)]
#[template(path = "report.html")]
pub struct ReportPage<'a> {
    pub model: &'a ReportModel,
    pub json_link: String,
}

#[derive(askama::Template)]
#[template(path = "form.html")]
pub struct FormPage<'a> {
    pub error: Option<&'a str>,
}

/// Query-string encoding for links built into the page.
pub fn query_link(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    format!("?{}", serializer.finish())
}

pub fn render_report(model: &ReportModel) -> String {
    use askama::Template;
    let timespan = model.timespan_minutes.to_string();
    let mut pairs = vec![
        ("pipelineName", model.pipeline.as_str()),
        ("timespan", timespan.as_str()),
    ];
    if let Some(c) = &model.comparison {
        pairs.push(("comparisonName", c.as_str()));
    }
    pairs.push(("json", "true"));
    ReportPage {
        model,
        json_link: query_link(&pairs),
    }
    .render()
    .expect("the report template renders")
}

pub fn render_form(error: Option<&str>) -> String {
    use askama::Template;
    FormPage { error }
        .render()
        .expect("the form template renders")
}

/// Responses carry this policy: no scripts, no external resources, forms only to us.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::test_data::*;
    use super::*;
    use crate::model::store::RequestStatus;
    use serde_json::json;

    /// Three builds: the first passes staging and fails its SLO gate in production, the
    /// second is rejected in staging, the third waits; registrations interleave.
    fn three_builds() -> Vec<ValidationRequest> {
        vec![
            request(
                "11111111-aaaa",
                0,
                "StagingToProduction",
                RequestStatus::Ok,
                Some(monspec_result(Some(400.0), 380.0, 1.0)),
            ),
            request(
                "22222222-bbbb",
                10,
                "StagingToProduction",
                RequestStatus::Violation,
                Some(monspec_result(Some(900.0), 480.0, 0.0)),
            ),
            request(
                "11111111-aaaa",
                20,
                "SLO",
                RequestStatus::Violation,
                Some(slo_result(
                    "fail",
                    50.0,
                    vec![
                        objective("Response time p95", "fail", 700.0, 500.0),
                        objective("Error rate", "pass", 0.0, 0.0),
                    ],
                )),
            ),
            request(
                "33333333-cccc",
                30,
                "StagingToProduction",
                RequestStatus::Waiting,
                None,
            ),
        ]
    }

    fn model() -> ReportModel {
        ReportModel::build("Sample", None, 10_080, &three_builds())
    }

    #[test]
    fn validations_are_grouped_by_build_in_the_order_builds_first_registered() {
        let m = model();
        let builds: Vec<(&str, Vec<&str>)> = m
            .builds
            .iter()
            .map(|b| {
                (
                    b.execution_id.as_str(),
                    m.validations_of(b).map(|v| v.comparison.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            builds,
            [
                ("11111111-aaaa", vec!["StagingToProduction", "SLO"]),
                ("22222222-bbbb", vec!["StagingToProduction"]),
                ("33333333-cccc", vec!["StagingToProduction"]),
            ]
        );
        assert_eq!(m.builds[0].registered_at, "2026-11-21T10:00:00Z");
    }

    #[test]
    fn verdicts_name_what_became_of_the_build() {
        let cases = [
            ("ok", None, "approved", "approved"),
            ("violation", None, "rejected", "rejected"),
            ("waiting", None, "waiting", "waiting"),
            ("evaluating", None, "waiting", "waiting"),
            ("decided", None, "waiting", "waiting"),
            ("decided", Some("ok"), "approved", "approved"),
            ("decided", Some("violation"), "rejected", "rejected"),
            ("decided", Some("manual"), "manual", "left for a person"),
            ("manual", None, "manual", "left for a person"),
            ("superseded", None, "superseded", "superseded"),
            ("error", None, "error", "error"),
            (
                "paused-by-someone",
                None,
                "paused-by-someone",
                "paused-by-someone",
            ),
        ];
        for (status, outcome, expected, label) in cases {
            let v = verdict(status, outcome);
            assert_eq!(
                (v.as_str(), verdict_label(&v)),
                (expected, label),
                "{status} {outcome:?}"
            );
        }
    }

    #[test]
    fn failing_checks_carry_value_target_and_baseline() {
        let m = model();
        let rejected = &m.validations[1];
        assert_eq!(rejected.verdict, "rejected");
        assert_eq!(
            rejected.failing_checks.len(),
            1,
            "{:?}",
            rejected.failing_checks
        );
        assert_eq!(
            rejected.failing_checks[0].figures(),
            "value 900 ms, target 624 ms, baseline 480 ms"
        );
        let slo = &m.validations[2];
        assert_eq!(slo.score, Some(50.0));
        let checks: Vec<(&str, &str, String, &str)> = slo
            .failing_checks
            .iter()
            .map(|c| {
                (
                    c.check.as_str(),
                    c.status.as_str(),
                    c.figures(),
                    c.detail.as_str(),
                )
            })
            .collect();
        assert_eq!(
            checks,
            [(
                "Response time p95",
                "fail",
                "value 700, target 550, baseline 500".to_string(),
                "<=+10% → 550 violated"
            )]
        );
    }

    #[test]
    fn charts_are_per_comparison_with_builds_on_the_x_axis() {
        let m = model();
        let charts: Vec<(&str, &str, Vec<&str>)> = m
            .charts
            .iter()
            .map(|c| {
                (
                    c.comparison.as_str(),
                    c.title.as_str(),
                    c.points.iter().map(|p| short_id(&p.execution_id)).collect(),
                )
            })
            .collect();
        let staging = vec!["11111111", "22222222", "33333333"];
        assert_eq!(
            charts,
            [
                (
                    "StagingToProduction",
                    "SampleJSonService: p90 response time",
                    staging.clone()
                ),
                ("StagingToProduction", "SampleJSonService: hosts", staging),
                (
                    "SLO",
                    "Response time p95 (Response time p95_sli)",
                    vec!["11111111"]
                ),
                ("SLO", "Error rate (Error rate_sli)", vec!["11111111"]),
            ]
        );
        // The waiting build has no value yet: a gap, not 0.
        let p90 = &m.charts[0].points;
        assert_eq!(
            p90.iter().map(|p| p.source).collect::<Vec<_>>(),
            [Some(400.0), Some(900.0), None]
        );
        assert_eq!(m.charts[0].points[1].limit, Some(624.0));
        let groups: Vec<&str> = m.charts_by_comparison().iter().map(|g| g.0).collect();
        assert_eq!(groups, ["StagingToProduction", "SLO"]);
    }

    #[test]
    fn the_page_has_a_row_per_build_newest_first_and_links_executions() {
        let html = render_report(&model());
        let table = &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()];
        assert_eq!(table.matches("<tr>").count(), 3, "{table}");
        let order: Vec<usize> = ["33333333", "22222222", "11111111"]
            .iter()
            .map(|id| table.find(&format!(">{id}</a>")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(table.contains("/executions/11111111-aaaa/timeline"));
        assert!(table.contains("SLO <span class=\"muted\">(Production → Approve)</span>: <span class=\"violation\">rejected</span>, score 50"), "{table}");
        assert!(
            table.contains(
                "<strong>Response time p95</strong> fail: value 700, target 550, baseline 500"
            ),
            "{table}"
        );
        assert!(html.contains("<h3>StagingToProduction</h3>") && html.contains("<h3>SLO</h3>"));
    }

    #[test]
    fn hostile_names_messages_and_reasons_are_escaped() {
        let hostile = "<script>alert(1)</script>";
        let mut objective = objective(hostile, "fail", 1.0, 1.0);
        objective["value"]["metric"] = hostile.into();
        objective["value"]["message"] = hostile.into();
        objective["passTargets"][0]["criteria"] = hostile.into();
        let mut slo = slo_result("fail", 0.0, vec![objective]);
        slo["reason"] = hostile.into();
        slo["service"] = hostile.into();
        slo["result"] = hostile.into();
        let mut monspec = monspec_result(Some(900.0), 480.0, 1.0);
        monspec["configurations"][0]["key"] = hostile.into();
        monspec["configurations"][0]["signatures"][0]["reason"] = hostile.into();
        let mut requests = vec![
            request(hostile, 0, hostile, RequestStatus::Violation, Some(monspec)),
            request("e2", 1, "SLO", RequestStatus::Violation, Some(slo)),
        ];
        requests[0].status_msg = hostile.into();
        requests[0].stage = hostile.into();
        let html = render_report(&ReportModel::build("Sample", None, 60, &requests));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
        assert!(
            html.contains("<title>&#60;script&#62;"),
            "heatmap row title"
        );
    }

    #[test]
    fn the_json_keeps_its_fields_and_gains_builds_verdicts_and_slo_evaluations() {
        let json = model().to_json();
        let first = &json["validations"][0];
        for field in [
            "timestamp",
            "registeredAt",
            "comparison",
            "stage",
            "executionId",
            "approvalAction",
            "status",
            "statusMessage",
            "decision",
            "summary",
            "result",
        ] {
            assert!(first.get(field).is_some(), "validations[].{field}");
        }
        assert_eq!(json["schemaVersion"], 1);
        assert_eq!(first["decision"], "Approved");
        assert_eq!(first["verdict"], "approved");
        assert!(first.get("score").is_none(), "score is for SLO validations");
        assert_eq!(json["validations"][1]["failingChecks"][0]["target"], 624.0);
        assert_eq!(json["validations"][2]["score"], 50.0);
        assert_eq!(
            json["builds"][0],
            json!({"executionId": "11111111-aaaa", "registeredAt": "2026-11-21T10:00:00Z",
                   "validations": [
                       {"timestamp": T0, "comparison": "StagingToProduction", "verdict": "approved", "score": null},
                       {"timestamp": T0 + 1_200_000, "comparison": "SLO", "verdict": "rejected", "score": 50.0}]})
        );
        let evaluation = &json["sloEvaluations"][0];
        assert_eq!(evaluation["executionId"], "11111111-aaaa");
        assert_eq!(evaluation["result"], "fail");
        assert_eq!(evaluation["score"], 50.0);
        assert_eq!(evaluation["window"]["endMs"], T0 + 300_000);
        assert_eq!(
            evaluation["indicatorResults"][0]["passTargets"][0],
            json!({"criteria": "<=+10%", "targetValue": 500.0 * 1.1, "violated": true, "noBaseline": false})
        );
        assert_eq!(json["sloEvaluations"].as_array().unwrap().len(), 1);
        assert_eq!(model().to_json_string(), json.to_string());
    }

    #[test]
    fn an_evaluation_the_gate_writes_reads_in_the_report() {
        use crate::slo::score::{
            Evaluation, IndicatorResult, Outcome, SliValue, Status, TargetResult,
        };
        let evaluation = Evaluation {
            result: Outcome::Warning,
            score: 75.0,
            indicator_results: vec![IndicatorResult {
                display_name: "Throughput".into(),
                status: Status::Warning,
                score: 0.5,
                key_sli: true,
                value: Some(SliValue {
                    metric: "throughput".into(),
                    value: 12.0,
                    compared_value: 0.0,
                    success: true,
                    message: String::new(),
                }),
                pass_targets: vec![TargetResult {
                    criteria: ">=+5%".into(),
                    target_value: 0.0,
                    violated: false,
                    no_baseline: true,
                }],
                warning_targets: vec![],
            }],
            reason: "warning".into(),
            no_baseline: true,
            compared_evaluations: vec![],
            id: None,
            notes: vec![],
        };
        let mut result = serde_json::to_value(&evaluation).unwrap();
        result["gate"] = "slo".into();
        let read = match stored::read(&result.to_string()).1 {
            Some(stored::ReadResult::Slo(e)) => e,
            other => panic!("not read as an evaluation: {other:?}"),
        };
        assert_eq!(read.result, "warning");
        assert_eq!(read.score, Some(75.0));
        let objective = &read.indicator_results[0];
        assert_eq!(
            (
                objective.status.as_str(),
                objective.key_sli,
                objective.measured(),
                objective.baseline()
            ),
            ("warning", true, Some(12.0), None)
        );
        // Without the gate marker it is a monspec result.
        result["gate"] = Value::Null;
        assert!(matches!(
            stored::read(&result.to_string()).1,
            Some(stored::ReadResult::Monspec(_))
        ));
    }

    fn get<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_form_shows_without_a_pipeline_and_defaults_apply() {
        assert_eq!(parse_request(get(&[])).unwrap(), ReportRequest::Form);
        assert_eq!(
            parse_request(get(&[("pipelineName", "Sample")])).unwrap(),
            ReportRequest::Report {
                pipeline: "Sample".into(),
                comparison: None,
                timespan_minutes: 10_080,
                json: false
            }
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            (
                vec![("pipelineName", "<script>")],
                "pipelineName \"<script>\" is not a pipeline name",
            ),
            (
                vec![("pipelineName", "A"), ("timespan", "-1")],
                "timespan must be a whole number of minutes",
            ),
            (
                vec![("pipelineName", "A"), ("timespan", "1e9")],
                "timespan must be a whole number of minutes",
            ),
            (
                vec![("pipelineName", "A"), ("json", "yes")],
                "json must be true or false, got \"yes\"",
            ),
            (
                vec![("json", "true")],
                "pipelineName is required with json=true",
            ),
        ];
        for (pairs, expected) in cases {
            let e = parse_request(get(&pairs)).unwrap_err();
            assert!(e.contains(expected), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn numbers_read_as_three_figures_or_so_and_whole_from_100_on() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (0.125, "0.12"),
            (1.5, "1.5"),
            (12.25, "12.2"),
            (99.96, "100"),
            (100.5, "100"),
            (101.5, "102"),
            (-250.5, "-250"),
            (812.4, "812"),
            (1e15, "1000000000000000"),
            (f64::INFINITY, "inf"),
        ];
        for (v, text) in cases {
            assert_eq!(format_number(v), text, "{v}");
            assert_eq!(format_number(v), {
                let exact = format!("{v:.0}");
                if v.abs() >= 100.0 && v.is_finite() {
                    exact
                } else {
                    text.to_string()
                }
            });
        }
    }

    #[test]
    fn the_form_escapes_the_error() {
        let html = render_form(Some("pipelineName \"<script>alert(1)</script>\" is bad"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
    }
}
