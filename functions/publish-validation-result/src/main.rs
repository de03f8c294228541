//! publish-validation-result: a CodePipeline Invoke action that writes this execution's
//! validation result and filled monspec as the action's output artifact.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::lambda::{self, publish, LambdaError};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let config = lambda::config_or_exit(publish::Config::from_env);
    let aws = AwsClients::load(publish::MANIFEST.aws_actions).await;
    let handler = Arc::new(publish::Publish {
        pipeline: Arc::new(aws.pipeline()),
        store: Arc::new(aws.validation_store(config.table)),
        artifacts: Arc::new(aws.artifacts()),
    });
    lambda::serve_job(|event, request_id, _deadline| {
        let handler = handler.clone();
        async move { handler.handle(event, &request_id).await }
    })
    .await
}
