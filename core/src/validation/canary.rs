//! The canary gate, pure: what a [`Judgement`] does to the approval, the approval's summary,
//! and the record the worker stores with the request (the judgement with every statistic,
//! plus the distributions the report draws).
//!
//! One case is the gate's own, not the judge's: when the control has no points for any
//! metric while the experiment has points for every one, nothing was compared (the first
//! deployment to an environment, or a control scope that names nothing). The judge scores
//! that 0 (every metric without data); the gate calls it `no control` and lets `onMarginal`
//! decide, as the monspec gate warns and the SLO gate marks "no baseline" there. With the
//! default `manual` a person looks; nothing is approved without the summary saying why.

use serde::Serialize;

use crate::compare::format::num;
use crate::compare::transforms::{percentile, transform};
use crate::compare::{
    Classification, CompareConfig, EffectMeasure, Judgement, MetricResult, RunResult, Samples,
};
use crate::evaluation::verdict::SUMMARY_LIMIT;
use crate::model::store::{OnWarning, RequestStatus};

/// `"gate"` of a stored canary judgement.
pub const CANARY_GATE: &str = "canary";
pub const RECORD_SCHEMA_VERSION: u32 = 1;
/// Points kept per side and metric for the report's strip plot. More are summarised by this
/// many evenly spaced quantiles: a day of 10 s steps would not fit a DynamoDB item.
pub const SHOWN_POINTS: usize = 100;

/// What the gate makes of a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CanaryOutcome {
    Pass,
    Marginal,
    Fail,
    /// The control had no points for any metric; the experiment had points for every one.
    NoControl,
}

impl CanaryOutcome {
    pub fn word(self) -> &'static str {
        match self {
            CanaryOutcome::Pass => "PASS",
            CanaryOutcome::Marginal => "MARGINAL",
            CanaryOutcome::Fail => "FAIL",
            CanaryOutcome::NoControl => "NO CONTROL",
        }
    }
}

/// The judge's result, or [`CanaryOutcome::NoControl`]. Muted metrics do not count; with no
/// metric left, the judge's result (a fail) stands.
pub fn outcome(judgement: &Judgement) -> CanaryOutcome {
    let scored: Vec<&MetricResult> = judgement.metrics.iter().filter(|m| !m.muted).collect();
    let no_control = !scored.is_empty()
        && scored
            .iter()
            .all(|m| m.control.count == 0 && m.experiment.count > 0);
    if no_control {
        return CanaryOutcome::NoControl;
    }
    // Under nanStrategy replace the judge passes a metric whose experiment had no point at
    // all (every step made 0): nothing of this build was judged there, so not a pass.
    let unmeasured = scored.iter().any(|m| m.experiment.count == 0);
    match judgement.result {
        RunResult::Pass if unmeasured => CanaryOutcome::Marginal,
        RunResult::Pass => CanaryOutcome::Pass,
        RunResult::Marginal => CanaryOutcome::Marginal,
        RunResult::Fail => CanaryOutcome::Fail,
    }
}

/// What an outcome does to the approval: `(approve, final status)`. Marginal and no control
/// follow `onMarginal`; `manual` sends nothing and leaves the approval to a person.
pub fn canary_decision(outcome: CanaryOutcome, on_marginal: OnWarning) -> (bool, RequestStatus) {
    match (outcome, on_marginal) {
        (CanaryOutcome::Pass, _) => (true, RequestStatus::Ok),
        (CanaryOutcome::Fail, _) => (false, RequestStatus::Violation),
        (_, OnWarning::Approve) => (true, RequestStatus::Ok),
        (_, OnWarning::Reject) => (false, RequestStatus::Violation),
        (_, OnWarning::Manual) => (false, RequestStatus::Manual),
    }
}

