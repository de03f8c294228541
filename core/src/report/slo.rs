//! SLO evaluations as Keptn's Bridge shows them: a heatmap of objectives × builds, a score
//! row, and each evaluation's table of criteria.
//!
//! The result JSON of an SLO-gated validation carries Keptn's evaluation.finished fields
//! (`crate::slo::score::Evaluation`) plus `gate`, `window`, `sloHash` and `service`. The
//! report reads it through its own lenient mirror rather than those strict types: a report
//! must still show an evaluation written by an older or newer worker (an unknown status is
//! shown as its text, a missing field as nothing), where the gate must refuse it.

use serde::{Deserialize, Serialize};

use super::{format_number, rfc3339, short_id, ValidationRow};

/// The `comparison` of an SLO-gated validation.
pub const SLO_COMPARISON: &str = "SLO";

/// Keptn's Bridge shows the latest evaluations; a heatmap of 500 columns would not read.
pub const HEATMAP_COLUMNS: usize = 50;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SliValue {
    pub metric: String,
    pub value: Option<f64>,
    pub compared_value: Option<f64>,
    pub success: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Target {
    pub criteria: String,
    pub target_value: Option<f64>,
    pub violated: bool,
    pub no_baseline: bool,
}

impl Target {
    /// `<=+10% → 110 ✗`: the criteria, the target it made, whether it held.
    pub fn text(&self) -> String {
        let mut text = self.criteria.clone();
        if self.no_baseline {
            text.push_str(" (no baseline)");
        } else if let Some(t) = self.target_value {
            text.push_str(&format!(" → {}", format_number(t)));
        }
        text.push_str(if self.violated { " violated" } else { " met" });
        text
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IndicatorResult {
    pub display_name: String,
    pub status: String,
    pub score: f64,
    pub key_sli: bool,
    pub value: Option<SliValue>,
    pub pass_targets: Vec<Target>,
    pub warning_targets: Vec<Target>,
}

impl IndicatorResult {
    /// Keptn's display name, or the SLI's name when the objective has none.
    pub fn name(&self) -> &str {
        if self.display_name.is_empty() {
            self.value.as_ref().map_or("", |v| v.metric.as_str())
        } else {
            &self.display_name
        }
    }

    pub fn metric(&self) -> &str {
        self.value.as_ref().map_or("", |v| v.metric.as_str())
    }

    pub fn measured(&self) -> Option<f64> {
        self.value
            .as_ref()
            .filter(|v| v.success)
            .and_then(|v| v.value)
    }

    /// The baseline, when the objective had one: Keptn writes 0 without one, so a
    /// criterion marked `noBaseline` means there was none.
    pub fn baseline(&self) -> Option<f64> {
        let none = self
            .pass_targets
            .iter()
            .chain(&self.warning_targets)
            .any(|t| t.no_baseline);
        if none {
            None
        } else {
            self.value.as_ref().and_then(|v| v.compared_value)
        }
    }

    pub fn message(&self) -> &str {
        self.value.as_ref().map_or("", |v| v.message.as_str())
    }

    pub fn status_class(&self) -> &'static str {
        status_class(&self.status)
    }

    pub fn score_text(&self) -> String {
        format_number(self.score)
    }

    pub fn value_text(&self) -> String {
        match (&self.value, self.measured()) {
            (_, Some(v)) => format_number(v),
            (Some(v), None) if !v.message.is_empty() => format!("no value: {}", v.message),
            _ => "no value".into(),
        }
    }

    pub fn baseline_text(&self) -> String {
        self.baseline()
            .map(format_number)
            .unwrap_or_else(|| "no baseline".into())
    }

    pub fn no_baseline(&self) -> bool {
        self.baseline().is_none()
    }

    pub fn pass_text(&self) -> String {
        targets_text(&self.pass_targets)
    }

    pub fn warning_text(&self) -> String {
        targets_text(&self.warning_targets)
    }

    /// What a heatmap cell says on hover.
    pub fn hover(&self, build: &str) -> String {
        let mut text = format!(
            "{} · build {build}: {} {}, value {}",
            self.name(),
            self.status,
            format_number(self.score),
            self.value_text()
        );
        if let Some(b) = self.baseline() {
            text.push_str(&format!(", baseline {}", format_number(b)));
        }
        if !self.pass_targets.is_empty() {
            text.push_str(&format!("; pass {}", self.pass_text()));
        }
        if !self.warning_targets.is_empty() {
            text.push_str(&format!("; warning {}", self.warning_text()));
        }
        text
    }
}

fn targets_text(targets: &[Target]) -> String {
    targets
        .iter()
        .map(Target::text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A CSS class the page knows for a status; anything else reads as `unknown`.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "pass" => "pass",
        "warning" => "warning",
        "fail" => "fail",
        "info" => "info",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Window {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// One SLO evaluation, as the worker stored it (the fields the report shows).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Evaluation {
    /// `slo`: read to tell the shape in one pass; the JSON's `sloEvaluations` do not repeat it.
    #[serde(skip_serializing)]
    pub gate: Option<String>,
    pub result: String,
    pub score: Option<f64>,
    pub indicator_results: Vec<IndicatorResult>,
    pub reason: String,
    pub no_baseline: bool,
    pub compared_evaluations: Vec<String>,
    pub id: Option<String>,
    pub window: Option<Window>,
    pub slo_hash: Option<String>,
    pub service: Option<String>,
}

impl Evaluation {
    /// The evaluation in a validation's result JSON, when it is one (`"gate": "slo"`).
    pub fn result_class(&self) -> &'static str {
        status_class(&self.result)
    }

    pub fn score_text(&self) -> String {
        self.score.map(format_number).unwrap_or_else(|| "–".into())
    }

    /// `2026-11-21T10:00:00Z – 2026-11-21T10:05:00Z`, or nothing without a window.
    pub fn window_text(&self) -> String {
        match &self.window {
            Some(Window {
                start_ms: Some(start),
                end_ms: Some(end),
            }) => format!("{} – {}", rfc3339(*start), rfc3339(*end)),
            _ => String::new(),
        }
    }
}

/// An evaluation with the build it judged: what the JSON's `sloEvaluations` lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildEvaluation {
    pub timestamp: i64,
    pub registered_at: String,
    pub execution_id: String,
    #[serde(flatten)]
    pub evaluation: Evaluation,
}

impl BuildEvaluation {
    pub fn short_id(&self) -> &str {
        short_id(&self.execution_id)
    }
}

/// Every SLO evaluation in the validations, oldest first, moved out of them (the charts have
/// read them already): the section owns them, and 1,000 evaluations are not copied.
pub fn take_evaluations(validations: &mut [ValidationRow]) -> Vec<BuildEvaluation> {
    validations
        .iter_mut()
        .filter_map(|v| {
            Some(BuildEvaluation {
                evaluation: v.evaluation.take()?,
                timestamp: v.timestamp,
                registered_at: v.registered_at.clone(),
                execution_id: v.execution_id.clone(),
            })
        })
        .collect()
}

/// The heatmap's pixel layout, computed here so the template only places what it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub width: f64,
    pub cell_width: f64,
    pub cell_height: f64,
    /// Where the row labels end and the column labels sit.
    pub label_x: f64,
    pub header_y: f64,
    pub height: f64,
    /// How many evaluations were left out (the oldest) to keep the map readable.
    pub left_out: usize,
    pub columns: Vec<HeatmapColumn>,
    pub rows: Vec<HeatmapRow>,
    pub cells: Vec<HeatmapCell>,
    pub score_y: f64,
    pub result_y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapColumn {
    pub x: f64,
    pub center: f64,
    pub label: String,
    /// Full execution id, time, result and score.
    pub title: String,
    pub score: String,
    pub result: String,
    pub result_class: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapRow {
    pub y: f64,
    pub label: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapCell {
    pub x: f64,
    pub y: f64,
    pub class: &'static str,
    pub title: String,
}

pub const HEATMAP_LEFT: f64 = 190.0;
pub const HEATMAP_TOP: f64 = 34.0;
pub const CELL_WIDTH: f64 = 44.0;
pub const CELL_HEIGHT: f64 = 22.0;
const LABEL_CHARS: usize = 28;

fn ellipsis(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}

impl Heatmap {
    /// Rows are objectives by display name (the newest evaluation's order first, then those
    /// only older ones had), columns the latest evaluations, oldest left.
    pub fn new(evaluations: &[BuildEvaluation]) -> Self {
        let left_out = evaluations.len().saturating_sub(HEATMAP_COLUMNS);
        let shown = &evaluations[left_out..];
        let mut names: Vec<&str> = Vec::new();
        for e in shown.iter().rev() {
            for i in &e.evaluation.indicator_results {
                if !names.contains(&i.name()) {
                    names.push(i.name());
                }
            }
        }
        let row_y = |r: usize| HEATMAP_TOP + r as f64 * CELL_HEIGHT;
        let column_x = |c: usize| HEATMAP_LEFT + c as f64 * CELL_WIDTH;
        let rows = names
            .iter()
            .enumerate()
            .map(|(r, name)| HeatmapRow {
                y: row_y(r),
                label: ellipsis(name, LABEL_CHARS),
                title: name.to_string(),
            })
            .collect();
        let mut cells = Vec::new();
        let columns = shown
            .iter()
            .enumerate()
            .map(|(c, e)| {
                for (r, name) in names.iter().enumerate() {
                    if let Some(i) = e
                        .evaluation
                        .indicator_results
                        .iter()
                        .find(|i| i.name() == *name)
                    {
                        cells.push(HeatmapCell {
                            x: column_x(c),
                            y: row_y(r),
                            class: i.status_class(),
                            title: i.hover(&e.execution_id),
                        });
                    }
                }
                HeatmapColumn {
                    x: column_x(c),
                    center: column_x(c) + CELL_WIDTH / 2.0,
                    label: short_id(&e.execution_id).to_string(),
                    title: format!(
                        "build {} at {}: {} with score {}{}",
                        e.execution_id,
                        e.registered_at,
                        e.evaluation.result,
                        e.evaluation.score_text(),
                        if e.evaluation.reason.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", e.evaluation.reason)
                        }
                    ),
                    score: e.evaluation.score_text(),
                    result: e.evaluation.result.clone(),
                    result_class: e.evaluation.result_class(),
                }
            })
            .collect();
        let score_y = row_y(names.len()) + 6.0;
        let result_y = score_y + CELL_HEIGHT;
        Heatmap {
            width: column_x(shown.len()) + 8.0,
            cell_width: CELL_WIDTH,
            cell_height: CELL_HEIGHT,
            label_x: HEATMAP_LEFT - 8.0,
            header_y: HEATMAP_TOP - 10.0,
            height: result_y + CELL_HEIGHT + 4.0,
            left_out,
            columns,
            rows,
            cells,
            score_y,
            result_y,
        }
    }
}

/// The SLO part of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSection {
    pub evaluations: Vec<BuildEvaluation>,
    pub heatmap: Heatmap,
}

impl SloSection {
    pub fn new(evaluations: Vec<BuildEvaluation>) -> Option<Self> {
        if evaluations.is_empty() {
            return None;
        }
        let heatmap = Heatmap::new(&evaluations);
        Some(SloSection {
            evaluations,
            heatmap,
        })
    }

    /// The criteria tables: the shown evaluations, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &BuildEvaluation> {
        self.evaluations.iter().rev().take(HEATMAP_COLUMNS)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::*;
    use super::super::ReportModel;
    use super::*;
    use crate::model::store::RequestStatus;
    use serde_json::Value;

    fn section(evaluations: Vec<Value>) -> SloSection {
        let requests: Vec<_> = evaluations
            .into_iter()
            .enumerate()
            .map(|(i, result)| {
                request(
                    &format!("{i:08}-build"),
                    i as i64,
                    SLO_COMPARISON,
                    RequestStatus::Ok,
                    Some(result),
                )
            })
            .collect();
        ReportModel::build("Sample", None, 60, &requests)
            .slo
            .expect("an SLO section")
    }

    #[test]
    fn each_status_has_its_colour_and_says_its_figures_on_hover() {
        let heatmap = section(vec![slo_result(
            "fail",
            37.5,
            vec![
                objective("Latency", "pass", 300.0, 290.0),
                objective("Errors", "warning", 600.0, 500.0),
                objective("Throughput", "fail", 700.0, 500.0),
                objective("Memory", "info", 42.0, 40.0),
                objective("Mystery", "skipped", 1.0, 1.0),
            ],
        )])
        .heatmap;
        let cells: Vec<(&str, &str)> = heatmap
            .cells
            .iter()
            .map(|c| (c.class, c.title.as_str()))
            .collect();
        assert_eq!(
            cells,
            [
                ("pass", "Latency · build 00000000-build: pass 1, value 300, baseline 290; pass <=+10% → 319 met; warning <=800 → 800 met"),
                ("warning", "Errors · build 00000000-build: warning 0.5, value 600, baseline 500; pass <=+10% → 550 met; warning <=800 → 800 violated"),
                ("fail", "Throughput · build 00000000-build: fail 0, value 700, baseline 500; pass <=+10% → 550 violated; warning <=800 → 800 violated"),
                ("info", "Memory · build 00000000-build: info 0, value 42, baseline 40; pass <=+10% → 44 met; warning <=800 → 800 violated"),
                ("unknown", "Mystery · build 00000000-build: skipped 0, value 1, baseline 1; pass <=+10% → 1.1 met; warning <=800 → 800 violated"),
            ]
        );
        let column = &heatmap.columns[0];
        assert_eq!(
            (
                column.label.as_str(),
                column.score.as_str(),
                column.result_class
            ),
            ("00000000", "37.5", "fail")
        );
        assert!(
            column.title.starts_with(
                "build 00000000-build at 2026-11-21T10:00:00Z: fail with score 37.5 (score 37.5)"
            ),
            "{}",
            column.title
        );
    }

    #[test]
    fn rows_follow_the_newest_evaluation_and_keep_objectives_only_older_ones_had() {
        let heatmap = section(vec![
            slo_result(
                "pass",
                100.0,
                vec![objective("Old objective", "pass", 1.0, 1.0)],
            ),
            slo_result(
                "pass",
                100.0,
                vec![
                    objective("Latency", "pass", 1.0, 1.0),
                    objective("Errors", "pass", 1.0, 1.0),
                ],
            ),
        ])
        .heatmap;
        let rows: Vec<&str> = heatmap.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(rows, ["Latency", "Errors", "Old objective"]);
        // No cell where an evaluation had no such objective.
        assert_eq!(heatmap.cells.len(), 3);
    }

    #[test]
    fn the_heatmap_shows_the_latest_evaluations_and_counts_the_rest() {
        let evaluations = (0..HEATMAP_COLUMNS + 7)
            .map(|_| slo_result("pass", 100.0, vec![objective("Latency", "pass", 1.0, 1.0)]))
            .collect();
        let s = section(evaluations);
        assert_eq!(s.heatmap.left_out, 7);
        assert_eq!(s.heatmap.columns.len(), HEATMAP_COLUMNS);
        assert_eq!(s.heatmap.columns.last().unwrap().label, "00000056");
        assert_eq!(
            s.newest_first().next().unwrap().execution_id,
            "00000056-build"
        );
        assert_eq!(
            s.evaluations.len(),
            HEATMAP_COLUMNS + 7,
            "the JSON keeps all"
        );
    }

    #[test]
    fn a_missing_value_or_baseline_reads_as_such() {
        let mut no_value = objective("Latency", "fail", 0.0, 0.0);
        no_value["value"]["success"] = false.into();
        no_value["value"]["message"] = "no data points".into();
        no_value["passTargets"][0]["noBaseline"] = true.into();
        let s = section(vec![slo_result("fail", 0.0, vec![no_value])]);
        let objective = &s.evaluations[0].evaluation.indicator_results[0];
        assert_eq!(
            (
                objective.value_text(),
                objective.baseline_text(),
                objective.pass_text()
            ),
            (
                "no value: no data points".to_string(),
                "no baseline".to_string(),
                "<=+10% (no baseline) violated".to_string()
            )
        );
    }
}
