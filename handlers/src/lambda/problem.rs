//! handle-problem-notification: the Dynatrace custom-integration webhook (API Gateway POST).
//! This handler authenticates the request by its shared secret header, has the core read the
//! body ([`parse_notification`]), hands the notification to the problem use case
//! ([`ProblemService`]: confirm the problem with Dynatrace, then hand each deployment CodeDeploy
//! confirms to its self-healing lane or roll it back; see [`crate::problems`]), and turns the
//! outcome into the HTTP status and answer, which it records. A 503 says something failed or
//! was left that a re-sent notification can still do: nothing irreversible is left half-done.
//! Answers come before API Gateway's 29 s ([`answer_deadline`]).

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::config::{ConfigError, Env, Setting};
use super::{json_response, FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
pub use crate::inbound::dynatrace::{
    parse_notification, BadNotification, Notification, MAX_BODY_BYTES,
};
use crate::ports::secrets::SecretSource;
use crate::ports::store::{NotificationRecord, ValidationStore};
use crate::problems::{ClosedOutcome, Comment, OpenOutcome, ProblemOutcome, ProblemService};
use crate::rollback::RollbackSettings;
use crate::time::now_ms;

mod config;
pub use config::{secret_and_body, Config, MANIFEST};

/// The secret header this handler checks and the marker its rollbacks carry (the old import
/// paths of the contract's).
pub use crate::contract::{ROLLBACK_MARKER, SECRET_HEADER};
/// API Gateway gives up on the function after 29 s.
pub const API_GATEWAY_LIMIT: Duration = Duration::from_secs(29);
/// Kept free before the deadline to write the ledger, comment and answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(2500);

#[derive(Debug, Clone)]
pub struct ProblemSettings {
    /// How far before the problem's start to look for the deployment that caused it.
    pub lookback: Duration,
    /// No second rollback of a deployment group within this time.
    pub cooldown: Duration,
    /// The tenant's URL, for a link to the problem on the remediation timeline.
    pub tenant_url: Option<String>,
}

impl ProblemSettings {
    /// The limits of the rollback executor the use case is given.
    pub fn rollback(&self) -> RollbackSettings {
        RollbackSettings {
            lookback: self.lookback,
            cooldown: self.cooldown,
        }
    }
}

pub struct ProblemHandler {
    pub secrets: Arc<dyn SecretSource>,
    pub webhook_secret_id: String,
    /// Where each answer is recorded.
    pub store: Arc<dyn ValidationStore>,
    /// What a notification leads to.
    pub problems: ProblemService,
}

/// The time an answer must be ready by: the Lambda deadline or API Gateway's 29 s from
/// `received_ms`, whichever comes first, less a margin to write and answer.
pub fn answer_deadline(received_ms: i64, lambda_deadline_ms: Option<i64>) -> i64 {
    let gateway = received_ms + API_GATEWAY_LIMIT.as_millis() as i64;
    lambda_deadline_ms.map_or(gateway, |d| d.min(gateway)) - ANSWER_MARGIN.as_millis() as i64
}

/// The status a refused body is answered with: 413 for more than any notification needs,
/// 400 for a body that is not a notification.
fn refusal_status(refusal: &BadNotification) -> u16 {
    match refusal {
        BadNotification::TooBig { .. } => 413,
        BadNotification::Invalid(_) => 400,
    }
}

impl ProblemHandler {
    /// Answer one request. `deadline_ms`: see [`answer_deadline`].
    pub async fn answer(
        &self,
        secret_header: Option<&str>,
        body: &[u8],
        deadline_ms: i64,
    ) -> Response<Body> {
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
            Err(refused) => {
                let status = refusal_status(&refused);
                tracing::warn!(status, error = %refused, "refused problem notification");
                return json_response(status, json!({"error": refused.to_string()}));
            }
        };
        let received_ms = now_ms();
        let (status, answer) = match self.problems.handle(&notification, deadline_ms).await {
            ProblemOutcome::Test => {
                return json_response(
                    200,
                    json!({"problemId": notification.pid, "actions": [], "note": "test notification acknowledged"}),
                )
            }
            ProblemOutcome::NoActionForState => (
                200,
                json!({"problemId": notification.pid, "state": notification.state.as_str(), "actions": [], "note": "no action for this state"}),
            ),
            ProblemOutcome::Open(open) => open_answer(&notification, open),
            ProblemOutcome::Closed(closed) => closed_answer(&notification, closed),
        };
        let record = NotificationRecord {
            problem_id: notification.pid.clone(),
            received_ms,
            state: notification.state.to_string(),
            status,
            answer: answer.to_string(),
        };
        if let Err(e) = self.store.record_notification(&record).await {
            tracing::error!(error = %e, "recording the notification failed");
        }
        tracing::info!(problem = %notification.pid, status, answer = %answer, "problem notification answered");
        json_response(status, answer)
    }
}