/// "mean ratio 3.2", "CLES 0.91", or why there is no ratio.
fn effect_text(m: &MetricResult) -> String {
    match (m.effect_size_measure, m.effect_size) {
        (EffectMeasure::Cles, Some(e)) if e.is_finite() => format!("CLES {}", num(e)),
        (EffectMeasure::MeanRatio, Some(e)) if e.is_finite() => format!("mean ratio {}", num(e)),
        (EffectMeasure::MeanRatio, Some(_)) => "no mean ratio (a mean is 0)".into(),
        _ => String::new(),
    }
}

/// Which side had no points, for a reviewer.
fn empty_side(m: &MetricResult) -> &'static str {
    match (m.control.count == 0, m.experiment.count == 0) {
        (true, true) => "no points on either side",
        (false, true) => "no points in the experiment",
        (true, false) => "no points in the control",
        (false, false) => "too few points",
    }
}

/// One metric that did not pass, or passed without the power to fail; `None` otherwise.
fn metric_clause(m: &MetricResult) -> Option<String> {
    let critical = if m.critical { " [critical]" } else { "" };
    match m.classification {
        Classification::High | Classification::Low => {
            let word = if m.classification == Classification::High {
                "HIGH"
            } else {
                "LOW"
            };
            let mut clause = format!("{}{critical} {word}", m.name);
            if let Some(mw) = &m.mann_whitney {
                clause.push_str(&format!(" p={}", num(mw.p_value)));
            }
            let effect = effect_text(m);
            if !effect.is_empty() {
                clause.push(' ');
                clause.push_str(&effect);
            }
            Some(clause)
        }
        Classification::Nodata => Some(format!("{}{critical} nodata ({})", m.name, empty_side(m))),
        Classification::NodataFail => Some(format!(
            "{} nodata ({}, mustHaveData)",
            m.name,
            empty_side(m)
        )),
        Classification::Pass if m.control.count == 0 || m.experiment.count == 0 => Some(format!(
            "{} pass WITHOUT DATA ({}; nanStrategy replace made its steps 0: set mustHaveData to fail it)",
            m.name,
            empty_side(m)
        )),
        // A pass that could not have been a fail is no evidence: say so (the spec's §9).
        Classification::Pass => m
            .power
            .filter(|p| !p.detectable)
            .map(|p| format!("{} pass but {}", m.name, p.sentence())),
    }
}

/// `canary FAIL (score 40): error_rate HIGH p=1e-4 mean ratio 3.2; latency_p90 nodata —
/// <the judge's reason> Report: URL`, at most [`SUMMARY_LIMIT`] characters with the link
/// kept whole. Failed metrics come first, then those without data, then passes that could
/// not have failed.
pub fn approval_summary(
    judgement: &Judgement,
    outcome: CanaryOutcome,
    control: &str,
    report_url: Option<&str>,
) -> String {
    let mut line = if outcome == CanaryOutcome::NoControl {
        format!(
            "canary NO CONTROL (as marginal): the control {control} had no points for any metric over the window, so nothing was compared (a first deployment there?)"
        )
    } else {
        let rank = |m: &&MetricResult| match m.classification {
            Classification::High | Classification::Low => 0,
            Classification::NodataFail | Classification::Nodata => 1,
            Classification::Pass => 2,
        };
        let mut shown: Vec<&MetricResult> = judgement.metrics.iter().filter(|m| !m.muted).collect();
        shown.sort_by_key(rank);
        let clauses: Vec<String> = shown.into_iter().filter_map(metric_clause).collect();
        let mut line = format!(
            "canary {} (score {}): ",
            outcome.word(),
            num(judgement.score)
        );
        if clauses.is_empty() {
            let n = judgement.metrics.iter().filter(|m| !m.muted).count();
            line.push_str(&format!("every metric passed ({n})"));
        } else {
            line.push_str(&clauses.join("; "));
        }
        if let Some(reason) = &judgement.reason {
            line.push_str(&format!(" — {reason}"));
        }
        line
    };
    let tail = report_url
        .map(|u| format!(" Report: {u}"))
        .unwrap_or_default();
    line = crate::text::truncate_chars(&line, SUMMARY_LIMIT.saturating_sub(tail.chars().count()));
    line.push_str(&tail);
    line
}

