//! May a decision be applied to the approval now? Only to the approval of the execution that
//! registered the validation, and only while that approval waits. The original approved
//! whatever approval with that name happened to be waiting.

use crate::model::pipeline::{ActionStatus, PipelineDefinition, PipelineState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalStep {
    /// Call PutApprovalResult with this stage and token.
    Apply { stage: String, token: String },
    /// The approval has not started for this execution yet: keep the decision, look again.
    NotYet { reason: String },
    /// The pipeline moved on to another execution: leave the approval alone.
    Superseded { reason: String },
    /// The approval action does not exist: nothing can ever be applied.
    Missing { reason: String },
    /// Our execution's approval is already decided (by an earlier worker whose save was
    /// lost, or by a person): `approved` is how.
    Resolved { approved: bool, reason: String },
}

pub fn approval_step(
    definition: &PipelineDefinition,
    state: &PipelineState,
    approval_action: &str,
    execution_id: &str,
    registered_stage: &str,
) -> ApprovalStep {
    let Some(stage) = definition.stages.iter().find(|s| {
        s.actions
            .iter()
            .any(|a| a.name == approval_action && a.category == "Approval")
    }) else {
        return ApprovalStep::Missing {
            reason: format!(
                "pipeline {} has no manual approval action named {approval_action}",
                definition.name
            ),
        };
    };
    let stage_index = definition
        .stages
        .iter()
        .position(|s| s.name == stage.name)
        .unwrap_or(0);
    let registered_index = definition
        .stages
        .iter()
        .position(|s| s.name == registered_stage);
    let Some(stage_state) = state.stages.iter().find(|s| s.name == stage.name) else {
        return ApprovalStep::NotYet {
            reason: format!("stage {} has not run yet", stage.name),
        };
    };
    let action_state = stage_state
        .actions
        .iter()
        .find(|a| a.name == approval_action);
    match stage_state.execution_id.as_deref() {
        Some(id) if id == execution_id => {}
        Some(other) => {
            // A later stage that still shows an older execution has simply not been reached
            // yet; the registering stage or any stage before it showing another execution
            // means a newer run replaced ours.
            let later_stage = registered_index.is_some_and(|r| stage_index > r);
            let ours_is_newer_elsewhere = state.stages.iter().any(|s| {
                s.execution_id.as_deref() == Some(execution_id)
                    && definition
                        .stages
                        .iter()
                        .position(|d| d.name == s.name)
                        .is_some_and(|i| i < stage_index)
            });
            if later_stage && ours_is_newer_elsewhere {
                return ApprovalStep::NotYet {
                    reason: format!(
                        "stage {} still shows execution {other}; waiting for {execution_id} to arrive",
                        stage.name
                    ),
                };
            }
            return ApprovalStep::Superseded {
                reason: format!(
                    "stage {} now runs execution {other}, not {execution_id}",
                    stage.name
                ),
            };
        }
        None => {
            return ApprovalStep::NotYet {
                reason: format!("stage {} has not run yet", stage.name),
            }
        }
    }
    let Some((status, token)) = action_state.and_then(|a| Some((a.status.as_ref()?, &a.token)))
    else {
        return ApprovalStep::NotYet {
            reason: format!("{approval_action} has not started yet"),
        };
    };
    match (status, token) {
        (ActionStatus::InProgress, Some(token)) => ApprovalStep::Apply {
            stage: stage.name.clone(),
            token: token.clone(),
        },
        (ActionStatus::InProgress, None) => ApprovalStep::NotYet {
            reason: format!("{approval_action} is in progress but has no token yet"),
        },
        (ActionStatus::Succeeded | ActionStatus::Failed, _) => ApprovalStep::Resolved {
            approved: *status == ActionStatus::Succeeded,
            reason: format!("{approval_action} of execution {execution_id} is already {status}"),
        },
        _ => ApprovalStep::Superseded {
            reason: format!("{approval_action} of execution {execution_id} is already {status}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pipeline::ActionStatus::{Abandoned, Failed, InProgress, Succeeded};
    use crate::model::pipeline::{ActionDefinition, ActionState, StageDefinition, StageState};

    fn action(name: &str, category: &str) -> ActionDefinition {
        ActionDefinition {
            name: name.into(),
            category: category.into(),
            provider: if category == "Approval" {
                "Manual"
            } else {
                "Lambda"
            }
            .into(),
            configuration: vec![],
        }
    }

    fn definition() -> PipelineDefinition {
        PipelineDefinition {
            name: "Sample".into(),
            stages: vec![
                StageDefinition {
                    name: "Source".into(),
                    actions: vec![action("Src", "Source")],
                },
                StageDefinition {
                    name: "Staging".into(),
                    actions: vec![action("Register", "Invoke")],
                },
                StageDefinition {
                    name: "ApproveStaging".into(),
                    actions: vec![action("ApproveStaging", "Approval")],
                },
            ],
        }
    }

    fn stage(name: &str, exec: &str, actions: Vec<ActionState>) -> StageState {
        StageState {
            name: name.into(),
            execution_id: Some(exec.into()),
            status: Some(InProgress),
            actions,
        }
    }

    fn approval(status: Option<ActionStatus>, token: Option<&str>) -> ActionState {
        ActionState {
            name: "ApproveStaging".into(),
            status,
            token: token.map(Into::into),
        }
    }

    fn step(stages: Vec<StageState>) -> ApprovalStep {
        approval_step(
            &definition(),
            &PipelineState { stages },
            "ApproveStaging",
            "E1",
            "Staging",
        )
    }

    #[test]
    fn a_waiting_approval_of_our_execution_is_applied() {
        let s = step(vec![
            stage("Staging", "E1", vec![]),
            stage(
                "ApproveStaging",
                "E1",
                vec![approval(Some(InProgress), Some("T1"))],
            ),
        ]);
        assert_eq!(
            s,
            ApprovalStep::Apply {
                stage: "ApproveStaging".into(),
                token: "T1".into()
            }
        );
    }

    #[test]
    fn an_approval_stage_that_never_ran_is_not_yet() {
        let s = step(vec![stage("Staging", "E1", vec![])]);
        assert!(matches!(s, ApprovalStep::NotYet { .. }), "{s:?}");
    }

    #[test]
    fn an_approval_stage_still_showing_the_previous_run_is_not_yet() {
        let s = step(vec![
            stage("Staging", "E1", vec![]),
            stage(
                "ApproveStaging",
                "E0",
                vec![approval(Some(Succeeded), None)],
            ),
        ]);
        assert!(matches!(s, ApprovalStep::NotYet { .. }), "{s:?}");
    }

    #[test]
    fn a_newer_execution_in_our_stage_supersedes_us() {
        let s = step(vec![
            stage("Staging", "E2", vec![]),
            stage(
                "ApproveStaging",
                "E2",
                vec![approval(Some(InProgress), Some("T2"))],
            ),
        ]);
        assert!(matches!(s, ApprovalStep::Superseded { .. }), "{s:?}");
        let s = step(vec![
            stage("Staging", "E2", vec![]),
            stage(
                "ApproveStaging",
                "E0",
                vec![approval(Some(Succeeded), None)],
            ),
        ]);
        assert!(matches!(s, ApprovalStep::Superseded { .. }), "{s:?}");
    }

    #[test]
    fn an_approval_already_decided_for_our_execution_is_reported_with_how() {
        for (status, approved) in [(Succeeded, true), (Failed, false)] {
            let s = step(vec![
                stage("Staging", "E1", vec![]),
                stage("ApproveStaging", "E1", vec![approval(Some(status), None)]),
            ]);
            assert!(
                matches!(s, ApprovalStep::Resolved { approved: a, .. } if a == approved),
                "{s:?}"
            );
        }
        let s = step(vec![
            stage("Staging", "E1", vec![]),
            stage(
                "ApproveStaging",
                "E1",
                vec![approval(Some(Abandoned), None)],
            ),
        ]);
        assert!(matches!(s, ApprovalStep::Superseded { .. }), "{s:?}");
    }

    #[test]
    fn a_missing_approval_action_is_reported() {
        let s = approval_step(
            &definition(),
            &PipelineState::default(),
            "ApproveProd",
            "E1",
            "Staging",
        );
        assert!(
            matches!(s, ApprovalStep::Missing { ref reason } if reason.contains("ApproveProd")),
            "{s:?}"
        );
    }
}
