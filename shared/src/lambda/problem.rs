//! handle-problem-notification: the Dynatrace custom-integration webhook (API Gateway POST).
//! Authenticated by a shared secret header. On an OPEN problem it rolls the deployments that
//! caused it back to their previous revision — once per (problem, deployment) — and comments
//! on the problem with what it did and why.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::config::{ConfigError, Env, Setting};
use super::{FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
use crate::dynatrace::connection::{self as dynatrace, DynatraceSettings};
use crate::ports::deploy::Deployer;
use crate::ports::metrics::TimeWindow;
use crate::ports::monitoring::MonitoringEvents;
use crate::ports::secrets::SecretSource;
use crate::ports::store::{RollbackRecord, ValidationStore};
pub use crate::remediation::rollback::ROLLBACK_MARKER;
use crate::remediation::rollback::{self, RollbackDecision, RollbackFacts, RollbackOutcome};
use crate::time::now_ms;

/// The header Dynatrace sends the shared secret in (custom integration, "Additional HTTP headers").
pub const SECRET_HEADER: &str = "x-unbreakable-secret";
/// Dynatrace's "Send test notification" uses these.
const TEST_ENTITY_MARK: &str = "XXXXXXXXXXXXX";
const TEST_PID: &str = "99999";

#[derive(Debug, Clone)]
pub struct ProblemSettings {
    /// How far back to look for the deployment that caused the problem.
    pub lookback: Duration,
    /// No second rollback of a deployment group within this time.
    pub cooldown: Duration,
}

pub struct ProblemHandler {
    pub secrets: Arc<dyn SecretSource>,
    pub webhook_secret_id: String,
    pub store: Arc<dyn ValidationStore>,
    pub deployer: Arc<dyn Deployer>,
    pub monitoring: Arc<dyn MonitoringEvents>,
    pub settings: ProblemSettings,
}

/// The parts of the notification we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub pid: String,
    pub display_id: Option<String>,
    pub state: String,
    pub entities: Vec<String>,
}

