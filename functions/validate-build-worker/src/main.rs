//! validate-build-worker: the scheduled worker. Each tick claims the validations that are due,
//! measures and judges them through Dynatrace, and approves or rejects their approvals.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::lambda::{self, worker, LambdaError};
use unbreakable_shared::ports::secrets::CachedSecrets;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let config = lambda::config_or_exit(worker::Config::from_env);
    let aws = AwsClients::load(worker::MANIFEST.aws_actions).await;
    let secrets = Arc::new(CachedSecrets::new(aws.secrets()));
    let worker = Arc::new(worker::Worker {
        store: Arc::new(aws.validation_store(config.table)),
        pipeline: Arc::new(aws.pipeline()),
        source: Arc::new(DynatraceConnection::from_settings(
            config.dynatrace,
            secrets,
        )),
        settings: config.worker,
    });
    lambda::serve_job(|_event, request_id, _deadline| {
        let worker = worker.clone();
        async move {
            // The request id names the lease owner: unique per invocation.
            let report = worker.tick(&request_id).await?;
            tracing::info!(?report, "tick done");
            Ok::<_, LambdaError>(report)
        }
    })
    .await
}
