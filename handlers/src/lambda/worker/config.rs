//! The worker's settings, manifest and typed configuration.

use super::*;

const LEASE: Setting = Setting::optional(
    "WORKER_LEASE_SECONDS",
    "how long a worker holds a claimed validation",
);
const MAX_ATTEMPTS: Setting = Setting::optional(
    "WORKER_MAX_ATTEMPTS",
    "evaluation attempts before a validation is rejected as an error",
);
const CONCURRENCY: Setting =
    Setting::optional("WORKER_CONCURRENCY", "validations evaluated at once");
const BATCH: Setting = Setting::optional("WORKER_BATCH", "most validations taken per tick");
const RECHECK: Setting = Setting::optional(
    "WORKER_RECHECK_SECONDS",
    "delay before looking again at a waiting approval or a failed attempt",
);
const DEADLINE_MARGIN: Setting = Setting::optional(
    "WORKER_DEADLINE_MARGIN_SECONDS",
    "no claim with less than this left before the invocation's deadline; leases outlast the deadline by it",
);
const APPROVAL_WAIT: Setting = Setting::optional(
    "WORKER_APPROVAL_WAIT_DAYS",
    "how long a decided validation waits for its approval to start before it is recorded as never applied",
);
pub const PROMETHEUS_URL: Setting = Setting::optional(
    "PROMETHEUS_URL",
    "the Prometheus that SLO and canary gates with \"sliProvider\": \"prometheus\" query",
);
const REPORT_URL: Setting = Setting::optional(
    "REPORT_URL",
    "the URL of the build validation report, linked from approval summaries",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "validate-build-worker",
    settings: &[
        VALIDATION_TABLE,
        dynatrace::TENANT_URL,
        dynatrace::API_VERSION,
        dynatrace::TOKEN_SECRET,
        LEASE,
        MAX_ATTEMPTS,
        CONCURRENCY,
        BATCH,
        RECHECK,
        DEADLINE_MARGIN,
        APPROVAL_WAIT,
        REPORT_URL,
        PROMETHEUS_URL,
        remediate::SETTINGS[0],
        remediate::SETTINGS[1],
        remediate::SETTINGS[2],
        remediate::SETTINGS[3],
        remediate::SETTINGS[4],
        remediate::SETTINGS[5],
        remediate::SETTINGS[6],
        remediate::SETTINGS[7],
        remediate::SETTINGS[8],
        remediate::SETTINGS[9],
        remediate::SETTINGS[10],
        remediate::SETTINGS[11],
        remediate::SETTINGS[12],
        WAKE_QUEUE_URL,
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        // The rollback ledger's claim released after a failed CreateDeployment.
        "dynamodb:DeleteItem",
        "codepipeline:GetPipeline",
        "codepipeline:GetPipelineState",
        "codepipeline:PutApprovalResult",
        "secretsmanager:GetSecretValue",
        // Self-healing: scaling the deployment group's Auto Scaling group, and the rollback.
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetDesiredCapacity",
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:RegisterApplicationRevision",
        // Wake-ups for a later check. What the queue's subscription receives with is
        // Lambda's own call, in the stack's WakeQueueMappingPolicy.
        WAKE_SEND_ACTION,
    ],
};

/// What validate-build-worker reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub dynatrace: DynatraceSettings,
    pub prometheus_url: Option<String>,
    pub worker: WorkerSettings,
    pub remediation: remediate::RemediationConfig,
    /// Where wake-ups go; `None`: sweep only.
    pub wake_queue_url: Option<String>,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let defaults = WorkerSettings::default();
        let deadline_margin =
            env.seconds(&DEADLINE_MARGIN, defaults.deadline_margin.as_secs_f64())?;
        let mut remediation = remediate::RemediationConfig::from_env(env)?;
        // One margin for both halves of the tick.
        remediation.settings.deadline_margin_ms = deadline_margin.as_millis() as i64;
        Ok(Config {
            table: env.required(&VALIDATION_TABLE)?,
            dynatrace: DynatraceSettings::from_env(env)?,
            prometheus_url: env.optional_url(&PROMETHEUS_URL)?,
            worker: WorkerSettings {
                lease: env.seconds(&LEASE, defaults.lease.as_secs_f64())?,
                max_attempts: env.number(&MAX_ATTEMPTS, defaults.max_attempts as f64)? as u32,
                concurrency: env.number(&CONCURRENCY, defaults.concurrency as f64)? as usize,
                batch: env.number(&BATCH, defaults.batch as f64)? as usize,
                recheck: env.seconds(&RECHECK, defaults.recheck.as_secs_f64())?,
                report_url: env.optional_url(&REPORT_URL)?,
                deadline_margin,
                approval_wait: Duration::from_secs_f64(
                    env.number(
                        &APPROVAL_WAIT,
                        defaults.approval_wait.as_secs_f64() / 86_400.0,
                    )? * 86_400.0,
                ),
            },
            remediation,
            wake_queue_url: env.optional_url(&WAKE_QUEUE_URL)?,
        })
    }
}
