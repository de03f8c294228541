//! Keptn's lighthouse scoring (lighthouse-service `evaluate_sli_handler.go`, Keptn 1.4.5),
//! with three deliberate differences that fail closed: only info objectives fail ("nothing
//! to judge") instead of passing with 100; a relative criterion without a baseline is marked
//! `noBaseline` (and violated when `comparison.require_baseline` is set); the file checks of
//! [`super::file`] refuse what Keptn would silently skip.

use serde::{Deserialize, Serialize};

use super::criteria::Criterion;
use super::file::{Aggregate, IncludeResults, Objective, Slo};

/// One measured SLI, Keptn's SLIResult.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliValue {
    pub metric: String,
    #[serde(default)]
    pub value: f64,
    /// The baseline the value was compared with (0 without one, as Keptn writes it).
    #[serde(default)]
    pub compared_value: f64,
    pub success: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResult {
    pub criteria: String,
    pub target_value: f64,
    pub violated: bool,
    /// Ours: a relative criterion that had no baseline to compare with.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_baseline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warning,
    Fail,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorResult {
    pub display_name: String,
    pub status: Status,
    pub score: f64,
    pub key_sli: bool,
    pub value: Option<SliValue>,
    pub pass_targets: Vec<TargetResult>,
    pub warning_targets: Vec<TargetResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warning,
    Fail,
}

/// An evaluation, with Keptn's evaluation.finished field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub result: Outcome,
    pub score: f64,
    pub indicator_results: Vec<IndicatorResult>,
    /// Why the result is what it is, in one line.
    #[serde(default)]
    pub reason: String,
    /// Relative criteria that had no baseline (met, as in Keptn, unless required).
    #[serde(default)]
    pub no_baseline: bool,
    /// Ids of the earlier evaluations the baselines came from (those that carry an id).
    #[serde(default)]
    pub compared_evaluations: Vec<String>,
    /// Optional id of this evaluation, for the ones after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Ours: what a reader should know about how the values were measured, e.g. that a
    /// peer's default query was used because sli.yaml has none for an SLI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What an earlier evaluation must carry to serve as a baseline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousEvaluation {
    pub result: Outcome,
    #[serde(default)]
    pub score: f64,
    #[serde(default)]
    pub indicator_results: Vec<PreviousIndicator>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreviousIndicator {
    pub value: Option<SliValue>,
}

/// The earlier evaluations that make the baseline: newest first, filtered by result, the N
/// newest (an evaluation without values still takes its place, as in Keptn).
pub fn compared_evaluations<'a>(
    slo: &Slo,
    previous: &'a [PreviousEvaluation],
) -> Vec<&'a PreviousEvaluation> {
    let included = previous.iter().filter(|p| match slo.comparison.include {
        IncludeResults::All => true,
        IncludeResults::Pass => p.result == Outcome::Pass,
        IncludeResults::PassOrWarn => matches!(p.result, Outcome::Pass | Outcome::Warning),
    });
    match slo.comparison.results {
        Some(n) => included.take(n).collect(),
        None => included.collect(),
    }
}

/// Keptn's percentile: pos = p·(n+1) over the ascending values, clamped to the ends,
/// linear between neighbours.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let pos = p * (n as f64 + 1.0);
    if pos < 1.0 {
        sorted[0]
    } else if pos >= n as f64 {
        sorted[n - 1]
    } else {
        let lower = sorted[pos as usize - 1];
        let upper = sorted[pos as usize];
        lower + (pos - pos.floor()) * (upper - lower)
    }
}

/// The baseline of one SLI: its successful values in the compared evaluations, aggregated.
fn baseline(slo: &Slo, sli: &str, compared: &[&PreviousEvaluation]) -> Option<f64> {
    let values: Vec<f64> = compared
        .iter()
        .flat_map(|e| e.indicator_results.iter())
        .filter_map(|i| i.value.as_ref())
        .filter(|v| v.metric == sli && v.success)
        .map(|v| v.value)
        .collect();
    if values.is_empty() {
        return None;
    }
    Some(match slo.comparison.aggregate {
        Aggregate::Avg => values.iter().sum::<f64>() / values.len() as f64,
        Aggregate::Percentile(p) => percentile(&values, p),
    })
}

