//! The remediation timeline, pure: Keptn's Bridge view of remediation sequences. One entry
//! per problem, newest first: where it came from, its title and link, the service and stage,
//! when it opened and closed, where its remediation is now (or how it ended), and every step
//! with its time and why. Rendered as HTML (the report's escaping and CSP, no scripts) or as
//! JSON (`schemaVersion` 1).
//!
//! The caller reads the sequences (the lanes' active and queued ones, and the ended ones it
//! stored), applies the service and stage filter, and serves the page with
//! [`super::CONTENT_SECURITY_POLICY`].

use std::collections::HashMap;

use serde::Serialize;

use super::{query_link, rfc3339};
use crate::remediation::sequence::{
    End, EvaluationResult, Lane, Phase, Problem, ProblemSource, Sequence, StepKind,
};
use crate::text::printable;

pub const TIMELINE_SCHEMA_VERSION: u32 = 1;

/// What the timeline was asked for: `?service=&stage=&json=`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimelineRequest {
    pub service: Option<String>,
    pub stage: Option<String>,
    pub json: bool,
}

impl TimelineRequest {
    /// Whether a sequence of `service`/`stage` is shown.
    pub fn includes(&self, service: &str, stage: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.stage.as_deref().is_none_or(|s| s == stage)
    }
}

/// Read the query parameters; the error names the parameter and what it takes.
pub fn parse_timeline_request(
    get: impl Fn(&str) -> Option<String>,
) -> Result<TimelineRequest, String> {
    let json = match get("json").as_deref() {
        None | Some("false") | Some("") => false,
        Some("true") => true,
        Some(other) => return Err(format!("json must be true or false, got \"{other}\"")),
    };
    let name = |key: &str| -> Result<Option<String>, String> {
        match get(key)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(v) if crate::remediation::is_lane_name(&v) => Ok(Some(v)),
            Some(v) => Err(format!(
                "{key} \"{}\" is not a {key} name (1-100 characters of A-Z a-z 0-9 . _ -)",
                crate::text::printable(&crate::text::truncate_chars(&v, 64))
            )),
        }
    };
    Ok(TimelineRequest {
        service: name("service")?,
        stage: name("stage")?,
        json,
    })
}

/// One sequence and the lane it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct LaneSequence<'a> {
    pub service: &'a str,
    pub stage: &'a str,
    pub sequence: &'a Sequence,
}

impl<'a> LaneSequence<'a> {
    /// The active and queued sequences of `lanes`.
    pub fn of_lanes(lanes: &'a [Lane]) -> Vec<LaneSequence<'a>> {
        lanes
            .iter()
            .flat_map(|lane| {
                lane.active
                    .iter()
                    .chain(lane.queue.iter())
                    .map(move |sequence| LaneSequence {
                        service: &lane.service,
                        stage: &lane.stage,
                        sequence,
                    })
            })
            .collect()
    }
}

/// The page: the problems, newest first, and the filter they were chosen by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub schema_version: u32,
    pub service: Option<String>,
    pub stage: Option<String>,
    pub problems: Vec<ProblemTimeline>,
    /// Lanes not read for this page (their newest activity is older than the page's): the
    /// page reads at most a bounded number, newest first.
    pub older_left_out: usize,
}

/// One problem and its remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemTimeline {
    pub problem_id: String,
    pub source: ProblemSource,
    pub title: String,
    /// Where the problem is shown at its source; http(s) only.
    pub link: Option<String>,
    pub service: String,
    pub stage: String,
    pub opened_ms: i64,
    pub opened_at: String,
    /// When the source closed (resolved) it.
    pub closed_ms: Option<i64>,
    pub closed_at: Option<String>,
    /// `queued`, `held`, `running`, `waiting`, `evaluating` or `ended`.
    pub phase: &'static str,
    /// How it ended, once it has.
    pub end: Option<End>,
    /// Where it is, in words: "waiting until … after action 1", "resolved".
    pub status: String,
    /// The matched remediation.yaml entry and why it was chosen.
    pub plan: String,
    /// The plan's actions in order, described.
    pub actions: Vec<String>,
    pub steps: Vec<StepView>,
}

/// One step as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub number: u32,
    pub at_ms: i64,
    pub at: String,
    /// Time since the problem opened, like `2m 5s`.
    pub after: String,
    /// What kind of step, with its facts (`"kind": "actionStarted", "action": 1, "dryRun":
    /// false`), in the timeline's own camelCase names whatever the store's are.
    #[serde(flatten)]
    pub facts: StepFacts,
    /// A short heading: "Action 1 started", "Evaluation passed".
    pub label: String,
    /// The details as recorded: what was done, read back and measured.
    pub why: String,
    /// `ok`, `violation`, `manual` or `waiting`: how the step reads at a glance.
    #[serde(skip)]
    pub class: &'static str,
}

/// A step's kind and the facts it carries; `action` counts from 1, as the page does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepFacts {
    /// `opened`, `matched`, `queued`, `dequeued`, `held`, `actionStarted`, `actionFinished`,
    /// `waiting`, `evaluationRequested`, `evaluated`, `sourceClosed` or `ended`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    /// The problem this one is queued behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The end of a hold or a wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// The evaluated window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<EvaluationResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<End>,
}

