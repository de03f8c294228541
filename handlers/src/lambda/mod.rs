//! The Lambda functions' typed configurations and handlers. Each `functions/<name>/src/main.rs`
//! is a composition root: it reads its handler's `Config` once, builds the adapters, and runs
//! the handler. Each handler module's `MANIFEST` declares the settings it reads and the AWS
//! actions it calls; [`FUNCTIONS`] lists them for the template test.

pub mod alerts;
pub mod cold_start;
pub mod config;
pub mod deployment_event;
pub mod job;
pub mod problem;
pub mod publish;
pub mod register;
pub mod remediate;
pub mod report;
pub mod wake;
pub mod worker;
mod worker_canary;

use serde_json::Value;

pub use config::{ConfigError, Env, Setting};

/// The error a Lambda entry point returns.
pub type LambdaError = lambda_runtime::Error;

/// Read by every function that keeps validations.
pub const VALIDATION_TABLE: Setting = Setting::required(
    "VALIDATION_TABLE",
    "the name of the DynamoDB table of build validations",
);

/// The configuration of a function that reads only the validation table.
#[derive(Debug, Clone)]
pub struct TableConfig {
    pub table: String,
}

impl TableConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(TableConfig {
            table: env.required(&VALIDATION_TABLE)?,
        })
    }
}

/// The queue of wake-ups (see [`crate::ports::wakeups`]); unset or empty: none are sent and
/// every decision waits for the sweep.
pub const WAKE_QUEUE_URL: Setting = Setting::optional(
    "WAKE_QUEUE_URL",
    "the URL of the SQS queue that invokes the worker the moment a validation or lane is due",
);

/// What sending a wake-up takes.
pub const WAKE_SEND_ACTION: &str = "sqs:SendMessage";

/// The CloudWatch Logs calls every function's role allows (the runtime writes its logs).
pub const LOG_ACTIONS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];

/// What one function reads and calls, as data: the template test holds the stack to it.
#[derive(Debug, Clone, Copy)]
pub struct FunctionManifest {
    /// The crate in `functions/` and the zip's name.
    pub name: &'static str,
    pub settings: &'static [Setting],
    pub aws_actions: &'static [&'static str],
}

/// Every function of the stack.
pub const FUNCTIONS: [FunctionManifest; 6] = [
    register::MANIFEST,
    worker::MANIFEST,
    report::MANIFEST,
    deployment_event::MANIFEST,
    problem::MANIFEST,
    publish::MANIFEST,
];

/// Crates that log whole events at TRACE: lambda_runtime's "raw JSON event" line carries the
/// webhook's secret header and the job's artifact credentials.
const EVENT_LOGGING_CRATES: [&str; 3] =
    ["lambda_runtime", "lambda_http", "lambda_runtime_api_client"];

/// Whether a log line may be written whatever `RUST_LOG` says: never a TRACE line of a crate
/// that logs raw events.
pub fn may_log(target: &str, level: &tracing::Level) -> bool {
    let event_logger = EVENT_LOGGING_CRATES
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")));
    !event_logger || *level <= tracing::Level::DEBUG
}

/// JSON logs to stdout (CloudWatch), with the span fields lambda_runtime adds (the request
/// id). Level from `RUST_LOG` (default info), but see [`may_log`].
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let levels = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let pinned = tracing_subscriber::filter::filter_fn(|m| may_log(m.target(), m.level()));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_target(false)
                .with_filter(pinned)
                .with_filter(levels),
        )
        .try_init();
}

