//! remediation.yaml, both of Keptn's generations, read and checked: the legacy layout of
//! Keptn 0.6 (seeds 000/001) and `apiVersion: spec.keptn.sh/0.1.4`. Every problem names the
//! file, line, column and path and says how to fix it; a file with a problem is not used.
//! Matching a problem title to an entry is here too, with the reason as data.
//!
//! `raw`: the file as serde reads it; `read`: its layout and entries; `action`: each action;
//! `matching`: the plan for a problem.

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod action;
mod matching;
mod raw;
mod read;

pub use action::is_unleash_flag_name;
pub use matching::{plan_for, rollback_only_plan, MatchReason, RemediationPlan};
pub use read::parse_remediation;

/// The only apiVersion Keptn's remediation-service accepted, and the one we read.
pub const API_VERSION: &str = "spec.keptn.sh/0.1.4";
/// The entry used when no entry names the problem.
pub const DEFAULT_PROBLEM_TYPE: &str = "default";
/// Keptn's wait between an action and its evaluation (hard-coded 10 minutes before KEP 37).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// Which layout the file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Generation {
    /// `remediations: [{name, actions: [{action, value}]}]` (Keptn 0.5/0.6).
    Legacy,
    /// `apiVersion: spec.keptn.sh/0.1.4`, `kind: Remediation`, `spec.remediations[]`.
    Spec014,
}

/// What one action does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Action {
    /// Add (positive) or remove (negative) this many instances; never 0.
    Scaling { by: i64 },
    /// Set each flag on or off, in the file's order.
    FeatureToggle { toggles: Vec<FlagToggle> },
    /// Redeploy the last good revision (the CodeDeploy rollback of the problem webhook).
    Rollback,
    /// Tell a person: a comment on the problem and, if given, a webhook call.
    Escalate {
        comment: String,
        webhook: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagToggle {
    pub flag: String,
    pub enabled: bool,
}

impl Action {
    /// One line for a comment or the timeline, e.g. `scaling +1`, `EnablePromotion off`.
    pub fn describe(&self) -> String {
        match self {
            Action::Scaling { by } => format!("scaling {by:+}"),
            Action::FeatureToggle { toggles } => toggles
                .iter()
                .map(|t| format!("{} {}", t.flag, if t.enabled { "on" } else { "off" }))
                .collect::<Vec<_>>()
                .join(", "),
            Action::Rollback => "rollback".into(),
            Action::Escalate { webhook: None, .. } => "escalate".into(),
            // A chat webhook's URL is a secret: it never goes into comments or the timeline.
            Action::Escalate {
                webhook: Some(_), ..
            } => "escalate (webhook)".into(),
        }
    }
}

/// One action of an entry, as the file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationAction {
    /// `name` of a 0.1.4 action (empty in the legacy layout).
    pub name: String,
    pub description: String,
    pub action: Action,
    /// How long to wait after the action finished before evaluating; ours (Keptn: 10 min).
    pub wait_ms: u64,
    /// `allowUnconfirmed: true`: the action runs for a problem its source cannot confirm (an
    /// Alertmanager alert without `ALERTMANAGER_URL`, or one Alertmanager did not confirm).
    /// Ours; escalate always runs.
    #[serde(default)]
    pub allow_unconfirmed: bool,
}

/// One entry: the problem it is for and its actions, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationEntry {
    /// `problemType` (0.1.4) or `name` (legacy): a problem title, or `default`.
    pub problem_type: String,
    pub actions: Vec<RemediationAction>,
    /// Where the entry starts in the file, for the reason of a match.
    pub line: u64,
}

/// A checked remediation.yaml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationFile {
    pub generation: Generation,
    pub entries: Vec<RemediationEntry>,
    /// Set by the worker for a problem whose source it could not confirm: why. Plans then
    /// hold only escalate and the actions marked `allowUnconfirmed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<String>,
}
