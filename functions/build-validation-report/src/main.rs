//! build-validation-report: the HTML (or JSON) report of all validations, and the timeline of
//! the self-healing sequences at `/RemediationSequences`, behind API Gateway.

use std::sync::Arc;

use lambda_http::{service_fn, Request, RequestExt};
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::contract;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, report, LambdaError};

/// The report is some 100,000 short-lived strings for 500 builds (parsed results, chart
/// titles, the page); glibc's malloc spent about 40 % of its time on them, mimalloc a third of
/// that (`cargo bench -p unbreakable-tests --bench report_render` runs with it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(report::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(report::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let store = Arc::new(aws.validation_store(config.table));
    let report = Arc::new(report::Report {
        store: store.clone(),
        lanes: store,
        limits: report::ReportLimits::default(),
    });
    cold.mark("clients");
    cold.log();
    lambda_http::run(service_fn(move |request: Request| {
        let report = report.clone();
        async move {
            let query = request.query_string_parameters();
            let get = |k: &str| query.first(k).map(str::to_string);
            if request.uri().path().ends_with(contract::TIMELINE_PATH) {
                return Ok::<_, LambdaError>(report.timeline(get).await);
            }
            Ok::<_, LambdaError>(report.answer(get).await)
        }
    }))
    .await
}
