//! What a lane keeps: its limits, its sequences, where each is and the steps it recorded;
//! the problem a sequence answers, the key of each step, and what an evaluation found.

use serde::{Deserialize, Serialize};

use crate::remediation::file::RemediationPlan;

/// The limits of one lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// After an action that finished ok, no other action in the lane before this has passed.
    pub cooldown_ms: i64,
    /// At most this many actions started in the lane in any hour.
    pub max_actions_per_hour: usize,
    /// Record what would run without running it.
    pub dry_run: bool,
    /// An action without a result after this has failed (the worker may have died).
    pub action_timeout_ms: i64,
    /// An evaluation without a result after this counts as failed.
    pub evaluation_timeout_ms: i64,
    /// A wait's window is judged only this long after it ends: the monitoring system's
    /// ingestion delay (the window stays the wait; only the judging is later).
    #[serde(default)]
    pub evaluation_delay_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cooldown_ms: 5 * 60_000,
            max_actions_per_hour: 6,
            dry_run: false,
            action_timeout_ms: 15 * 60_000,
            evaluation_timeout_ms: 10 * 60_000,
            evaluation_delay_ms: 0,
        }
    }
}

/// How a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum End {
    /// An evaluation passed (or warned) after an action.
    Resolved,
    /// No action was left, or an escalate action ran: a person was told.
    Escalated,
    /// The source closed the problem; no further action ran.
    Closed,
    /// No entry of remediation.yaml names the problem and there is no default.
    NoRemediation,
    /// Not taken: the lane's queue was full.
    Refused,
    /// The problem webhook rolled the group's last deployment back (no remediation.yaml):
    /// recorded for the timeline; CodeDeploy carries the deployment out.
    RolledBack,
}

/// Where a sequence is. `action` is the index in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "phase",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Phase {
    /// Behind another problem of the same service and stage.
    Queued,
    /// The action is due, but the cooldown or the hourly cap holds it until then.
    Held {
        action: usize,
        until_ms: i64,
    },
    Running {
        action: usize,
        key: StepKey,
        started_ms: i64,
    },
    Waiting {
        action: usize,
        finished_ms: i64,
        until_ms: i64,
    },
    Evaluating {
        action: usize,
        key: StepKey,
        requested_ms: i64,
    },
    Ended {
        end: End,
    },
}

/// One recorded step: what happened, when, and why, for the timeline and the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub number: u32,
    pub at_ms: i64,
    pub kind: StepKind,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum StepKind {
    Opened,
    Matched,
    Queued {
        behind: String,
    },
    /// The sequence before it ended; this one starts.
    Dequeued,
    Held {
        action: usize,
        until_ms: i64,
    },
    ActionStarted {
        action: usize,
        dry_run: bool,
    },
    ActionFinished {
        action: usize,
        ok: bool,
    },
    Waiting {
        until_ms: i64,
    },
    EvaluationRequested {
        from_ms: i64,
        to_ms: i64,
    },
    Evaluated {
        result: EvaluationResult,
    },
    SourceClosed,
    Ended {
        end: End,
    },
}

/// One problem's remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    pub problem: Problem,
    pub plan: RemediationPlan,
    pub phase: Phase,
    pub closed_ms: Option<i64>,
    pub steps: Vec<Step>,
}

/// Everything the engine keeps for one service and stage: one active sequence, the ones
/// queued behind it, and what the cooldown and the cap count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    pub service: String,
    pub stage: String,
    pub active: Option<Sequence>,
    pub queue: Vec<Sequence>,
    /// When actions started in the last hour (for the cap).
    pub action_starts_ms: Vec<i64>,
    /// When the last action finished ok (for the cooldown).
    pub last_action_ok_ms: Option<i64>,
    /// Problems whose sequence ended, newest last.
    pub ended_problem_ids: Vec<String>,
    /// When the worker must look again (the table's `ReadyAt`); `None`: only an input will.
    pub ready_at_ms: Option<i64>,
}

impl Lane {
    pub fn new(service: &str, stage: &str) -> Lane {
        Lane {
            service: service.into(),
            stage: stage.into(),
            active: None,
            queue: Vec::new(),
            action_starts_ms: Vec::new(),
            last_action_ok_ms: None,
            ended_problem_ids: Vec::new(),
            ready_at_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemSource {
    Dynatrace,
    Alertmanager,
}

/// A problem as its source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Unique per source: Dynatrace's PID, or Alertmanager's fingerprint and startsAt.
    pub id: String,
    pub source: ProblemSource,
    pub title: String,
    pub opened_ms: i64,
    /// Where a person sees the problem (Alertmanager's generatorURL); http(s) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A second title remediation.yaml entries may name, tried after `title`: an alert's
    /// `annotations.summary`, which Keptn's prometheus-service made the problem title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_title: Option<String>,
}

/// Names one step of one sequence; effects carry the key of the step that asked for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepKey {
    pub problem_id: String,
    pub step: u32,
}

impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.problem_id, self.step)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EvaluationResult {
    Pass,
    Warning,
    Fail,
}
