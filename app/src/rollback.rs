//! The one rollback executor, whoever asks for the rollback (the problem webhook, or a
//! self-healing sequence's `rollback` action): the pure decision ([`decide`]: the deployment is
//! the group's, created before the problem within the lookback, not itself a rollback, still
//! the group's last successful one), then the ledger row and the group lock in one conditional
//! transaction (the cooldown), then CreateDeployment, then the ledger completed, or the claim
//! released when CreateDeployment failed. Nothing here retries.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::deploy::{DeployError, Deployer, DeploymentInfo, S3Revision};
use crate::ports::store::{RollbackClaim, RollbackRecord, ValidationStore};
use crate::remediation::rollback::{
    decide, may_have_caused, ConfirmedProblem, RollbackDecision, RollbackFacts,
};
use crate::text::{printable, truncate_chars};

/// A claim older than this without a rollback id is from an invocation that died: it may
/// be taken over.
const STALE_CLAIM: Duration = Duration::from_secs(300);
/// CodeDeploy's limit on a deployment's description.
const DESCRIPTION_LIMIT: usize = 500;

/// The limits every rollback keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollbackSettings {
    /// Only a deployment created this long before the problem started is rolled back.
    pub lookback: Duration,
    /// The least time between two rollbacks of one group (the ledger's group lock).
    pub cooldown: Duration,
}

impl Default for RollbackSettings {
    fn default() -> Self {
        RollbackSettings {
            lookback: Duration::from_secs(3600),
            cooldown: Duration::from_secs(15 * 60),
        }
    }
}

/// One rollback asked for.
#[derive(Debug, Clone)]
pub struct RollbackRequest<'a> {
    /// The problem, as its source confirmed it (its own start time).
    pub problem: ConfirmedProblem<'a>,
    /// The application and group the asker names (a deployment event's, or the lane's).
    pub application: Option<&'a str>,
    pub group: Option<&'a str>,
    /// The deployment to roll back, as CodeDeploy describes it.
    pub deployment: &'a DeploymentInfo,
    /// The group's last successful deployment, as CodeDeploy says now.
    pub last_successful: Option<&'a str>,
    /// The revision that deployment installed, when it is not `deployment` (see
    /// [`RollbackFacts::running_revision`]).
    pub running_revision: Option<&'a S3Revision>,
    /// Who asked, for the deployment's description and the log.
    pub asked_by: &'a str,
    pub now_ms: i64,
}

/// What became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackResult {
    /// `previous` is being redeployed as `rollback_deployment_id`.
    Started {
        previous: S3Revision,
        rollback_deployment_id: String,
    },
    /// Not rolled back, and rightly so: the reason says why (the decision, the ledger).
    Refused { reason: String },
    /// A call failed; nothing was deployed and the claim is undone where it could be.
    Failed { reason: String },
}

pub struct RollbackExecutor {
    pub deployer: Arc<dyn Deployer>,
    /// The ledger: one row per (problem, deployment) and one lock per group.
    pub ledger: Arc<dyn ValidationStore>,
    pub settings: RollbackSettings,
}

