//! validate-build-worker: the scheduled worker. Each tick claims the validations that are due,
//! measures and judges them through Dynatrace, and approves or rejects their approvals.

use std::sync::Arc;

use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, worker, LambdaError};
use unbreakable_shared::ports::secrets::CachedSecrets;
use unbreakable_shared::ports::sli::{SliProvider, SliProviders};
use unbreakable_shared::prometheus::Prometheus;

/// Each SLI query gets this long; a validation's attempt retries after a timeout.
const SLI_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(worker::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(worker::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let secrets = Arc::new(CachedSecrets::new(aws.secrets()));
    let prometheus = match config.prometheus_url.as_deref() {
        None => None,
        Some(url) => match Prometheus::new(url, SLI_QUERY_TIMEOUT) {
            Ok(client) => Some(Arc::new(client) as Arc<dyn SliProvider>),
            Err(e) => {
                eprintln!("PROMETHEUS_URL: {e}");
                std::process::exit(2);
            }
        },
    };
    let dynatrace = Arc::new(DynatraceConnection::from_settings(
        config.dynatrace,
        secrets,
    ));
    let worker = Arc::new(worker::Worker {
        store: Arc::new(aws.validation_store(config.table)),
        pipeline: Arc::new(aws.pipeline()),
        source: dynatrace.clone(),
        sli: SliProviders {
            prometheus,
            dynatrace: Some(dynatrace),
        },
        settings: config.worker,
    });
    cold.mark("clients");
    cold.log();
    lambda::serve_job(|_event, request_id, deadline| {
        let worker = worker.clone();
        async move {
            // The request id names the lease owner: unique per invocation.
            let report = worker.tick(&request_id, Some(deadline)).await?;
            tracing::info!(?report, "tick done");
            Ok::<_, LambdaError>(report)
        }
    })
    .await
}
