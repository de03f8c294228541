//! build-validation-report: the HTML (or JSON) report of all validations, behind API Gateway.

use std::sync::Arc;

use lambda_http::{service_fn, Request, RequestExt};
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::lambda::cold_start::ColdStart;
use unbreakable_shared::lambda::{self, report, LambdaError};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    let mut cold = ColdStart::begin();
    lambda::init_logging();
    cold.mark("logging");
    let config = lambda::config_or_exit(report::Config::from_env);
    cold.mark("config");
    let aws = AwsClients::load(report::MANIFEST.aws_actions).await;
    cold.mark("sdk_config");
    let report = Arc::new(report::Report {
        store: Arc::new(aws.validation_store(config.table)),
        limits: report::ReportLimits::default(),
    });
    cold.mark("clients");
    cold.log();
    lambda_http::run(service_fn(move |request: Request| {
        let report = report.clone();
        async move {
            let query = request.query_string_parameters();
            Ok::<_, LambdaError>(report.answer(|k| query.first(k).map(str::to_string)).await)
        }
    }))
    .await
}
