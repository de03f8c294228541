//! Whether to roll a deployment back, decided from what Dynatrace says about the problem and
//! what CodeDeploy says about the deployment. The cooldown is the ledger's (one conditional
//! transaction in the store), not decided here.

use std::time::Duration;

use serde::Serialize;

use crate::model::deploy::{DeploymentInfo, S3Revision};

/// Descriptions of our rollbacks start with this, so a rollback is never rolled back.
pub use crate::contract::ROLLBACK_MARKER;

/// What happened to one deployment behind a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RollbackOutcome {
    RolledBack,
    /// The group has a remediation.yaml: the problem went to its self-healing sequence,
    /// which runs the actions (a rollback among them, if listed).
    Queued,
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

/// The problem as Dynatrace reports it (never as the notification claims it).
#[derive(Debug, Clone)]
pub struct ConfirmedProblem<'a> {
    /// The problem's id (PID) and the id people see (ProblemID), if known.
    pub id: &'a str,
    pub display_id: Option<&'a str>,
    pub start_ms: i64,
}

/// The facts one decision needs: what the deployment event claims, what CodeDeploy says.
#[derive(Debug, Clone)]
pub struct RollbackFacts<'a> {
    pub problem: ConfirmedProblem<'a>,
    /// The application and group the deployment event named (anyone with an ingest token
    /// can write an event, so they are checked against CodeDeploy).
    pub event_application: Option<&'a str>,
    pub event_group: Option<&'a str>,
    pub deployment: &'a DeploymentInfo,
    /// The group's last successful deployment, as CodeDeploy says now.
    pub last_successful: Option<&'a str>,
    /// The revision that deployment installed, when it is another deployment than this one
    /// (an instance launched by Auto Scaling gets the group's revision in a deployment of its
    /// own): the same revision is the same build, still running.
    pub running_revision: Option<&'a S3Revision>,
    pub lookback: Duration,
}

/// Roll back only a deployment that CodeDeploy confirms: of the application and group the
/// event named, created before the problem started and within the lookback, not itself a
/// rollback, and still what the group runs. Anything else is a skip with the reason: in
/// doubt, an old build is not redeployed.
pub fn decide(facts: &RollbackFacts<'_>) -> RollbackDecision {
    if let Err(reason) = may_have_caused(facts) {
        return RollbackDecision::Skip { reason };
    }
    let d = facts.deployment;
    let Some(previous) = d.previous_revision.clone() else {
        return RollbackDecision::Skip {
            reason: format!("{} has no previous revision to go back to", d.id),
        };
    };
    let shown = facts.problem.display_id.unwrap_or(facts.problem.id);
    RollbackDecision::RollBack {
        description: format!(
            "{ROLLBACK_MARKER} for problem {shown}: {previous} replaces {}",
            d.id
        ),
        previous,
    }
}

