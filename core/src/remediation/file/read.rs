//! Reading the file: which layout it is in, its entries in order (one per problem type), and
//! the hint after a YAML syntax error.

use serde_saphyr::{Location, Spanned};

use super::action::parse_action;
use super::raw::{RawEntry, RawFile};
use super::{Generation, RemediationEntry, RemediationFile, API_VERSION};
use crate::yaml_file::{parse_yaml, FileErrors, Problems};

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
