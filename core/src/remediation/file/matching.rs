//! Matching a problem to its entry: the plan (the actions and why), with the reason as data.

use serde::{Deserialize, Serialize};

use super::{Action, RemediationAction, RemediationFile, DEFAULT_PROBLEM_TYPE, DEFAULT_WAIT};

/// Why a problem got the actions it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchReason {
    /// An entry names the problem's title exactly.
    ExactTitle,
    /// No entry names the title; one names the alert's `annotations.summary` exactly (the
    /// title Keptn's prometheus-service gave the problem).
    Summary,
    /// No entry names the title; the `default` entry applies.
    Default,
    /// No entry names the title and there is no `default`: nothing to run.
    NoEntry,
    /// The service has no remediation.yaml: the rollback of today, alone.
    NoRemediationFile,
}

/// The actions for one problem and why: what the sequence runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationPlan {
    /// The entry's problemType (`None` without an entry).
    pub entry: Option<String>,
    pub reason: MatchReason,
    /// The reason in words, for the comment and the timeline.
    pub why: String,
    pub actions: Vec<RemediationAction>,
}

/// The plan of a service without remediation.yaml: roll back, as the tutorial does.
pub fn rollback_only_plan() -> RemediationPlan {
    RemediationPlan {
        entry: None,
        reason: MatchReason::NoRemediationFile,
        why: "no remediation.yaml: rolling back the last deployment, as without self-healing"
            .into(),
        actions: vec![RemediationAction {
            name: "Rollback".into(),
            description: "Redeploy the last good revision".into(),
            action: Action::Rollback,
            wait_ms: DEFAULT_WAIT.as_millis() as u64,
            allow_unconfirmed: false,
        }],
    }
}

/// The plan for a problem titled `title` (and `alt_title`, an alert's summary): the
/// service's file if it has one, else rollback.
pub fn plan_for(
    file: Option<&RemediationFile>,
    title: &str,
    alt_title: Option<&str>,
) -> RemediationPlan {
    match file {
        Some(file) => file.plan_for(title, alt_title),
        None => rollback_only_plan(),
    }
}

impl RemediationPlan {
    /// The plan for a problem its source did not confirm: escalate and the actions marked
    /// `allowUnconfirmed` only; `why` says which were left out and why.
    pub fn for_unconfirmed_source(mut self, why_unconfirmed: &str) -> RemediationPlan {
        let (kept, left): (Vec<_>, Vec<_>) = self
            .actions
            .into_iter()
            .partition(|a| a.allow_unconfirmed || matches!(a.action, Action::Escalate { .. }));
        let left_out = if left.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = left.iter().map(|a| a.action.describe()).collect();
            format!("; left out: {}", names.join(", "))
        };
        self.why = format!(
            "{}; the problem is not confirmed ({why_unconfirmed}): only escalate and actions marked allowUnconfirmed run{left_out}",
            self.why
        );
        self.actions = kept;
        self
    }
}

impl RemediationFile {
    /// The entry whose problem type is `title` exactly (as Keptn compares), else the one
    /// that is `alt_title` exactly (an alert's summary), else `default`; for an unconfirmed
    /// source, only what may run without confirmation.
    pub fn plan_for(&self, title: &str, alt_title: Option<&str>) -> RemediationPlan {
        let plan = self.matched(title, alt_title);
        match &self.unconfirmed {
            None => plan,
            Some(why) => plan.for_unconfirmed_source(why),
        }
    }

    /// This file for a problem its source could not confirm (`why`).
    pub fn unconfirmed(mut self, why: String) -> RemediationFile {
        self.unconfirmed = Some(why);
        self
    }

    fn matched(&self, title: &str, alt_title: Option<&str>) -> RemediationPlan {
        let find = |name: &str| self.entries.iter().find(|e| e.problem_type == name);
        if let Some(entry) = find(title) {
            return RemediationPlan {
                entry: Some(entry.problem_type.clone()),
                reason: MatchReason::ExactTitle,
                why: format!(
                    "the entry on line {} names the problem \"{title}\"",
                    entry.line
                ),
                actions: entry.actions.clone(),
            };
        }
        // An alertname names the alert rule; Keptn matched the summary instead, so a
        // remediation.yaml written for Keptn names summaries. The alertname is tried first:
        // it is what this tool's own alert rules and files name.
        // A summary reading "default" is no title: the default entry is for no match.
        let alt_title = alt_title.filter(|alt| *alt != title && *alt != DEFAULT_PROBLEM_TYPE);
        if let Some((alt, entry)) = alt_title.and_then(|alt| find(alt).map(|e| (alt, e))) {
            return RemediationPlan {
                entry: Some(entry.problem_type.clone()),
                reason: MatchReason::Summary,
                why: format!(
                    "the entry on line {} names the alert's summary \"{alt}\" (annotations.summary, Keptn's problem title)",
                    entry.line
                ),
                actions: entry.actions.clone(),
            };
        }
        let (names, it) = match alt_title {
            Some(alt) => (format!("\"{title}\" or its summary \"{alt}\""), "either"),
            None => (format!("\"{title}\""), "it"),
        };
        // Matching stays exact (Keptn's rule), but a near miss is worth telling.
        let near_miss = self
            .entries
            .iter()
            .find(|e| {
                std::iter::once(title)
                    .chain(alt_title)
                    .any(|name| e.problem_type.eq_ignore_ascii_case(name.trim()))
            })
            .map(|e| {
                format!(
                    " (the entry on line {} says \"{}\": titles must match exactly, letter case and spaces included)",
                    e.line, e.problem_type
                )
            })
            .unwrap_or_default();
        match find(DEFAULT_PROBLEM_TYPE) {
            Some(entry) => RemediationPlan {
                entry: Some(entry.problem_type.clone()),
                reason: MatchReason::Default,
                why: format!(
                    "no entry names {names}; the default entry on line {} applies{near_miss}",
                    entry.line
                ),
                actions: entry.actions.clone(),
            },
            None => RemediationPlan {
                entry: None,
                reason: MatchReason::NoEntry,
                why: format!(
                    "no remediation for {names}: no entry names {it} and there is no default entry{near_miss}"
                ),
                actions: Vec::new(),
            },
        }
    }
}
