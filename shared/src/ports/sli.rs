//! An SLI provider: one query over a window, one number (Keptn's SLI providers).

use async_trait::async_trait;

use super::metrics::TimeWindow;

/// Why a query gave no usable number. Each becomes a failed SLI with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliError {
    /// The query matched nothing, or its value is not a number (NaN, ±Inf).
    #[error("no data: {0}")]
    NoData(String),
    /// Several values where one was needed.
    #[error("{0}")]
    Ambiguous(String),
    /// The provider refused the query.
    #[error("{0}")]
    Provider(String),
    /// The provider could not be asked at all (unreachable, timed out, the token refused, a
    /// server error after retries): the whole evaluation fails, to be tried again.
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SliProvider: Send + Sync {
    /// The value of `query` at the end of `window`.
    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError>;
    /// What `$DEPLOYMENT` is when none was given, as this provider's Keptn peer fills it
    /// (prometheus-service: `primary`); `None`: a query that uses it is refused.
    fn deployment_fallback(&self) -> Option<&'static str> {
        None
    }
}

/// The SLI providers a worker can measure SLO gates with; a gate names one.
#[derive(Clone, Default)]
pub struct SliProviders {
    pub prometheus: Option<std::sync::Arc<dyn SliProvider>>,
    pub dynatrace: Option<std::sync::Arc<dyn SliProvider>>,
}

impl SliProviders {
    /// The provider of that kind, or what to configure to have it.
    pub fn get(
        &self,
        kind: super::store::SliProviderKind,
    ) -> Result<&dyn SliProvider, &'static str> {
        use super::store::SliProviderKind;
        match kind {
            SliProviderKind::Prometheus => self.prometheus.as_deref().ok_or(
                "the worker has no Prometheus SLI provider: set PROMETHEUS_URL (the stack's PrometheusURL parameter)",
            ),
            SliProviderKind::Dynatrace => self.dynatrace.as_deref().ok_or(
                "the worker has no Dynatrace SLI provider: set DT_TENANT_URL and the token secret",
            ),
        }
    }
}
