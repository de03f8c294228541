//! push-deployment-event: a CodePipeline Invoke action that tells Dynatrace about a deployment.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, deployment_event, LambdaError};
use unbreakable_shared::ports::secrets::CachedSecrets;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(deployment_event::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(deployment_event::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let secrets = Arc::new(CachedSecrets::new(aws.secrets()));
    let handler = Arc::new(deployment_event::DeploymentEvents {
        pipeline: Arc::new(aws.pipeline()),
        artifacts: Arc::new(aws.artifacts()),
        deployer: Arc::new(aws.deployer()),
        monitoring: Arc::new(DynatraceConnection::from_settings(
            config.dynatrace,
            secrets,
        )),
        problem_handler_url: config.problem_handler_url,
        first_backoff: config.first_backoff,
    });
    cold.mark("clients");
    cold.log();
    lambda::serve_job(|event, request_id, deadline| {
        let handler = handler.clone();
        async move { handler.handle(event, &request_id, deadline).await }
    })
    .await
}
