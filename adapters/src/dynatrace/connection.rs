//! The Dynatrace tenant a function talks to: its settings, and a connection made on first
//! use with the token from the secret store. It serves both Dynatrace-backed ports.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::sli::DynatraceSli;
use super::{
    ApiToken, ApiVersion, ClientOptions, DynatraceError, DynatraceHttp, DynatraceV1, DynatraceV2,
};
use crate::ports::metrics::{EnvironmentQuery, MetricsSource, Observation, TimeWindow};
use crate::ports::monitoring::{
    MonitoringError, MonitoringEvents, PipelineEvent, ProblemDetails, RecordedDeployment,
};
use crate::ports::samples::{Merge, SampleSource};
use crate::ports::secrets::SecretSource;
use crate::ports::sli::{SliError, SliProvider};
use crate::settings::{ConfigError, Env, Setting};

pub const TENANT_URL: Setting = Setting::required(
    "DT_TENANT_URL",
    "the Dynatrace tenant, e.g. https://abc12345.live.dynatrace.com",
);
pub const API_VERSION: Setting =
    Setting::optional("DT_API_VERSION", "the Dynatrace API generation, v1 or v2");
pub const TOKEN_SECRET: Setting = Setting::required(
    "DT_API_TOKEN_SECRET_ARN",
    "the ARN of the Secrets Manager secret (or SSM SecureString parameter) holding the Dynatrace API token",
);
/// What every Dynatrace-using function reads.
pub const SETTINGS: [Setting; 3] = [TENANT_URL, API_VERSION, TOKEN_SECRET];

/// Where the tenant is and where its token is kept (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynatraceSettings {
    pub tenant_url: String,
    pub api: ApiVersion,
    pub token_secret: String,
}

impl DynatraceSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(DynatraceSettings {
            tenant_url: env.url(&TENANT_URL)?,
            api: env.parsed(&API_VERSION)?,
            token_secret: env.required(&TOKEN_SECRET)?,
        })
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
    sli: OnceCell<Arc<DynatraceSli>>,
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
            sli: OnceCell::new(),
        }
    }

    pub fn from_settings(settings: DynatraceSettings, secrets: Arc<dyn SecretSource>) -> Self {
        Self::new(
            settings.tenant_url,
            settings.api,
            settings.token_secret,
            secrets,
            ClientOptions::default(),
        )
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
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError> {
        self.client().await?.push(event).await
    }

    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        self.client()
            .await?
            .deployments_on(entity_ids, window)
            .await
    }

    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError> {
        self.client().await?.problem(problem_id).await
    }

    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), MonitoringError> {
        self.client().await?.comment(problem_id, text).await
    }
}

/// SLO gates' Dynatrace queries (API v2 whatever `DT_API_VERSION` says: Keptn's SLI query
/// forms are v2's), over the same lazily connected client.
#[async_trait]
impl SliProvider for DynatraceConnection {
    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError> {
        let sli = self
            .sli
            .get_or_try_init(|| async {
                Ok::<_, DynatraceError>(Arc::new(DynatraceSli::new(self.http().await?)))
            })
            .await
            // No client (the token secret unreadable, the tenant URL unusable): the tenant
            // cannot be asked at all.
            .map_err(|e| SliError::Unavailable(e.to_string()))?;
        sli.value(query, window).await
    }
}

impl DynatraceConnection {
    /// The metrics v2 client SLO and canary gates share, connected on first use.
    async fn connected_sli(&self) -> Result<Arc<DynatraceSli>, SliError> {
        self.sli
            .get_or_try_init(|| async {
                Ok::<_, DynatraceError>(Arc::new(DynatraceSli::new(self.http().await?)))
            })
            .await
            .cloned()
            // No client (the token secret unreadable, the tenant URL unusable): the tenant
            // cannot be asked at all.
            .map_err(|e| SliError::Unavailable(e.to_string()))
    }
}

/// Canary gates' raw points, over the same lazily connected metrics v2 client.
#[async_trait]
impl SampleSource for DynatraceConnection {
    async fn samples(
        &self,
        query: &str,
        window: TimeWindow,
        step: std::time::Duration,
        merge: Merge,
    ) -> Result<Vec<Option<f64>>, SliError> {
        let sli = self.connected_sli().await?;
        SampleSource::samples(&*sli, query, window, step, merge).await
    }

    fn requests(&self) -> u64 {
        self.sli
            .get()
            .map_or(0, |sli| SampleSource::requests(&**sli))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_api_version_names_the_variable() {
        let env = Env::new(|name: &str| match name {
            "DT_TENANT_URL" => Some("https://abc12345.live.dynatrace.com".to_string()),
            "DT_API_VERSION" => Some("v3".to_string()),
            "DT_API_TOKEN_SECRET_ARN" => Some("arn:aws:secretsmanager:token".to_string()),
            _ => None,
        });
        let e = DynatraceSettings::from_env(&env).unwrap_err();
        assert!(
            e.to_string()
                .contains("DT_API_VERSION unknown API version \"v3\""),
            "{e}"
        );
    }

    #[test]
    fn an_unset_api_version_is_v2() {
        let env = Env::new(|name: &str| match name {
            "DT_TENANT_URL" => Some("https://abc12345.live.dynatrace.com/".to_string()),
            "DT_API_TOKEN_SECRET_ARN" => Some("arn:aws:secretsmanager:token".to_string()),
            _ => None,
        });
        let settings = DynatraceSettings::from_env(&env).expect("the settings read");
        assert_eq!(settings.api, ApiVersion::V2);
        assert_eq!(settings.tenant_url, "https://abc12345.live.dynatrace.com");
    }
}
