//! What a monitoring tool is asked and answers: one [`EnvironmentQuery`] per configuration,
//! environment and window, answered by one [`Observation`] holding a [`Measurement`] per
//! [`MetricSpec`].

use serde::Serialize;

pub use crate::monspec::catalog::Unit;
use crate::monspec::{Aggregate, EntityType, Relationship, Tag};

/// A half-open time range in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl TimeWindow {
    pub fn minutes(&self) -> f64 {
        (self.to_ms - self.from_ms) as f64 / 60_000.0
    }
}

/// Everything one configuration needs from one environment over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentQuery {
    pub configuration: String,
    pub environment: String,
    pub etype: EntityType,
    pub tags: Vec<Tag>,
    pub window: TimeWindow,
    pub metrics: Vec<MetricSpec>,
}

/// One number to measure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetricSpec {
    /// A timeseries aggregated over the window across all resolved entities (or, with
    /// `method`, across the service methods of that name).
    Timeseries {
        id: String,
        aggregate: Aggregate,
        method: Option<String>,
    },
    /// The number of distinct entities related to the resolved entities.
    Smartscape(Relationship),
}

/// A resolved entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityRef {
    pub id: String,
    pub name: String,
}

/// What the source saw in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The entities that carry the environment's tags. `Err` when the lookup itself failed.
    pub entities: Result<Vec<EntityRef>, String>,
    /// One per requested metric, in request order.
    pub measurements: Vec<Measurement>,
}

impl Observation {
    /// The answer when entity resolution failed or found nothing: every metric gets the same
    /// outcome.
    pub fn without_entities(
        entities: Result<Vec<EntityRef>, String>,
        metrics: usize,
        tags: &[Tag],
    ) -> Self {
        let measurement = match &entities {
            Ok(_) => Measurement::no_data(format!(
                "no entity matched the tags {}",
                tags.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )),
            Err(e) => Measurement::error(format!("entity lookup failed: {e}")),
        };
        Observation {
            entities,
            measurements: vec![measurement; metrics],
        }
    }
}

/// The value of one metric, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Measurement {
    Value(MeasuredValue),
    /// Nothing to measure: no entity, no datapoint.
    NoData {
        reason: String,
    },
    /// The query failed.
    Error {
        message: String,
    },
}

impl Measurement {
    pub fn no_data(reason: impl Into<String>) -> Self {
        Measurement::NoData {
            reason: reason.into(),
        }
    }
    pub fn error(message: impl Into<String>) -> Self {
        Measurement::Error {
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredValue {
    /// The value over every entity. With `spread` set there is none: `value` is then the
    /// largest per-entity value, and the rule picks the end of the spread that errs safe.
    pub value: f64,
    pub unit: Unit,
    /// How many entities contributed.
    pub entities: usize,
    /// Set when the value is a v2 stand-in for a v1 metric, or was derived (per minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set when a median or percentile over several entities has no merged value from the
    /// API: the merged value lies between the smallest and the largest per-entity value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

impl MeasuredValue {
    pub fn new(value: f64, unit: Unit, entities: usize) -> Self {
        MeasuredValue {
            value,
            unit,
            entities,
            note: None,
            spread: None,
        }
    }
}

/// The smallest and largest per-entity value of a median or percentile. A percentile of the
/// union of several entities' requests is never below the smallest nor above the largest of
/// their own percentiles, so these bound the value the API could not merge for us.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub max: f64,
}
