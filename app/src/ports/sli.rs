//! An SLI provider: one query over a window, one number (Keptn's SLI providers).

use async_trait::async_trait;

use super::metrics::TimeWindow;

/// Why a query gave no usable number. Each becomes a failed SLI with this message; only
/// [`SliError::Unavailable`] also fails the whole evaluation, as Keptn's providers do: a
/// provider that answered has judged that one query, one that did not has judged nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliError {
    /// The query matched nothing, or its value is not a number (NaN, ±Inf).
    #[error("no data: {0}")]
    NoData(String),
    /// Several series or values where one was needed.
    #[error("{0}")]
    Ambiguous(String),
    /// The provider answered and refused this query (HTTP 400/404/422, a form it does not
    /// read, an answer of the wrong shape).
    #[error("{0}")]
    Provider(String),
    /// The provider could not be asked at all: unreachable, timed out, credentials refused
    /// (401/403), or overloaded (429/5xx) once retries are spent. The evaluation fails with
    /// it (the CLI exits 2, the worker retries) instead of being scored without the value.
    #[error("{0}")]
    Unavailable(String),
}

/// A Dynatrace SLI query the core's reader refuses is refused by the provider. Here, beside
/// the error, because the orphan rule wants the impl in the crate of one of the two types
/// (the Dynatrace adapter, which uses it, owns neither).
impl From<unbreakable_core::slo::dynatrace_query::QueryError> for SliError {
    fn from(e: unbreakable_core::slo::dynatrace_query::QueryError) -> Self {
        SliError::Provider(e.to_string())
    }
}

impl SliError {
    /// Whether the whole evaluation fails with this error, not only its SLI.
    pub fn fails_the_evaluation(&self) -> bool {
        matches!(self, SliError::Unavailable(_))
    }
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
