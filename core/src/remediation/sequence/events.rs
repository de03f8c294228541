//! What goes into a lane (an [`Input`]) and what comes out of it (the [`Effect`]s and the
//! [`Transition`]).

use serde::{Deserialize, Serialize};

use super::lane::{EvaluationResult, Lane, Problem, Sequence, StepKey};
use crate::remediation::file::{RemediationAction, RemediationFile};

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