fn facts(kind: &StepKind) -> StepFacts {
    let plain = |kind| StepFacts {
        kind,
        ..StepFacts::default()
    };
    match kind {
        StepKind::Opened => plain("opened"),
        StepKind::Matched => plain("matched"),
        StepKind::Queued { behind } => StepFacts {
            behind: Some(behind.clone()),
            ..plain("queued")
        },
        StepKind::Dequeued => plain("dequeued"),
        StepKind::Held { action, until_ms } => StepFacts {
            action: Some(action + 1),
            until_ms: Some(*until_ms),
            ..plain("held")
        },
        StepKind::ActionStarted { action, dry_run } => StepFacts {
            action: Some(action + 1),
            dry_run: Some(*dry_run),
            ..plain("actionStarted")
        },
        StepKind::ActionFinished { action, ok } => StepFacts {
            action: Some(action + 1),
            ok: Some(*ok),
            ..plain("actionFinished")
        },
        StepKind::Waiting { until_ms } => StepFacts {
            until_ms: Some(*until_ms),
            ..plain("waiting")
        },
        StepKind::EvaluationRequested { from_ms, to_ms } => StepFacts {
            from_ms: Some(*from_ms),
            to_ms: Some(*to_ms),
            ..plain("evaluationRequested")
        },
        StepKind::Evaluated { result } => StepFacts {
            result: Some(*result),
            ..plain("evaluated")
        },
        StepKind::SourceClosed => plain("sourceClosed"),
        StepKind::Ended { end } => StepFacts {
            end: Some(*end),
            ..plain("ended")
        },
    }
}

fn source_name(source: ProblemSource) -> &'static str {
    match source {
        ProblemSource::Dynatrace => "Dynatrace",
        ProblemSource::Alertmanager => "Alertmanager",
    }
}

fn end_text(end: End) -> &'static str {
    match end {
        End::Resolved => "resolved",
        End::Escalated => "escalated to a person",
        End::Closed => "closed by the source",
        End::NoRemediation => "no remediation",
        End::Refused => "refused",
        End::RolledBack => "rolled back by the problem webhook",
    }
}

fn end_class(end: End) -> &'static str {
    match end {
        End::Resolved => "ok",
        End::Escalated => "violation",
        End::Closed => "waiting",
        End::NoRemediation => "manual",
        End::Refused => "manual",
        End::RolledBack => "ok",
    }
}

fn phase_of(phase: &Phase) -> (&'static str, String) {
    match phase {
        Phase::Queued => (
            "queued",
            "queued behind another problem of this service and stage".into(),
        ),
        Phase::Held { action, until_ms } => (
            "held",
            format!("action {} held until {}", action + 1, rfc3339(*until_ms)),
        ),
        Phase::Running {
            action, started_ms, ..
        } => (
            "running",
            format!(
                "action {} running since {}",
                action + 1,
                rfc3339(*started_ms)
            ),
        ),
        Phase::Waiting {
            action, until_ms, ..
        } => (
            "waiting",
            format!(
                "waiting until {} after action {}",
                rfc3339(*until_ms),
                action + 1
            ),
        ),
        Phase::Evaluating {
            action,
            requested_ms,
            ..
        } => (
            "evaluating",
            format!(
                "evaluating since {} after action {}",
                rfc3339(*requested_ms),
                action + 1
            ),
        ),
        Phase::Ended { end } => ("ended", end_text(*end).into()),
    }
}

fn label(kind: &StepKind) -> (String, &'static str) {
    match kind {
        StepKind::Opened => ("Problem opened".into(), "violation"),
        StepKind::Matched => ("Remediation matched".into(), "waiting"),
        StepKind::Queued { .. } => ("Queued".into(), "waiting"),
        StepKind::Dequeued => ("Its turn".into(), "waiting"),
        StepKind::Held { action, .. } => (format!("Action {} held", action + 1), "manual"),
        StepKind::ActionStarted { action, dry_run } => (
            if *dry_run {
                format!("Action {} (dry run)", action + 1)
            } else {
                format!("Action {} started", action + 1)
            },
            "waiting",
        ),
        StepKind::ActionFinished { action, ok: true } => {
            (format!("Action {} finished", action + 1), "ok")
        }
        StepKind::ActionFinished { action, ok: false } => {
            (format!("Action {} failed", action + 1), "violation")
        }
        StepKind::Waiting { .. } => ("Waiting".into(), "waiting"),
        StepKind::EvaluationRequested { .. } => ("Evaluation requested".into(), "waiting"),
        StepKind::Evaluated { result } => match result {
            EvaluationResult::Pass => ("Evaluation passed".into(), "ok"),
            EvaluationResult::Warning => ("Evaluation warned".into(), "manual"),
            EvaluationResult::Fail => ("Evaluation failed".into(), "violation"),
        },
        StepKind::SourceClosed => ("Closed at the source".into(), "waiting"),
        StepKind::Ended { end } => {
            let text = end_text(*end);
            let mut heading = text[..1].to_uppercase();
            heading.push_str(&text[1..]);
            (heading, end_class(*end))
        }
    }
}