/// Alternatives ORed, criteria within one ANDed; every criterion reported.
fn judge(
    blocks: &[Vec<Criterion>],
    value: f64,
    baseline: Option<f64>,
    require_baseline: bool,
) -> (bool, Vec<TargetResult>) {
    let mut any = false;
    let mut targets = Vec::new();
    for block in blocks {
        let mut all = true;
        for c in block {
            let (holds, target, no_baseline) = match c.target_value(baseline) {
                Some(t) => (c.operator.holds(value, t), t, false),
                // Keptn: met, target 0. Ours too, marked; or violated when required.
                None => (!require_baseline, 0.0, true),
            };
            all &= holds;
            targets.push(TargetResult {
                criteria: c.text.clone(),
                target_value: target,
                violated: !holds,
                no_baseline,
            });
        }
        any |= all;
    }
    (any, targets)
}

/// Keptn's targets for an objective that could not be judged: all violated, the absolute
/// number or the unadjusted baseline.
fn unjudged_targets(blocks: &[Vec<Criterion>], baseline: Option<f64>) -> Vec<TargetResult> {
    blocks
        .iter()
        .flatten()
        .map(|c| TargetResult {
            criteria: c.text.clone(),
            target_value: if c.is_relative() {
                baseline.unwrap_or(0.0)
            } else {
                c.target_value(None).unwrap_or(0.0)
            },
            violated: true,
            no_baseline: false,
        })
        .collect()
}

fn display(o: &Objective) -> &str {
    if o.display_name.is_empty() {
        &o.sli
    } else {
        &o.display_name
    }
}

/// Score `measured` against `slo`, with `previous` (newest first, before filtering) as the
/// history baselines come from.
pub fn evaluate(slo: &Slo, measured: &[SliValue], previous: &[PreviousEvaluation]) -> Evaluation {
    let compared = compared_evaluations(slo, previous);
    let mut remaining: Vec<SliValue> = measured.to_vec();
    let mut tally = Tally::default();
    for o in &slo.objectives {
        let base = baseline(slo, &o.sli, &compared);
        // Keptn takes the first value of the SLI and removes it: a second objective of the
        // same SLI finds none (the file check refuses that case anyway).
        let value = remaining
            .iter()
            .position(|v| v.metric == o.sli)
            .map(|i| remaining.swap_remove(i));
        tally.add(slo, o, value, base);
    }
    let compared_ids = compared.iter().filter_map(|e| e.id.clone()).collect();
    tally.into_evaluation(slo, compared_ids)
}

/// What scoring the objectives one by one adds up to.
#[derive(Default)]
struct Tally {
    indicators: Vec<IndicatorResult>,
    /// The weight of the objectives with pass criteria: what a full score is.
    maximum: f64,
    /// The last key SLI that failed or had no value, in words.
    key_failure: Option<String>,
    /// Whether a relative criterion had no baseline.
    no_baseline: bool,
}

impl Tally {
    /// Score one objective with its `value` (if measured) and its baseline `base`.
    fn add(&mut self, slo: &Slo, o: &Objective, value: Option<SliValue>, base: Option<f64>) {
        if o.pass.is_empty() {
            self.indicators.push(IndicatorResult {
                display_name: o.display_name.clone(),
                status: Status::Info,
                score: 0.0,
                key_sli: false,
                value,
                pass_targets: Vec::new(),
                warning_targets: unjudged_targets(&o.warning, base),
            });
            return;
        }
        self.maximum += o.weight;
        match value {
            Some(v) if v.success => self.add_judged(slo, o, v, base),
            other => self.add_unmeasured(o, other, base),
        }
    }

    /// An objective without a successful value fails, every target violated.
    fn add_unmeasured(&mut self, o: &Objective, value: Option<SliValue>, base: Option<f64>) {
        let value = value.unwrap_or_else(|| SliValue {
            metric: o.sli.clone(),
            value: 0.0,
            compared_value: 0.0,
            success: false,
            message: "no value received from SLI provider".into(),
        });
        if o.key_sli {
            self.key_failure = Some(format!(
                "key SLI {} has no value: {}",
                display(o),
                if value.message.is_empty() {
                    "the provider gave none"
                } else {
                    &value.message
                }
            ));
        }
        self.indicators.push(IndicatorResult {
            display_name: o.display_name.clone(),
            status: Status::Fail,
            score: 0.0,
            key_sli: o.key_sli,
            value: Some(value),
            pass_targets: unjudged_targets(&o.pass, base),
            warning_targets: unjudged_targets(&o.warning, base),
        });
    }

