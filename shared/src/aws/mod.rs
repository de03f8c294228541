//! The AWS adapters of the ports: DynamoDB (validation store), CodePipeline (jobs and
//! approvals), CodeDeploy (deployments), S3 (artifacts), Secrets Manager and SSM (secrets).

pub mod codedeploy;
pub mod codepipeline;
pub mod declared;
pub mod dynamodb;
pub mod s3;
pub mod sdk_error;
pub mod secrets;

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::{tls, Builder};

/// The SDK configuration loader every client is built from: the standard credential chain,
/// endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` only (so tests and the
/// local pipeline steer every client without code changes), and HTTPS through rustls with
/// ring. The system's root certificates are read on the first request, not here.
pub fn sdk_config_loader() -> ConfigLoader {
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
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
            sdk: sdk_config_loader().load().await,
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

    /// Secrets Manager, checked against the declaration; SSM SecureString parameters (for
    /// teams that keep the token there) need a role statement of their own.
    pub fn secrets(&self) -> secrets::AwsSecrets {
        let config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk)
            .interceptor(self.declared)
            .build();
        secrets::AwsSecrets::from_clients(
            aws_sdk_secretsmanager::Client::from_conf(config),
            aws_sdk_ssm::Client::new(&self.sdk),
        )
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
