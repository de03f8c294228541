//! A sample source: the raw points of one query over a window, one per step, for the
//! statistical gate ([`crate::compare`]), where an SLI provider ([`super::sli`]) gives one
//! number. Errors mean what they mean for an SLI: [`SliError::Unavailable`] fails the whole
//! gate, the others leave that one query without points.

use std::time::Duration;

use async_trait::async_trait;

use super::metrics::TimeWindow;
use super::sli::SliError;

/// Raw points of one query over a window (the statistical gate's input).
#[async_trait]
pub trait SampleSource: Send + Sync {
    /// One point per `step` from `window.from_ms` to `window.to_ms`, oldest first; `None` for a
    /// step the provider has no value for. Several series (entities) are merged into one the
    /// way the monspec evaluation merges them: `merge` says how.
    async fn samples(
        &self,
        query: &str,
        window: TimeWindow,
        step: Duration,
        merge: Merge,
    ) -> Result<Vec<Option<f64>>, SliError>;

    /// Requests made so far (for the benchmark's "requests per validation").
    fn requests(&self) -> u64 {
        0
    }
}

pub use unbreakable_core::model::samples::{merge_point, Merge};

/// What a worker can take raw points from for canary gates; a gate names one (its
/// `sliProvider`). The same two providers as [`super::sli::SliProviders`], through the
/// [`SampleSource`] port.
#[derive(Clone, Default)]
pub struct SampleSources {
    pub prometheus: Option<std::sync::Arc<dyn SampleSource>>,
    pub dynatrace: Option<std::sync::Arc<dyn SampleSource>>,
}

impl SampleSources {
    /// The source of that kind, or what to configure to have it.
    pub fn get(
        &self,
        kind: super::store::SliProviderKind,
    ) -> Result<&dyn SampleSource, &'static str> {
        use super::store::SliProviderKind;
        match kind {
            SliProviderKind::Prometheus => self.prometheus.as_deref().ok_or(
                "the worker has no Prometheus to take a canary gate's points from: set PROMETHEUS_URL (the stack's PrometheusURL parameter)",
            ),
            SliProviderKind::Dynatrace => self.dynatrace.as_deref().ok_or(
                "the worker has no Dynatrace to take a canary gate's points from: set DT_TENANT_URL and the token secret",
            ),
        }
    }
}