/// An open problem's answer: 200 when it is settled, else 503 with what was left and a
/// request to re-send.
fn open_answer(notification: &Notification, open: OpenOutcome) -> (u16, Value) {
    let status = if open.settled() { 200 } else { 503 };
    let comment = match &open.comment {
        Comment::NotMade => json!(false),
        Comment::Made => json!(true),
        Comment::Failed(why) => json!(format!("failed: {why}")),
    };
    let mut answer = json!({
        "problemId": notification.pid, "state": notification.state.as_str(),
        "actions": open.actions, "comment": comment,
    });
    if let Some(note) = open.note {
        answer["note"] = json!(note);
    }
    if let Some(entities) = open.entities {
        answer["entities"] =
            json!({"examined": entities.examined, "notExamined": entities.not_examined});
    }
    if status != 200 {
        answer["left"] = json!(open.left);
        answer["retry"] =
            json!("nothing irreversible is left half-done: re-send the notification to finish");
    }
    (status, answer)
}

/// A resolved problem's answer: the lanes told it closed; 503 with a request to re-send when
/// that is unfinished.
fn closed_answer(notification: &Notification, closed: ClosedOutcome) -> (u16, Value) {
    let status = if closed.unfinished { 503 } else { 200 };
    let mut answer = json!({"problemId": notification.pid, "state": notification.state.as_str(), "actions": [], "lanes": closed.lanes, "note": closed.note});
    if status != 200 {
        answer["retry"] = json!("re-send the notification to finish");
    }
    (status, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::deploy::DeployError;
    use crate::ports::memory::MemorySecrets;
    use crate::ports::monitoring::ProblemStatus;
    use crate::problems::fixture::{revision, World, OPEN, PID};

    const SECRET: &str = "whsec-unit";

    /// The handler over the problem use case's test world (see
    /// [`crate::problems::fixture`]), which it derefs to.
    struct Setup {
        handler: ProblemHandler,
        world: World,
    }

    impl std::ops::Deref for Setup {
        type Target = World;
        fn deref(&self) -> &World {
            &self.world
        }
    }

    fn setup() -> Setup {
        let world = World::new();
        let handler = ProblemHandler {
            secrets: Arc::new(MemorySecrets {
                values: [("arn:webhook".to_string(), SECRET.to_string())].into(),
            }),
            webhook_secret_id: "arn:webhook".into(),
            store: world.store.clone(),
            problems: world.service(),
        };
        Setup { handler, world }
    }

    async fn ask(handler: &ProblemHandler, secret: Option<&str>, body: &str) -> (u16, Value) {
        answer_bytes(handler, secret, body.as_bytes()).await
    }

    async fn answer_bytes(
        handler: &ProblemHandler,
        secret: Option<&str>,
        body: &[u8],
    ) -> (u16, Value) {
        let response = handler
            .answer(secret, body, answer_deadline(now_ms(), None))
            .await;
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            other => panic!("unexpected body {other:?}"),
        };
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap(),
        )
    }

    fn reason(body: &Value, i: usize) -> String {
        body["actions"][i]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test]
    async fn an_open_problem_rolls_its_deployment_back_once_and_comments() {
        let s = setup();
        let (status, body) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actions"][0]["action"], "rolledBack", "{body}");
        let redeploys = s.deployer.redeploys.lock().unwrap().clone();
        assert_eq!(redeploys.len(), 1);
        assert_eq!(redeploys[0].2, revision("build3.zip"));
        assert!(
            redeploys[0].3.starts_with(ROLLBACK_MARKER),
            "{}",
            redeploys[0].3
        );
        let comments = s.monitoring.comments.lock().unwrap().clone();
        assert_eq!(comments.len(), 1);
        assert!(
            comments[0].1.contains("rolled back d-4"),
            "{}",
            comments[0].1
        );
        let window = s.monitoring.queries.lock().unwrap()[0].1;
        assert_eq!(
            window.from_ms,
            s.problem_start - 3_600_000,
            "lookback from the problem's start"
        );

        let (status, body) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200);
        assert!(
            reason(&body, 0)
                .contains("d-4 was already rolled back for problem -7_1V2 (d-ROLLBACK1)"),
            "{body}"
        );
        assert_eq!(
            s.deployer.redeploys.lock().unwrap().len(),
            1,
            "re-sent: no second rollback"
        );
        assert_eq!(s.store.notifications().len(), 2, "each answer is recorded");
    }

    #[tokio::test]
    async fn a_wrong_or_missing_secret_is_refused_before_anything_runs() {
        let s = setup();
        for secret in [None, Some("wrong")] {
            let (status, body) = ask(&s.handler, secret, OPEN).await;
            assert_eq!(status, 401, "{body}");
            assert!(body["error"].as_str().unwrap().contains(SECRET_HEADER));
        }
        assert!(s.deployer.redeploys.lock().unwrap().is_empty());
        assert!(s.monitoring.comments.lock().unwrap().is_empty());
    }

    async fn no_rollback(s: &Setup, body: &str, expected: &str) {
        let (status, answer) = ask(&s.handler, Some(SECRET), body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["actions"][0]["action"], "skipped", "{answer}");
        assert!(reason(&answer, 0).contains(expected), "{answer}");
        assert!(s.deployer.redeploys.lock().unwrap().is_empty(), "{answer}");
        let recorded = s.store.notifications();
        assert!(
            recorded.last().unwrap().answer.contains(expected),
            "{recorded:?}"
        );
    }

    #[tokio::test]
    async fn an_open_replayed_after_resolved_does_not_roll_back() {
        let s = setup();
        s.monitoring
            .problems
            .lock()
            .unwrap()
            .get_mut(PID)
            .unwrap()
            .status = ProblemStatus::Closed;
        no_rollback(&s, OPEN, "problem -7_1V2 is CLOSED in Dynatrace, not OPEN").await;
    }

    #[tokio::test]
    async fn a_problem_dynatrace_does_not_know_does_not_roll_back() {
        let s = setup();
        s.monitoring.problems.lock().unwrap().clear();
        no_rollback(
            &s,
            OPEN,
            "Dynatrace does not know problem -7_1V2; nothing was done",
        )
        .await;
        assert!(s.monitoring.comments.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_create_deployment_answers_503_and_the_resend_rolls_back() {
        let s = setup();
        s.deployer
            .redeploy_failures
            .lock()
            .unwrap()
            .push(DeployError::Call(
                "CreateDeployment: ThrottlingException: slow down".into(),
            ));
        let (status, answer) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 503, "{answer}");
        assert!(reason(&answer, 0).contains("CreateDeployment failed (throttled by AWS; it is tried again later); the claim was undone, so a retry can roll back; re-send the notification to retry"), "{answer}");
        assert!(
            !answer.to_string().contains("slow down"),
            "the provider's own text stays in the log: {answer}"
        );
        assert!(s.store.rollbacks().is_empty(), "the claim is undone");
        assert!(
            s.monitoring.comments.lock().unwrap().is_empty(),
            "no comment on a 503"
        );
        let (status, answer) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
    }

    #[tokio::test]
    async fn the_deadline_leaves_work_for_a_resend_and_says_what() {
        let s = setup();
        // Already past the deadline: no rollback is started, the answer says what was left
        // and asks for a re-send.
        let response = s
            .handler
            .answer(Some(SECRET), OPEN.as_bytes(), now_ms() - 1)
            .await;
        assert_eq!(response.status().as_u16(), 503);
        let Body::Text(text) = response.body() else {
            panic!()
        };
        assert!(
            text.contains("deployment d-4 was not checked: the answer deadline was near"),
            "{text}"
        );
        assert!(s.deployer.redeploys.lock().unwrap().is_empty());
        assert_eq!(answer_deadline(1_000_000, None), 1_000_000 + 29_000 - 2_500);
        assert_eq!(
            answer_deadline(1_000_000, Some(1_010_000)),
            1_010_000 - 2_500
        );
    }

    #[tokio::test]
    async fn a_test_entity_among_real_ones_is_not_a_test_notification() {
        let s = setup();
        let body = r#"{"State":"OPEN","ProblemID":"P-7","PID":"-7_1V2","ImpactedEntities":[{"entity":"HOST-XXXXXXXXXXXXX"},{"entity":"SERVICE-PROD"}]}"#;
        let (status, answer) = ask(&s.handler, Some(SECRET), body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
        let test = r#"{"PID":"99999","ProblemID":"999","State":"OPEN","ImpactedEntities":[{"entity":"HOST-XXXXXXXXXXXXX"}]}"#;
        let (status, answer) = ask(&s.handler, Some(SECRET), test).await;
        assert_eq!(
            (status, answer["note"].as_str()),
            (200, Some("test notification acknowledged"))
        );
        assert_eq!(
            s.store.notifications().len(),
            1,
            "a test notification is acknowledged, not recorded"
        );
    }

    #[tokio::test]
    async fn refused_bodies_answer_with_their_status_and_message() {
        let s = setup();
        let (status, body) = answer_bytes(&s.handler, Some(SECRET), b"{\"PID\":\"\xff\"}").await;
        assert_eq!(status, 400);
        assert!(
            body["error"].as_str().unwrap().contains("not UTF-8 text"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_resolved_problem_dynatrace_still_reports_open_is_answered_200_and_recorded() {
        let s = setup();
        let resolved = OPEN.replace("\"OPEN\"", "\"RESOLVED\"");
        let (status, body) = ask(&s.handler, Some(SECRET), &resolved).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["note"],
            "Dynatrace still reports problem -7_1V2 open; its remediation goes on"
        );
        assert_eq!(
            (&body["state"], &body["actions"], &body["lanes"]),
            (&json!("RESOLVED"), &json!([]), &json!([])),
            "{body}"
        );
        assert!(body.get("retry").is_none(), "{body}");
        assert_eq!(s.store.notifications().len(), 1);
    }

    #[tokio::test]
    async fn a_state_neither_open_nor_resolved_is_acknowledged_and_recorded() {
        let s = setup();
        let merged = OPEN.replace("\"OPEN\"", "\"MERGED\"");
        let (status, body) = ask(&s.handler, Some(SECRET), &merged).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"problemId": PID, "state": "MERGED", "actions": [], "note": "no action for this state"})
        );
        assert_eq!(s.store.notifications().len(), 1);
    }

    #[test]
    fn a_body_too_large_is_413_and_one_that_is_not_a_notification_400() {
        let cases = [
            (BadNotification::TooBig { bytes: 600_000 }, 413),
            (BadNotification::Invalid("PID is missing".into()), 400),
        ];
        for (refusal, status) in cases {
            assert_eq!(refusal_status(&refusal), status, "{refusal}");
        }
    }
}
