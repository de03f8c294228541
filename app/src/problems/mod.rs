//! The problem use case: what a Dynatrace problem notification, already authenticated and
//! read, leads to. The notification only says which problem to look at: the problem is read
//! from Dynatrace and acted on only while it is OPEN, on the problem's own start time and
//! entities. Each deployment behind it is confirmed with CodeDeploy, then either handed to
//! its group's self-healing lane (a group with a stored remediation.yaml) or rolled back by
//! the one [`RollbackExecutor`] (decided, claimed in one conditional transaction, redeployed;
//! the claim undone when CreateDeployment fails). A closed problem stops the self-healing
//! sequences it started. Work is bounded: at most [`MAX_ENTITIES`] entities in one events
//! query, [`MAX_CANDIDATES`] deployments, and nothing is started once the deadline is near.
//!
//! What happened comes back as data ([`ProblemOutcome`]); the webhook handler
//! (`lambda::problem`) authenticates the request, reads the body, and turns the outcome into
//! its HTTP status and answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::inbound::dynatrace::Notification;
use crate::ports::deploy::Deployer;
use crate::ports::lanes::{LaneConfigs, LaneKey, LaneStore, Notice};
use crate::ports::metrics::TimeWindow;
use crate::ports::monitoring::{MonitoringEvents, ProblemDetails, ProblemStatus};
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::remediation::rollback::RollbackOutcome;
use crate::rollback::RollbackExecutor;
use crate::time::now_ms;

mod comment;
mod deployments;

/// Entities looked at per problem, in one events query (`entityId("…",…)`, ~4 KB of URL).
/// The root cause and affected entities come first; the rest is reported as not examined.
pub const MAX_ENTITIES: usize = 100;
/// Deployments checked against CodeDeploy per problem (two calls each).
pub const MAX_CANDIDATES: usize = 20;
/// A rollback is started only with this much time left (GetDeployment, the claim,
/// CreateDeployment).
const ROLLBACK_TIME: Duration = Duration::from_secs(4);
/// How far back a problem without a recent deployment looks for the group its service runs
/// in, to reach that group's self-healing lane (never for a rollback).
const LANE_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);
/// Dynatrace comments are cut to these many characters.
const COMMENT_LIMIT: usize = 4000;

/// The problem use case over its ports.
pub struct ProblemService {
    /// Dynatrace: the problem as it reports it, the deployment events on its entities, and
    /// the comment on it.
    pub monitoring: Arc<dyn MonitoringEvents>,
    /// CodeDeploy: each deployment an event names, confirmed, and its group's current one.
    pub deployer: Arc<dyn Deployer>,
    /// Self-healing: a group with a stored remediation.yaml gets the problem as a notice
    /// on its lane instead of the rollback of today.
    pub lanes: Arc<dyn LaneStore>,
    pub configs: Arc<dyn LaneConfigs>,
    /// A lane handed a problem (or told it closed) is woken at once through these.
    pub wakeups: Arc<dyn Wakeups>,
    /// The one rollback executor; its lookback is also how long before a problem's start
    /// deployment events are looked for.
    pub rollbacks: Arc<RollbackExecutor>,
    /// The tenant's URL, for a link to the problem on the remediation timeline.
    pub tenant_url: Option<String>,
}

/// What was done for one deployment behind a problem (or, without a deployment id, for the
/// problem as a whole).
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

/// How many of the problem's entities were looked at (at most [`MAX_ENTITIES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityCount {
    pub examined: usize,
    pub not_examined: usize,
}

/// Whether the problem was commented on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comment {
    /// Not tried: Dynatrace does not know the problem, or something is left for a re-sent
    /// notification (which comments once it settles the problem).
    NotMade,
    Made,
    /// Dynatrace did not take it: why.
    Failed(String),
}

/// What an open problem led to, per deployment behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOutcome {
    pub actions: Vec<RollbackAction>,
    /// Work not reached before the deadline.
    pub left: Vec<String>,
    pub note: Option<String>,
    /// `None` when the problem was not read from Dynatrace.
    pub entities: Option<EntityCount>,
    /// Whether the problem exists in Dynatrace (to comment on it).
    pub known: bool,
    pub comment: Comment,
}

impl OpenOutcome {
    /// Nothing failed and nothing was left: a re-sent notification has nothing to finish.
    pub fn settled(&self) -> bool {
        let failed = self
            .actions
            .iter()
            .any(|a| a.action == RollbackOutcome::Failed);
        !failed && self.left.is_empty()
    }
}

/// What a resolved or closed problem led to: the self-healing sequences told it closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedOutcome {
    /// The lanes told, as `service/stage`.
    pub lanes: Vec<String>,
    pub note: String,
    /// A call failed or was not reached: a re-sent notification finishes.
    pub unfinished: bool,
}

/// What one notification led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemOutcome {
    /// Dynatrace's "Send test notification": acknowledged, nothing done.
    Test,
    /// A state that is neither open nor resolved: nothing to do.
    NoActionForState,
    /// An open problem (or a state starting with OPEN): the actions per deployment.
    Open(OpenOutcome),
    /// A resolved or closed problem: the lanes that stop.
    Closed(ClosedOutcome),
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