/// Check the payload; the error says which field is wrong.
pub fn parse_notification(body: &str) -> Result<Notification, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        format!("the body is not JSON ({e}); use the payload template from the README")
    })?;
    let object = value.as_object().ok_or("the body must be a JSON object")?;
    let text = |key: &str| -> Option<String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let pid = text("PID").ok_or("PID is missing: add \"PID\": \"{PID}\" to the payload")?;
    let state =
        text("State").ok_or("State is missing: add \"State\": \"{State}\" to the payload")?;
    let entities = match object.get("ImpactedEntities") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.get("entity")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| format!("ImpactedEntities[{i}] has no \"entity\" id"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("ImpactedEntities must be a JSON array: use {ImpactedEntities} without quotes".into()),
        None => return Err("ImpactedEntities is missing: add \"ImpactedEntities\": {ImpactedEntities} to the payload".into()),
    };
    Ok(Notification {
        pid,
        display_id: text("ProblemID"),
        state,
        entities,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackAction {
    pub deployment_id: String,
    pub action: RollbackOutcome,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_deployment_id: Option<String>,
}

fn json_response(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response parts")
}

impl ProblemHandler {
    pub async fn answer(&self, secret_header: Option<&str>, body: &str) -> Response<Body> {
        let expected = match self.secrets.secret(&self.webhook_secret_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the webhook secret");
                return json_response(
                    503,
                    json!({"error": "the webhook secret cannot be read; see the function log"}),
                );
            }
        };
        let presented = secret_header.unwrap_or_default().as_bytes();
        if !bool::from(presented.ct_eq(expected.as_bytes())) {
            tracing::warn!(
                header_present = secret_header.is_some(),
                "unauthenticated problem notification"
            );
            return json_response(
                401,
                json!({"error": format!("missing or wrong {SECRET_HEADER} header")}),
            );
        }
        let notification = match parse_notification(body) {
            Ok(n) => n,
            Err(message) => return json_response(400, json!({"error": message})),
        };
        if notification.pid == TEST_PID
            || notification
                .entities
                .iter()
                .any(|e| e.contains(TEST_ENTITY_MARK))
        {
            return json_response(
                200,
                json!({"problemId": notification.pid, "actions": [], "note": "test notification acknowledged"}),
            );
        }
        if !notification.state.starts_with("OPEN") {
            return json_response(
                200,
                json!({"problemId": notification.pid, "state": notification.state, "actions": [], "note": "no action for this state"}),
            );
        }
        let actions = self.remediate(&notification).await;
        let comment = comment_text(&notification, &actions);
        let commented = match self.monitoring.comment(&notification.pid, &comment).await {
            Ok(()) => "posted".to_string(),
            Err(e) => {
                tracing::error!(error = %e, "commenting on the problem failed");
                format!("failed: {e}")
            }
        };
        json_response(
            200,
            json!({"problemId": notification.pid, "state": notification.state, "actions": actions, "comment": commented}),
        )
    }

    async fn remediate(&self, notification: &Notification) -> Vec<RollbackAction> {
        let now = now_ms();
        let window = TimeWindow {
            from_ms: now - self.settings.lookback.as_millis() as i64,
            to_ms: now,
        };
        let mut deployments = BTreeSet::new();
        let mut actions = Vec::new();
        for entity in &notification.entities {
            match self.monitoring.deployments_on(entity, window).await {
                // Newest first: the deployment that most likely caused the problem.
                Ok(events) => {
                    if let Some(id) = events
                        .iter()
                        .find_map(|e| e.properties.get("CodeDeploy.DeploymentId"))
                    {
                        deployments.insert(id.clone());
                    }
                }
                Err(e) => actions.push(RollbackAction {
                    deployment_id: String::new(),
                    action: RollbackOutcome::Failed,
                    reason: format!("cannot read the deployment events of {entity}: {e}"),
                    rollback_deployment_id: None,
                }),
            }
        }
        if deployments.is_empty() && actions.is_empty() {
            actions.push(RollbackAction {
                deployment_id: String::new(),
                action: RollbackOutcome::Skipped,
                reason: format!(
                    "no CodeDeploy deployment event on the impacted entities in the last {} minutes",
                    self.settings.lookback.as_secs() / 60
                ),
                rollback_deployment_id: None,
            });
        }
        for id in deployments {
            actions.push(self.roll_back(notification, &id, now).await);
        }
        actions
    }

    async fn roll_back(
        &self,
        notification: &Notification,
        deployment_id: &str,
        now: i64,
    ) -> RollbackAction {
        let skip = |reason: String| RollbackAction {
            deployment_id: deployment_id.to_string(),
            action: RollbackOutcome::Skipped,
            reason,
            rollback_deployment_id: None,
        };
        let fail = |reason: String| RollbackAction {
            deployment_id: deployment_id.to_string(),
            action: RollbackOutcome::Failed,
            reason,
            rollback_deployment_id: None,
        };
        let deployment = match self.deployer.deployment(deployment_id).await {
            Ok(d) => d,
            Err(e) => return fail(e.to_string()),
        };
        let cooldown_start = now - self.settings.cooldown.as_millis() as i64;
        let last_rollback = match self
            .store
            .last_rollback(&deployment.application, &deployment.group, cooldown_start)
            .await
        {
            Ok(last) => last,
            Err(e) => return fail(format!("cannot read the rollback ledger: {e}")),
        };
        let (previous, description) = match rollback::decide(&RollbackFacts {
            deployment: &deployment,
            problem_id: &notification.pid,
            problem_display_id: notification.display_id.as_deref(),
            last_rollback: last_rollback.as_ref(),
            now_ms: now,
            cooldown: self.settings.cooldown,
        }) {
            RollbackDecision::Skip { reason } => return skip(reason),
            RollbackDecision::RollBack {
                previous,
                description,
            } => (previous, description),
        };
        let mut record = RollbackRecord {
            problem_id: notification.pid.clone(),
            deployment_id: deployment_id.to_string(),
            application: deployment.application.clone(),
            deployment_group: deployment.group.clone(),
            rollback_deployment_id: None,
            at_ms: now,
        };
        match self.store.record_rollback(&record).await {
            Ok(true) => {}
            Ok(false) => {
                return skip(format!(
                    "{deployment_id} was already rolled back for problem {}",
                    notification.pid
                ))
            }
            Err(e) => return fail(format!("cannot record the rollback: {e}")),
        }
        match self
            .deployer
            .redeploy(
                &deployment.application,
                &deployment.group,
                &previous,
                &description,
            )
            .await
        {
            Ok(new_id) => {
                tracing::info!(deployment_id, rollback = %new_id, revision = %previous, "rolled back");
                record.rollback_deployment_id = Some(new_id.clone());
                if let Err(e) = self.store.complete_rollback(&record).await {
                    tracing::error!(error = %e, "recording the rollback id failed");
                }
                RollbackAction {
                    deployment_id: deployment_id.to_string(),
                    action: RollbackOutcome::RolledBack,
                    reason: format!(
                        "redeployed {previous} to {}/{}",
                        deployment.application, deployment.group
                    ),
                    rollback_deployment_id: Some(new_id),
                }
            }
            Err(e) => fail(format!("CreateDeployment failed: {e}")),
        }
    }
}

fn comment_text(notification: &Notification, actions: &[RollbackAction]) -> String {
    let mut lines = vec![format!(
        "Unbreakable handled problem {}:",
        notification
            .display_id
            .as_deref()
            .unwrap_or(&notification.pid)
    )];
    for a in actions {
        let what = match a.action {
            RollbackOutcome::RolledBack => format!(
                "rolled back {} ({}; new deployment {})",
                a.deployment_id,
                a.reason,
                a.rollback_deployment_id.as_deref().unwrap_or("?")
            ),
            RollbackOutcome::Skipped if a.deployment_id.is_empty() => {
                format!("no rollback: {}", a.reason)
            }
            RollbackOutcome::Skipped => {
                format!("did not roll back {}: {}", a.deployment_id, a.reason)
            }
            RollbackOutcome::Failed => format!("rollback failed: {}", a.reason),
        };
        lines.push(format!("- {what}"));
    }
    lines.join("\n")
}

const WEBHOOK_SECRET: Setting = Setting::required(
    "WEBHOOK_SECRET_ARN",
    "the ARN of the Secrets Manager secret holding the webhook's shared secret",
);
const LOOKBACK_MINUTES: Setting = Setting::optional(
    "ROLLBACK_LOOKBACK_MINUTES",
    "how far back to look for the deployment behind a problem, in minutes",
);
const COOLDOWN_MINUTES: Setting = Setting::optional(
    "ROLLBACK_COOLDOWN_MINUTES",
    "the least time between two rollbacks of one deployment group, in minutes",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "handle-problem-notification",
    settings: &[
        VALIDATION_TABLE,
        dynatrace::TENANT_URL,
        dynatrace::API_VERSION,
        dynatrace::TOKEN_SECRET,
        WEBHOOK_SECRET,
        LOOKBACK_MINUTES,
        COOLDOWN_MINUTES,
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:PutItem",
        "dynamodb:Query",
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:RegisterApplicationRevision",
        "secretsmanager:GetSecretValue",
    ],
};

/// What handle-problem-notification reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub dynatrace: DynatraceSettings,
    pub webhook_secret_id: String,
    pub settings: ProblemSettings,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Config {
            table: env.required(&VALIDATION_TABLE)?,
            dynatrace: DynatraceSettings::from_env(env)?,
            webhook_secret_id: env.required(&WEBHOOK_SECRET)?,
            settings: ProblemSettings {
                lookback: Duration::from_secs_f64(env.number(&LOOKBACK_MINUTES, 60.0)? * 60.0),
                cooldown: Duration::from_secs_f64(env.number(&COOLDOWN_MINUTES, 15.0)? * 60.0),
            },
        })
    }
}