/// Read a handler's configuration from the process environment, or exit: a cold start that
/// cannot work must not serve. The message names the variable.
pub fn config_or_exit<T>(
    read: impl FnOnce(&Env<fn(&str) -> Option<String>>) -> Result<T, ConfigError>,
) -> T {
    match read(&Env::process()) {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}

/// Serve a CodePipeline job (or scheduled) function: `handle(event, request id, deadline ms)`.
pub async fn serve_job<H, Fut, R>(handle: H) -> Result<(), LambdaError>
where
    H: Fn(Value, String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<R, LambdaError>>,
    R: serde::Serialize,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| {
            handle(
                event.payload,
                event.context.request_id.clone(),
                event.context.deadline as i64,
            )
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Values that satisfy every function's required settings.
    const VALUES: &[(&str, &str)] = &[
        ("VALIDATION_TABLE", "t"),
        ("DT_TENANT_URL", "https://abc.example"),
        ("DT_API_TOKEN_SECRET_ARN", "arn:secret"),
        ("WEBHOOK_SECRET_ARN", "arn:webhook"),
    ];

    fn declared(manifest: FunctionManifest) -> BTreeSet<String> {
        manifest
            .settings
            .iter()
            .filter(|s| !job::S3_ENDPOINTS.contains(s))
            .map(|s| s.variable.to_string())
            .collect()
    }

    #[test]
    fn a_wake_queue_url_that_is_not_a_url_fails_each_cold_start_naming_the_variable() {
        let lookup = |name: &str| {
            if name == "WAKE_QUEUE_URL" {
                return Some("wake-queue".to_string());
            }
            VALUES
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let env = config::Env::new(lookup);
        let errors = [
            register::Config::from_env(&env)
                .err()
                .map(|e| e.to_string()),
            worker::Config::from_env(&env).err().map(|e| e.to_string()),
            problem::Config::from_env(&env).err().map(|e| e.to_string()),
        ];
        for error in errors {
            let error = error.expect("refused");
            assert!(error.contains("WAKE_QUEUE_URL"), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
        // Blank: wake-ups off, not an error.
        let blank = config::Env::new(|name: &str| {
            (name == "WAKE_QUEUE_URL")
                .then(|| " ".to_string())
                .or_else(|| {
                    VALUES
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_string())
                })
        });
        assert_eq!(
            worker::Config::from_env(&blank).unwrap().wake_queue_url,
            None
        );
    }

    #[test]
    fn each_config_reads_exactly_the_settings_its_manifest_declares() {
        use config::variables_read;
        let cases = [
            (
                register::MANIFEST,
                variables_read(register::Config::from_env, VALUES),
            ),
            (
                worker::MANIFEST,
                variables_read(worker::Config::from_env, VALUES),
            ),
            (
                report::MANIFEST,
                variables_read(report::Config::from_env, VALUES),
            ),
            (
                deployment_event::MANIFEST,
                variables_read(deployment_event::Config::from_env, VALUES),
            ),
            (
                problem::MANIFEST,
                variables_read(problem::Config::from_env, VALUES),
            ),
            (
                publish::MANIFEST,
                variables_read(publish::Config::from_env, VALUES),
            ),
        ];
        for (manifest, read) in cases {
            assert_eq!(read, declared(manifest), "{}", manifest.name);
        }
    }

    #[test]
    fn every_manifest_declares_the_log_actions_and_no_wildcards() {
        for f in FUNCTIONS {
            for a in LOG_ACTIONS {
                assert!(f.aws_actions.contains(&a), "{}: {a}", f.name);
            }
            assert!(f.aws_actions.iter().all(|a| !a.contains('*')), "{}", f.name);
        }
    }

    #[test]
    fn raw_event_logging_stays_below_trace_whatever_rust_log_says() {
        use tracing::Level;
        let cases = [
            ("lambda_runtime", Level::TRACE, false),
            ("lambda_runtime::layers::api_response", Level::TRACE, false),
            ("lambda_http::request", Level::TRACE, false),
            ("lambda_runtime_api_client", Level::TRACE, false),
            ("lambda_runtime", Level::DEBUG, true),
            ("lambda_runtime", Level::ERROR, true),
            ("lambda_runtime_other", Level::TRACE, true),
            ("unbreakable_handlers::lambda::worker", Level::TRACE, true),
        ];
        for (target, level, shown) in cases {
            assert_eq!(may_log(target, &level), shown, "{target} {level}");
        }
    }
}

#[cfg(test)]
mod remediate_tests;

/// A JSON answer of an API Gateway handler (the problem and Alertmanager webhooks).
pub(crate) fn json_response(
    status: u16,
    body: serde_json::Value,
) -> lambda_http::Response<lambda_http::Body> {
    lambda_http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(lambda_http::Body::from(body.to_string()))
        .expect("static response parts")
}
