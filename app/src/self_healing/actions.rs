//! [`RemediationActions`] against the real things: the deployment group's Auto Scaling group
//! (scaling), Unleash (feature toggles) and CodeDeploy (rollback, through the one
//! [`RollbackExecutor`] the problem webhook uses too: the same decision, ledger, group lock and
//! cooldown). A lane is a CodeDeploy application (service) and deployment group (stage), so
//! each action knows its target. Every outcome is data with its details; nothing here retries
//! an action. The details reach the public timeline, so a failed call is told by its kind
//! ([`public_reason`]); the provider's own text goes to the log.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::deploy::DeploymentStatus;
use crate::ports::lanes::LaneKey;
use crate::ports::remediation::{ActionProgress, RemediationActions};
use crate::ports::scaling::Scaling;
use crate::ports::toggles::{on_off, FeatureToggles, ToggleError};
use crate::remediation::file::{Action, FlagToggle, RemediationAction};
use crate::remediation::rollback::ConfirmedProblem;
use crate::remediation::scaling::{plan, progress, ScaleTo, ScalingProgress};
use crate::remediation::sequence::Problem;
use crate::rollback::{
    public_reason, public_reason_of, RollbackExecutor, RollbackRequest, RollbackResult,
};

/// How long an action may take before it counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTimeouts {
    /// New instances in service.
    pub scaling_ms: i64,
    /// The rollback deployment succeeded.
    pub rollback_ms: i64,
}

impl Default for ActionTimeouts {
    fn default() -> Self {
        ActionTimeouts {
            scaling_ms: 10 * 60_000,
            rollback_ms: 14 * 60_000,
        }
    }
}

pub struct ActionRunner {
    pub rollbacks: Arc<RollbackExecutor>,
    pub scaling: Arc<dyn Scaling>,
    /// `None` when the worker has no flag service (`UNLEASH_URL` unset).
    pub toggles: Option<Arc<dyn FeatureToggles>>,
    pub timeouts: ActionTimeouts,
}

/// What a pending action left to check, stored with the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Handle {
    Scaling {
        group: String,
        from: i32,
        to: i32,
    },
    Rollback {
        deployment: String,
        revision: String,
    },
}

fn failed(details: impl Into<String>) -> ActionProgress {
    ActionProgress::Finished {
        ok: false,
        details: details.into(),
    }
}

fn seconds(ms: i64) -> i64 {
    (ms.max(0) + 500) / 1000
}

fn pending(handle: &Handle, details: String) -> ActionProgress {
    ActionProgress::Pending {
        handle: serde_json::to_value(handle).expect("a handle serializes"),
        details,
    }
}