    /// An objective with its `measured` value judged against its pass and warning criteria.
    fn add_judged(&mut self, slo: &Slo, o: &Objective, measured: SliValue, base: Option<f64>) {
        let require = slo.comparison.require_baseline;
        let (passed, pass_targets) = judge(&o.pass, measured.value, base, require);
        let (warned, warning_targets) = if o.warning.is_empty() {
            (false, Vec::new())
        } else {
            judge(&o.warning, measured.value, base, require)
        };
        self.no_baseline |= pass_targets
            .iter()
            .chain(&warning_targets)
            .any(|t| t.no_baseline);
        let (status, score) = if passed {
            (Status::Pass, o.weight)
        } else if warned {
            (Status::Warning, 0.5 * o.weight)
        } else {
            if o.key_sli {
                self.key_failure = Some(format!("key SLI {} failed", display(o)));
            }
            (Status::Fail, 0.0)
        };
        self.indicators.push(IndicatorResult {
            display_name: o.display_name.clone(),
            status,
            score,
            key_sli: o.key_sli,
            value: Some(SliValue {
                // Keptn writes the aggregated baseline (0 without one) for Bridge to show.
                compared_value: base.unwrap_or(0.0),
                ..measured
            }),
            pass_targets,
            warning_targets,
        });
    }

    /// The total score against `slo`'s targets, with the reason.
    fn into_evaluation(self, slo: &Slo, compared_ids: Vec<String>) -> Evaluation {
        let Tally {
            indicators,
            maximum,
            key_failure,
            no_baseline,
        } = self;
        let finish = |result, score, reason: String, indicator_results| Evaluation {
            result,
            score,
            indicator_results,
            reason,
            no_baseline,
            compared_evaluations: compared_ids,
            id: None,
            notes: Vec::new(),
        };
        if maximum == 0.0 {
            return finish(
                Outcome::Fail,
                0.0,
                "nothing to judge: no objective has pass criteria (Keptn would pass with 100); add pass criteria to at least one objective".into(),
                indicators,
            );
        }
        // Keptn adds the scores of indicators with pass targets only.
        let total: f64 = indicators
            .iter()
            .filter(|i| !i.pass_targets.is_empty())
            .map(|i| i.score)
            .sum();
        let score = 100.0 * (total / maximum);
        let (result, reason) = overall_result(slo, score, key_failure, no_baseline);
        finish(result, score, reason, indicators)
    }
}

/// Pass, warning or fail for the total `score`; a failed key SLI fails whatever the score.
fn overall_result(
    slo: &Slo,
    score: f64,
    key_failure: Option<String>,
    no_baseline: bool,
) -> (Outcome, String) {
    // The reason shows the score as a person reads it; the field keeps the exact value.
    let shown = crate::text::number(score);
    let baseline_note = if no_baseline {
        "; relative criteria without a baseline were counted as met"
    } else {
        ""
    };
    if score >= slo.pass_score && key_failure.is_none() {
        (
            Outcome::Pass,
            format!(
                "score {shown} reaches the pass target {}{baseline_note}",
                slo.pass_score
            ),
        )
    } else if let (Some(warning), None) = (slo.warning_score, &key_failure) {
        if score >= warning {
            (
                Outcome::Warning,
                format!("score {shown} is below the pass target {} but reaches the warning target {warning}{baseline_note}", slo.pass_score),
            )
        } else {
            (
                Outcome::Fail,
                format!("score {shown} is below the warning target {warning}{baseline_note}"),
            )
        }
    } else if let Some(key) = key_failure {
        (Outcome::Fail, format!("{key}{baseline_note}"))
    } else {
        (
            Outcome::Fail,
            format!(
                "score {shown} is below the pass target {}{baseline_note}",
                slo.pass_score
            ),
        )
    }
}

/// The result when there is nothing to score: no slo.yaml, an unreadable one, or an SLI
/// provider error (Keptn passes without a file; we fail, with the reason).
pub fn failed(reason: impl Into<String>) -> Evaluation {
    Evaluation {
        result: Outcome::Fail,
        score: 0.0,
        indicator_results: Vec::new(),
        reason: reason.into(),
        no_baseline: false,
        compared_evaluations: Vec::new(),
        id: None,
        notes: Vec::new(),
    }
}
