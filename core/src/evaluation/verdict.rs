//! The verdict: every signature's numbers and reason, the decision, and the renderings built
//! from it (summary line, versioned result JSON, filled monspec in the original format).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::rules::{judge, Baseline, Outcome, RuleInput};
use super::{ConfigurationObservations, ConfigurationPlan, ValidationPlan};
use crate::model::metrics::{Measurement, TimeWindow, Unit};
use crate::monspec::{Direction, MissingDataPolicy};

/// Version of the result JSON layout (README: "Result JSON").
pub const RESULT_SCHEMA_VERSION: u32 = 1;
/// CodePipeline limits an approval summary to 512 characters.
pub const SUMMARY_LIMIT: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictStatus {
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub schema_version: u32,
    pub comparison: String,
    pub status: VerdictStatus,
    pub summary: String,
    pub start_ms: i64,
    pub window_ms: i64,
    pub counts: Counts,
    pub warnings: Vec<String>,
    pub configurations: Vec<ConfigurationResult>,
}

/// Signature counts by outcome. `blocking` counts the signatures that stop approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub signatures: usize,
    pub pass: usize,
    pub violation: usize,
    pub nodata: usize,
    pub error: usize,
    pub blocking: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationResult {
    pub key: String,
    pub etype: String,
    pub source: EnvironmentResult,
    pub compare: Option<EnvironmentResult>,
    pub signatures: Vec<SignatureResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentResult {
    pub environment: String,
    pub window: TimeWindow,
    /// Resolved entity ids; `None` when the lookup failed.
    pub entities: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureResult {
    /// JSON path inside the configuration, e.g. `servicemethods[0].perfsignature[1]`.
    pub path: String,
    /// The service method name, for service-method signatures.
    pub method: Option<String>,
    /// Timeseries id, or the smartscape relationship.
    pub metric: String,
    pub label: String,
    pub aggregate: String,
    pub validate: Direction,
    pub unit: Unit,
    pub outcome: Outcome,
    pub source_value: Option<f64>,
    pub compare_value: Option<f64>,
    pub upper_limit: Option<f64>,
    pub lower_limit: Option<f64>,
    /// `static` or `relative`.
    pub limit_kind: &'static str,
    pub scale_factor_perc: Option<f64>,
    pub on_missing_data: MissingDataPolicy,
    pub blocks_approval: bool,
    pub reason: String,
    /// Approximations and v2 stand-ins used to get the numbers.
    pub notes: Vec<String>,
}

pub(super) fn judge_configuration(
    cp: &ConfigurationPlan,
    obs: &ConfigurationObservations,
) -> ConfigurationResult {
    let cmp = &cp.comparison;
    let signatures = cp
        .signatures
        .iter()
        .enumerate()
        .map(|(i, planned)| {
            let sig = &planned.signature;
            let metric = sig.metric_id();
            let policy = sig
                .on_missing_data
                .or(cmp.on_missing_data)
                .unwrap_or_default();
            let sf = cmp.scale_factors.for_metric(&metric);
            let label = planned.label();
            let unit = planned.unit();
            let source = measurement_at(&obs.source, i);
            let compare = obs.compare.as_ref().map(|o| measurement_at(o, i));
            let baseline = compare
                .as_ref()
                .zip(cmp.compare.as_deref())
                .map(|(m, env)| Baseline {
                    environment: env,
                    measurement: m,
                });
            let input = RuleInput {
                signature: sig,
                label: &label,
                unit,
                scale_factor_perc: sf,
                policy,
            };
            let judgement = judge(&input, &source, baseline);
            let notes = [Some(&source), compare.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|m| match m {
                    Measurement::Value(v) => v.note.clone(),
                    _ => None,
                })
                .chain(judgement.notes.iter().cloned())
                .collect::<Vec<_>>();
            let mut notes_dedup = notes;
            notes_dedup.dedup();
            if let Some(w) = &judgement.warning {
                notes_dedup.push(format!("warning: {w}"));
            }
            SignatureResult {
                path: planned.position.json_path(),
                method: planned.method.clone(),
                metric,
                label,
                aggregate: sig.aggregate.to_string(),
                validate: sig.validate,
                unit: source_unit(&source).unwrap_or(unit),
                outcome: judgement.outcome,
                // Values the rule did not get to use are still shown when they are exact.
                source_value: judgement.source_value.or_else(|| exact_value(&source)),
                compare_value: judgement
                    .compare_value
                    .or_else(|| compare.as_ref().and_then(exact_value)),
                upper_limit: judgement.upper_limit,
                lower_limit: judgement.lower_limit,
                limit_kind: if sig.has_static_limits() {
                    "static"
                } else {
                    "relative"
                },
                scale_factor_perc: (!sig.has_static_limits()).then_some(sf),
                on_missing_data: policy,
                blocks_approval: judgement.blocks_approval,
                reason: judgement.reason,
                notes: notes_dedup,
            }
        })
        .collect();
    let env_result = |query: &crate::model::metrics::EnvironmentQuery,
                      o: &crate::model::metrics::Observation| {
        EnvironmentResult {
            environment: query.environment.clone(),
            window: query.window,
            entities: o
                .entities
                .as_ref()
                .ok()
                .map(|es| es.iter().map(|e| e.id.clone()).collect()),
        }
    };
    ConfigurationResult {
        key: cp.configuration.key.clone(),
        etype: cp.configuration.etype.to_string(),
        source: env_result(&cp.source, &obs.source),
        compare: cp
            .compare
            .as_ref()
            .zip(obs.compare.as_ref())
            .map(|(q, o)| env_result(q, o)),
        signatures,
    }
}

fn measurement_at(observation: &crate::model::metrics::Observation, index: usize) -> Measurement {
    observation
        .measurements
        .get(index)
        .cloned()
        .unwrap_or_else(|| {
            Measurement::error("the metrics source returned fewer measurements than requested")
        })
}

/// The value of a measurement that has a merged one.
fn exact_value(m: &Measurement) -> Option<f64> {
    match m {
        Measurement::Value(v) if v.spread.is_none() => Some(v.value),
        _ => None,
    }
}

fn source_unit(m: &Measurement) -> Option<Unit> {
    match m {
        Measurement::Value(v) if v.unit != Unit::Unknown => Some(v.unit),
        _ => None,
    }
}

impl Verdict {
    pub(super) fn new(plan: &ValidationPlan, configurations: Vec<ConfigurationResult>) -> Self {
        let mut counts = Counts::default();
        let mut warnings = Vec::new();
        for s in configurations.iter().flat_map(|c| &c.signatures) {
            counts.signatures += 1;
            match s.outcome {
                Outcome::Pass => counts.pass += 1,
                Outcome::Violation => counts.violation += 1,
                Outcome::NoData => counts.nodata += 1,
                Outcome::Error => counts.error += 1,
            }
            if s.blocks_approval {
                counts.blocking += 1;
            }
            warnings.extend(
                s.notes
                    .iter()
                    .filter_map(|n| n.strip_prefix("warning: "))
                    .map(str::to_string),
            );
        }
        // No signature at all is doubt, not success.
        let status = if counts.blocking == 0 && counts.signatures > 0 {
            VerdictStatus::Approved
        } else {
            VerdictStatus::Rejected
        };
        let mut verdict = Verdict {
            schema_version: RESULT_SCHEMA_VERSION,
            comparison: plan.comparison.clone(),
            status,
            summary: String::new(),
            start_ms: plan.timeframe.start_ms,
            window_ms: plan.timeframe.window_ms,
            counts,
            warnings,
            configurations,
        };
        verdict.summary = verdict.summary_line(None);
        verdict
    }

    pub fn is_approved(&self) -> bool {
        self.status == VerdictStatus::Approved
    }

    /// Whether any signature could not be measured because a query failed.
    pub fn has_errors(&self) -> bool {
        self.counts.error > 0
    }

    pub fn signatures(&self) -> impl Iterator<Item = &SignatureResult> {
        self.configurations.iter().flat_map(|c| c.signatures.iter())
    }

    /// One line for a CodePipeline approval (≤ 512 characters): the verdict, the failing
    /// signatures, and the report link when given. The link is kept whole; reasons are cut.
    pub fn summary_line(&self, report_url: Option<&str>) -> String {
        let c = &self.counts;
        let head = match self.status {
            VerdictStatus::Approved if self.warnings.is_empty() => {
                format!(
                    "APPROVED {}: all {} signatures passed",
                    self.comparison, c.signatures
                )
            }
            VerdictStatus::Approved => format!(
                "APPROVED {}: {} signatures passed, {} without data (warn)",
                self.comparison, c.pass, c.nodata
            ),
            VerdictStatus::Rejected if c.signatures == 0 => {
                format!("REJECTED {}: no signature was evaluated", self.comparison)
            }
            VerdictStatus::Rejected => format!(
                "REJECTED {}: {} of {} signatures failed ({} violation, {} nodata, {} error)",
                self.comparison, c.blocking, c.signatures, c.violation, c.nodata, c.error
            ),
        };
        let tail = report_url
            .map(|u| format!(" Report: {u}"))
            .unwrap_or_default();
        let mut line = head;
        let reasons: Vec<&str> = self
            .signatures()
            .filter(|s| s.blocks_approval)
            .map(|s| s.reason.as_str())
            .collect();
        if !reasons.is_empty() {
            line.push_str(" — ");
            line.push_str(&reasons.join("; "));
        }
        line =
            crate::text::truncate_chars(&line, SUMMARY_LIMIT.saturating_sub(tail.chars().count()));
        line.push_str(&tail);
        line
    }

    /// The versioned result JSON (README: "Result JSON").
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("verdict serialises")
    }

    /// The monspec as the original worker wrote it back: `_resolved_entities`,
    /// `_resolved_comparison` and `status` per configuration; `actualSourceValue`,
    /// `actualCompareValue`, `actualUpperLimit`/`actualLowerLimit` and `status` per signature.
    /// Values are in the API's units, as the original's were.
    pub fn fill_monspec(&self, original: &Value) -> Value {
        let mut filled = original.clone();
        for config in &self.configurations {
            let Some(entry) = filled.get_mut(&config.key).and_then(Value::as_object_mut) else {
                continue;
            };
            let mut resolved = Map::new();
            for env in std::iter::once(&config.source).chain(config.compare.as_ref()) {
                resolved.insert(
                    env.environment.clone(),
                    json!(env.entities.clone().unwrap_or_default()),
                );
            }
            entry.insert("_resolved_entities".into(), Value::Object(resolved));
            entry.insert("_resolved_comparison".into(), json!(self.comparison));
            let blocked = config.signatures.iter().any(|s| s.blocks_approval);
            entry.insert(
                "status".into(),
                json!(if blocked { "violation" } else { "ok" }),
            );
            for sig in &config.signatures {
                let Some(target) = signature_entry(entry, &sig.path) else {
                    continue;
                };
                for key in [
                    "actualSourceValue",
                    "actualCompareValue",
                    "actualUpperLimit",
                    "actualLowerLimit",
                ] {
                    target.remove(key);
                }
                target.insert("actualSourceValue".into(), json!(sig.source_value));
                if sig.compare_value.is_some() || config.compare.is_some() {
                    target.insert("actualCompareValue".into(), json!(sig.compare_value));
                }
                if let Some(u) = sig.upper_limit {
                    target.insert("actualUpperLimit".into(), json!(u));
                }
                if let Some(l) = sig.lower_limit {
                    target.insert("actualLowerLimit".into(), json!(l));
                }
                let status = match sig.outcome {
                    Outcome::Pass => "ok",
                    Outcome::Violation => "violation",
                    Outcome::NoData => "nodata",
                    Outcome::Error => "error",
                };
                target.insert("status".into(), json!(status));
            }
        }
        filled
    }
}

/// Follow `perfsignature[i]` or `servicemethods[m].perfsignature[i]` inside a configuration.
fn signature_entry<'a>(
    config: &'a mut Map<String, Value>,
    path: &str,
) -> Option<&'a mut Map<String, Value>> {
    let mut current: &mut Value = config.get_mut(path.split('.').next()?.split('[').next()?)?;
    for (n, segment) in path.split('.').enumerate() {
        let (key, index) = segment.split_once('[')?;
        let index: usize = index.trim_end_matches(']').parse().ok()?;
        if n > 0 {
            current = current.get_mut(key)?;
        }
        current = current.get_mut(index)?;
    }
    current.as_object_mut()
}