/// Whether the deployment may have caused the problem, as a rollback requires (all but
/// that there is something to go back to): the hand-off of a problem to a self-healing
/// sequence asks the same, so a lane never gets a problem its deployment cannot have caused.
pub fn may_have_caused(facts: &RollbackFacts<'_>) -> Result<(), String> {
    let d = facts.deployment;
    let skip = |reason: String| Err(reason);
    let (Some(app), Some(group)) = (facts.event_application, facts.event_group) else {
        return skip(format!(
            "the deployment event for {} names no CodeDeploy application and group; not trusting it",
            d.id
        ));
    };
    if app != d.application || group != d.group {
        return skip(format!(
            "the deployment event names {app}/{group}, but CodeDeploy has {} in {}/{}; not trusting the event",
            d.id, d.application, d.group
        ));
    }
    let problem = &facts.problem;
    let lookback_minutes = facts.lookback.as_secs() / 60;
    match d.created_ms {
        None => {
            return skip(format!(
                "CodeDeploy gives no create time for {}; cannot tell whether it preceded the problem",
                d.id
            ))
        }
        Some(created) if created >= problem.start_ms => {
            return skip(format!(
                "{} was created {} s after problem {} started; it cannot have caused it",
                d.id,
                (created - problem.start_ms) / 1000,
                problem.id
            ))
        }
        Some(created) if created < problem.start_ms - facts.lookback.as_millis() as i64 => {
            return skip(format!(
                "{} was created {} minutes before problem {} started, more than the lookback of {lookback_minutes} minutes",
                d.id,
                (problem.start_ms - created) / 60_000,
                problem.id
            ))
        }
        Some(_) => {}
    }
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
    let same_build =
        facts.running_revision.is_some() && facts.running_revision == d.revision.as_ref();
    if facts.last_successful != Some(d.id.as_str()) && !same_build {
        return skip(match facts.last_successful {
            Some(current) => format!(
                "{} is no longer the last successful deployment of {}/{} ({current} is); a newer build was deployed since",
                d.id, d.application, d.group
            ),
            None => format!(
                "{}/{} has no last successful deployment in CodeDeploy; {} is not what runs",
                d.application, d.group, d.id
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::deploy::DeploymentStatus;

    const PROBLEM_START: i64 = 10_000_000;

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
            status: DeploymentStatus::Succeeded,
            created_ms: Some(PROBLEM_START - 120_000),
            creator: Some("user".into()),
            description: None,
            revision: Some(revision("build4.zip")),
            previous_revision: Some(revision("build3.zip")),
            rollback_of: None,
        }
    }

    fn facts(d: &DeploymentInfo) -> RollbackFacts<'_> {
        RollbackFacts {
            problem: ConfirmedProblem {
                id: "-1_2V2",
                display_id: Some("P-7"),
                start_ms: PROBLEM_START,
            },
            event_application: Some("app"),
            event_group: Some("Production"),
            deployment: d,
            last_successful: Some("d-NEW"),
            running_revision: None,
            lookback: Duration::from_secs(3600),
        }
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
            decide(&facts(&deployment())),
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
                skip_reason(decide(&facts(&d))).contains("is itself a rollback"),
                "{name}"
            );
        }
    }

    /// Each way a deployment can fail confirmation, with the reason a person reads.
    #[test]
    fn only_a_confirmed_deployment_is_rolled_back() {
        let d = deployment();
        let cases: Vec<(&str, RollbackFacts<'_>, &str)> = vec![
            (
                "a_newer_build_was_deployed_since",
                RollbackFacts {
                    last_successful: Some("d-NEWER"),
                    running_revision: None,
                    ..facts(&d)
                },
                "d-NEW is no longer the last successful deployment of app/Production (d-NEWER is); a newer build was deployed since",
            ),
            (
                "the_group_has_no_successful_deployment",
                RollbackFacts {
                    last_successful: None,
                    running_revision: None,
                    ..facts(&d)
                },
                "app/Production has no last successful deployment in CodeDeploy",
            ),
            (
                "the_event_names_another_group",
                RollbackFacts {
                    event_group: Some("Staging"),
                    ..facts(&d)
                },
                "the deployment event names app/Staging, but CodeDeploy has d-NEW in app/Production; not trusting the event",
            ),
            (
                "the_event_names_another_application",
                RollbackFacts {
                    event_application: Some("other"),
                    ..facts(&d)
                },
                "not trusting the event",
            ),
            (
                "the_event_names_no_group",
                RollbackFacts {
                    event_group: None,
                    ..facts(&d)
                },
                "names no CodeDeploy application and group",
            ),
        ];
        for (name, f, expected) in cases {
            let reason = skip_reason(decide(&f));
            assert!(reason.contains(expected), "{name}: {reason}");
        }
    }

    #[test]
    fn a_deployment_after_the_problem_or_before_the_lookback_is_not_the_cause() {
        let cases = [
            (
                "created_after_the_problem_started",
                Some(PROBLEM_START + 5_000),
                "was created 5 s after problem -1_2V2 started; it cannot have caused it",
            ),
            (
                "created_when_the_problem_started",
                Some(PROBLEM_START),
                "cannot have caused it",
            ),
            (
                "created_before_the_lookback",
                Some(PROBLEM_START - 61 * 60_000),
                "was created 61 minutes before problem -1_2V2 started, more than the lookback of 60 minutes",
            ),
            ("no_create_time", None, "gives no create time"),
        ];
        for (name, created, expected) in cases {
            let mut d = deployment();
            d.created_ms = created;
            let reason = skip_reason(decide(&facts(&d)));
            assert!(reason.contains(expected), "{name}: {reason}");
        }
    }

    #[test]
    fn no_previous_revision_skips() {
        let mut d = deployment();
        d.previous_revision = None;
        assert!(skip_reason(decide(&facts(&d))).contains("no previous revision"));
    }

    #[test]
    fn the_same_build_installed_by_a_later_deployment_is_still_what_runs() {
        // Auto Scaling launched an instance: CodeDeploy installed the group's revision in a
        // deployment of its own, which is now the last successful one.
        let d = deployment();
        let running = revision("build4.zip");
        let decision = decide(&RollbackFacts {
            last_successful: Some("d-SCALEOUT"),
            running_revision: Some(&running),
            ..facts(&d)
        });
        assert!(
            matches!(decision, RollbackDecision::RollBack { .. }),
            "{decision:?}"
        );
        let fixed = revision("build5.zip");
        let decision = decide(&RollbackFacts {
            last_successful: Some("d-FIX"),
            running_revision: Some(&fixed),
            ..facts(&d)
        });
        assert!(skip_reason(decision).contains("is no longer the last successful deployment"),);
    }

    #[test]
    fn a_first_deployment_may_cause_a_problem_though_it_cannot_be_rolled_back() {
        let mut d = deployment();
        d.previous_revision = None;
        assert_eq!(may_have_caused(&facts(&d)), Ok(()));
        assert_eq!(
            skip_reason(decide(&facts(&d))),
            "d-NEW has no previous revision to go back to"
        );
    }
}
