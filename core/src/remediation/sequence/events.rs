//! What comes into a lane (a problem, an [`Input`]) and what goes out of it (the [`Effect`]s
//! and the [`Transition`]), each step named by its [`StepKey`].

use serde::{Deserialize, Serialize};

use super::lane::{Lane, Sequence};
use crate::remediation::file::{RemediationAction, RemediationFile};

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

/// What happened, as the worker learned it. The time comes with [`advance`](super::advance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "input",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Input {
    /// The source opened a problem; `remediation` is the service's file, if it has one.
    Opened {
        problem: Problem,
        remediation: Option<RemediationFile>,
    },
    /// The source closed (resolved) the problem.
    Closed { problem_id: String },
    ActionFinished {
        key: StepKey,
        ok: bool,
        details: String,
    },
    EvaluationFinished {
        key: StepKey,
        result: EvaluationResult,
        details: String,
    },
    /// Time passed: waits, holds and timeouts that are due now end.
    Tick,
}

/// Something the worker must do, after storing the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "effect",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Effect {
    /// Run the action; report [`Input::ActionFinished`] with this key.
    RunAction {
        key: StepKey,
        action: RemediationAction,
    },
    /// Evaluate the SLOs (or the monspec) over this window; report
    /// [`Input::EvaluationFinished`] with this key.
    Evaluate {
        key: StepKey,
        from_ms: i64,
        to_ms: i64,
    },
    /// Comment on the problem at its source (every step does).
    Comment {
        key: StepKey,
        problem_id: String,
        text: String,
    },
    /// Tell a person.
    Escalate {
        key: StepKey,
        problem_id: String,
        comment: String,
        webhook: Option<String>,
    },
}

/// The result of one input: the lane to store, then the effects to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub lane: Lane,
    pub effects: Vec<Effect>,
    /// Sequences that ended with this input, for the timeline's store.
    pub ended: Vec<Sequence>,
    /// Why the input changed nothing (a replay, a stale result, a duplicate), if it did not.
    pub ignored: Option<String>,
}
