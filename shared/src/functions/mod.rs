//! The Lambda functions' handlers. Each `functions/<name>/src/main.rs` calls one `main` here:
//! read the configuration once at cold start, build the clients once, run the handler.

pub mod config;
pub mod deployment_event;
pub mod job;
pub mod problem;
pub mod publish;
pub mod register;
pub mod report;
pub mod worker;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};

pub use config::{ConfigError, DynatraceConnection, Env};

/// The error a Lambda entry point returns.
pub type LambdaError = lambda_runtime::Error;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// JSON logs to stdout (CloudWatch), with the span fields lambda_runtime adds (the request
/// id). Level from `RUST_LOG` (default info).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// The AWS SDK configuration from the standard chain. Endpoints come from
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` only, so tests and the local pipeline
/// steer every client without code changes.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// S3 needs path-style addressing on local endpoints (moto), which have no bucket hosts.
pub fn s3_path_style<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> bool {
    env.optional("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.optional("AWS_ENDPOINT_URL"))
        .is_some()
}

/// Log the configuration error and exit: a cold start that cannot work must not serve.
pub fn exit_on_config_error<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