/// Seconds as `2m 5s`, the way a person reads a delay.
fn elapsed(ms: i64) -> String {
    let seconds = (ms.max(0) / 1000) as u64;
    if seconds == 0 {
        return "0s".into();
    }
    humantime::format_duration(std::time::Duration::from_secs(seconds)).to_string()
}

/// Only an http(s) URL is a link: a `javascript:` one on the page would run.
fn web_link(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

fn problem_timeline(entry: &LaneSequence, link: Option<String>) -> ProblemTimeline {
    let seq = entry.sequence;
    let (phase, status) = phase_of(&seq.phase);
    let end = match seq.phase {
        Phase::Ended { end } => Some(end),
        _ => None,
    };
    let opened = seq.problem.opened_ms;
    // Titles, labels and reasons come from outside (a problem's title, an alert's labels, an
    // API's answer): no control or bidi character reaches the page.
    ProblemTimeline {
        problem_id: printable(&seq.problem.id),
        source: seq.problem.source,
        title: printable(&seq.problem.title),
        link: link.as_deref().and_then(web_link),
        service: entry.service.to_string(),
        stage: entry.stage.to_string(),
        opened_ms: opened,
        opened_at: rfc3339(opened),
        closed_ms: seq.closed_ms,
        closed_at: seq.closed_ms.map(rfc3339),
        phase,
        end,
        status,
        plan: printable(&seq.plan.why),
        actions: seq
            .plan
            .actions
            .iter()
            .map(|a| printable(&a.action.describe()))
            .collect(),
        steps: seq
            .steps
            .iter()
            .map(|step| {
                let (label, class) = label(&step.kind);
                StepView {
                    number: step.number,
                    at_ms: step.at_ms,
                    at: rfc3339(step.at_ms),
                    after: elapsed(step.at_ms - opened),
                    facts: facts(&step.kind),
                    label,
                    why: printable(&step.why),
                    class,
                }
            })
            .collect(),
    }
}

impl Timeline {
    /// The timeline of `sequences` (already filtered by the caller), newest problem first.
    /// `link` gives a problem's page at its source (Alertmanager's generatorURL, Dynatrace's
    /// problem page), if known. A problem listed twice (its sequence ended while the lane
    /// still held it) is shown once, as recorded furthest.
    pub fn build(
        request: &TimelineRequest,
        sequences: &[LaneSequence],
        link: impl Fn(&Problem) -> Option<String>,
    ) -> Timeline {
        let mut furthest: HashMap<(&str, &str, &str), &LaneSequence> = HashMap::new();
        for entry in sequences {
            let key = (
                entry.service,
                entry.stage,
                entry.sequence.problem.id.as_str(),
            );
            let keep = furthest
                .get(&key)
                .is_none_or(|kept| kept.sequence.steps.len() < entry.sequence.steps.len());
            if keep {
                furthest.insert(key, entry);
            }
        }
        let mut problems: Vec<ProblemTimeline> = furthest
            .values()
            .map(|entry| problem_timeline(entry, link(&entry.sequence.problem)))
            .collect();
        problems.sort_by(|a, b| {
            b.opened_ms
                .cmp(&a.opened_ms)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.stage.cmp(&b.stage))
                .then_with(|| a.problem_id.cmp(&b.problem_id))
        });
        Timeline {
            schema_version: TIMELINE_SCHEMA_VERSION,
            service: request.service.clone(),
            stage: request.stage.clone(),
            problems,
            older_left_out: 0,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the timeline serializes")
    }

    pub fn to_html(&self) -> String {
        use askama::Template;
        let mut pairs = Vec::new();
        if let Some(s) = &self.service {
            pairs.push(("service", s.as_str()));
        }
        if let Some(s) = &self.stage {
            pairs.push(("stage", s.as_str()));
        }
        pairs.push(("json", "true"));
        TimelinePage {
            timeline: self,
            json_link: query_link(&pairs),
        }
        .render()
        .expect("the timeline template renders")
    }
}

impl ProblemTimeline {
    pub fn source_name(&self) -> &'static str {
        source_name(self.source)
    }

    pub fn status_class(&self) -> &'static str {
        self.end.map_or("waiting", end_class)
    }
}

#[derive(askama::Template)]
#[template(path = "timeline.html")]
struct TimelinePage<'a> {
    timeline: &'a Timeline,
    json_link: String,
}

/// The HTML page of [`Timeline::build`].
pub fn timeline_html(
    request: &TimelineRequest,
    sequences: &[LaneSequence],
    link: impl Fn(&Problem) -> Option<String>,
) -> String {
    Timeline::build(request, sequences, link).to_html()
}

/// The JSON document of [`Timeline::build`].
pub fn timeline_json(
    request: &TimelineRequest,
    sequences: &[LaneSequence],
    link: impl Fn(&Problem) -> Option<String>,
) -> String {
    Timeline::build(request, sequences, link).to_json()
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
