//! remediation.yaml, both of Keptn's generations, read and checked: the legacy layout of
//! Keptn 0.6 (seeds 000/001) and `apiVersion: spec.keptn.sh/0.1.4`. Every problem names the
//! file, line, column and path and says how to fix it; a file with a problem is not used.
//! Matching a problem title to an entry is here too, with the reason as data.

use std::time::Duration;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use crate::yaml_file::{parse_yaml, FileErrors, Problems};

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

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "apiVersion")]
    api_version: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    #[allow(dead_code)]
    metadata: Option<IgnoredAny>,
    spec: Option<Spanned<RawSpec>>,
    remediations: Option<Spanned<Vec<Spanned<RawEntry>>>>,
    /// Only ever here by mistake: seed 001's `actions:` slipped to the top level.
    actions: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    remediations: Option<Spanned<Vec<Spanned<RawEntry>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: Option<Spanned<String>>,
    #[serde(rename = "problemType")]
    problem_type: Option<Spanned<String>>,
    actions: Option<Spanned<Vec<Spanned<RawAction>>>>,
    #[serde(rename = "actionsOnOpen")]
    actions_on_open: Option<Spanned<Vec<Spanned<RawAction>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    name: Option<String>,
    action: Option<Spanned<String>>,
    description: Option<String>,
    value: Option<Spanned<Scalarish>>,
    wait: Option<Spanned<Scalarish>>,
    #[serde(rename = "allowUnconfirmed")]
    allow_unconfirmed: Option<Spanned<Scalarish>>,
}

/// A value as YAML typed it. `value` is a number, a string or a map depending on the action
/// (and unquoted `off` reads as false in YAML 1.1), so the action decides what it accepts.
#[derive(Debug, Clone, PartialEq)]
enum Scalarish {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Map(Vec<(String, Scalarish)>),
    List,
}

