//! publish-validation-result: a CodePipeline Invoke action that writes this execution's
//! validation result and filled monspec as the action's output artifact.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, publish, LambdaError};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(publish::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(publish::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let handler = Arc::new(publish::Publish {
        pipeline: Arc::new(aws.pipeline()),
        store: Arc::new(aws.validation_store(config.table)),
        artifacts: Arc::new(aws.artifacts()),
    });
    cold.mark("clients");
    cold.log();
    lambda::serve_job(|event, request_id, _deadline| {
        let handler = handler.clone();
        async move { handler.handle(event, &request_id).await }
    })
    .await
}