impl ActionRunner {
    async fn scale(&self, lane: &LaneKey, by: i64) -> ActionProgress {
        let group = match self.scaling.group_for(&lane.service, &lane.stage).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(%lane, error = %e, "finding the lane's Auto Scaling group failed");
                return failed(format!(
                    "cannot find the Auto Scaling group of {lane} ({})",
                    scaling_reason(&e.to_string())
                ));
            }
        };
        let target = match plan(&group, by) {
            Ok(t) => t,
            Err(why) => return failed(why),
        };
        if let Err(e) = self.scaling.set_desired(&group.name, target.to).await {
            tracing::error!(%lane, group = %group.name, error = %e, "SetDesiredCapacity failed");
            return failed(format!(
                "{target} of group {} refused ({})",
                group.name,
                public_reason(&e)
            ));
        }
        let handle = Handle::Scaling {
            group: group.name.clone(),
            from: target.from,
            to: target.to,
        };
        pending(
            &handle,
            format!(
                "{target} of group {}, InService {}/{}",
                group.name, group.in_service, target.to
            ),
        )
    }

    async fn check_scaling(
        &self,
        name: &str,
        target: ScaleTo,
        elapsed_ms: i64,
        handle: &Handle,
    ) -> ActionProgress {
        let group = match self.scaling.group(name).await {
            Ok(g) => g,
            // Unreadable for a moment is not a failed scaling: look again until the timeout.
            Err(e) if elapsed_ms < self.timeouts.scaling_ms => {
                tracing::warn!(group = %name, error = %e, "reading the group failed");
                return pending(
                    handle,
                    format!("group {name} unreadable ({})", public_reason(&e)),
                );
            }
            Err(e) => {
                tracing::error!(group = %name, error = %e, "reading the group failed");
                return failed(format!("{target} of group {name}: {}", public_reason(&e)));
            }
        };
        match progress(&target, &group) {
            ScalingProgress::Done { in_service } => ActionProgress::Finished {
                ok: true,
                details: format!(
                    "{target} of group {name}, InService {in_service}/{} after {} s",
                    target.to,
                    seconds(elapsed_ms)
                ),
            },
            ScalingProgress::Overridden { desired } => failed(format!(
                "{target} of group {name}, but its desired capacity is now {desired}: changed by someone else, so this action's effect cannot be awaited"
            )),
            ScalingProgress::Pending { in_service } if elapsed_ms >= self.timeouts.scaling_ms => {
                failed(format!(
                    "{target} of group {name}, but only {in_service}/{} InService after {} s",
                    target.to,
                    seconds(elapsed_ms)
                ))
            }
            ScalingProgress::Pending { in_service } => pending(
                handle,
                format!("{target} of group {name}, InService {in_service}/{}", target.to),
            ),
        }
    }

    async fn toggle(&self, toggles: &[FlagToggle]) -> ActionProgress {
        let Some(service) = &self.toggles else {
            return failed(
                "no feature flag service: set the stack's UnleashUrl (UNLEASH_URL) and its admin token secret",
            );
        };
        let mut done = Vec::new();
        for t in toggles {
            match service.set(&t.flag, t.enabled).await {
                Ok(change) => done.push(format!(
                    "{} {} → {}, read back",
                    change.flag,
                    change.was_on.map(on_off).unwrap_or("unknown"),
                    on_off(change.now_on)
                )),
                Err(e) => {
                    tracing::error!(flag = %t.flag, error = %e, "switching a flag failed");
                    let before = if done.is_empty() {
                        String::new()
                    } else {
                        format!(" (done before it: {})", done.join("; "))
                    };
                    // Our own words stay; the flag service's answer goes to the log only.
                    let shown = match &e {
                        ToggleError::Unauthorized(_) => "the flag service refused the token; see the worker's log".to_string(),
                        ToggleError::Call(_) => format!(
                            "switching {} failed: the flag service did not answer as expected; see the worker's log",
                            t.flag
                        ),
                        ours => ours.to_string(),
                    };
                    return failed(format!("{shown}{before}"));
                }
            }
        }
        ActionProgress::Finished {
            ok: true,
            details: done.join("; "),
        }
    }

    /// A rollback asked by a sequence: the group's last successful deployment, held by the
    /// executor to the problem like the webhook's (never a rollback of a rollback, never a
    /// deployment newer than the problem, the group's cooldown).
    async fn roll_back(&self, lane: &LaneKey, problem: &Problem) -> ActionProgress {
        let deployment = match self
            .rollbacks
            .current_deployment(&lane.service, &lane.stage)
            .await
        {
            Ok(d) => d,
            Err(why) => return failed(why),
        };
        let request = RollbackRequest {
            problem: ConfirmedProblem {
                id: &problem.id,
                display_id: None,
                start_ms: problem.opened_ms,
            },
            application: Some(&lane.service),
            group: Some(&lane.stage),
            deployment: &deployment,
            last_successful: Some(&deployment.id),
            running_revision: None,
            asked_by: "self-healing",
            now_ms: crate::time::now_ms(),
        };
        match self.rollbacks.execute(&request).await {
            RollbackResult::Started {
                previous,
                rollback_deployment_id,
            } => pending(
                &Handle::Rollback {
                    deployment: rollback_deployment_id.clone(),
                    revision: previous.to_string(),
                },
                format!(
                    "rolling back {}: redeploying {previous} to {lane} as {rollback_deployment_id}",
                    deployment.id
                ),
            ),
            RollbackResult::Refused { reason } => failed(format!("rollback refused: {reason}")),
            RollbackResult::Failed { reason } => failed(format!("rollback failed: {reason}")),
        }
    }

    async fn check_rollback(
        &self,
        id: &str,
        revision: &str,
        elapsed_ms: i64,
        handle: &Handle,
    ) -> ActionProgress {
        let status = match self.rollbacks.deployer.deployment(id).await {
            Ok(d) => d.status,
            Err(e) if elapsed_ms < self.timeouts.rollback_ms => {
                tracing::warn!(deployment = %id, error = %e, "reading the rollback deployment failed");
                return pending(
                    handle,
                    format!("deployment {id} unreadable ({})", public_reason(&e)),
                );
            }
            Err(e) => {
                tracing::error!(deployment = %id, error = %e, "reading the rollback deployment failed");
                return failed(format!("deployment {id}: {}", public_reason(&e)));
            }
        };
        let after = seconds(elapsed_ms);
        match status {
            DeploymentStatus::Succeeded => ActionProgress::Finished {
                ok: true,
                details: format!("redeployed {revision} as {id}, Succeeded after {after} s"),
            },
            DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                failed(format!("rollback deployment {id} {status} after {after} s"))
            }
            _ if elapsed_ms >= self.timeouts.rollback_ms => failed(format!(
                "rollback deployment {id} still {status} after {after} s"
            )),
            _ => pending(handle, format!("rollback deployment {id} {status}")),
        }
    }
}

/// A scaling adapter's error by its kind: its own words where they are ours (no group, more
/// than one), the kind of an AWS failure otherwise.
fn scaling_reason(text: &str) -> String {
    if text.contains("Exception") || text.contains("arn:") || text.contains("call failed") {
        public_reason_of(text).to_string()
    } else {
        text.to_string()
    }
}

#[async_trait]
impl RemediationActions for ActionRunner {
    async fn start(
        &self,
        lane: &LaneKey,
        problem: &Problem,
        action: &RemediationAction,
    ) -> ActionProgress {
        match &action.action {
            Action::Scaling { by } => self.scale(lane, *by).await,
            Action::FeatureToggle { toggles } => self.toggle(toggles).await,
            Action::Rollback => self.roll_back(lane, problem).await,
            // The sequence tells people itself; an escalate never reaches the actions.
            Action::Escalate { .. } => ActionProgress::Finished {
                ok: true,
                details: "escalated".into(),
            },
        }
    }

    async fn check(
        &self,
        _lane: &LaneKey,
        handle: &serde_json::Value,
        started_ms: i64,
        now_ms: i64,
    ) -> ActionProgress {
        let elapsed = now_ms - started_ms;
        let parsed: Handle = match serde_json::from_value(handle.clone()) {
            Ok(h) => h,
            Err(e) => {
                return failed(format!(
                    "the stored record of this action cannot be read ({e}); it is not run again"
                ))
            }
        };
        match &parsed {
            Handle::Scaling { group, from, to } => {
                let target = ScaleTo {
                    from: *from,
                    to: *to,
                };
                self.check_scaling(group, target, elapsed, &parsed).await
            }
            Handle::Rollback {
                deployment,
                revision,
            } => {
                self.check_rollback(deployment, revision, elapsed, &parsed)
                    .await
            }
        }
    }
}