impl Scalarish {
    /// What a person would call it, for messages.
    fn shown(&self) -> String {
        match self {
            Scalarish::Null => "empty".into(),
            Scalarish::Bool(b) => b.to_string(),
            Scalarish::Int(n) => n.to_string(),
            Scalarish::Float(f) => f.to_string(),
            Scalarish::Text(t) => format!("\"{t}\""),
            Scalarish::Map(_) => "a map".into(),
            Scalarish::List => "a list".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalarish {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarishVisitor)
    }
}

struct ScalarishVisitor;

impl<'de> Visitor<'de> for ScalarishVisitor {
    type Value = Scalarish;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, a string or a map")
    }
    fn visit_unit<E>(self) -> Result<Scalarish, E> {
        Ok(Scalarish::Null)
    }
    fn visit_none<E>(self) -> Result<Scalarish, E> {
        Ok(Scalarish::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalarish, E> {
        Ok(Scalarish::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalarish, E> {
        Ok(Scalarish::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalarish, E> {
        Ok(i64::try_from(v).map_or(Scalarish::Float(v as f64), Scalarish::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalarish, E> {
        Ok(Scalarish::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalarish, E> {
        Ok(Scalarish::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalarish, E> {
        Ok(Scalarish::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalarish, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalarish::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalarish, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value::<Scalarish>()?));
        }
        Ok(Scalarish::Map(entries))
    }
}

const ACTIONS: &str =
    "scaling, featuretoggle (also toggle-feature, togglefeature), rollback or escalate";
const SHAPES: &str = "remediation.yaml is either `remediations: [{name: <problem title>, actions: [{action: scaling, value: +1}]}]` or `apiVersion: spec.keptn.sh/0.1.4`, `kind: Remediation`, `spec: {remediations: [{problemType: <problem title>, actionsOnOpen: [{name, action, description, value}]}]}`";

/// Read and check a remediation.yaml. `file` names it in messages.
pub fn parse_remediation(file: &str, text: &str) -> Result<RemediationFile, FileErrors> {
    let raw: RawFile = parse_yaml(file, text, |e| syntax_hint(text, e))?;
    let start = Location::UNKNOWN;
    let mut problems = Problems::default();

    if let Some(actions) = &raw.actions {
        problems.add(
            actions.referenced,
            "actions",
            "is at the top level, but actions belong to one remediation: indent `actions:` under its `- name:` so that it lines up with `name`",
        );
    }

    let (generation, list) = match (&raw.api_version, &raw.remediations) {
        (Some(version), legacy) => {
            if let Some(legacy) = legacy {
                problems.add(
                    legacy.referenced,
                    "remediations",
                    "is the legacy layout, but the file has an apiVersion: move the entries under `spec.remediations` (or remove apiVersion, kind and spec)",
                );
            }
            if version.value != API_VERSION {
                problems.add(
                    version.referenced,
                    "apiVersion",
                    format!(
                        "\"{}\" is not {API_VERSION}, the version this engine reads; write `apiVersion: {API_VERSION}`",
                        version.value
                    ),
                );
            }
            match &raw.kind {
                Some(kind) if kind.value == "Remediation" => {}
                Some(kind) => problems.add(
                    kind.referenced,
                    "kind",
                    format!(
                        "\"{}\" is not Remediation; write `kind: Remediation`",
                        kind.value
                    ),
                ),
                None => problems.add(start, "kind", "is missing: add `kind: Remediation`"),
            }
            let list = match &raw.spec {
                None => {
                    problems.add(
                        start,
                        "spec",
                        "is missing: add `spec: {remediations: [...]}` with one entry per problem type",
                    );
                    None
                }
                Some(spec) => match &spec.value.remediations {
                    None => {
                        problems.add(
                            spec.referenced,
                            "spec.remediations",
                            "is missing: list one entry per problem type (`- problemType: Response time degradation`)",
                        );
                        None
                    }
                    Some(list) => Some(list),
                },
            };
            (Generation::Spec014, list.map(|l| ("spec.remediations", l)))
        }
        (None, Some(list)) => {
            for (what, at) in [
                ("kind", raw.kind.as_ref().map(|k| k.referenced)),
                ("spec", raw.spec.as_ref().map(|s| s.referenced)),
            ] {
                if let Some(at) = at {
                    problems.add(
                        at,
                        what,
                        format!("belongs to the {API_VERSION} layout: add `apiVersion: {API_VERSION}`, or remove `{what}` and keep the legacy `remediations:`"),
                    );
                }
            }
            (Generation::Legacy, Some(("remediations", list)))
        }
        (None, None) => {
            problems.add(start, "", format!("has no remediations: {SHAPES}"));
            (Generation::Legacy, None)
        }
    };

    let mut entries: Vec<RemediationEntry> = Vec::new();
    if let Some((list_path, list)) = list {
        if list.value.is_empty() {
            problems.add(
                list.referenced,
                list_path,
                "is empty: list one entry per problem type",
            );
        }
        for (i, entry) in list.value.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            if let Some(parsed) = parse_entry(entry, generation, &path, &mut problems) {
                if let Some(earlier) = entries
                    .iter()
                    .find(|e| e.problem_type == parsed.problem_type)
                {
                    problems.add(
                        entry.referenced,
                        path,
                        format!(
                            "\"{}\" has an entry already on line {}: this one would never be used; merge their actions",
                            parsed.problem_type, earlier.line
                        ),
                    );
                }
                entries.push(parsed);
            }
        }
    }
    problems.finish(
        file,
        RemediationFile {
            generation,
            entries,
            unconfirmed: None,
        },
    )
}

fn parse_entry(
    entry: &Spanned<RawEntry>,
    generation: Generation,
    path: &str,
    problems: &mut Problems,
) -> Option<RemediationEntry> {
    let e = &entry.value;
    let (title_key, actions_key, title, actions, stray) = match generation {
        Generation::Legacy => (
            "name",
            "actions",
            &e.name,
            &e.actions,
            [
                ("problemType", e.problem_type.as_ref().map(|s| s.referenced)),
                (
                    "actionsOnOpen",
                    e.actions_on_open.as_ref().map(|s| s.referenced),
                ),
            ],
        ),
        Generation::Spec014 => (
            "problemType",
            "actionsOnOpen",
            &e.problem_type,
            &e.actions_on_open,
            [
                ("name", e.name.as_ref().map(|s| s.referenced)),
                ("actions", e.actions.as_ref().map(|s| s.referenced)),
            ],
        ),
    };
    for (key, at) in stray {
        if let Some(at) = at {
            let layout = match generation {
                Generation::Legacy => "the legacy layout uses `name` and `actions`",
                Generation::Spec014 => "spec.keptn.sh/0.1.4 uses `problemType` and `actionsOnOpen`",
            };
            problems.add(
                at,
                format!("{path}.{key}"),
                format!("is not a field here: {layout}"),
            );
        }
    }
    let title = match title.as_ref().filter(|t| !t.value.trim().is_empty()) {
        Some(t) => t.value.clone(),
        None => {
            problems.add(
                entry.referenced,
                format!("{path}.{title_key}"),
                format!("is missing: the problem title this entry is for (e.g. `{title_key}: Response time degradation`), or `default`"),
            );
            return None;
        }
    };
    let actions = match actions {
        None => {
            problems.add(
                entry.referenced,
                format!("{path}.{actions_key}"),
                format!("is missing: list what to do for \"{title}\", e.g. `{actions_key}: [{{action: scaling, value: +1}}]`, indented under this entry"),
            );
            Vec::new()
        }
        Some(list) if list.value.is_empty() => {
            problems.add(
                list.referenced,
                format!("{path}.{actions_key}"),
                format!("is empty: list at least one action for \"{title}\""),
            );
            Vec::new()
        }
        Some(list) => list
            .value
            .iter()
            .enumerate()
            .filter_map(|(a, raw)| {
                parse_action(raw, &format!("{path}.{actions_key}[{a}]"), problems)
            })
            .collect(),
    };
    Some(RemediationEntry {
        problem_type: title,
        actions,
        line: entry.referenced.line(),
    })
}

fn parse_action(
    raw: &Spanned<RawAction>,
    path: &str,
    problems: &mut Problems,
) -> Option<RemediationAction> {
    let a = &raw.value;
    let Some(kind) = &a.action else {
        problems.add(
            raw.referenced,
            format!("{path}.action"),
            format!("is missing: name one of {ACTIONS}"),
        );
        return None;
    };
    let value_at = a.value.as_ref().map_or(kind.referenced, |v| v.referenced);
    let value = a.value.as_ref().map_or(&Scalarish::Null, |v| &v.value);
    let value_path = format!("{path}.value");
    let mut bad = |message: String| {
        problems.add(value_at, value_path.clone(), message);
        None
    };
    let action = match kind.value.as_str() {
        "scaling" => match scaling(value) {
            Ok(by) => Some(Action::Scaling { by }),
            Err(message) => bad(message),
        },
        "featuretoggle" | "toggle-feature" | "togglefeature" => match toggles(value) {
            Ok(toggles) => Some(Action::FeatureToggle { toggles }),
            Err(message) => bad(message),
        },
        "rollback" => match value {
            Scalarish::Null => Some(Action::Rollback),
            Scalarish::Text(t) if t.trim().is_empty() => Some(Action::Rollback),
            other => bad(format!(
                "is {}, but rollback takes no value (it redeploys the last good revision): remove `value`",
                other.shown()
            )),
        },
        "escalate" => match escalation(value, a.description.as_deref()) {
            Ok(action) => Some(action),
            Err(message) => bad(message),
        },
        other => {
            problems.add(
                kind.referenced,
                format!("{path}.action"),
                format!("\"{other}\" is not an action this engine runs: use {ACTIONS}"),
            );
            None
        }
    };
    let wait = match &a.wait {
        None => Some(DEFAULT_WAIT),
        Some(w) => match wait(&w.value) {
            Ok(d) => Some(d),
            Err(message) => {
                problems.add(w.referenced, format!("{path}.wait"), message);
                None
            }
        },
    };
    let allow_unconfirmed = match &a.allow_unconfirmed {
        None => Some(false),
        Some(v) => match &v.value {
            Scalarish::Bool(b) => Some(*b),
            other => {
                problems.add(
                    v.referenced,
                    format!("{path}.allowUnconfirmed"),
                    format!(
                        "is {}, not true or false: write `allowUnconfirmed: true` to let this action run for an alert its source cannot confirm",
                        other.shown()
                    ),
                );
                None
            }
        },
    };
    Some(RemediationAction {
        name: a.name.clone().unwrap_or_default(),
        description: a.description.clone().unwrap_or_default(),
        action: action?,
        wait_ms: wait?.as_millis() as u64,
        allow_unconfirmed: allow_unconfirmed?,
    })
}

/// `+1`, `1`, `"1"`, `"+2"`, `-1`: whole instances to add or remove.
fn scaling(value: &Scalarish) -> Result<i64, String> {
    const FORM: &str =
        "write the number of instances to add or remove, e.g. `value: +1` or `value: -1`";
    let n = match value {
        Scalarish::Int(n) => *n,
        Scalarish::Text(t) => {
            let t = t.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(if t.parse::<f64>().is_ok() {
                    format!("\"{t}\" is a fraction, but scaling adds or removes whole instances; {FORM}")
                } else {
                    format!("\"{t}\" is not a whole number; {FORM}")
                });
            }
            t.parse::<i64>()
                .map_err(|_| format!("\"{t}\" is too large; {FORM}"))?
        }
        Scalarish::Float(f) => {
            return Err(format!(
                "{f} is a fraction, but scaling adds or removes whole instances; {FORM}"
            ))
        }
        Scalarish::Null => return Err(format!("is missing: {FORM}")),
        other => return Err(format!("is {}, not a whole number; {FORM}", other.shown())),
    };
    if n == 0 {
        return Err(format!("0 changes nothing; {FORM}"));
    }
    Ok(n)
}

/// `"Flag:on"`, `"Flag:off"`, or a map `{Flag: "off"}` (unquoted off/on are YAML 1.1
/// booleans, so false/true are taken too).
fn toggles(value: &Scalarish) -> Result<Vec<FlagToggle>, String> {
    const FORM: &str = "write `value: EnablePromotion:off` or `value: {EnablePromotion: \"off\"}`";
    let state = |flag: &str, state: &Scalarish| -> Result<bool, String> {
        match state {
            Scalarish::Bool(b) => Ok(*b),
            Scalarish::Text(t) if t.trim().eq_ignore_ascii_case("on") => Ok(true),
            Scalarish::Text(t) if t.trim().eq_ignore_ascii_case("off") => Ok(false),
            other => Err(format!(
                "the state of {flag} is {}, not on or off; {FORM}",
                other.shown()
            )),
        }
    };
    let check_flag = |flag: &str| -> Result<String, String> {
        let flag = flag.trim();
        if !is_unleash_flag_name(flag) {
            return Err(format!(
                "\"{}\" is not an Unleash flag name (1-100 characters of A-Z a-z 0-9 . _ ~ -, not . or ..); {FORM}",
                crate::text::printable(&crate::text::truncate_chars(flag, 64))
            ));
        }
        Ok(flag.to_string())
    };
    match value {
        Scalarish::Text(t) => {
            let Some((flag, on_off)) = t.rsplit_once(':') else {
                return Err(format!("\"{t}\" names no state; {FORM}"));
            };
            Ok(vec![FlagToggle {
                enabled: state(flag, &Scalarish::Text(on_off.to_string()))?,
                flag: check_flag(flag)?,
            }])
        }
        Scalarish::Map(entries) if !entries.is_empty() => entries
            .iter()
            .map(|(flag, on_off)| {
                Ok(FlagToggle {
                    enabled: state(flag, on_off)?,
                    flag: check_flag(flag)?,
                })
            })
            .collect(),
        Scalarish::Null => Err(format!("is missing: name the flag and its state; {FORM}")),
        other => Err(format!(
            "is {}, not a flag and its state; {FORM}",
            other.shown()
        )),
    }
}

/// `""` or a comment text, or `{comment, webhook}`; the comment defaults to the description.
fn escalation(value: &Scalarish, description: Option<&str>) -> Result<Action, String> {
    const FORM: &str = "write a comment (`value: \"Tell the on-call team\"`) or `value: {comment: ..., webhook: https://...}`";
    let default_comment = || {
        description
            .filter(|d| !d.trim().is_empty())
            .unwrap_or("No remediation action resolved the problem: a person must look")
            .to_string()
    };
    match value {
        Scalarish::Null => Ok(Action::Escalate {
            comment: default_comment(),
            webhook: None,
        }),
        Scalarish::Text(t) => Ok(Action::Escalate {
            comment: if t.trim().is_empty() {
                default_comment()
            } else {
                t.clone()
            },
            webhook: None,
        }),
        Scalarish::Map(entries) => {
            let (mut comment, mut webhook) = (None, None);
            for (key, v) in entries {
                match (key.as_str(), v) {
                    ("comment", Scalarish::Text(t)) => comment = Some(t.clone()),
                    ("webhook", Scalarish::Text(u)) => {
                        // The URL is a secret (a chat webhook's token): named by its host only.
                        let url = super::webhook::public_https_url(u.trim())
                            .map_err(|why| format!("webhook {why}; {FORM}"))?;
                        webhook = Some(url.to_string());
                    }
                    ("comment" | "webhook", other) => {
                        return Err(format!("{key} is {}, not a text; {FORM}", other.shown()))
                    }
                    (other, _) => {
                        return Err(format!("\"{other}\" is not a field of escalate; {FORM}"))
                    }
                }
            }
            Ok(Action::Escalate {
                comment: comment
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(default_comment),
                webhook,
            })
        }
        other => Err(format!("is {}; {FORM}", other.shown())),
    }
}

/// Unleash's rule for feature names (URL-friendly: letters, digits, `.`, `_`, `~`, `-`, at
/// most 100), and never `.` or `..`, which would walk the admin API's path.
pub fn is_unleash_flag_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
        && name != "."
        && name != ".."
}

/// A duration with its unit: `10m`, `90s`, `1h`.
fn wait(value: &Scalarish) -> Result<Duration, String> {
    const FORM: &str = "write a duration with its unit, e.g. `wait: 10m` or `wait: 90s`";
    match value {
        Scalarish::Text(t) => match humantime::parse_duration(t.trim()) {
            Ok(d) if d.is_zero() => Err(format!(
                "\"{t}\" would evaluate before the action can show any effect; {FORM}"
            )),
            Ok(d) => Ok(d),
            Err(_) => Err(format!("\"{t}\" is not a duration; {FORM}")),
        },
        Scalarish::Int(_) | Scalarish::Float(_) => {
            Err(format!("{} has no unit; {FORM}", value.shown()))
        }
        other => Err(format!("is {}; {FORM}", other.shown())),
    }
}

/// The hint after a YAML syntax error. Seed 001's file has `value:` indented deeper than the
/// `action:` it belongs with, which YAML reports as "mapping values are not allowed here":
/// name both lines and the column to move to.
fn syntax_hint(text: &str, error: &serde_saphyr::Error) -> String {
    let generic = format!("check the indentation and the field names: {SHAPES}");
    let (true, Some(at)) = (
        error.to_string().contains("mapping values are not allowed"),
        error.location(),
    ) else {
        return generic;
    };
    let lines: Vec<&str> = text.lines().collect();
    let line_no = at.line() as usize;
    let Some(line) = line_no.checked_sub(1).and_then(|i| lines.get(i)) else {
        return generic;
    };
    let (column, rest) = key_column(line);
    let key = rest.split(':').next().unwrap_or(rest).trim();
    let Some((above_no, above)) = lines[..line_no - 1]
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        return generic;
    };
    let (above_column, above_rest) = key_column(above);
    let above_key = above_rest.split(':').next().unwrap_or(above_rest).trim();
    if column <= above_column {
        return generic;
    }
    format!(
        "`{key}:` on line {line_no} starts at column {column}, deeper than `{above_key}:` on line {} (column {above_column}), so YAML reads it as part of that line's value: move `{key}` to column {above_column} so that it lines up with `{above_key}`",
        above_no + 1
    )
}

/// The 1-based column of a line's first key (after any `- `), and the text from there.
fn key_column(line: &str) -> (usize, &str) {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let key = rest.trim_start_matches(['-', ' ']);
    (indent + rest.len() - key.len() + 1, key)
}