/// The webhook secret header and the body of an API Gateway request, as the handler reads them.
pub fn secret_and_body(request: &Request) -> (Option<String>, String) {
    let secret = request
        .headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match request.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (secret, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::deploy::{DeploymentInfo, S3Revision};
    use crate::ports::memory::{MemoryDeployer, MemoryMonitoring, MemorySecrets, MemoryStore};
    use crate::ports::monitoring::RecordedDeployment;

    const SECRET: &str = "whsec-unit";
    const OPEN: &str = r#"{"State":"OPEN","ProblemID":"P-7","PID":"-7_1V2","ImpactedEntities":[{"entity":"SERVICE-PROD"},{"entity":"SERVICE-PROD"}]}"#;

    fn revision(key: &str) -> S3Revision {
        S3Revision {
            bucket: "b".into(),
            key: key.into(),
            bundle_type: Some("zip".into()),
            version: None,
            etag: None,
        }
    }

    fn handler() -> (ProblemHandler, Arc<MemoryDeployer>, Arc<MemoryMonitoring>) {
        let deployer = Arc::new(MemoryDeployer::default());
        deployer.deployments.lock().unwrap().insert(
            "d-4".into(),
            DeploymentInfo {
                id: "d-4".into(),
                application: "app".into(),
                group: "Production".into(),
                status: "Succeeded".into(),
                creator: Some("user".into()),
                description: None,
                revision: Some(revision("build4.zip")),
                previous_revision: Some(revision("build3.zip")),
                rollback_of: None,
            },
        );
        let monitoring = Arc::new(MemoryMonitoring::default());
        monitoring.deployments.lock().unwrap().insert(
            "SERVICE-PROD".into(),
            vec![RecordedDeployment {
                start_ms: now_ms() - 60_000,
                properties: [("CodeDeploy.DeploymentId".to_string(), "d-4".to_string())].into(),
            }],
        );
        let handler = ProblemHandler {
            secrets: Arc::new(MemorySecrets {
                values: [("arn:webhook".to_string(), SECRET.to_string())].into(),
            }),
            webhook_secret_id: "arn:webhook".into(),
            store: Arc::new(MemoryStore::default()),
            deployer: deployer.clone(),
            monitoring: monitoring.clone(),
            settings: ProblemSettings {
                lookback: Duration::from_secs(3600),
                cooldown: Duration::from_secs(900),
            },
        };
        (handler, deployer, monitoring)
    }

    async fn answer(handler: &ProblemHandler, secret: Option<&str>, body: &str) -> (u16, Value) {
        let response = handler.answer(secret, body).await;
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            other => panic!("unexpected body {other:?}"),
        };
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap(),
        )
    }

    #[tokio::test]
    async fn an_open_problem_rolls_its_deployment_back_once_and_comments() {
        let (handler, deployer, monitoring) = handler();
        let (status, body) = answer(&handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actions"][0]["action"], "rolledBack", "{body}");
        let redeploys = deployer.redeploys.lock().unwrap().clone();
        assert_eq!(redeploys.len(), 1, "one rollback for an entity named twice");
        assert_eq!(redeploys[0].2, revision("build3.zip"));
        assert!(
            redeploys[0].3.starts_with(ROLLBACK_MARKER),
            "{}",
            redeploys[0].3
        );
        let comments = monitoring.comments.lock().unwrap().clone();
        assert_eq!(comments.len(), 1);
        assert!(
            comments[0].1.contains("rolled back d-4"),
            "{}",
            comments[0].1
        );

        let (status, body) = answer(&handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200);
        assert_eq!(body["actions"][0]["action"], "skipped", "{body}");
        assert!(
            body["actions"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("already rolled back"),
            "{body}"
        );
        assert_eq!(
            deployer.redeploys.lock().unwrap().len(),
            1,
            "re-sent: no second rollback"
        );
    }

    #[tokio::test]
    async fn a_wrong_or_missing_secret_is_refused_before_anything_runs() {
        let (handler, deployer, monitoring) = handler();
        for secret in [None, Some("wrong")] {
            let (status, body) = answer(&handler, secret, OPEN).await;
            assert_eq!(status, 401, "{body}");
            assert!(body["error"].as_str().unwrap().contains(SECRET_HEADER));
        }
        assert!(deployer.redeploys.lock().unwrap().is_empty());
        assert!(monitoring.comments.lock().unwrap().is_empty());
    }

    #[test]
    fn the_tutorial_payload_parses() {
        let n = parse_notification(r#"{"State":"OPEN","ProblemID":"P-42","PID":"-123_456V2","ProblemTitle":"Slow","ImpactedEntities":[{"type":"SERVICE","name":"app","entity":"SERVICE-ABC"}]}"#).unwrap();
        assert_eq!(n.pid, "-123_456V2");
        assert_eq!(n.entities, vec!["SERVICE-ABC"]);
    }

    #[test]
    fn bad_payloads_say_which_field() {
        let cases = [
            ("not json", "the body is not JSON"),
            ("[1]", "the body must be a JSON object"),
            (
                r#"{"State":"OPEN","ImpactedEntities":[]}"#,
                "PID is missing",
            ),
            (r#"{"PID":"1","ImpactedEntities":[]}"#, "State is missing"),
            (
                r#"{"PID":"1","State":"OPEN"}"#,
                "ImpactedEntities is missing",
            ),
            (
                r#"{"PID":"1","State":"OPEN","ImpactedEntities":"[..]"}"#,
                "ImpactedEntities must be a JSON array",
            ),
            (
                r#"{"PID":"1","State":"OPEN","ImpactedEntities":[{"type":"SERVICE"}]}"#,
                "ImpactedEntities[0] has no \"entity\" id",
            ),
        ];
        for (body, expected) in cases {
            let e = parse_notification(body).unwrap_err();
            assert!(e.contains(expected), "{body}: {e}");
        }
    }
}
