//! What the self-healing worker does to the world, behind three small traits: run an action
//! (and check one that takes a while), evaluate a lane over a window, and tell the problem's
//! source and people. Each answers with data: a failed action or evaluation is a result the
//! sequence records, never an error that stops the worker.

use async_trait::async_trait;

use super::lanes::LaneKey;
use crate::remediation::file::RemediationAction;
use crate::remediation::sequence::{EvaluationResult, Problem};

/// Where an action stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionProgress {
    /// Done: `details` say what changed (`desired 1 → 2, InService 2/2 after 34 s`) or why
    /// it failed.
    Finished { ok: bool, details: String },
    /// Started and not done yet (instances launching, a deployment running): check again
    /// with `handle`.
    Pending {
        handle: serde_json::Value,
        details: String,
    },
}

#[async_trait]
pub trait RemediationActions: Send + Sync {
    /// Run `action` for the lane, for `problem` (a rollback is held to its start). Called at
    /// most once per started step.
    async fn start(
        &self,
        lane: &LaneKey,
        problem: &Problem,
        action: &RemediationAction,
    ) -> ActionProgress;
    /// How a pending action is doing, `started_ms` ago it started (at `now_ms`).
    async fn check(
        &self,
        lane: &LaneKey,
        handle: &serde_json::Value,
        started_ms: i64,
        now_ms: i64,
    ) -> ActionProgress;
}

/// An evaluation's result and what it measured (each SLI's value, target and baseline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneEvaluation {
    pub result: EvaluationResult,
    pub details: String,
}

#[async_trait]
pub trait LaneEvaluator: Send + Sync {
    /// Judge the lane over `[from_ms, to_ms]`. Anything that prevents judging is a `Fail`
    /// with the reason: an unproven fix is not a fix.
    async fn evaluate(&self, lane: &LaneKey, from_ms: i64, to_ms: i64) -> LaneEvaluation;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

#[async_trait]
pub trait ProblemNotifier: Send + Sync {
    /// Comment on the problem at its source, if the source takes comments.
    async fn comment(&self, problem: &Problem, text: &str) -> Result<(), NotifyError>;
    /// Tell a person: the comment, and a POST to `webhook` when given.
    async fn escalate(
        &self,
        problem: &Problem,
        comment: &str,
        webhook: Option<&str>,
    ) -> Result<(), NotifyError>;
}

/// What the source of an alert says of it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertConfirmation {
    /// The source lists the alert as firing (active, not silenced or inhibited).
    Firing,
    /// Not confirmed: the reason (not listed as firing, or the source cannot be asked).
    Unconfirmed(String),
}

/// The source of alerts, asked before an alert's actions run (as Dynatrace is asked for its
/// problems): a notification alone never starts anything destructive.
#[async_trait]
pub trait AlertSource: Send + Sync {
    async fn confirm(&self, lane: &LaneKey, problem: &Problem) -> AlertConfirmation;
}
