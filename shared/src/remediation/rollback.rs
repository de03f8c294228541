//! Whether to roll a deployment back, decided from what CodeDeploy and the rollback ledger say.

use std::time::Duration;

use serde::Serialize;

use crate::ports::deploy::{DeploymentInfo, S3Revision};
use crate::ports::store::RollbackRecord;

/// Descriptions of our rollbacks start with this, so a rollback is never rolled back.
pub const ROLLBACK_MARKER: &str = "Unbreakable rollback";

/// What happened to one deployment behind a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RollbackOutcome {
    RolledBack,
    Skipped,
    Failed,
}

/// The decision for one deployment, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackDecision {
    /// Redeploy `previous` to the deployment's group, with this description.
    RollBack {
        previous: S3Revision,
        description: String,
    },
    Skip {
        reason: String,
    },
}

/// The facts one decision needs.
#[derive(Debug, Clone)]
pub struct RollbackFacts<'a> {
    pub deployment: &'a DeploymentInfo,
    /// The problem's id (PID) and the id people see (ProblemID), if sent.
    pub problem_id: &'a str,
    pub problem_display_id: Option<&'a str>,
    /// The group's newest rollback within the cooldown, if any.
    pub last_rollback: Option<&'a RollbackRecord>,
    pub now_ms: i64,
    pub cooldown: Duration,
}

pub fn decide(facts: &RollbackFacts<'_>) -> RollbackDecision {
    let d = facts.deployment;
    let skip = |reason: String| RollbackDecision::Skip { reason };
    let is_rollback = d.rollback_of.is_some()
        || d.creator.as_deref() == Some("codeDeployRollback")
        || d.description
            .as_deref()
            .is_some_and(|text| text.starts_with(ROLLBACK_MARKER));
    if is_rollback {
        return skip(format!(
            "{} is itself a rollback; not rolling back a rollback",
            d.id
        ));
    }
    let Some(previous) = d.previous_revision.clone() else {
        return skip(format!("{} has no previous revision to go back to", d.id));
    };
    if let Some(last) = facts.last_rollback {
        // The same (problem, deployment) again is a re-sent notification: the ledger's
        // conditional write decides it, not the cooldown.
        if last.problem_id != facts.problem_id || last.deployment_id != d.id {
            return skip(format!(
                "{}/{} was rolled back {} s ago (problem {}); cooldown is {} minutes",
                d.application,
                d.group,
                (facts.now_ms - last.at_ms) / 1000,
                last.problem_id,
                facts.cooldown.as_secs() / 60
            ));
        }
    }
    let problem = facts.problem_display_id.unwrap_or(facts.problem_id);
    RollbackDecision::RollBack {
        description: format!(
            "{ROLLBACK_MARKER} for problem {problem}: {previous} replaces {}",
            d.id
        ),
        previous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(key: &str) -> S3Revision {
        S3Revision {
            bucket: "b".into(),
            key: key.into(),
            bundle_type: Some("zip".into()),
            version: None,
            etag: None,
        }
    }

    fn deployment() -> DeploymentInfo {
        DeploymentInfo {
            id: "d-NEW".into(),
            application: "app".into(),
            group: "Production".into(),
            status: "Succeeded".into(),
            creator: Some("user".into()),
            description: None,
            revision: Some(revision("build4.zip")),
            previous_revision: Some(revision("build3.zip")),
            rollback_of: None,
        }
    }

    fn ledger(problem: &str, deployment: &str) -> RollbackRecord {
        RollbackRecord {
            problem_id: problem.into(),
            deployment_id: deployment.into(),
            application: "app".into(),
            deployment_group: "Production".into(),
            rollback_deployment_id: None,
            at_ms: 40_000,
        }
    }

    fn decide_for(d: &DeploymentInfo, last: Option<&RollbackRecord>) -> RollbackDecision {
        decide(&RollbackFacts {
            deployment: d,
            problem_id: "-1_2V2",
            problem_display_id: Some("P-7"),
            last_rollback: last,
            now_ms: 100_000,
            cooldown: Duration::from_secs(15 * 60),
        })
    }

    fn skip_reason(decision: RollbackDecision) -> String {
        match decision {
            RollbackDecision::Skip { reason } => reason,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_deployment_goes_back_to_its_previous_revision() {
        assert_eq!(
            decide_for(&deployment(), None),
            RollbackDecision::RollBack {
                previous: revision("build3.zip"),
                description:
                    "Unbreakable rollback for problem P-7: s3://b/build3.zip replaces d-NEW".into()
            }
        );
    }

    #[test]
    fn rollbacks_are_never_rolled_back() {
        let cases = [
            ("codedeploy_automatic_rollback", {
                let mut d = deployment();
                d.rollback_of = Some("d-OLD".into());
                d
            }),
            ("created_by_codedeploy_rollback", {
                let mut d = deployment();
                d.creator = Some("codeDeployRollback".into());
                d
            }),
            ("our_own_rollback_by_description", {
                let mut d = deployment();
                d.description = Some(format!("{ROLLBACK_MARKER} for problem P-1"));
                d
            }),
        ];
        for (name, d) in cases {
            assert!(
                skip_reason(decide_for(&d, None)).contains("is itself a rollback"),
                "{name}"
            );
        }
    }

    #[test]
    fn no_previous_revision_skips() {
        let mut d = deployment();
        d.previous_revision = None;
        assert!(skip_reason(decide_for(&d, None)).contains("no previous revision"));
    }

    #[test]
    fn cooldown_blocks_another_problem_or_deployment_but_not_a_resend() {
        let d = deployment();
        let other_problem = ledger("-9_9V2", "d-NEW");
        assert!(skip_reason(decide_for(&d, Some(&other_problem)))
            .contains("was rolled back 60 s ago (problem -9_9V2); cooldown is 15 minutes"));
        let other_deployment = ledger("-1_2V2", "d-OTHER");
        assert!(skip_reason(decide_for(&d, Some(&other_deployment))).contains("cooldown"));
        let resend = ledger("-1_2V2", "d-NEW");
        assert!(matches!(
            decide_for(&d, Some(&resend)),
            RollbackDecision::RollBack { .. }
        ));
    }
}
