//! handle-problem-notification: the Dynatrace custom-integration webhook (API Gateway POST).
//! Authenticated by a shared secret header. The notification only says which problem to
//! look at: the handler reads the problem from Dynatrace and acts only while it is OPEN, on
//! the problem's own start time and entities. It rolls back a deployment only when CodeDeploy
//! confirms it (see [`rollback::decide`]), claims each rollback in one conditional
//! transaction (ledger row + group lock) before CreateDeployment and undoes the claim when
//! CreateDeployment fails, answering 503 so the sender re-sends. Work is bounded: at most
//! [`MAX_ENTITIES`] entities in one events query, and answers before API Gateway's 29 s.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::config::{ConfigError, Env, Setting};
use super::{json_response, FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
pub use crate::inbound::dynatrace::{
    parse_notification, BadNotification, Notification, MAX_BODY_BYTES,
};
use crate::ports::deploy::{DeployError, Deployer, DeploymentInfo, S3Revision};
use crate::ports::lanes::{LaneConfigs, LaneKey, LaneStore, Notice};
use crate::ports::metrics::TimeWindow;
use crate::ports::monitoring::{MonitoringEvents, ProblemDetails, ProblemStatus};
use crate::ports::secrets::SecretSource;
use crate::ports::store::{NotificationRecord, ValidationStore};
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::remediation::rollback::{ConfirmedProblem, RollbackOutcome};
use crate::remediation::sequence::{Problem, ProblemSource};
use crate::rollback::{
    deploy_read_reason, RollbackExecutor, RollbackRequest, RollbackResult, RollbackSettings,
};
use crate::settings::dynatrace::{self, DynatraceSettings};
use crate::text::{printable, truncate_chars};
use crate::time::now_ms;

mod comment;
mod config;
use comment::comment_text;
pub use config::{secret_and_body, Config, MANIFEST};

/// The secret header this handler checks and the marker its rollbacks carry (the old import
/// paths of the contract's).
pub use crate::contract::{ROLLBACK_MARKER, SECRET_HEADER};
/// Entities looked at per problem, in one events query (`entityId("…",…)`, ~4 KB of URL).
/// The root cause and affected entities come first; the rest is reported as not examined.
pub const MAX_ENTITIES: usize = 100;
/// Deployments checked against CodeDeploy per problem (two calls each).
pub const MAX_CANDIDATES: usize = 20;
/// API Gateway gives up on the function after 29 s.
pub const API_GATEWAY_LIMIT: Duration = Duration::from_secs(29);
/// Kept free before the deadline to write the ledger, comment and answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(2500);
/// A rollback is started only with this much time left (GetDeployment, the claim,
/// CreateDeployment).
const ROLLBACK_TIME: Duration = Duration::from_secs(4);
/// How far back a problem without a recent deployment looks for the group its service runs
/// in, to reach that group's self-healing lane (never for a rollback).
const LANE_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);
/// Dynatrace comments are cut to these many characters.
const COMMENT_LIMIT: usize = 4000;

#[derive(Debug, Clone)]
pub struct ProblemSettings {
    /// How far before the problem's start to look for the deployment that caused it.
    pub lookback: Duration,
    /// No second rollback of a deployment group within this time.
    pub cooldown: Duration,
    /// The tenant's URL, for a link to the problem on the remediation timeline.
    pub tenant_url: Option<String>,
}

pub struct ProblemHandler {
    pub secrets: Arc<dyn SecretSource>,
    pub webhook_secret_id: String,
    pub store: Arc<dyn ValidationStore>,
    pub deployer: Arc<dyn Deployer>,
    pub monitoring: Arc<dyn MonitoringEvents>,
    /// Self-healing: a group with a stored remediation.yaml gets the problem as a notice
    /// on its lane instead of the rollback of today.
    pub lanes: Arc<dyn LaneStore>,
    pub configs: Arc<dyn LaneConfigs>,
    /// A lane handed a problem (or told it closed) is woken at once through these.
    pub wakeups: Arc<dyn Wakeups>,
    pub settings: ProblemSettings,
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

impl RollbackAction {
    fn new(deployment_id: &str, action: RollbackOutcome, reason: String) -> Self {
        RollbackAction {
            deployment_id: deployment_id.to_string(),
            action,
            reason,
            rollback_deployment_id: None,
        }
    }
}

/// The time an answer must be ready by: the Lambda deadline or API Gateway's 29 s from
/// `received_ms`, whichever comes first, less a margin to write and answer.
pub fn answer_deadline(received_ms: i64, lambda_deadline_ms: Option<i64>) -> i64 {
    let gateway = received_ms + API_GATEWAY_LIMIT.as_millis() as i64;
    lambda_deadline_ms.map_or(gateway, |d| d.min(gateway)) - ANSWER_MARGIN.as_millis() as i64
}

/// Time left until the answer deadline.
struct Budget {
    deadline_ms: i64,
}

impl Budget {
    fn left(&self) -> Duration {
        Duration::from_millis((self.deadline_ms - now_ms()).max(0) as u64)
    }

    /// Run `call`, or `None` when the deadline comes first.
    async fn run<T>(&self, call: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.left(), call).await.ok()
    }
}

/// A deployment an event on one of the problem's entities names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    deployment_id: String,
    application: Option<String>,
    group: Option<String>,
}

/// The answer before it is rendered: 503 when something failed or was left that a re-sent
/// notification can still do, else 200.
struct Handled {
    actions: Vec<RollbackAction>,
    /// Work not reached before the deadline.
    left: Vec<String>,
    note: Option<String>,
    entities: Option<Value>,
    /// Whether the problem exists in Dynatrace (to comment on it).
    known: bool,
}

