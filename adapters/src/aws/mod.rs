//! The AWS adapters of the ports: DynamoDB (validation store), CodePipeline (jobs and
//! approvals), CodeDeploy (deployments), Auto Scaling (scaling), S3 (artifacts), Secrets
//! Manager and SSM (secrets), SQS (wake-ups).

pub mod autoscaling;
pub mod codedeploy;
pub mod codepipeline;
pub mod declared;
pub mod dynamodb;
pub mod dynamodb_lanes;
pub mod json_protocol;
pub mod s3;
pub mod sdk_error;
pub mod secrets;
pub mod sqs;
pub mod ssm;

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::{tls, Builder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::ports::wakeups::{SweepOnly, Wakeups};

/// The SDK configuration loader every client is built from: the standard credential chain,
/// endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` only (so tests and the
/// local pipeline steer every client without code changes), and HTTPS through rustls with
/// ring, built on the first request (see [`LazyHttpClient`]).
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(LazyHttpClient::default()))
}

/// The SDK's hyper client, created on the first request instead of at each client's
/// construction. smithy's client reads the system's root certificates (on Debian a bundle and
/// some 150 files) when each SDK client is built, to fail early; a cold start paid that before
/// its first event, about 7 ms measured by the `worker_throughput` benchmark, and again for
/// every client. Here the store is read once, when the first request needs a connector.
#[derive(Debug, Default)]
pub struct LazyHttpClient {
    inner: OnceLock<SharedHttpClient>,
}

impl HttpClient for LazyHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner
            .get_or_init(|| {
                Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https()
            })
            // The inner client caches its connectors by settings: one per timeout setting.
            .http_connector(settings, components)
    }
}

/// A function's SDK configuration. Lambda puts the role's credentials and the region in the
/// environment; taking them from there directly skips building the default chains (profile
/// files, SSO, web identity, ECS and IMDS providers), which the `worker_throughput` benchmark
/// measured at several ms of every cold start. Without those variables, the default chains.
async fn function_sdk_config() -> aws_config::SdkConfig {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let loader = sdk_config_loader();
    match std::env::var("AWS_REGION") {
        Ok(region)
            if !region.trim().is_empty()
                && set("AWS_ACCESS_KEY_ID")
                && set("AWS_SECRET_ACCESS_KEY") =>
        {
            loader
                .region(aws_config::Region::new(region))
                .credentials_provider(
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                )
                .load()
                .await
        }
        _ => loader.load().await,
    }
}

/// The SDK configuration and the AWS actions a function declared: every client built here
/// refuses undeclared calls (see [`declared`]).
pub struct AwsClients {
    pub sdk: aws_config::SdkConfig,
    pub declared: declared::DeclaredActions,
}

impl AwsClients {
    pub async fn load(actions: &'static [&'static str]) -> Self {
        AwsClients {
            sdk: function_sdk_config().await,
            declared: declared::DeclaredActions { actions },
        }
    }

    pub fn validation_store(&self, table: String) -> dynamodb::DynamoValidationStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        dynamodb::DynamoValidationStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
    }

    pub fn pipeline(&self) -> codepipeline::CodePipeline {
        let config = aws_sdk_codepipeline::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        codepipeline::CodePipeline::new(aws_sdk_codepipeline::Client::from_conf(config))
    }

    pub fn deployer(&self) -> codedeploy::CodeDeployDeployer {
        let config = aws_sdk_codedeploy::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        codedeploy::CodeDeployDeployer::new(aws_sdk_codedeploy::Client::from_conf(config))
    }

    /// Auto Scaling, with CodeDeploy to find a deployment group's Auto Scaling group; the
    /// function declares [`autoscaling::SCALING_ACTIONS`].
    pub fn scaling(&self) -> autoscaling::AutoScalingScaler {
        let config = aws_sdk_autoscaling::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        autoscaling::AutoScalingScaler::new(
            aws_sdk_autoscaling::Client::from_conf(config),
            self.deployer(),
        )
    }

    /// Secrets Manager, checked against the declaration; SSM SecureString parameters (for
    /// teams that keep the token there) need a role statement of their own.
    pub fn secrets(&self) -> secrets::AwsSecrets {
        let config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        secrets::AwsSecrets::from_clients(
            aws_sdk_secretsmanager::Client::from_conf(config),
            ssm::SsmClient::new(&self.sdk),
        )
    }

    /// Wake-ups on the queue at `queue_url`, its SendMessage checked against the declaration;
    /// without a queue (none configured, or empty), none are sent and the sweep serves every
    /// decision.
    pub fn wakeups(&self, queue_url: Option<String>) -> Arc<dyn Wakeups> {
        match queue_url
            .map(|url| url.trim().to_string())
            .filter(|url| !url.is_empty())
        {
            Some(url) => Arc::new(sqs::SqsWakeups::from_client(
                sqs::SqsClient::new(&self.sdk).declared(self.declared),
                url,
            )),
            None => Arc::new(SweepOnly),
        }
    }

    /// Artifacts are read and written with each job's own temporary credentials, not the
    /// function's role. Local endpoints (moto) need path-style addressing.
    pub fn artifacts(&self) -> s3::S3ArtifactStore {
        let local_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|u| !u.trim().is_empty()));
        s3::S3ArtifactStore::new(self.sdk.clone(), local_endpoint)
    }
}
