//! The webhook function's settings, manifest and typed configuration, and how a request's
//! secret header and body are read.

use super::*;
use crate::settings::dynatrace::{self, DynatraceSettings};

const WEBHOOK_SECRET: Setting = Setting::required(
    "WEBHOOK_SECRET_ARN",
    "the ARN of the Secrets Manager secret holding the webhook's shared secret",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "handle-problem-notification",
    settings: &[
        VALIDATION_TABLE,
        dynatrace::TENANT_URL,
        dynatrace::API_VERSION,
        dynatrace::TOKEN_SECRET,
        WEBHOOK_SECRET,
        crate::lambda::alerts::ALERTMANAGER_SECRET,
        crate::lambda::config::ROLLBACK_LOOKBACK,
        crate::lambda::config::ROLLBACK_COOLDOWN,
        crate::lambda::WAKE_QUEUE_URL,
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:RegisterApplicationRevision",
        "secretsmanager:GetSecretValue",
        crate::lambda::WAKE_SEND_ACTION,
    ],
};

/// What handle-problem-notification reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub dynatrace: DynatraceSettings,
    pub webhook_secret_id: String,
    /// The Alertmanager webhook's token secret, when the stack routes Alertmanager here.
    pub alertmanager_secret_id: Option<String>,
    pub settings: ProblemSettings,
    /// Where wake-ups go; `None`: sweep only.
    pub wake_queue_url: Option<String>,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let dynatrace = DynatraceSettings::from_env(env)?;
        let rollback = crate::lambda::config::rollback_settings(env)?;
        Ok(Config {
            table: env.required(&VALIDATION_TABLE)?,
            webhook_secret_id: env.required(&WEBHOOK_SECRET)?,
            alertmanager_secret_id: env.optional(&crate::lambda::alerts::ALERTMANAGER_SECRET),
            settings: ProblemSettings {
                lookback: rollback.lookback,
                cooldown: rollback.cooldown,
                tenant_url: Some(dynatrace.tenant_url.clone()),
            },
            dynatrace,
            wake_queue_url: env.optional_url(&crate::lambda::WAKE_QUEUE_URL)?,
        })
    }
}

/// The webhook secret header and the body of an API Gateway request, as the handler reads
/// them: the bytes as sent (a base64-encoded body arrives as binary), checked by the handler.
pub fn secret_and_body(request: &Request) -> (Option<String>, Vec<u8>) {
    // A header that is not visible ASCII is still a header: refused by the comparison, and
    // logged as present.
    let secret = request
        .headers()
        .get(SECRET_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match request.body() {
        Body::Text(t) => t.clone().into_bytes(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    };
    (secret, body)
}