impl Handled {
    fn status(&self) -> u16 {
        let failed = self
            .actions
            .iter()
            .any(|a| a.action == RollbackOutcome::Failed);
        if failed || !self.left.is_empty() {
            503
        } else {
            200
        }
    }
}

fn skipped(reason: String, known: bool) -> Handled {
    Handled {
        actions: vec![RollbackAction::new("", RollbackOutcome::Skipped, reason)],
        left: vec![],
        note: None,
        entities: None,
        known,
    }
}

fn failed(reason: String) -> Handled {
    Handled {
        actions: vec![RollbackAction::new("", RollbackOutcome::Failed, reason)],
        left: vec![],
        note: None,
        entities: None,
        known: false,
    }
}

impl ProblemHandler {
    /// A lane that was just told something starts on it now, not at the next sweep.
    async fn wake_lane(&self, key: &LaneKey) {
        let wake = WakeUp::new(WakeTarget::lane(key), now_ms());
        send_or_log(self.wakeups.as_ref(), wake, now_ms()).await;
    }

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
                tracing::warn!(status = refused.status, error = %refused.message, "refused problem notification");
                return json_response(refused.status, json!({"error": refused.message}));
            }
        };
        if notification.is_test() {
            return json_response(
                200,
                json!({"problemId": notification.pid, "actions": [], "note": "test notification acknowledged"}),
            );
        }
        let received_ms = now_ms();
        let (status, answer) = match &notification.state {
            ProblemStatus::Resolved | ProblemStatus::Closed => {
                self.handle_resolved(&notification, Budget { deadline_ms })
                    .await
            }
            // An unknown state that starts with OPEN is handled as open, as it always was.
            ProblemStatus::Other(state) if !state.starts_with("OPEN") => (
                200,
                json!({"problemId": notification.pid, "state": notification.state.as_str(), "actions": [], "note": "no action for this state"}),
            ),
            ProblemStatus::Open | ProblemStatus::Other(_) => {
                let handled = self
                    .handle_open(&notification, Budget { deadline_ms })
                    .await;
                let status = handled.status();
                // A 503 is re-sent: comment once, on the answer that settles the problem.
                let comment = if status == 200 && handled.known {
                    let text = comment_text(&notification, &handled);
                    match self.monitoring.comment(&notification.pid, &text).await {
                        Ok(()) => json!(true),
                        Err(e) => {
                            tracing::error!(error = %e, "commenting on the problem failed");
                            json!(format!("failed: {e}"))
                        }
                    }
                } else {
                    json!(false)
                };
                let mut answer = json!({
                    "problemId": notification.pid, "state": notification.state.as_str(),
                    "actions": handled.actions, "comment": comment,
                });
                if let Some(note) = handled.note {
                    answer["note"] = json!(note);
                }
                if let Some(entities) = handled.entities {
                    answer["entities"] = entities;
                }
                if status != 200 {
                    answer["left"] = json!(handled.left);
                    answer["retry"] = json!(
                        "nothing irreversible is left half-done: re-send the notification to finish"
                    );
                }
                (status, answer)
            }
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

    async fn handle_open(&self, notification: &Notification, budget: Budget) -> Handled {
        let pid = &notification.pid;
        let problem = match budget.run(self.monitoring.problem(pid)).await {
            None => {
                return failed(format!(
                "Dynatrace did not answer for problem {pid} before the deadline; nothing was done"
            ))
            }
            Some(Err(e)) => {
                return failed(format!(
                    "cannot read problem {pid} from Dynatrace ({e}); nothing was done"
                ))
            }
            Some(Ok(None)) => {
                return skipped(
                    format!("Dynatrace does not know problem {pid}; nothing was done"),
                    false,
                )
            }
            Some(Ok(Some(p))) => p,
        };
        if !problem.is_open() {
            return skipped(
                format!(
                    "problem {pid} is {} in Dynatrace, not OPEN; a rollback is only for an open problem",
                    if problem.status.as_str().is_empty() { "without a status" } else { problem.status.as_str() }
                ),
                true,
            );
        }
        self.remediate(&problem, notification.title.as_deref(), budget)
            .await
    }

    /// A resolved problem stops the self-healing sequences it started. Dynatrace must say it
    /// is closed: a forged RESOLVED cannot stop a remediation.
    async fn handle_resolved(&self, notification: &Notification, budget: Budget) -> (u16, Value) {
        let pid = &notification.pid;
        let answer = |status: u16, lanes: Vec<String>, note: String| {
            let mut body = json!({"problemId": pid, "state": notification.state.as_str(), "actions": [], "lanes": lanes, "note": note});
            if status != 200 {
                body["retry"] = json!("re-send the notification to finish");
            }
            (status, body)
        };
        let problem = match budget.run(self.monitoring.problem(pid)).await {
            None => return answer(503, vec![], format!("Dynatrace did not answer for problem {pid} before the deadline; nothing was done")),
            Some(Err(e)) => return answer(503, vec![], format!("cannot read problem {pid} from Dynatrace ({e}); nothing was done")),
            Some(Ok(None)) => return answer(200, vec![], format!("Dynatrace does not know problem {pid}; nothing was done")),
            Some(Ok(Some(p))) => p,
        };
        if problem.is_open() {
            return answer(
                200,
                vec![],
                format!("Dynatrace still reports problem {pid} open; its remediation goes on"),
            );
        }
        let candidates = match self
            .candidates(&problem, &budget, self.settings.lookback)
            .await
        {
            Ok((candidates, _)) => candidates,
            Err(e) => return answer(503, vec![], e.reason),
        };
        let mut lanes = Vec::new();
        for candidate in &candidates {
            let Some(Ok(deployment)) = budget
                .run(self.deployer.deployment(&candidate.deployment_id))
                .await
            else {
                continue;
            };
            let Some(key) = lane_of(candidate, &deployment.application, &deployment.group) else {
                continue;
            };
            if lanes.contains(&key.to_string()) {
                continue;
            }
            match self.configs.config(&key).await {
                Ok(Some(c)) if c.remediation_yaml.is_some() => {}
                Ok(_) => continue,
                Err(e) => {
                    return answer(
                        503,
                        lanes,
                        format!("cannot read the self-healing configuration of {key}: {e}"),
                    )
                }
            }
            let notice = Notice::Closed {
                problem_id: pid.clone(),
                at_ms: now_ms(),
            };
            if let Err(e) = self.lanes.notify(&key, &notice, now_ms()).await {
                return answer(
                    503,
                    lanes,
                    format!("cannot tell the sequence of {key} that the problem closed: {e}"),
                );
            }
            self.wake_lane(&key).await;
            lanes.push(key.to_string());
        }
        let note = if lanes.is_empty() {
            "no self-healing sequence to stop".to_string()
        } else {
            format!(
                "the self-healing sequence of {} stops: no further action",
                lanes.join(", ")
            )
        };
        answer(200, lanes, note)
    }

    /// The deployments behind a problem, from the deployment events on its entities (newest
    /// first, at most [`MAX_CANDIDATES`]), and a note on what was left out.
    async fn candidates(
        &self,
        problem: &ProblemDetails,
        budget: &Budget,
        lookback: Duration,
    ) -> Result<(Vec<Candidate>, Option<String>), RollbackAction> {
        let examined: Vec<String> = problem
            .entities
            .iter()
            .take(MAX_ENTITIES)
            .cloned()
            .collect();
        let lookback_ms = lookback.as_millis() as i64;
        // Events from before the lookback to now: a deployment's event may be pushed after
        // the problem started; `rollback::decide` holds each deployment to the problem's start.
        let window = TimeWindow {
            from_ms: problem.start_ms - lookback_ms,
            to_ms: now_ms().max(problem.start_ms),
        };
        let events = match budget
            .run(self.monitoring.deployments_on(&examined, window))
            .await
        {
            None => {
                return Err(RollbackAction::new("", RollbackOutcome::Failed, "Dynatrace did not answer the deployment-events query before the deadline; nothing was done".into()));
            }
            Some(Err(e)) => {
                return Err(RollbackAction::new(
                    "",
                    RollbackOutcome::Failed,
                    format!("cannot read the deployment events of the problem's entities: {e}"),
                ));
            }
            Some(Ok(events)) => events,
        };
        let mut candidates: Vec<Candidate> = Vec::new();
        for e in &events {
            let Some(id) = e.properties.get("CodeDeploy.DeploymentId") else {
                continue;
            };
            let candidate = Candidate {
                deployment_id: id.clone(),
                application: e.properties.get("CodeDeploy.Application").cloned(),
                group: e.properties.get("CodeDeploy.DeploymentGroup").cloned(),
            };
            if !candidates.contains(&candidate) {
                candidates.push(candidate);
            }
        }
        let mut note = None;
        if candidates.len() > MAX_CANDIDATES {
            let more = candidates.len() - MAX_CANDIDATES;
            candidates.truncate(MAX_CANDIDATES);
            note = Some(format!(
                "{more} older deployment events were not checked (at most {MAX_CANDIDATES}, newest first)"
            ));
        }
        Ok((candidates, note))
    }

    /// The lanes, with a stored remediation.yaml, of the groups the problem's entities were
    /// deployed to within [`LANE_LOOKBACK`]; each gets the problem. CodeDeploy confirms each
    /// deployment's group, as for a rollback.
    async fn queue_on_older_lanes(
        &self,
        problem: &ProblemDetails,
        lane_problem: &Problem,
        budget: &Budget,
    ) -> Vec<RollbackAction> {
        let Ok((candidates, _)) = self.candidates(problem, budget, LANE_LOOKBACK).await else {
            return Vec::new();
        };
        let mut queued: Vec<LaneKey> = Vec::new();
        let mut actions = Vec::new();
        for candidate in &candidates {
            let id = candidate.deployment_id.as_str();
            let Some(Ok(deployment)) = budget.run(self.deployer.deployment(id)).await else {
                continue;
            };
            let Some(key) = lane_of(candidate, &deployment.application, &deployment.group) else {
                continue;
            };
            if queued.contains(&key) {
                continue;
            }
            match self.configs.config(&key).await {
                Ok(Some(c)) if c.remediation_yaml.is_some() => {}
                Ok(_) => continue,
                Err(e) => {
                    actions.push(RollbackAction::new(id, RollbackOutcome::Failed, format!("cannot read the self-healing configuration of {key}: {e}; nothing was done")));
                    continue;
                }
            }
            let notice = Notice::Opened {
                problem: lane_problem.clone(),
            };
            let notified = self.lanes.notify(&key, &notice, now_ms()).await;
            if notified.is_ok() {
                self.wake_lane(&key).await;
            }
            actions.push(match notified {
                Ok(()) => RollbackAction::new(
                    id,
                    RollbackOutcome::Queued,
                    format!("handed \"{}\" to the self-healing sequence of {key} (its last deployment {id} is older than the rollback lookback): its remediation.yaml decides the actions", lane_problem.title),
                ),
                Err(e) => RollbackAction::new(id, RollbackOutcome::Failed, format!("cannot hand the problem to the self-healing sequence of {key}: {e}")),
            });
            queued.push(key);
        }
        actions
    }

    async fn remediate(
        &self,
        problem: &ProblemDetails,
        notified_title: Option<&str>,
        budget: Budget,
    ) -> Handled {
        let examined = problem.entities.len().min(MAX_ENTITIES);
        let not_examined = problem.entities.len() - examined;
        let entities = json!({"examined": examined, "notExamined": not_examined});
        let mut handled = Handled {
            actions: vec![],
            left: vec![],
            note: (not_examined > 0).then(|| {
                format!("{not_examined} of the problem's {} entities were not examined (at most {MAX_ENTITIES}: root cause and affected entities first)", problem.entities.len())
            }),
            entities: Some(entities),
            known: true,
        };
        let candidates = match self
            .candidates(problem, &budget, self.settings.lookback)
            .await
        {
            Err(action) => {
                handled.actions.push(action);
                return handled;
            }
            Ok((candidates, note)) => {
                if let Some(note) = note {
                    handled.note = Some(match handled.note {
                        Some(n) => format!("{n}; {note}"),
                        None => note,
                    });
                }
                candidates
            }
        };
        let lane_problem = Problem {
            id: problem.id.clone(),
            source: ProblemSource::Dynatrace,
            title: problem
                .title
                .clone()
                .or_else(|| notified_title.map(str::to_string))
                .unwrap_or_else(|| "unknown problem".into()),
            opened_ms: problem.start_ms,
            link: self
                .settings
                .tenant_url
                .as_ref()
                .map(|tenant| format!("{tenant}/#problems/problemdetails;pid={}", problem.id)),
            alt_title: None,
        };
        if candidates.is_empty() {
            // No recent deployment (a traffic surge days after the last one): the problem
            // still reaches the self-healing lane of the group its service was deployed to.
            let queued = self
                .queue_on_older_lanes(problem, &lane_problem, &budget)
                .await;
            if !queued.is_empty() {
                handled.actions.extend(queued);
                return handled;
            }
            handled.actions.push(RollbackAction::new(
                "",
                RollbackOutcome::Skipped,
                format!(
                    "no CodeDeploy deployment event on the problem's entities from {} minutes before it started until now",
                    self.settings.lookback.as_secs() / 60
                ),
            ));
            return handled;
        }
        let mut seen = Seen::default();
        let confirmed = ConfirmedProblem {
            id: &problem.id,
            display_id: problem.display_id.as_deref(),
            start_ms: problem.start_ms,
        };
        for candidate in &candidates {
            if budget.left() < ROLLBACK_TIME {
                handled.left.push(format!(
                    "deployment {} was not checked: the answer deadline was near",
                    candidate.deployment_id
                ));
                continue;
            }
            let action = self
                .roll_back(&confirmed, &lane_problem, candidate, &mut seen, &budget)
                .await;
            handled.actions.push(action);
        }
        handled
    }

    fn rollbacks(&self) -> RollbackExecutor {
        RollbackExecutor {
            deployer: self.deployer.clone(),
            ledger: self.store.clone(),
            settings: RollbackSettings {
                lookback: self.settings.lookback,
                cooldown: self.settings.cooldown,
            },
        }
    }

    /// One deployment behind the problem: CodeDeploy confirms it and the decision holds it to
    /// the problem (created before it, within the lookback, not a rollback, still current)
    /// before anything happens, whether the group's remediation.yaml gets the problem or the
    /// rollback of today runs.
    async fn roll_back(
        &self,
        problem: &ConfirmedProblem<'_>,
        lane_problem: &Problem,
        candidate: &Candidate,
        seen: &mut Seen,
        budget: &Budget,
    ) -> RollbackAction {
        let id = candidate.deployment_id.as_str();
        let skip = |reason: String| RollbackAction::new(id, RollbackOutcome::Skipped, reason);
        let fail = |reason: String| RollbackAction::new(id, RollbackOutcome::Failed, reason);
        let late =
            || fail("CodeDeploy did not answer before the deadline; nothing was done".into());
        let deployment = match budget.run(self.deployer.deployment(id)).await {
            None => return late(),
            // An event can name anything: a deployment CodeDeploy does not know is not ours to act on.
            Some(Err(DeployError::NotFound(e))) => {
                return skip(format!(
                    "CodeDeploy does not know the deployment the event names ({e})"
                ))
            }
            Some(Err(e)) => {
                tracing::error!(deployment = id, error = %e, "reading the deployment failed");
                return fail(deploy_read_reason(&e));
            }
            Some(Ok(d)) => d,
        };
        let current = match self.group_current(id, &deployment, seen, budget).await {
            Ok(current) => current,
            Err(action) => return action,
        };
        let request = RollbackRequest {
            problem: problem.clone(),
            application: candidate.application.as_deref(),
            group: candidate.group.as_deref(),
            deployment: &deployment,
            last_successful: current.0.as_deref(),
            running_revision: current.1.as_ref(),
            asked_by: "the problem webhook",
            now_ms: now_ms(),
        };
        let executor = self.rollbacks();
        if let Some(key) = lane_of(candidate, &deployment.application, &deployment.group) {
            let handed = self
                .hand_to_lane(&key, &executor, &request, lane_problem, seen)
                .await;
            if let Some(action) = handed {
                return action;
            }
        }
        match executor.execute(&request).await {
            RollbackResult::Refused { reason } => skip(reason),
            RollbackResult::Failed { reason } => {
                fail(format!("{reason}; re-send the notification to retry"))
            }
            RollbackResult::Started {
                previous,
                rollback_deployment_id,
            } => {
                let reason = format!(
                    "redeployed {previous} to {}/{}",
                    deployment.application, deployment.group
                );
                self.put_on_timeline(
                    lane_problem,
                    &deployment,
                    &previous,
                    &rollback_deployment_id,
                )
                .await;
                RollbackAction {
                    deployment_id: id.to_string(),
                    action: RollbackOutcome::RolledBack,
                    reason,
                    rollback_deployment_id: Some(rollback_deployment_id),
                }
            }
        }
    }

    /// The group's last successful deployment and the revision it installed, read once per
    /// group and notification: another deployment of the same revision (an instance Auto
    /// Scaling launched) is the same build still running. Err: the action to answer.
    async fn group_current(
        &self,
        id: &str,
        deployment: &DeploymentInfo,
        seen: &mut Seen,
        budget: &Budget,
    ) -> Result<(Option<String>, Option<S3Revision>), RollbackAction> {
        let fail = |reason: String| RollbackAction::new(id, RollbackOutcome::Failed, reason);
        let late =
            || fail("CodeDeploy did not answer before the deadline; nothing was done".into());
        let unreadable = |e: &DeployError| {
            tracing::error!(error = %e, "reading the group's last deployment failed");
            fail(format!(
                "cannot read the group's last successful deployment ({})",
                deploy_read_reason(e)
            ))
        };
        let group_key = (deployment.application.clone(), deployment.group.clone());
        if let Some(current) = seen.last_successful.get(&group_key) {
            return Ok(current.clone());
        }
        let last = budget
            .run(
                self.deployer
                    .last_successful(&deployment.application, &deployment.group),
            )
            .await;
        let id = match last {
            None => return Err(late()),
            Some(Err(e)) => return Err(unreadable(&e)),
            Some(Ok(id)) => id,
        };
        let revision = match &id {
            Some(current) if current == &deployment.id => deployment.revision.clone(),
            Some(current) => match budget.run(self.deployer.deployment(current)).await {
                None => return Err(late()),
                Some(Ok(d)) => d.revision,
                Some(Err(e)) => return Err(unreadable(&e)),
            },
            _ => None,
        };
        let current = (id, revision);
        seen.last_successful.insert(group_key, current.clone());
        Ok(current)
    }

    /// A group whose lane has a remediation.yaml gets the problem on that lane instead of a
    /// rollback: the action answered, or None when the lane has no remediation.yaml.
    async fn hand_to_lane(
        &self,
        key: &LaneKey,
        executor: &RollbackExecutor,
        request: &RollbackRequest<'_>,
        lane_problem: &Problem,
        seen: &mut Seen,
    ) -> Option<RollbackAction> {
        let id = request.deployment.id.as_str();
        let skip = |reason: String| RollbackAction::new(id, RollbackOutcome::Skipped, reason);
        let fail = |reason: String| RollbackAction::new(id, RollbackOutcome::Failed, reason);
        match self.configs.config(key).await {
            Ok(Some(c)) if c.remediation_yaml.is_some() => {}
            Ok(_) => return None,
            // Fail closed: neither guess the rollback nor drop the problem; the 503 asks for
            // the notification again.
            Err(e) => {
                tracing::error!(lane = %key, error = %e, "reading the lane's configuration failed");
                return Some(fail(format!(
                    "cannot read the self-healing configuration of {key} (DynamoDB; see the function's log); nothing was done"
                )));
            }
        }
        if seen.queued.contains(key) {
            return Some(skip(format!(
                "the problem already went to the self-healing sequence of {key}"
            )));
        }
        // The same checks as a rollback, before the hand-off: a lane never gets a problem its
        // deployment cannot have caused (a fix deployed since, a rollback, a planted event).
        if let Err(reason) = executor.may_have_caused(request) {
            return Some(skip(format!(
                "not handed to the self-healing sequence of {key}: {reason}"
            )));
        }
        let notice = Notice::Opened {
            problem: lane_problem.clone(),
        };
        Some(match self.lanes.notify(key, &notice, now_ms()).await {
            Ok(()) => {
                self.wake_lane(key).await;
                seen.queued.push(key.clone());
                RollbackAction::new(
                    id,
                    RollbackOutcome::Queued,
                    format!("handed \"{}\" to the self-healing sequence of {key}: its remediation.yaml decides the actions", lane_problem.title),
                )
            }
            Err(e) => {
                tracing::error!(lane = %key, error = %e, "handing the problem to its lane failed");
                fail(format!(
                    "cannot hand the problem to the self-healing sequence of {key} ({})",
                    lane_refusal(&e)
                ))
            }
        })
    }

    /// The webhook's own rollback, on the remediation timeline beside the self-healing ones:
    /// who asked, why, and what was redeployed. A failure to record it is logged; the
    /// rollback stands.
    async fn put_on_timeline(
        &self,
        problem: &Problem,
        deployment: &crate::ports::deploy::DeploymentInfo,
        previous: &crate::ports::deploy::S3Revision,
        rollback_id: &str,
    ) {
        let key = LaneKey {
            service: deployment.application.clone(),
            stage: deployment.group.clone(),
        };
        let sequence = crate::remediation::sequence::webhook_rollback(
            problem,
            &key.service,
            &key.stage,
            &format!(
                "the problem webhook rolled back {}: redeployed {previous} as {rollback_id}",
                deployment.id
            ),
            now_ms(),
        );
        if let Err(e) = self.lanes.record_ended(&key, &sequence).await {
            tracing::error!(lane = %key, error = %e, "recording the rollback on the timeline failed");
        }
    }
}

