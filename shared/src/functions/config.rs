//! Function configuration from environment variables, read and checked once at cold start,
//! and the clients built from it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::dynatrace::DynatraceError;
use crate::dynatrace::{
    ApiToken, ApiVersion, ClientOptions, DynatraceHttp, DynatraceV1, DynatraceV2,
};
use crate::metrics::{EnvironmentQuery, MetricsSource, Observation, TimeWindow};
use crate::monitoring::{MonitoringEvents, PipelineEvent, RecordedDeployment};
use crate::secrets::SecretSource;

/// A missing or bad setting. The message names the variable and says what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {variable} {problem} ({meaning})")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
    pub meaning: &'static str,
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    pub fn optional(&self, variable: &'static str) -> Option<String> {
        (self.lookup)(variable)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(
        &self,
        variable: &'static str,
        meaning: &'static str,
    ) -> Result<String, ConfigError> {
        self.optional(variable).ok_or(ConfigError {
            variable,
            problem: "is not set".into(),
            meaning,
        })
    }

    /// An `http(s)://` URL without a trailing slash.
    pub fn url(
        &self,
        variable: &'static str,
        meaning: &'static str,
    ) -> Result<String, ConfigError> {
        let value = self.required(variable, meaning)?;
        check_url(variable, meaning, &value)
    }

    pub fn optional_url(
        &self,
        variable: &'static str,
        meaning: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        self.optional(variable)
            .map(|v| check_url(variable, meaning, &v))
            .transpose()
    }

    /// A positive number, or `default` when unset.
    pub fn number(
        &self,
        variable: &'static str,
        meaning: &'static str,
        default: f64,
    ) -> Result<f64, ConfigError> {
        match self.optional(variable) {
            None => Ok(default),
            Some(text) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(ConfigError {
                    variable,
                    problem: format!("must be a number above 0, got \"{text}\""),
                    meaning,
                }),
            },
        }
    }

    pub fn seconds(
        &self,
        variable: &'static str,
        meaning: &'static str,
        default_secs: f64,
    ) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs_f64(self.number(
            variable,
            meaning,
            default_secs,
        )?))
    }

    pub fn api_version(&self) -> Result<ApiVersion, ConfigError> {
        match self.optional("DT_API_VERSION") {
            None => Ok(ApiVersion::default()),
            Some(text) => text.parse().map_err(|problem: String| ConfigError {
                variable: "DT_API_VERSION",
                problem,
                meaning: "the Dynatrace API generation, v1 or v2",
            }),
        }
    }
}

fn check_url(
    variable: &'static str,
    meaning: &'static str,
    value: &str,
) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError {
            variable,
            problem: format!("must be an http(s) URL, got \"{value}\""),
            meaning,
        }),
    }
}

/// The Dynatrace tenant, connected on first use with the token from the secret store (so
/// a secret that cannot be read fails one invocation, not the container).
pub struct DynatraceConnection {
    tenant_url: String,
    api: ApiVersion,
    token_secret: String,
    secrets: Arc<dyn SecretSource>,
    options: ClientOptions,
    client: OnceCell<Arc<dyn DynatraceClient>>,
}

impl DynatraceConnection {
    pub fn new(
        tenant_url: String,
        api: ApiVersion,
        token_secret: String,
        secrets: Arc<dyn SecretSource>,
        options: ClientOptions,
    ) -> Self {
        Self {
            tenant_url,
            api,
            token_secret,
            secrets,
            options,
            client: OnceCell::new(),
        }
    }

    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(
            env.url("DT_TENANT_URL", "the Dynatrace tenant, e.g. https://abc12345.live.dynatrace.com")?,
            env.api_version()?,
            env.required(
                "DT_API_TOKEN_SECRET_ARN",
                "the ARN of the Secrets Manager secret (or SSM SecureString parameter) holding the Dynatrace API token",
            )?,
            secrets,
            ClientOptions::default(),
        ))
    }

    async fn http(&self) -> Result<DynatraceHttp, DynatraceError> {
        let token = self
            .secrets
            .secret(&self.token_secret)
            .await
            .map_err(|e| DynatraceError::Config(e.to_string()))?;
        DynatraceHttp::new(
            &self.tenant_url,
            ApiToken::new(token)?,
            self.options.clone(),
        )
    }

    async fn client(&self) -> Result<Arc<dyn DynatraceClient>, DynatraceError> {
        self.client
            .get_or_try_init(|| async {
                let http = self.http().await?;
                Ok::<_, DynatraceError>(match self.api {
                    ApiVersion::V1 => Arc::new(DynatraceV1::new(http)) as Arc<dyn DynatraceClient>,
                    ApiVersion::V2 => Arc::new(DynatraceV2::new(http)),
                })
            })
            .await
            .cloned()
    }
}

/// Both ports the Dynatrace adapters serve.
pub trait DynatraceClient: MetricsSource + MonitoringEvents {}
impl<T: MetricsSource + MonitoringEvents> DynatraceClient for T {}

#[async_trait]
impl MetricsSource for DynatraceConnection {
    async fn observe(&self, query: &EnvironmentQuery) -> Observation {
        match self.client().await {
            Ok(source) => source.observe(query).await,
            Err(e) => {
                Observation::without_entities(Err(e.to_string()), query.metrics.len(), &query.tags)
            }
        }
    }
}

#[async_trait]
impl MonitoringEvents for DynatraceConnection {
    async fn push(&self, event: &PipelineEvent) -> Result<usize, DynatraceError> {
        self.client().await?.push(event).await
    }

    async fn deployments_on(
        &self,
        entity_id: &str,
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, DynatraceError> {
        self.client().await?.deployments_on(entity_id, window).await
    }

    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), DynatraceError> {
        self.client().await?.comment(problem_id, text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn missing_and_bad_settings_name_the_variable() {
        let e = env(&[])
            .required("VALIDATION_TABLE", "the table")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: VALIDATION_TABLE is not set (the table)"
        );
        let e = env(&[("DT_TENANT_URL", "abc.live.dynatrace.com")])
            .url("DT_TENANT_URL", "the tenant")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: DT_TENANT_URL must be an http(s) URL, got \"abc.live.dynatrace.com\" (the tenant)"
        );
        let e = env(&[("WORKER_LEASE_SECONDS", "-5")])
            .seconds("WORKER_LEASE_SECONDS", "the lease", 300.0)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("must be a number above 0, got \"-5\""),
            "{e}"
        );
        let e = env(&[("DT_API_VERSION", "v3")]).api_version().unwrap_err();
        assert!(
            e.to_string()
                .contains("DT_API_VERSION unknown API version \"v3\""),
            "{e}"
        );
    }

    #[test]
    fn urls_lose_their_trailing_slash_and_defaults_apply() {
        let e = env(&[("REPORT_URL", "https://x.example/v1/BuildValidationResults/")]);
        assert_eq!(
            e.url("REPORT_URL", "r").unwrap(),
            "https://x.example/v1/BuildValidationResults"
        );
        assert_eq!(e.number("MISSING", "m", 7.0).unwrap(), 7.0);
        assert_eq!(e.optional_url("MISSING", "m").unwrap(), None);
    }
}