impl RollbackExecutor {
    /// The deployment a self-healing rollback of `application`/`group` would undo: the group's
    /// last successful one, with what CodeDeploy says of it.
    pub async fn current_deployment(
        &self,
        application: &str,
        group: &str,
    ) -> Result<DeploymentInfo, String> {
        let current = match self.deployer.last_successful(application, group).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return Err(format!(
                    "{application}/{group} has no successful deployment to roll back from"
                ))
            }
            Err(e) => {
                tracing::error!(%application, %group, error = %e, "reading the last deployment failed");
                return Err(format!(
                    "cannot read the last deployment of {application}/{group} from CodeDeploy ({})",
                    public_reason(&e)
                ));
            }
        };
        self.deployer.deployment(&current).await.map_err(|e| {
            tracing::error!(deployment = %current, error = %e, "reading a deployment failed");
            format!(
                "cannot read deployment {current} from CodeDeploy ({})",
                public_reason(&e)
            )
        })
    }

    /// Whether `request` may be rolled back, before anything is written: the hand-off to a
    /// lane asks the same question.
    pub fn decide(&self, request: &RollbackRequest<'_>) -> RollbackDecision {
        decide(&self.facts(request))
    }

    /// Whether the deployment may have caused the problem (every check of [`Self::decide`]
    /// but that there is a revision to go back to): what a hand-off to a lane requires.
    pub fn may_have_caused(&self, request: &RollbackRequest<'_>) -> Result<(), String> {
        may_have_caused(&self.facts(request))
    }

    fn facts<'a>(&self, request: &RollbackRequest<'a>) -> RollbackFacts<'a> {
        RollbackFacts {
            problem: request.problem.clone(),
            event_application: request.application,
            event_group: request.group,
            deployment: request.deployment,
            last_successful: request.last_successful,
            running_revision: request.running_revision,
            lookback: self.settings.lookback,
        }
    }

    /// Decide, claim, redeploy, and complete or release: see the module's comment.
    pub async fn execute(&self, request: &RollbackRequest<'_>) -> RollbackResult {
        let d = request.deployment;
        let (previous, description) = match self.decide(request) {
            RollbackDecision::Skip { reason } => return RollbackResult::Refused { reason },
            RollbackDecision::RollBack {
                previous,
                description,
            } => (previous, description),
        };
        let now = request.now_ms;
        let mut record = RollbackRecord {
            problem_id: request.problem.id.to_string(),
            deployment_id: d.id.clone(),
            application: d.application.clone(),
            deployment_group: d.group.clone(),
            rollback_deployment_id: None,
            at_ms: now,
            locked_until_ms: now + self.settings.cooldown.as_millis() as i64,
        };
        let stale_before = now - STALE_CLAIM.as_millis() as i64;
        match self.ledger.claim_rollback(&record, stale_before).await {
            Ok(RollbackClaim::Claimed) => {}
            Ok(RollbackClaim::AlreadyRecorded(r)) => {
                return RollbackResult::Refused {
                    reason: match r.rollback_deployment_id {
                        Some(done) => format!(
                            "{} was already rolled back for problem {} ({done})",
                            d.id, r.problem_id
                        ),
                        None => format!(
                            "{} is being rolled back for problem {} by another invocation",
                            d.id, r.problem_id
                        ),
                    },
                }
            }
            Ok(RollbackClaim::GroupLocked(r)) => {
                return RollbackResult::Refused {
                    reason: format!(
                        "{}/{} was rolled back {} s ago (problem {}, deployment {}); cooldown is {} minutes",
                        d.application,
                        d.group,
                        (now - r.at_ms).max(0) / 1000,
                        r.problem_id,
                        r.deployment_id,
                        self.settings.cooldown.as_secs() / 60
                    ),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a rollback failed");
                return RollbackResult::Failed {
                    reason: "cannot claim the rollback in the ledger (DynamoDB); nothing was deployed"
                        .into(),
                };
            }
        }
        let description = truncate_chars(
            &printable(&format!("{description} (asked by {})", request.asked_by)),
            DESCRIPTION_LIMIT,
        );
        match self
            .deployer
            .redeploy(&d.application, &d.group, &previous, &description)
            .await
        {
            Ok(new_id) => {
                tracing::info!(deployment_id = %d.id, rollback = %new_id, revision = %previous, asked_by = request.asked_by, "rolled back");
                record.rollback_deployment_id = Some(new_id.clone());
                if let Err(e) = self.ledger.complete_rollback(&record).await {
                    tracing::error!(error = %e, "recording the rollback id failed");
                }
                RollbackResult::Started {
                    previous,
                    rollback_deployment_id: new_id,
                }
            }
            Err(e) => {
                tracing::error!(deployment_id = %d.id, error = %e, "CreateDeployment failed");
                // Nothing was deployed: undo the claim, so a retry can roll back.
                let undone = match self.ledger.release_rollback(&record).await {
                    Ok(()) => "the claim was undone, so a retry can roll back".to_string(),
                    Err(release) => {
                        tracing::error!(error = %release, "undoing the rollback claim failed");
                        format!(
                            "undoing the claim failed too; a retry can roll back after {} minutes",
                            STALE_CLAIM.as_secs() / 60
                        )
                    }
                };
                RollbackResult::Failed {
                    reason: format!("CreateDeployment failed ({}); {undone}", public_reason(&e)),
                }
            }
        }
    }
}

/// What may be said of a failed call on a page anyone with the link can read: the kind of
/// failure, never the provider's own text (it can carry account ids, role names and ARNs).
/// The whole error is in the function's log.
pub fn public_reason(error: &impl std::fmt::Display) -> &'static str {
    public_reason_of(&error.to_string())
}

/// [`public_reason`] of an error's text.
pub fn public_reason_of(text: &str) -> &'static str {
    let has = |needle: &str| text.contains(needle);
    if has("AccessDenied") || has("UnauthorizedOperation") || has("not authorized") {
        "access denied: the function's role lacks a permission; see the function's log"
    } else if has("Throttl") || has("TooManyRequests") || has("Rate exceeded") {
        "throttled by AWS; it is tried again later"
    } else if has("ExpiredToken") || has("InvalidClientTokenId") || has("credentials") {
        "the function's AWS credentials were refused; see the function's log"
    } else if has("already in progress") || has("DeploymentLimitExceeded") {
        "a deployment is already in progress in the group"
    } else if has("NotFound") || has("does not exist") || has("DoesNotExist") {
        "not found; see the function's log"
    } else if has("timed out") || has("timeout") || has("dispatch failure") || has("connect") {
        "the service did not answer in time; see the function's log"
    } else {
        "the call failed; see the function's log"
    }
}

/// The error of a CodeDeploy read, for the webhook's answer: a deployment CodeDeploy does not
/// know is said plainly; anything else only by its kind.
pub fn deploy_read_reason(e: &DeployError) -> String {
    match e {
        DeployError::NotFound(_) => "CodeDeploy does not know this deployment".into(),
        DeployError::Call(_) => format!("CodeDeploy: {}", public_reason(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_reason_never_repeats_the_providers_text() {
        let raw = "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/worker/x is not authorized to perform: codedeploy:CreateDeployment";
        let reason = public_reason_of(raw);
        assert!(reason.starts_with("access denied"), "{reason}");
        assert!(!reason.contains("arn:") && !reason.contains("123456789012"));
        assert_eq!(
            public_reason_of("ThrottlingException: Rate exceeded"),
            "throttled by AWS; it is tried again later"
        );
        assert_eq!(
            public_reason_of("something odd"),
            "the call failed; see the function's log"
        );
    }
}
