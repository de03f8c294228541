//! [`RemediationActions`] against the real things: the deployment group's Auto Scaling group
//! (scaling), Unleash (feature toggles) and CodeDeploy (rollback). A lane is a CodeDeploy
//! application (service) and deployment group (stage), so each action knows its target.
//! Every outcome is data with its details; nothing here retries an action.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::deploy::Deployer;
use crate::ports::lanes::LaneKey;
use crate::ports::remediation::{ActionProgress, RemediationActions};
use crate::ports::scaling::Scaling;
use crate::ports::toggles::{on_off, FeatureToggles};
use crate::remediation::file::{Action, FlagToggle, RemediationAction};
use crate::remediation::scaling::{plan, progress, ScaleTo, ScalingProgress};

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
    pub deployer: Arc<dyn Deployer>,
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
            Err(e) => return failed(e.to_string()),
        };
        let target = match plan(&group, by) {
            Ok(t) => t,
            Err(why) => return failed(why),
        };
        if let Err(e) = self.scaling.set_desired(&group.name, target.to).await {
            return failed(format!("{target} of group {} refused: {e}", group.name));
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
                return pending(handle, format!("group {name} unreadable: {e}"))
            }
            Err(e) => return failed(format!("{target} of group {name}: {e}")),
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
                    let before = if done.is_empty() {
                        String::new()
                    } else {
                        format!(" (done before it: {})", done.join("; "))
                    };
                    return failed(format!("{e}{before}"));
                }
            }
        }
        ActionProgress::Finished {
            ok: true,
            details: done.join("; "),
        }
    }

    async fn roll_back(&self, lane: &LaneKey) -> ActionProgress {
        let (application, group) = (&lane.service, &lane.stage);
        let current = match self.deployer.last_successful(application, group).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return failed(format!(
                    "{lane} has no successful deployment to roll back from"
                ))
            }
            Err(e) => return failed(format!("cannot read the last deployment of {lane}: {e}")),
        };
        let deployment = match self.deployer.deployment(&current).await {
            Ok(d) => d,
            Err(e) => return failed(format!("cannot read deployment {current}: {e}")),
        };
        let Some(previous) = deployment.previous_revision.clone() else {
            return failed(format!(
                "deployment {current} of {lane} has no previous revision to roll back to"
            ));
        };
        let description = format!(
            "{} {current}: self-healing of {lane}",
            crate::remediation::rollback::ROLLBACK_MARKER
        );
        match self
            .deployer
            .redeploy(application, group, &previous, &description)
            .await
        {
            Ok(id) => pending(
                &Handle::Rollback {
                    deployment: id.clone(),
                    revision: previous.to_string(),
                },
                format!("redeploying {previous} to {lane} as {id}"),
            ),
            Err(e) => failed(format!("CreateDeployment for {lane} failed: {e}")),
        }
    }

    async fn check_rollback(
        &self,
        id: &str,
        revision: &str,
        elapsed_ms: i64,
        handle: &Handle,
    ) -> ActionProgress {
        let status = match self.deployer.deployment(id).await {
            Ok(d) => d.status,
            Err(e) if elapsed_ms < self.timeouts.rollback_ms => {
                return pending(handle, format!("deployment {id} unreadable: {e}"))
            }
            Err(e) => return failed(format!("deployment {id}: {e}")),
        };
        let after = seconds(elapsed_ms);
        match status.as_str() {
            "Succeeded" => ActionProgress::Finished {
                ok: true,
                details: format!("redeployed {revision} as {id}, Succeeded after {after} s"),
            },
            "Failed" | "Stopped" => {
                failed(format!("rollback deployment {id} {status} after {after} s"))
            }
            _ if elapsed_ms >= self.timeouts.rollback_ms => failed(format!(
                "rollback deployment {id} still {status} after {after} s"
            )),
            _ => pending(handle, format!("rollback deployment {id} {status}")),
        }
    }
}

#[async_trait]
impl RemediationActions for ActionRunner {
    async fn start(&self, lane: &LaneKey, action: &RemediationAction) -> ActionProgress {
        match &action.action {
            Action::Scaling { by } => self.scale(lane, *by).await,
            Action::FeatureToggle { toggles } => self.toggle(toggles).await,
            Action::Rollback => self.roll_back(lane).await,
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