/// What was found while handling one problem, per group: the last successful deployment
/// CodeDeploy gave, and the lanes the problem went to.
#[derive(Default)]
struct Seen {
    /// Per group: its last successful deployment, and the revision it installed.
    last_successful: BTreeMap<(String, String), (Option<String>, Option<S3Revision>)>,
    queued: Vec<LaneKey>,
}

/// Why a lane did not take a notice, in words for the answer (a limit is said as it is; a
/// store failure only by its kind).
fn lane_refusal(e: &crate::ports::lanes::StoreError) -> String {
    match e {
        crate::ports::lanes::StoreError::Full(reason) => reason.clone(),
        _ => "DynamoDB; see the function's log".into(),
    }
}

/// The lane of a deployment, when the event names the deployment's own application and
/// group: a planted event cannot steer a problem to another service's actions.
fn lane_of(candidate: &Candidate, application: &str, group: &str) -> Option<LaneKey> {
    let named = candidate.application.as_deref() == Some(application)
        && candidate.group.as_deref() == Some(group);
    named.then(|| LaneKey {
        service: application.to_string(),
        stage: group.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::deploy::{DeploymentInfo, DeploymentStatus, S3Revision};
    use crate::ports::lanes::{MemoryLaneConfigs, MemoryLanes};
    use crate::ports::memory::{MemoryDeployer, MemoryMonitoring, MemorySecrets, MemoryStore};
    use crate::ports::monitoring::RecordedDeployment;

    const SECRET: &str = "whsec-unit";
    const PID: &str = "-7_1V2";
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

    fn deployment(id: &str, created_ms: i64, key: &str, previous: &str) -> DeploymentInfo {
        DeploymentInfo {
            id: id.into(),
            application: "app".into(),
            group: "Production".into(),
            status: DeploymentStatus::Succeeded,
            created_ms: Some(created_ms),
            creator: Some("user".into()),
            description: None,
            revision: Some(revision(key)),
            previous_revision: Some(revision(previous)),
            rollback_of: None,
        }
    }

    fn event(entity: &str, start_ms: i64, deployment_id: &str) -> RecordedDeployment {
        RecordedDeployment {
            entity_id: entity.into(),
            start_ms,
            properties: [
                ("CodeDeploy.DeploymentId", deployment_id),
                ("CodeDeploy.Application", "app"),
                ("CodeDeploy.DeploymentGroup", "Production"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    struct Setup {
        handler: ProblemHandler,
        store: Arc<MemoryStore>,
        deployer: Arc<MemoryDeployer>,
        monitoring: Arc<MemoryMonitoring>,
        lanes: Arc<MemoryLanes>,
        configs: Arc<MemoryLaneConfigs>,
        problem_start: i64,
    }

    /// Build 4 (d-4) runs in Production since 2 minutes before problem -7_1V2 opened on
    /// SERVICE-PROD; build 3 (d-3) before it. The problem is OPEN in Dynatrace.
    fn setup() -> Setup {
        let problem_start = now_ms() - 60_000;
        let deployer = Arc::new(MemoryDeployer::default());
        for d in [
            deployment("d-3", problem_start - 600_000, "build3.zip", "build2.zip"),
            deployment("d-4", problem_start - 120_000, "build4.zip", "build3.zip"),
        ] {
            deployer.deployments.lock().unwrap().insert(d.id.clone(), d);
        }
        let monitoring = Arc::new(MemoryMonitoring::default());
        monitoring.deployments.lock().unwrap().insert(
            "SERVICE-PROD".into(),
            vec![event("SERVICE-PROD", problem_start - 110_000, "d-4")],
        );
        monitoring.problems.lock().unwrap().insert(
            PID.into(),
            ProblemDetails {
                id: PID.into(),
                display_id: Some("P-7".into()),
                status: ProblemStatus::Open,
                title: Some("Response time degradation".into()),
                start_ms: problem_start,
                entities: vec!["SERVICE-PROD".into()],
            },
        );
        let store = Arc::new(MemoryStore::default());
        let lanes = Arc::new(MemoryLanes::new());
        let configs = Arc::new(MemoryLaneConfigs::default());
        let handler = ProblemHandler {
            secrets: Arc::new(MemorySecrets {
                values: [("arn:webhook".to_string(), SECRET.to_string())].into(),
            }),
            webhook_secret_id: "arn:webhook".into(),
            store: store.clone(),
            deployer: deployer.clone(),
            monitoring: monitoring.clone(),
            lanes: lanes.clone(),
            configs: configs.clone(),
            wakeups: Arc::new(crate::ports::wakeups::SweepOnly),
            settings: ProblemSettings {
                lookback: Duration::from_secs(3600),
                cooldown: Duration::from_secs(900),
                tenant_url: Some("https://abc123.live.dynatrace.com".into()),
            },
        };
        Setup {
            handler,
            store,
            deployer,
            monitoring,
            lanes,
            configs,
            problem_start,
        }
    }

    fn production() -> LaneKey {
        LaneKey {
            service: "app".into(),
            stage: "Production".into(),
        }
    }

    async fn with_remediation(s: &Setup) {
        let config = crate::ports::lanes::LaneConfig {
            remediation_yaml: Some("remediations: []".into()),
            ..Default::default()
        };
        s.configs.put_config(&production(), &config).await.unwrap();
    }

    #[tokio::test]
    async fn a_group_with_a_remediation_file_gets_the_problem_on_its_lane_instead_of_a_rollback() {
        let s = setup();
        with_remediation(&s).await;
        let open = OPEN.replace("\"State\"", "\"ProblemTitle\":\"Sent title\",\"State\"");
        let (status, body) = ask(&s.handler, Some(SECRET), &open).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actions"][0]["action"], "queued", "{body}");
        assert!(reason(&body, 0).contains("self-healing sequence of app/Production"));
        assert!(
            s.deployer.redeploys.lock().unwrap().is_empty(),
            "no rollback of its own"
        );
        let record = s.lanes.lane(&production()).await.unwrap().unwrap();
        match &record.inbox[..] {
            [Notice::Opened { problem }] => {
                assert_eq!(problem.id, PID);
                assert_eq!(
                    problem.title, "Response time degradation",
                    "Dynatrace's title wins"
                );
                assert_eq!(problem.opened_ms, s.problem_start);
                assert_eq!(
                    problem.link.as_deref(),
                    Some("https://abc123.live.dynatrace.com/#problems/problemdetails;pid=-7_1V2")
                );
            }
            other => panic!("{other:?}"),
        }
        // Re-sent: the lane gets it again and ignores the known id; the answer is the same.
        let (status, _) = ask(&s.handler, Some(SECRET), &open).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn a_resolved_problem_stops_its_sequence_only_when_dynatrace_says_it_is_closed() {
        let s = setup();
        with_remediation(&s).await;
        let resolved = OPEN.replace("\"OPEN\"", "\"RESOLVED\"");
        let (status, body) = ask(&s.handler, Some(SECRET), &resolved).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["note"]
                .as_str()
                .unwrap()
                .contains("still reports problem"),
            "{body}"
        );
        assert!(s.lanes.lane(&production()).await.unwrap().is_none());

        s.monitoring
            .problems
            .lock()
            .unwrap()
            .get_mut(PID)
            .unwrap()
            .status = ProblemStatus::Closed;
        let (status, body) = ask(&s.handler, Some(SECRET), &resolved).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["lanes"], json!(["app/Production"]));
        let record = s.lanes.lane(&production()).await.unwrap().unwrap();
        assert!(
            matches!(&record.inbox[..], [Notice::Closed { problem_id, .. }] if problem_id == PID),
            "{:?}",
            record.inbox
        );
    }

    #[tokio::test]
    async fn a_problem_days_after_the_last_deployment_still_reaches_its_lane_but_is_not_rolled_back(
    ) {
        let s = setup();
        // Build 4 went out two days before the problem: far outside the rollback lookback.
        let two_days = 2 * 24 * 3_600_000;
        s.deployer
            .deployments
            .lock()
            .unwrap()
            .get_mut("d-4")
            .unwrap()
            .created_ms = Some(s.problem_start - two_days);
        s.monitoring.deployments.lock().unwrap().insert(
            "SERVICE-PROD".into(),
            vec![event("SERVICE-PROD", s.problem_start - two_days, "d-4")],
        );
        let (status, body) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            reason(&body, 0).starts_with(
                "no CodeDeploy deployment event on the problem's entities from 60 minutes"
            ),
            "without a remediation.yaml nothing changes: {body}"
        );
        assert!(s.lanes.lane(&production()).await.unwrap().is_none());

        with_remediation(&s).await;
        let (status, body) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actions"][0]["action"], "queued", "{body}");
        assert!(
            reason(&body, 0).contains("older than the rollback lookback"),
            "{body}"
        );
        assert!(s.deployer.redeploys.lock().unwrap().is_empty());
        assert_eq!(
            s.lanes
                .lane(&production())
                .await
                .unwrap()
                .unwrap()
                .inbox
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn an_event_naming_another_group_cannot_steer_a_problem_to_that_lane() {
        let s = setup();
        with_remediation(&s).await;
        s.monitoring.deployments.lock().unwrap().insert(
            "SERVICE-PROD".into(),
            vec![{
                let mut e = event("SERVICE-PROD", s.problem_start - 110_000, "d-4");
                e.properties
                    .insert("CodeDeploy.DeploymentGroup".into(), "Other".into());
                e
            }],
        );
        let (_, body) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_ne!(body["actions"][0]["action"], "queued", "{body}");
        assert!(s.lanes.lane(&production()).await.unwrap().is_none());
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
    async fn a_late_open_after_a_fix_was_deployed_does_not_roll_back_the_fix() {
        let s = setup();
        // The fix (build 5) went out after the problem started and is what runs now.
        let fix = deployment("d-5", s.problem_start + 20_000, "build5.zip", "build4.zip");
        s.deployer
            .deployments
            .lock()
            .unwrap()
            .insert("d-5".into(), fix);
        s.monitoring
            .deployments
            .lock()
            .unwrap()
            .get_mut("SERVICE-PROD")
            .unwrap()
            .insert(0, event("SERVICE-PROD", s.problem_start + 30_000, "d-5"));
        let (status, answer) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{answer}");
        assert!(
            reason(&answer, 0).contains("d-5 was created 20 s after problem -7_1V2 started"),
            "{answer}"
        );
        assert!(
            reason(&answer, 1).contains(
                "d-4 is no longer the last successful deployment of app/Production (d-5 is)"
            ),
            "{answer}"
        );
        assert!(s.deployer.redeploys.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_planted_event_naming_an_old_build_does_not_redeploy_an_older_one() {
        let s = setup();
        s.monitoring
            .deployments
            .lock()
            .unwrap()
            .get_mut("SERVICE-PROD")
            .unwrap()
            .insert(0, event("SERVICE-PROD", s.problem_start - 5_000, "d-3"));
        let (status, answer) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200, "{answer}");
        assert!(
            reason(&answer, 0).contains(
                "d-3 is no longer the last successful deployment of app/Production (d-4 is)"
            ),
            "{answer}"
        );
        // The real event still leads to the build that runs.
        assert_eq!(answer["actions"][1]["action"], "rolledBack", "{answer}");
        let redeploys = s.deployer.redeploys.lock().unwrap().clone();
        assert_eq!(redeploys.len(), 1);
        assert_eq!(redeploys[0].2, revision("build3.zip"), "never build 2");
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
    async fn a_second_problem_on_a_group_in_cooldown_does_not_roll_back_again() {
        let s = setup();
        assert_eq!(ask(&s.handler, Some(SECRET), OPEN).await.0, 200);
        let mut other = s.monitoring.problems.lock().unwrap()[PID].clone();
        other.id = "-8_1V2".into();
        s.monitoring
            .problems
            .lock()
            .unwrap()
            .insert("-8_1V2".into(), other);
        let (status, answer) = ask(&s.handler, Some(SECRET), &OPEN.replace(PID, "-8_1V2")).await;
        assert_eq!(status, 200, "{answer}");
        assert!(reason(&answer, 0).contains("app/Production was rolled back 0 s ago (problem -7_1V2, deployment d-4); cooldown is 15 minutes"), "{answer}");
        assert_eq!(s.deployer.redeploys.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_thousand_impacted_entities_are_one_capped_events_query() {
        let s = setup();
        let entities: Vec<String> = (0..1000).map(|i| format!("SERVICE-{i:016X}")).collect();
        let mut all = vec!["SERVICE-PROD".to_string()];
        all.extend(entities.iter().cloned());
        s.monitoring
            .problems
            .lock()
            .unwrap()
            .get_mut(PID)
            .unwrap()
            .entities = all;
        let listed: Vec<Value> = entities
            .iter()
            .chain(entities.iter())
            .map(|e| json!({"entity": e}))
            .collect();
        let body = json!({"State": "OPEN", "PID": PID, "ImpactedEntities": listed}).to_string();
        let (status, answer) = ask(&s.handler, Some(SECRET), &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
        assert_eq!(
            answer["entities"],
            json!({"examined": 100, "notExamined": 901})
        );
        let queries = s.monitoring.queries.lock().unwrap().clone();
        assert_eq!(queries.len(), 1, "one events query");
        assert_eq!(queries[0].0.len(), MAX_ENTITIES);
        assert_eq!(
            queries[0].0[0], "SERVICE-PROD",
            "the problem's order is kept"
        );
    }

    #[tokio::test]
    async fn control_and_bidi_characters_stay_out_of_descriptions_and_comments() {
        let s = setup();
        let mut d4 = s.deployer.deployments.lock().unwrap()["d-4"].clone();
        d4.previous_revision = Some(revision("build3\u{202E}piz.exe\0.zip"));
        s.deployer
            .deployments
            .lock()
            .unwrap()
            .insert("d-4".into(), d4);
        let (status, _) = ask(&s.handler, Some(SECRET), OPEN).await;
        assert_eq!(status, 200);
        let description = s.deployer.redeploys.lock().unwrap()[0].3.clone();
        let comment = s.monitoring.comments.lock().unwrap()[0].1.clone();
        for text in [&description, &comment] {
            assert!(
                !text.contains('\u{202E}') && !text.contains('\0'),
                "{text:?}"
            );
            assert!(
                text.contains("build3\u{FFFD}piz.exe\u{FFFD}.zip"),
                "{text:?}"
            );
        }
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
    }

    /// keptn-contrib/dynatrace-service's `test-events/test-requests.http`, as an older
    /// Dynatrace sent it: digits-only ids.
    const OLDER: &str = r#"{"State":"OPEN","ProblemID":"496","PID":"-175196579159161496","ProblemTitle":"Response time degradation","ImpactedEntities":[{"type":"SERVICE","name":"carts","entity":"SERVICE-ABC"}]}"#;

    #[tokio::test]
    async fn a_digits_only_problem_is_looked_up_and_one_dynatrace_does_not_know_changes_nothing() {
        let s = setup();
        for state in ["OPEN", "RESOLVED"] {
            let body = OLDER.replace("\"OPEN\"", &format!("\"{state}\""));
            let (status, answer) = ask(&s.handler, Some(SECRET), &body).await;
            assert_eq!(status, 200, "{state}: {answer}");
            let said = if state == "OPEN" {
                reason(&answer, 0)
            } else {
                answer["note"].as_str().unwrap_or_default().to_string()
            };
            assert_eq!(
                said, "Dynatrace does not know problem -175196579159161496; nothing was done",
                "{state}: {answer}"
            );
        }
        assert!(s.deployer.redeploys.lock().unwrap().is_empty());
        assert!(s.monitoring.comments.lock().unwrap().is_empty());
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
}
