//! The Dynatrace adapter: API v1 and v2 behind [`crate::ports::metrics::MetricsSource`], and
//! API v2 behind [`crate::ports::sli::SliProvider`] for the SLO quality gate and
//! [`crate::ports::samples::SampleSource`] for the canary gate.

pub mod connection;
pub mod events;
pub mod http;
pub mod samples;
pub mod sli;
pub mod v1;
pub mod v2;

use std::sync::Arc;

pub use http::{ApiToken, ClientOptions, DynatraceError, DynatraceHttp};
pub use sli::DynatraceSli;
pub use v1::DynatraceV1;
pub use v2::DynatraceV2;

use crate::ports::metrics::MetricsSource;

/// Which Dynatrace API generation to speak: a setting (`DT_API_VERSION`), so it lives with
/// the other Dynatrace settings in `unbreakable-app`'s `settings::dynatrace`.
pub use crate::settings::dynatrace::ApiVersion;

/// A metrics source for the tenant at `base_url`.
pub fn metrics_source(
    api: ApiVersion,
    base_url: &str,
    token: ApiToken,
    options: ClientOptions,
) -> Result<Arc<dyn CountingSource>, DynatraceError> {
    let http = DynatraceHttp::new(base_url, token, options)?;
    Ok(match api {
        ApiVersion::V1 => Arc::new(DynatraceV1::new(http)),
        ApiVersion::V2 => Arc::new(DynatraceV2::new(http)),
    })
}

/// A metrics source that can say how many HTTP requests it sent.
pub trait CountingSource: MetricsSource {
    fn requests_sent(&self) -> usize;
    fn as_source(&self) -> &dyn MetricsSource;
}

impl CountingSource for DynatraceV1 {
    fn requests_sent(&self) -> usize {
        self.http().requests_sent()
    }
    fn as_source(&self) -> &dyn MetricsSource {
        self
    }
}

impl CountingSource for DynatraceV2 {
    fn requests_sent(&self) -> usize {
        self.http().requests_sent()
    }
    fn as_source(&self) -> &dyn MetricsSource {
        self
    }
}
