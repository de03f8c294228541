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

// The settings are plain data below the handlers (whose `Config`s name them) and this
// adapter: `unbreakable-app`'s `settings::dynatrace`, re-exported here under their old names.
pub use crate::settings::dynatrace::{
    DynatraceSettings, API_VERSION, SETTINGS, TENANT_URL, TOKEN_SECRET,
};

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
