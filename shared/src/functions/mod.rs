//! The Lambda functions' handlers. Each `functions/<name>/src/main.rs` calls one `main` here:
//! read the configuration once at cold start, build the clients once, run the handler.

pub mod config;
pub mod deployment_event;
pub mod job;
pub mod problem;
pub mod publish;
pub mod register;
pub mod report;
pub mod worker;

use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use serde_json::Value;

use crate::artifacts::s3::S3ArtifactStore;
use crate::deploy::codedeploy::CodeDeployDeployer;
use crate::pipeline::codepipeline::CodePipelineGate;
use crate::secrets::aws::AwsSecrets;
use crate::secrets::{CachedSecrets, SecretSource};
use crate::store::dynamodb::DynamoValidationStore;

pub use config::{ConfigError, DynatraceConnection, Env};

/// The error a Lambda entry point returns.
pub type LambdaError = lambda_runtime::Error;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// JSON logs to stdout (CloudWatch), with the span fields lambda_runtime adds (the request
/// id). Level from `RUST_LOG` (default info).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// The AWS SDK configuration from the standard chain. Endpoints come from
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` only, so tests and the local pipeline
/// steer every client without code changes.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// S3 needs path-style addressing on local endpoints (moto), which have no bucket hosts.
pub fn s3_path_style<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> bool {
    env.optional("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.optional("AWS_ENDPOINT_URL"))
        .is_some()
}

/// What every function's cold start does: JSON logs, the environment checked once, the AWS
/// configuration, and the clients built from them. A bad setting exits with its message.
pub struct ColdStart {
    pub env: Env<fn(&str) -> Option<String>>,
    pub aws: SdkConfig,
}

impl ColdStart {
    pub async fn begin() -> Self {
        init_logging();
        ColdStart {
            env: Env::process(),
            aws: aws_config().await,
        }
    }

    /// Exit the cold start on a configuration error.
    pub fn setting<T>(
        &self,
        read: impl FnOnce(&Env<fn(&str) -> Option<String>>) -> Result<T, ConfigError>,
    ) -> T {
        exit_on_config_error(read(&self.env))
    }

    pub fn store(&self) -> Arc<DynamoValidationStore> {
        let table = self.setting(|env| {
            env.required(
                "VALIDATION_TABLE",
                "the name of the DynamoDB table of build validations",
            )
        });
        Arc::new(DynamoValidationStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            table,
        ))
    }

    pub fn gate(&self) -> Arc<CodePipelineGate> {
        Arc::new(CodePipelineGate::new(aws_sdk_codepipeline::Client::new(
            &self.aws,
        )))
    }

    pub fn deployer(&self) -> Arc<CodeDeployDeployer> {
        Arc::new(CodeDeployDeployer::new(aws_sdk_codedeploy::Client::new(
            &self.aws,
        )))
    }

    pub fn artifacts(&self) -> Arc<S3ArtifactStore> {
        Arc::new(S3ArtifactStore::new(
            self.aws.clone(),
            s3_path_style(&self.env),
        ))
    }

    pub fn secrets(&self) -> Arc<dyn SecretSource> {
        Arc::new(CachedSecrets::new(AwsSecrets::new(&self.aws)))
    }

    pub fn dynatrace(&self, secrets: Arc<dyn SecretSource>) -> Arc<DynatraceConnection> {
        Arc::new(self.setting(|env| DynatraceConnection::from_env(env, secrets)))
    }
}

/// Serve a CodePipeline job (or scheduled) function: `handle(event, request id, deadline ms)`.
pub async fn serve<H, Fut, R>(handle: H) -> Result<(), LambdaError>
where
    H: Fn(Value, String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<R, LambdaError>>,
    R: serde::Serialize,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| {
            handle(
                event.payload,
                event.context.request_id.clone(),
                event.context.deadline as i64,
            )
        },
    ))
    .await
}

/// Log the configuration error and exit: a cold start that cannot work must not serve.
pub fn exit_on_config_error<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
