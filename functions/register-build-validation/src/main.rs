//! register-build-validation: a CodePipeline Invoke action that checks the build's monspec and
//! stores the validation request the worker decides later.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, register, LambdaError};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(register::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(register::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let handler = Arc::new(register::Register {
        pipeline: Arc::new(aws.pipeline()),
        store: Arc::new(aws.validation_store(config.table)),
        artifacts: Arc::new(aws.artifacts()),
        http: register::monspec_http_client(config.allow_http_monspec_url)?,
        retention: config.retention,
        allow_http_monspec_url: config.allow_http_monspec_url,
        ingestion_delays: config.ingestion_delays,
        wakeups: aws.wakeups(config.wake_queue_url),
    });
    cold.mark("clients");
    cold.log();
    lambda::serve_job(|event, request_id, _deadline| {
        let handler = handler.clone();
        async move { handler.handle(event, &request_id).await }
    })
    .await
}
