//! From a monspec and a comparison name to a [`Verdict`]: plan the queries, then judge what
//! the metrics source observed. Both steps are pure; the app crate's `quality_gate` runs the I/O in between.

pub mod combine;
pub mod rules;
pub mod verdict;

use crate::model::metrics::{EnvironmentQuery, MetricSpec, Observation, TimeWindow, Unit};
use crate::monspec::catalog;
use crate::monspec::{Comparison, Configuration, Monspec, Signature, SignatureSubject};
pub use rules::Outcome;
pub use verdict::{ConfigurationResult, SignatureResult, Verdict, VerdictStatus};

/// When and how long the build was measured: registration time T and window W.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeframe {
    pub start_ms: i64,
    pub window_ms: i64,
}

impl Timeframe {
    /// [T − shift, T + W − shift].
    pub fn shifted(&self, shift_secs: u64) -> TimeWindow {
        let shift_ms = shift_secs as i64 * 1000;
        TimeWindow {
            from_ms: self.start_ms - shift_ms,
            to_ms: self.start_ms + self.window_ms - shift_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown comparison \"{name}\" (available: {})", .available.join(", "))]
    UnknownComparison {
        name: String,
        available: Vec<String>,
    },
    #[error("comparison \"{name}\" is not defined in configuration(s) {}: every configuration must define it, or the build would pass unchecked", .missing_in.join(", "))]
    NotInEveryConfiguration {
        name: String,
        missing_in: Vec<String>,
    },
    #[error("the validation window must be longer than zero (got {window_ms} ms)")]
    EmptyWindow { window_ms: i64 },
}

/// Where a signature sits in the monspec, so results can be written back into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePosition {
    /// Index into `servicemethods`, for service-method signatures.
    pub method: Option<usize>,
    pub index: usize,
}

impl SignaturePosition {
    pub fn json_path(&self) -> String {
        match self.method {
            Some(m) => format!("servicemethods[{m}].perfsignature[{}]", self.index),
            None => format!("perfsignature[{}]", self.index),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSignature {
    pub position: SignaturePosition,
    pub method: Option<String>,
    pub signature: Signature,
}

impl PlannedSignature {
    pub fn metric_spec(&self) -> MetricSpec {
        match &self.signature.subject {
            SignatureSubject::Timeseries(id) => MetricSpec::Timeseries {
                id: id.clone(),
                aggregate: self.signature.aggregate,
                method: self.method.clone(),
            },
            SignatureSubject::Smartscape(rel) => MetricSpec::Smartscape(rel.clone()),
        }
    }

    /// "p90 response time", "/api/invoke: avg failure rate", "count of toRelationships:calls".
    pub fn label(&self) -> String {
        let what = match &self.signature.subject {
            SignatureSubject::Timeseries(id) => {
                format!("{} {}", self.signature.aggregate, catalog::display_name(id))
            }
            SignatureSubject::Smartscape(rel) => format!("count of {rel}"),
        };
        match &self.method {
            Some(method) => format!("{method}: {what}"),
            None => what,
        }
    }

    pub fn unit(&self) -> Unit {
        match &self.signature.subject {
            SignatureSubject::Timeseries(id) => catalog::unit_of(id),
            SignatureSubject::Smartscape(_) => Unit::Entities,
        }
    }
}

/// The queries for one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigurationPlan {
    pub configuration: Configuration,
    pub comparison: Comparison,
    pub signatures: Vec<PlannedSignature>,
    pub source: EnvironmentQuery,
    pub compare: Option<EnvironmentQuery>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidationPlan {
    pub comparison: String,
    pub timeframe: Timeframe,
    pub configurations: Vec<ConfigurationPlan>,
}

impl ValidationPlan {
    /// Every query, source and compare, in a stable order.
    pub fn queries(&self) -> Vec<&EnvironmentQuery> {
        self.configurations
            .iter()
            .flat_map(|c| std::iter::once(&c.source).chain(c.compare.as_ref()))
            .collect()
    }
}

/// Plan a validation. Fails on an unknown comparison, one missing from a configuration, or
/// an empty window: all of them user errors to fix before anything is queried.
pub fn plan(
    monspec: &Monspec,
    comparison: &str,
    timeframe: Timeframe,
) -> Result<ValidationPlan, PlanError> {
    if timeframe.window_ms <= 0 {
        return Err(PlanError::EmptyWindow {
            window_ms: timeframe.window_ms,
        });
    }
    let missing_in: Vec<String> = monspec
        .configurations
        .iter()
        .filter(|c| c.comparison(comparison).is_none())
        .map(|c| c.key.clone())
        .collect();
    if missing_in.len() == monspec.configurations.len() {
        return Err(PlanError::UnknownComparison {
            name: comparison.to_string(),
            available: monspec.comparison_names(),
        });
    }
    if !missing_in.is_empty() {
        return Err(PlanError::NotInEveryConfiguration {
            name: comparison.to_string(),
            missing_in,
        });
    }

    let configurations = monspec
        .configurations
        .iter()
        .map(|config| {
            let cmp = config
                .comparison(comparison)
                .expect("checked above")
                .clone();
            let signatures: Vec<PlannedSignature> = config
                .perfsignature
                .iter()
                .enumerate()
                .map(|(index, s)| PlannedSignature {
                    position: SignaturePosition {
                        method: None,
                        index,
                    },
                    method: None,
                    signature: s.clone(),
                })
                .chain(
                    config
                        .servicemethods
                        .iter()
                        .enumerate()
                        .flat_map(|(m, method)| {
                            method
                                .perfsignature
                                .iter()
                                .enumerate()
                                .map(move |(index, s)| PlannedSignature {
                                    position: SignaturePosition {
                                        method: Some(m),
                                        index,
                                    },
                                    method: Some(method.name.clone()),
                                    signature: s.clone(),
                                })
                        }),
                )
                .collect();
            let metrics: Vec<MetricSpec> = signatures
                .iter()
                .map(PlannedSignature::metric_spec)
                .collect();
            let query = |env_name: &str, shift: u64| {
                let env = config
                    .environment(env_name)
                    .expect("monspec validation checked environments");
                EnvironmentQuery {
                    configuration: config.key.clone(),
                    environment: env.name.clone(),
                    etype: config.etype,
                    tags: env.tags.clone(),
                    window: timeframe.shifted(shift),
                    metrics: metrics.clone(),
                }
            };
            ConfigurationPlan {
                source: query(&cmp.source, cmp.shift_source_secs),
                compare: cmp
                    .compare
                    .as_deref()
                    .map(|c| query(c, cmp.shift_compare_secs)),
                configuration: config.clone(),
                comparison: cmp,
                signatures,
            }
        })
        .collect();

    Ok(ValidationPlan {
        comparison: comparison.to_string(),
        timeframe,
        configurations,
    })
}

/// What the source observed for one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigurationObservations {
    pub source: Observation,
    pub compare: Option<Observation>,
}

/// Judge every signature and reach the verdict. `observations` is in plan order.
pub fn evaluate(plan: &ValidationPlan, observations: &[ConfigurationObservations]) -> Verdict {
    assert_eq!(
        plan.configurations.len(),
        observations.len(),
        "one observation per configuration"
    );
    let configurations = plan
        .configurations
        .iter()
        .zip(observations)
        .map(|(cp, obs)| verdict::judge_configuration(cp, obs))
        .collect();
    Verdict::new(plan, configurations)
}

#[cfg(test)]
mod tests;
