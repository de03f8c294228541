//! handle-problem-notification: the problem webhooks behind API Gateway: Dynatrace's custom
//! integration, and Alertmanager's at `/HandleAlertmanagerAlert`.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{service_fn, Request, RequestExt};
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::contract;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::dynatrace::ClientOptions;
use unbreakable_shared::lambda::alerts::{self, AlertHandler};
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, problem, LambdaError};
use unbreakable_shared::ports::secrets::{CachedSecrets, SecretSource};
use unbreakable_shared::problems::ProblemService;
use unbreakable_shared::rollback::RollbackExecutor;
use unbreakable_shared::time::now_ms;

/// Dynatrace calls from the webhook: short, so one slow call cannot eat the 29 s API Gateway
/// gives the function ([`problem::API_GATEWAY_LIMIT`]). Composition, so here: the handler
/// names no adapter's client options.
fn dynatrace_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(8),
        max_retries: 1,
        ..ClientOptions::default()
    }
}

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
    let dynatrace = config.dynatrace;
    let store = Arc::new(aws.validation_store(config.table));
    let wakeups = aws.wakeups(config.wake_queue_url);
    let deployer = Arc::new(aws.deployer());
    let handler = Arc::new(problem::ProblemHandler {
        secrets: secrets.clone(),
        webhook_secret_id: config.webhook_secret_id,
        store: store.clone(),
        problems: ProblemService {
            monitoring: Arc::new(DynatraceConnection::new(
                dynatrace.tenant_url,
                dynatrace.api,
                dynatrace.token_secret,
                secrets.clone(),
                dynatrace_options(),
            )),
            deployer: deployer.clone(),
            lanes: store.clone(),
            configs: store.clone(),
            wakeups: wakeups.clone(),
            rollbacks: Arc::new(RollbackExecutor {
                deployer,
                ledger: store.clone(),
                settings: config.settings.rollback(),
            }),
            tenant_url: config.settings.tenant_url,
        },
    });
    let alert_handler = Arc::new(AlertHandler {
        secrets: secrets.clone(),
        secret_id: config.alertmanager_secret_id,
        lanes: store.clone(),
        configs: store,
        wakeups,
    });
    cold.mark("clients");
    cold.log();
    lambda_http::run(service_fn(move |request: Request| {
        let handler = handler.clone();
        let alert_handler = alert_handler.clone();
        async move {
            let deadline = problem::answer_deadline(
                now_ms(),
                request.lambda_context_ref().map(|c| c.deadline as i64),
            );
            if request.uri().path().ends_with(contract::ALERTMANAGER_PATH) {
                let (authorization, body) = alerts::authorization_and_body(&request);
                return Ok(alert_handler
                    .answer(authorization.as_deref(), &body, deadline)
                    .await);
            }
            let (secret, body) = problem::secret_and_body(&request);
            Ok::<_, LambdaError>(handler.answer(secret.as_deref(), &body, deadline).await)
        }
    }))
    .await
}
