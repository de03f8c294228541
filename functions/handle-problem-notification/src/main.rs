//! handle-problem-notification: the Dynatrace problem webhook behind API Gateway.

use std::sync::Arc;

use lambda_http::{service_fn, Request};
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, problem, LambdaError};
use unbreakable_shared::ports::secrets::{CachedSecrets, SecretSource};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(problem::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(problem::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let secrets: Arc<dyn SecretSource> = Arc::new(CachedSecrets::new(aws.secrets()));
    let handler = Arc::new(problem::ProblemHandler {
        secrets: secrets.clone(),
        webhook_secret_id: config.webhook_secret_id,
        store: Arc::new(aws.validation_store(config.table)),
        deployer: Arc::new(aws.deployer()),
        monitoring: Arc::new(DynatraceConnection::from_settings(
            config.dynatrace,
            secrets,
        )),
        settings: config.settings,
    });
    cold.mark("clients");
    cold.log();
    lambda_http::run(service_fn(move |request: Request| {
        let handler = handler.clone();
        async move {
            let (secret, body) = problem::secret_and_body(&request);
            Ok::<_, LambdaError>(handler.answer(secret.as_deref(), &body).await)
        }
    }))
    .await
}