fn skipped(reason: String, known: bool) -> OpenOutcome {
    OpenOutcome {
        actions: vec![RollbackAction::new("", RollbackOutcome::Skipped, reason)],
        left: vec![],
        note: None,
        entities: None,
        known,
        comment: Comment::NotMade,
    }
}

fn failed(reason: String) -> OpenOutcome {
    OpenOutcome {
        actions: vec![RollbackAction::new("", RollbackOutcome::Failed, reason)],
        left: vec![],
        note: None,
        entities: None,
        known: false,
        comment: Comment::NotMade,
    }
}

fn closed(unfinished: bool, lanes: Vec<String>, note: String) -> ClosedOutcome {
    ClosedOutcome {
        lanes,
        note,
        unfinished,
    }
}

impl ProblemService {
    /// What `notification` leads to, with everything done before `deadline_ms`.
    pub async fn handle(&self, notification: &Notification, deadline_ms: i64) -> ProblemOutcome {
        if notification.is_test() {
            return ProblemOutcome::Test;
        }
        let budget = Budget { deadline_ms };
        match &notification.state {
            ProblemStatus::Resolved | ProblemStatus::Closed => {
                ProblemOutcome::Closed(self.handle_resolved(notification, budget).await)
            }
            // An unknown state that starts with OPEN is handled as open, as it always was.
            ProblemStatus::Other(state) if !state.starts_with("OPEN") => {
                ProblemOutcome::NoActionForState
            }
            ProblemStatus::Open | ProblemStatus::Other(_) => {
                let mut open = self.handle_open(notification, budget).await;
                // What is not settled is re-sent: comment once, when it settles the problem.
                if open.settled() && open.known {
                    open.comment = self.comment(notification, &open, deadline_ms).await;
                }
                ProblemOutcome::Open(open)
            }
        }
    }

    /// How long before a problem's start its deployment may have been created.
    fn lookback(&self) -> Duration {
        self.rollbacks.settings.lookback
    }

    /// Within the answer's deadline like every other call: a slow Dynatrace (8 s and a retry)
    /// must not hold the answer past API Gateway's 29 s, which would have Dynatrace send the
    /// settled problem again.
    async fn comment(
        &self,
        notification: &Notification,
        open: &OpenOutcome,
        deadline_ms: i64,
    ) -> Comment {
        let text = comment::comment_text(notification, open);
        let budget = Budget { deadline_ms };
        match budget
            .run(self.monitoring.comment(&notification.pid, &text))
            .await
        {
            Some(Ok(())) => Comment::Made,
            Some(Err(e)) => {
                tracing::error!(error = %e, "commenting on the problem failed");
                Comment::Failed(e.to_string())
            }
            None => {
                tracing::error!("commenting on the problem took until the answer's deadline");
                Comment::Failed("no answer before the webhook's answer was due".into())
            }
        }
    }

    /// A lane that was just told something starts on it now, not at the next sweep.
    async fn wake_lane(&self, key: &LaneKey) {
        let wake = WakeUp::new(WakeTarget::lane(key), now_ms());
        send_or_log(self.wakeups.as_ref(), wake, now_ms()).await;
    }

    async fn handle_open(&self, notification: &Notification, budget: Budget) -> OpenOutcome {
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
            let status = if problem.status.as_str().is_empty() {
                "without a status"
            } else {
                problem.status.as_str()
            };
            return skipped(
                format!(
                    "problem {pid} is {status} in Dynatrace, not OPEN; a rollback is only for an open problem"
                ),
                true,
            );
        }
        self.remediate(&problem, notification.title.as_deref(), budget)
            .await
    }

    /// A resolved problem stops the self-healing sequences it started. Dynatrace must say it
    /// is closed: a forged RESOLVED cannot stop a remediation.
    async fn handle_resolved(&self, notification: &Notification, budget: Budget) -> ClosedOutcome {
        let pid = &notification.pid;
        let problem = match budget.run(self.monitoring.problem(pid)).await {
            None => return closed(true, vec![], format!("Dynatrace did not answer for problem {pid} before the deadline; nothing was done")),
            Some(Err(e)) => return closed(true, vec![], format!("cannot read problem {pid} from Dynatrace ({e}); nothing was done")),
            Some(Ok(None)) => return closed(false, vec![], format!("Dynatrace does not know problem {pid}; nothing was done")),
            Some(Ok(Some(p))) => p,
        };
        if problem.is_open() {
            return closed(
                false,
                vec![],
                format!("Dynatrace still reports problem {pid} open; its remediation goes on"),
            );
        }
        let candidates = match self.candidates(&problem, &budget, self.lookback()).await {
            Ok((candidates, _)) => candidates,
            Err(e) => return closed(true, vec![], e.reason),
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
                    return closed(
                        true,
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
                return closed(
                    true,
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
        closed(false, lanes, note)
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

/// The problem use case over in-memory doubles, for its tests and the webhook handler's.
#[cfg(any(test, feature = "testing"))]
pub mod fixture;
#[cfg(test)]
mod tests;
