//! The metrics-source port: how the evaluation asks a monitoring tool for numbers.
//!
//! One [`EnvironmentQuery`] asks for every metric of one configuration in one environment and
//! time window; the adapter answers with an [`Observation`] holding one [`Measurement`] per
//! requested [`MetricSpec`], in order. Adapters decide how to batch and parallelise requests.

use async_trait::async_trait;

pub use crate::monspec::catalog::Unit;

pub use unbreakable_core::model::metrics::{
    EntityRef, EnvironmentQuery, MeasuredValue, Measurement, MetricSpec, Observation, Spread,
    TimeWindow,
};

/// A monitoring tool the quality gate can read from.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    async fn observe(&self, query: &EnvironmentQuery) -> Observation;
}
