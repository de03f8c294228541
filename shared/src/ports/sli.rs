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
    /// The provider refused the query or could not be reached.
    #[error("{0}")]
    Provider(String),
}

#[async_trait]
pub trait SliProvider: Send + Sync {
    /// The value of `query` at the end of `window`.
    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError>;
}