/// One side's points as judged (after the NaN strategy and outliers), for the report's box
/// and strip plot. Quartiles are Hyndman–Fan type 7, as the judge's outlier fences.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub count: usize,
    pub min: Option<f64>,
    pub q1: Option<f64>,
    pub median: Option<f64>,
    pub q3: Option<f64>,
    pub max: Option<f64>,
    /// Every point, ascending; or [`SHOWN_POINTS`] evenly spaced quantiles of them when
    /// `sampled`.
    pub points: Vec<f64>,
    pub sampled: bool,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |p: f64| (!sorted.is_empty()).then(|| percentile(&sorted, p));
        let sampled = sorted.len() > SHOWN_POINTS;
        let points = if sampled {
            (0..SHOWN_POINTS)
                .map(|i| percentile(&sorted, 100.0 * i as f64 / (SHOWN_POINTS - 1) as f64))
                .collect()
        } else {
            sorted.clone()
        };
        Spread {
            count: sorted.len(),
            min: at(0.0),
            q1: at(25.0),
            median: at(50.0),
            q3: at(75.0),
            max: at(100.0),
            points,
            sampled,
        }
    }
}

/// Both sides of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    pub name: String,
    pub control: Spread,
    pub experiment: Spread,
}

/// Each metric's two sides as the judge saw them (the same transforms), in the config's order.
pub fn distributions(
    config: &CompareConfig,
    control: &Samples,
    experiment: &Samples,
) -> Vec<Distribution> {
    config
        .metrics
        .iter()
        .map(|m| Distribution {
            name: m.name.clone(),
            control: Spread::of(&transform(control.series(&m.name), m)),
            experiment: Spread::of(&transform(experiment.series(&m.name), m)),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordWindow {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A canary judgement as the pipeline stores it: the judgement's document (the output of
/// `unbreakable compare --format json`, every statistic) at the top level, plus where and
/// over what it was measured and what the gate made of it. It is the validation's result
/// JSON and what the report draws.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRecord {
    pub schema_version: u32,
    /// Always [`CANARY_GATE`]: how a reader tells this result from the others.
    pub gate: &'static str,
    #[serde(flatten)]
    pub judgement: Judgement,
    /// The gate's outcome: the judgement's result, or `noControl`.
    pub outcome: CanaryOutcome,
    /// The experiment's window; the control's is shifted by its scope's offset.
    pub window: RecordWindow,
    pub control_scope: String,
    pub experiment_scope: String,
    pub provider: String,
    /// SHA-256 of the canary file's text.
    pub canary_hash: String,
    pub step_ms: u64,
    /// Requests made to the provider for this judgement.
    pub requests: u64,
    /// Why a side of a metric had no points (the provider's answer).
    pub notes: Vec<String>,
    pub distributions: Vec<Distribution>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{judge, CompareConfig, Direction, MetricConfig};

    fn metric(name: &str) -> MetricConfig {
        let mut m = MetricConfig::named(name);
        m.direction = Direction::Increase;
        m
    }

    fn series(n: usize, base: f64) -> Vec<f64> {
        // Deterministic spread: 0..22 around the base.
        (0..n).map(|i| base + ((i * 37) % 23) as f64).collect()
    }

    fn judged(latency: (Vec<f64>, Vec<f64>), errors: (Vec<f64>, Vec<f64>)) -> Judgement {
        let config = CompareConfig::with_metrics(vec![metric("latency"), metric("error_rate")]);
        judge(
            &config,
            &Samples::from_values([("latency", latency.0), ("error_rate", errors.0)]),
            &Samples::from_values([("latency", latency.1), ("error_rate", errors.1)]),
        )
    }

    #[test]
    fn a_pass_with_an_experiment_metric_without_points_is_marginal_and_says_so() {
        // Under replace the judge passes a metric whose experiment had no point at all.
        let mut errors = metric("error_rate");
        errors.nan_strategy = crate::compare::NanStrategy::Replace;
        let config = CompareConfig::with_metrics(vec![metric("latency"), errors]);
        let j = judge(
            &config,
            &Samples::from_values([
                ("latency", series(30, 300.0)),
                ("error_rate", vec![0.0; 30]),
            ]),
            &Samples::from_values([("latency", series(30, 300.0)), ("error_rate", vec![])]),
        );
        assert_eq!(j.result, RunResult::Pass, "{j:?}");
        assert_eq!(outcome(&j), CanaryOutcome::Marginal);
        let line = approval_summary(&j, outcome(&j), "c", None);
        assert!(
            line.contains("error_rate pass WITHOUT DATA (no points in the experiment; "),
            "{line}"
        );
    }

    #[test]
    fn outcomes_become_decisions() {
        use CanaryOutcome::*;
        use OnWarning::*;
        use RequestStatus as S;
        let cases = [
            (Pass, Reject, (true, S::Ok)),
            (Fail, Approve, (false, S::Violation)),
            (Marginal, Manual, (false, S::Manual)),
            (Marginal, Approve, (true, S::Ok)),
            (Marginal, Reject, (false, S::Violation)),
            (NoControl, Manual, (false, S::Manual)),
            (NoControl, Approve, (true, S::Ok)),
            (NoControl, Reject, (false, S::Violation)),
        ];
        for (outcome, policy, expected) in cases {
            assert_eq!(
                canary_decision(outcome, policy),
                expected,
                "{outcome:?} {policy:?}"
            );
        }
    }

    #[test]
    fn a_pass_says_so_with_the_score() {
        let j = judged(
            (series(30, 300.0), series(30, 300.0)),
            (vec![0.0; 30], vec![0.0; 30]),
        );
        assert_eq!(outcome(&j), CanaryOutcome::Pass);
        let line = approval_summary(&j, CanaryOutcome::Pass, "sample-Production", None);
        assert_eq!(line, "canary PASS (score 100): every metric passed (2)");
    }

    #[test]
    fn a_failure_leads_with_result_and_score_and_names_each_failed_metric_with_p_and_effect() {
        let j = judged(
            (series(30, 300.0), series(30, 600.0)),
            (vec![0.0; 30], vec![0.1; 30]),
        );
        assert_eq!(outcome(&j), CanaryOutcome::Fail);
        let line = approval_summary(
            &j,
            CanaryOutcome::Fail,
            "sample-Production",
            Some("https://r.example/report"),
        );
        assert!(
            line.starts_with("canary FAIL (score 0): latency HIGH p="),
            "{line}"
        );
        assert!(line.contains(" mean ratio 1.9"), "{line}");
        // The control's errors are all 0: no ratio, the test alone decided.
        assert!(
            line.contains("error_rate HIGH p=") && line.contains("no mean ratio (a mean is 0)"),
            "{line}"
        );
        assert!(
            line.ends_with(" Report: https://r.example/report"),
            "{line}"
        );
        assert!(line.chars().count() <= SUMMARY_LIMIT);
    }

    #[test]
    fn no_data_and_passes_that_could_not_have_failed_are_named() {
        let j = judged(
            (series(5, 300.0), series(5, 301.0)),
            (vec![0.0; 30], vec![]),
        );
        let line = approval_summary(&j, outcome(&j), "c", None);
        assert!(line.starts_with("canary FAIL (score 0): error_rate nodata (no points in the experiment); latency pass but not detectable with n = 5 per side — "), "{line}");
    }

    #[test]
    fn an_empty_control_with_a_measured_experiment_is_no_control() {
        let j = judged((vec![], series(30, 300.0)), (vec![], vec![0.0; 30]));
        assert_eq!(
            j.result,
            RunResult::Fail,
            "the judge: every metric without data"
        );
        assert_eq!(outcome(&j), CanaryOutcome::NoControl);
        let line = approval_summary(&j, CanaryOutcome::NoControl, "sample-Production@-1h", None);
        assert!(
            line.starts_with("canary NO CONTROL (as marginal): the control sample-Production@-1h had no points for any metric"),
            "{line}"
        );
        // The experiment missing too is not a first deployment: nothing was measured.
        let j = judged((vec![], series(30, 300.0)), (vec![], vec![]));
        assert_eq!(outcome(&j), CanaryOutcome::Fail);
    }

    #[test]
    fn a_long_summary_keeps_the_report_link_whole() {
        let names: Vec<String> = (0..40)
            .map(|i| format!("metric_with_a_long_name_{i}"))
            .collect();
        let config = CompareConfig::with_metrics(names.iter().map(|n| metric(n)).collect());
        let control = Samples::from_values(names.iter().map(|n| (n.clone(), series(30, 1.0))));
        let experiment = Samples::from_values(names.iter().map(|n| (n.clone(), series(30, 100.0))));
        let j = judge(&config, &control, &experiment);
        let line = approval_summary(&j, outcome(&j), "c", Some("https://r.example/report"));
        assert_eq!(line.chars().count(), SUMMARY_LIMIT, "{line}");
        assert!(line.ends_with(" Report: https://r.example/report"));
    }

    #[test]
    fn spreads_keep_every_point_or_evenly_spaced_quantiles() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 5.0, 4.0]);
        assert_eq!(
            (s.count, s.min, s.q1, s.median, s.q3, s.max),
            (5, Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0))
        );
        assert_eq!(s.points, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(!s.sampled);
        let many: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let s = Spread::of(&many);
        assert!(s.sampled);
        assert_eq!(s.points.len(), SHOWN_POINTS);
        assert_eq!((s.points[0], s.points[SHOWN_POINTS - 1]), (0.0, 9_999.0));
        let empty = Spread::of(&[]);
        assert_eq!((empty.count, empty.median), (0, None));
    }

    #[test]
    fn distributions_are_the_series_as_judged() {
        let mut m = metric("latency");
        m.nan_strategy = crate::compare::NanStrategy::Replace;
        let config = CompareConfig::with_metrics(vec![m]);
        let mut control = Samples::new();
        control.insert("latency", vec![Some(2.0), None, Some(1.0)]);
        let d = distributions(&config, &control, &Samples::new());
        assert_eq!(d[0].control.points, vec![0.0, 1.0, 2.0], "None made 0");
        assert_eq!(d[0].experiment.count, 0);
    }

    #[test]
    fn the_record_is_the_judgement_with_the_gates_fields() {
        let j = judged(
            (series(30, 300.0), series(30, 301.0)),
            (vec![0.0; 30], vec![0.0; 30]),
        );
        let record = CanaryRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            gate: CANARY_GATE,
            judgement: j,
            outcome: CanaryOutcome::Pass,
            window: RecordWindow {
                start_ms: 1,
                end_ms: 2,
            },
            control_scope: "sample-Production".into(),
            experiment_scope: "sample-Staging".into(),
            provider: "prometheus".into(),
            canary_hash: "h".into(),
            step_ms: 1_000,
            requests: 6,
            notes: vec![],
            distributions: vec![],
        };
        let v = serde_json::to_value(&record).unwrap();
        assert_eq!(v["gate"], "canary");
        assert_eq!(
            v["result"], "pass",
            "the judgement's fields at the top level"
        );
        assert_eq!(v["outcome"], "pass");
        assert_eq!(
            v["metrics"][0]["mannWhitney"]["zCritical"]
                .as_f64()
                .map(|z| z > 2.3),
            Some(true)
        );
        assert_eq!(v["window"]["endMs"], 2);
        assert_eq!(v["controlScope"], "sample-Production");
        assert_eq!(
            serde_json::to_value(CanaryOutcome::NoControl).unwrap(),
            "noControl"
        );
    }
}
