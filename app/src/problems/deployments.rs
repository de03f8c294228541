//! An open problem's deployments: each one an event on the problem's entities names is
//! confirmed with CodeDeploy and held to the problem, then handed to its group's self-healing
//! lane (a stored remediation.yaml) or rolled back by the one [`RollbackExecutor`].

use std::collections::BTreeMap;

use super::{
    lane_of, Budget, Candidate, Comment, EntityCount, OpenOutcome, ProblemService, RollbackAction,
    LANE_LOOKBACK, MAX_ENTITIES, ROLLBACK_TIME,
};
use crate::ports::deploy::{DeployError, DeploymentInfo, S3Revision};
use crate::ports::lanes::{LaneKey, Notice, StoreError};
use crate::ports::monitoring::ProblemDetails;
use crate::remediation::rollback::{ConfirmedProblem, RollbackOutcome};
use crate::remediation::sequence::{webhook_rollback, Problem, ProblemSource};
use crate::rollback::{deploy_read_reason, RollbackExecutor, RollbackRequest, RollbackResult};
use crate::time::now_ms;

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
fn lane_refusal(e: &StoreError) -> String {
    match e {
        StoreError::Full(reason) => reason.clone(),
        _ => "DynamoDB; see the function's log".into(),
    }
}

impl ProblemService {
    /// An open problem, as Dynatrace reports it: its deployments handed to their lanes or
    /// rolled back, within the budget.
    pub(super) async fn remediate(
        &self,
        problem: &ProblemDetails,
        notified_title: Option<&str>,
        budget: Budget,
    ) -> OpenOutcome {
        let examined = problem.entities.len().min(MAX_ENTITIES);
        let not_examined = problem.entities.len() - examined;
        let mut open = OpenOutcome {
            actions: vec![],
            left: vec![],
            note: (not_examined > 0).then(|| {
                format!("{not_examined} of the problem's {} entities were not examined (at most {MAX_ENTITIES}: root cause and affected entities first)", problem.entities.len())
            }),
            entities: Some(EntityCount {
                examined,
                not_examined,
            }),
            known: true,
            comment: Comment::NotMade,
        };
        let candidates = match self.candidates(problem, &budget, self.lookback()).await {
            Err(action) => {
                open.actions.push(action);
                return open;
            }
            Ok((candidates, note)) => {
                if let Some(note) = note {
                    open.note = Some(match open.note {
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
                open.actions.extend(queued);
                return open;
            }
            open.actions.push(RollbackAction::new(
                "",
                RollbackOutcome::Skipped,
                format!(
                    "no CodeDeploy deployment event on the problem's entities from {} minutes before it started until now",
                    self.lookback().as_secs() / 60
                ),
            ));
            return open;
        }
        let mut seen = Seen::default();
        let confirmed = ConfirmedProblem {
            id: &problem.id,
            display_id: problem.display_id.as_deref(),
            start_ms: problem.start_ms,
        };
        for candidate in &candidates {
            if budget.left() < ROLLBACK_TIME {
                open.left.push(format!(
                    "deployment {} was not checked: the answer deadline was near",
                    candidate.deployment_id
                ));
                continue;
            }
            let action = self
                .roll_back(&confirmed, &lane_problem, candidate, &mut seen, &budget)
                .await;
            open.actions.push(action);
        }
        open
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
        let executor: &RollbackExecutor = &self.rollbacks;
        if let Some(key) = lane_of(candidate, &deployment.application, &deployment.group) {
            let handed = self
                .hand_to_lane(&key, executor, &request, lane_problem, seen)
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
        deployment: &DeploymentInfo,
        previous: &S3Revision,
        rollback_id: &str,
    ) {
        let key = LaneKey {
            service: deployment.application.clone(),
            stage: deployment.group.clone(),
        };
        let sequence = webhook_rollback(
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
