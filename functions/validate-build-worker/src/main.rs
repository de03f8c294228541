//! validate-build-worker: the worker, invoked by its schedule (the sweep: everything due)
//! or by a batch of wake-ups from the wake queue (one validation or lane each, the moment it
//! is due). Each tick claims the validations that are due,
//! measures and judges them (monspecs through Dynatrace; SLO and canary gates through the
//! provider they name), and approves or rejects their approvals; and it
//! advances the self-healing lanes that are due (actions, waits, evaluations).

use std::sync::Arc;

use unbreakable_shared::alertmanager_api::AlertmanagerApi;
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::dynatrace::connection::DynatraceConnection;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::remediate::Remediator;
use unbreakable_shared::lambda::wake::{read_invocation, Invocation, WakeServer};
use unbreakable_shared::lambda::{self, worker, LambdaError};
use unbreakable_shared::notifier::SourceNotifier;
use unbreakable_shared::ports::monitoring::MonitoringEvents;
use unbreakable_shared::ports::remediation::AlertSource;
use unbreakable_shared::ports::samples::SampleSource;
use unbreakable_shared::ports::samples::SampleSources;
use unbreakable_shared::ports::secrets::CachedSecrets;
use unbreakable_shared::ports::sli::{SliProvider, SliProviders};
use unbreakable_shared::ports::toggles::FeatureToggles;
use unbreakable_shared::prometheus::Prometheus;
use unbreakable_shared::rollback::RollbackExecutor;
use unbreakable_shared::self_healing::actions::{ActionRunner, ActionTimeouts};
use unbreakable_shared::self_healing::evaluator::SloLaneEvaluator;
use unbreakable_shared::unleash::UnleashAdmin;

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
    let toggles = match config.remediation.unleash.clone() {
        None => None,
        Some(settings) => match UnleashAdmin::new(settings, secrets.clone()) {
            Ok(admin) => Some(Arc::new(admin) as Arc<dyn FeatureToggles>),
            Err(e) => {
                eprintln!("UNLEASH_URL: {e}");
                std::process::exit(2);
            }
        },
    };
    // One client serves both ports: SLI values for SLO gates, raw points for canary gates.
    let prometheus = match config.prometheus_url.as_deref() {
        None => None,
        Some(url) => match Prometheus::new(url, SLI_QUERY_TIMEOUT) {
            Ok(client) => Some(Arc::new(client)),
            Err(e) => {
                eprintln!("PROMETHEUS_URL: {e}");
                std::process::exit(2);
            }
        },
    };
    let alerts = match config.remediation.alertmanager_url.as_deref() {
        None => None,
        Some(url) => match AlertmanagerApi::new(url, std::time::Duration::from_secs(5)) {
            Ok(api) => Some(Arc::new(api) as Arc<dyn AlertSource>),
            Err(e) => {
                eprintln!("ALERTMANAGER_URL: {e}");
                std::process::exit(2);
            }
        },
    };
    let dynatrace = Arc::new(DynatraceConnection::from_settings(
        config.dynatrace,
        secrets,
    ));
    let store = Arc::new(aws.validation_store(config.table));
    let wakeups = aws.wakeups(config.wake_queue_url);
    let sli = SliProviders {
        prometheus: prometheus.clone().map(|p| p as Arc<dyn SliProvider>),
        dynatrace: Some(dynatrace.clone()),
    };
    let samples = SampleSources {
        prometheus: prometheus.map(|p| p as Arc<dyn SampleSource>),
        dynatrace: Some(dynatrace.clone()),
    };
    let remediator = Arc::new(Remediator {
        lanes: store.clone(),
        configs: store.clone(),
        actions: Arc::new(ActionRunner {
            rollbacks: Arc::new(RollbackExecutor {
                deployer: Arc::new(aws.deployer()),
                ledger: store.clone(),
                settings: config.remediation.rollback,
            }),
            scaling: Arc::new(aws.scaling()),
            toggles,
            timeouts: ActionTimeouts::default(),
        }),
        evaluator: Arc::new(SloLaneEvaluator {
            configs: store.clone(),
            providers: sli.clone(),
            metrics: Some(dynatrace.clone()),
        }),
        notifier: Arc::new(SourceNotifier::new(
            Some(dynatrace.clone() as Arc<dyn MonitoringEvents>),
            std::time::Duration::from_secs(10),
        )),
        alerts,
        settings: config.remediation.settings,
        clock: Arc::new(unbreakable_shared::time::now_ms),
        wakeups: wakeups.clone(),
    });
    let worker = Arc::new(worker::Worker {
        store,
        pipeline: Arc::new(aws.pipeline()),
        source: dynatrace.clone(),
        sli,
        samples,
        wakeups: wakeups.clone(),
        settings: config.worker,
        clock: Arc::new(unbreakable_shared::time::now_ms),
    });
    cold.mark("clients");
    cold.log();
    lambda::serve_job(|event, request_id, deadline| {
        let worker = worker.clone();
        let remediator = remediator.clone();
        let wakeups = wakeups.clone();
        async move {
            if let Invocation::Wakeups(batch) = read_invocation(&event) {
                let server = WakeServer {
                    worker: &worker,
                    remediator: &remediator,
                    wakeups: wakeups.as_ref(),
                    now: &unbreakable_shared::time::now_ms,
                };
                let report = server.serve(batch, &request_id, Some(deadline)).await;
                tracing::info!(?report, "wake-ups done");
                return Ok::<_, LambdaError>(report.answer());
            }
            // The request id names the lease owner: unique per invocation.
            let (report, remediation) = tokio::join!(
                worker.tick(&request_id, Some(deadline)),
                remediator.tick(&request_id, Some(deadline))
            );
            let report = report?;
            tracing::info!(?report, ?remediation, "tick done");
            // The validations' report as before, with the self-healing's beside it.
            let mut answer = serde_json::to_value(&report)?;
            answer["remediation"] = serde_json::to_value(&remediation)?;
            Ok::<_, LambdaError>(answer)
        }
    })
    .await
}
