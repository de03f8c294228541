//! Canary judgements in the report: per validation and metric, both distributions on one axis
//! (control and experiment as box plots with their points), the judge's interval and band
//! placed at the control's median, the verdict, and the statement of power beside it (what
//! the data could have detected at all: the answer to "why did it pass?").
//!
//! The stored record (`crate::validation::canary::CanaryRecord`) is read through a lenient
//! mirror, as the SLO evaluations are: a report must still draw a record an older or newer
//! worker wrote. Everything is laid out here; the template only places it, escaping every
//! text (metric names come from the pipeline's canary file).

use serde::Deserialize;

use super::{format_number, short_id, ValidationRow};
use crate::compare::format::num;
use crate::compare::PowerStatement;
use crate::text::level_label;

/// Canary validations drawn on the page, newest first; the table and the JSON have all.
pub const DRAWN: usize = 10;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    pub count: usize,
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MannWhitney {
    pub z: Option<f64>,
    pub p_value: Option<f64>,
    pub estimate: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub ci_achievable: bool,
    pub confidence_level: Option<f64>,
    pub z_critical: Option<f64>,
    pub band: Option<f64>,
    pub z_high: Option<f64>,
    pub z_low: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Power {
    pub alpha: f64,
    pub power: f64,
    pub n_control: usize,
    pub n_experiment: usize,
    pub p_star: Option<f64>,
    pub shift_sd: Option<f64>,
    pub mde_shift: Option<f64>,
    pub mde_percent: Option<f64>,
    pub detectable: bool,
}

impl Power {
    /// The judge's own sentence ("a change smaller than 11.67 % could not have been
    /// detected", "not detectable with n = 6 per side"), so the page and the CLI agree.
    pub fn sentence(&self) -> String {
        PowerStatement {
            alpha: self.alpha,
            power: self.power,
            n_control: self.n_control,
            n_experiment: self.n_experiment,
            p_star: self.p_star,
            shift_sd: self.shift_sd,
            mde_shift: self.mde_shift,
            mde_percent: self.mde_percent,
            detectable: self.detectable,
        }
        .sentence()
    }
}

/// One metric's judgement (the fields the page shows).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metric {
    pub name: String,
    pub muted: bool,
    pub classification: String,
    pub critical: bool,
    pub reason: String,
    pub deviation: Option<f64>,
    pub effect_size: Option<f64>,
    pub effect_size_measure: String,
    pub control: Stats,
    pub experiment: Stats,
    pub mann_whitney: Option<MannWhitney>,
    pub power: Option<Power>,
}

impl Metric {
    /// Whether this metric counts against the build.
    pub fn failed(&self) -> bool {
        (!self.muted && matches!(self.classification.as_str(), "high" | "low" | "nodata_fail"))
            || self.critical
    }

    /// `HIGH`, `pass`, `NODATA`…, with `critical` when it fails the run.
    pub fn verdict(&self) -> String {
        let word = match self.classification.as_str() {
            "pass" => "pass".to_string(),
            other => other.to_uppercase(),
        };
        match (self.critical, self.muted) {
            (true, _) => format!("{word} (critical)"),
            (false, true) => format!("{word} (muted)"),
            _ => word,
        }
    }

    pub fn verdict_class(&self) -> &'static str {
        match self.classification.as_str() {
            "pass" if !self.critical => "pass-text",
            "high" | "low" | "nodata_fail" => "fail-text",
            _ if self.critical => "fail-text",
            _ => "unknown-text",
        }
    }

    /// `mean ratio 1.97`, `CLES 0.91`, or nothing without a test.
    pub fn effect_text(&self) -> String {
        match (self.effect_size_measure.as_str(), self.effect_size) {
            ("cles", Some(e)) => format!("CLES {}", num(e)),
            (_, Some(e)) => format!("mean ratio {}", num(e)),
            // Written null: NaN, a mean of 0.
            (_, None) if self.mann_whitney.is_some() => "no mean ratio (a mean is 0)".into(),
            _ => String::new(),
        }
    }

    /// The test's figures in one line: p, z against the critical z, the interval and band.
    pub fn test_text(&self) -> String {
        let Some(mw) = &self.mann_whitney else {
            return String::new();
        };
        let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
        let level = mw
            .confidence_level
            .map(|c| format!("{} %", num(c * 100.0)))
            .unwrap_or_default();
        let mut text = format!(
            "p = {}, z = {} (critical ±{}); experiment − control {} [{}, {}] at {level}, band ±{}",
            opt(mw.p_value),
            opt(mw.z),
            opt(mw.z_critical),
            opt(mw.estimate),
            opt(mw.ci_lower),
            opt(mw.ci_upper),
            opt(mw.band)
        );
        if !mw.ci_achievable {
            text.push_str(
                " (too few points to reach the level: the interval spans every difference)",
            );
        }
        text
    }

    pub fn power_text(&self) -> String {
        match &self.power {
            Some(p) => p.sentence(),
            None => "no statement of power: a side has no data".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spread {
    pub count: usize,
    pub min: Option<f64>,
    pub q1: Option<f64>,
    pub median: Option<f64>,
    pub q3: Option<f64>,
    pub max: Option<f64>,
    pub points: Vec<Option<f64>>,
    pub sampled: bool,
}

impl Spread {
    fn finite_points(&self) -> impl Iterator<Item = f64> + '_ {
        self.points
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
    }

    /// min, q1, median, q3, max when all are there.
    fn five(&self) -> Option<[f64; 5]> {
        let five = [self.min?, self.q1?, self.median?, self.q3?, self.max?];
        five.iter().all(|v| v.is_finite()).then_some(five)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Distribution {
    pub name: String,
    pub control: Spread,
    pub experiment: Spread,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Window {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// A canary judgement as the worker stored it (`"gate": "canary"`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CanaryResult {
    /// `canary`: read to tell the shape in one pass.
    pub gate: Option<String>,
    pub result: String,
    /// The gate's outcome: the result, or `noControl`.
    pub outcome: String,
    pub score: Option<f64>,
    pub reason: Option<String>,
    pub metrics: Vec<Metric>,
    pub distributions: Vec<Distribution>,
    pub control_scope: String,
    pub experiment_scope: String,
    pub provider: String,
    pub window: Option<Window>,
    pub step_ms: Option<u64>,
    pub notes: Vec<String>,
}

impl CanaryResult {
    pub fn outcome_text(&self) -> String {
        match self.outcome.as_str() {
            "noControl" => "no control data (judged as marginal)".into(),
            "" => self.result.clone(),
            other => other.to_string(),
        }
    }

    pub fn outcome_class(&self) -> &'static str {
        match self.outcome.as_str() {
            "" => super::slo::status_class(&self.result),
            "marginal" | "noControl" => "warning",
            other => super::slo::status_class(other),
        }
    }

    pub fn window_text(&self) -> String {
        match &self.window {
            Some(Window {
                start_ms: Some(start),
                end_ms: Some(end),
            }) => format!("{} – {}", super::rfc3339(*start), super::rfc3339(*end)),
            _ => String::new(),
        }
    }
}

// The figure's geometry (px).
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 136.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const CONTROL_Y: f64 = 22.0;
const EXPERIMENT_Y: f64 = 54.0;
const SHIFT_Y: f64 = 86.0;
pub const AXIS_Y: f64 = 106.0;
const BOX_HALF: f64 = 8.0;

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A box plot's x positions: whiskers at min and max, the box from q1 to q3.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxPlot {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    pub top: f64,
    pub bottom: f64,
    pub height: f64,
}

impl BoxPlot {
    pub fn width(&self) -> f64 {
        round1((self.q3 - self.q1).max(1.0))
    }
}

/// One side: its label, box, points and what hovering it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: &'static str,
    pub y: f64,
    pub colour: &'static str,
    pub box_plot: Option<BoxPlot>,
    /// (x, y) of each point, spread vertically by a fixed pattern so equal values show.
    pub dots: Vec<(f64, f64)>,
    pub title: String,
}

/// The change the test estimated, placed where the experiment's median would be: the
/// interval as a bar from the control's median, the band it must clear around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub y: f64,
    pub band_x: f64,
    pub band_width: f64,
    pub lower_x: f64,
    pub upper_x: f64,
    pub estimate_x: f64,
    pub colour: &'static str,
    pub title: String,
}

/// One metric's SVG, laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub rows: Vec<Row>,
    pub shift: Option<Shift>,
    /// The control's median through every row: "no change".
    pub reference_x: Option<f64>,
    /// (x, label) on the value axis.
    pub ticks: Vec<(f64, String)>,
    pub left: f64,
    pub right: f64,
    /// No point on either side: the figure says so instead of an empty axis.
    pub empty: bool,
    pub metric: Metric,
}

/// 4–6 round values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let rough = span / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    // The largest of 1, 2, 5 × 10^k that fits four times into the span: 4 to 10 ticks, so
    // a plot always has a scale (a step above a quarter of the span could leave one tick).
    let step = [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s <= rough * (1.0 + 1e-9))
        .unwrap_or(magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|i| i as f64 * step).collect(), step)
}

fn verdict_colour(classification: &str) -> &'static str {
    match classification {
        "pass" => "#17693a",
        "high" | "low" | "nodata_fail" => "#a11b1b",
        _ => "#6b7280",
    }
}

impl Figure {
    pub fn new(metric: &Metric, distribution: Option<&Distribution>) -> Figure {
        let empty_spread = Spread::default();
        let (control, experiment) = match distribution {
            Some(d) => (&d.control, &d.experiment),
            None => (&empty_spread, &empty_spread),
        };
        let mw = metric.mann_whitney.as_ref();
        let anchor = control.median;
        // The shift row in values: (band lower, band upper, ci lower, ci upper, estimate).
        let shift_values = match (mw, anchor) {
            (Some(mw), Some(at)) => match (mw.band, mw.ci_lower, mw.ci_upper, mw.estimate) {
                (Some(band), Some(lower), Some(upper), Some(estimate))
                    if [band, lower, upper, estimate].iter().all(|v| v.is_finite()) =>
                {
                    Some((at - band, at + band, at + lower, at + upper, at + estimate))
                }
                _ => None,
            },
            _ => None,
        };
        let mut values: Vec<f64> = control
            .finite_points()
            .chain(experiment.finite_points())
            .chain(control.five().into_iter().flatten())
            .chain(experiment.five().into_iter().flatten())
            .collect();
        if let Some((a, b, c, d, e)) = shift_values {
            values.extend([a, b, c, d, e]);
        }
        let empty = values.is_empty();
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        if empty {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo, hi) = (lo - pad, hi + pad);
        }
        let pad = (hi - lo) * 0.04;
        let (lo, hi) = (lo - pad, hi + pad);
        let right = WIDTH - RIGHT;
        let x = |v: f64| round1(LEFT + (right - LEFT) * (v - lo) / (hi - lo));
        let (tick_values, step) = ticks(lo, hi);

        let row = |label: &'static str, y: f64, colour: &'static str, spread: &Spread| {
            let box_plot = spread.five().map(|[min, q1, median, q3, max]| BoxPlot {
                min: x(min),
                q1: x(q1),
                median: x(median),
                q3: x(q3),
                max: x(max),
                top: y - BOX_HALF,
                bottom: y + BOX_HALF,
                height: 2.0 * BOX_HALF,
            });
            let dots = spread
                .finite_points()
                .enumerate()
                // A fixed scatter of ±5 px: equal values stay visible, the page stays the
                // same on every load.
                .map(|(i, v)| (x(v), y + ((i * 7) % 11) as f64 - 5.0))
                .collect();
            let title = match spread.five() {
                Some([min, q1, median, q3, max]) => format!(
                    "{label}: {} points{}, min {}, quartiles {} / {} / {}, max {}",
                    spread.count,
                    if spread.sampled {
                        " (100 quantiles drawn)"
                    } else {
                        ""
                    },
                    num(min),
                    num(q1),
                    num(median),
                    num(q3),
                    num(max)
                ),
                None => format!("{label}: no data"),
            };
            Row {
                label,
                y,
                colour,
                box_plot,
                dots,
                title,
            }
        };
        let rows = vec![
            row("control", CONTROL_Y, "#6b7280", control),
            row(
                "experiment",
                EXPERIMENT_Y,
                verdict_colour(&metric.classification),
                experiment,
            ),
        ];
        let shift = shift_values.map(|(band_lo, band_hi, lower, upper, estimate)| Shift {
            y: SHIFT_Y,
            band_x: x(band_lo),
            band_width: round1((x(band_hi) - x(band_lo)).max(1.0)),
            lower_x: x(lower),
            upper_x: x(upper),
            estimate_x: x(estimate),
            colour: verdict_colour(&metric.classification),
            title: format!(
                "experiment − control: {} [{}, {}], band ±{}, placed at the control's median {}",
                num(estimate - anchor.unwrap_or_default()),
                num(lower - anchor.unwrap_or_default()),
                num(upper - anchor.unwrap_or_default()),
                num((band_hi - band_lo) / 2.0),
                num(anchor.unwrap_or_default())
            ),
        });
        Figure {
            name: metric.name.clone(),
            rows,
            shift,
            reference_x: anchor.filter(|v| v.is_finite()).map(x),
            ticks: tick_values
                .into_iter()
                .map(|v| (x(v), level_label(v, step)))
                .collect(),
            left: LEFT,
            right,
            empty,
            metric: metric.clone(),
        }
    }
}

/// A canary validation with its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub execution_id: String,
    pub registered_at: String,
    pub stage: String,
    pub result: CanaryResult,
    pub figures: Vec<Figure>,
}

impl Entry {
    pub fn short_id(&self) -> &str {
        short_id(&self.execution_id)
    }

    pub fn score_text(&self) -> String {
        self.result
            .score
            .map(format_number)
            .unwrap_or_else(|| "–".into())
    }
}

/// The page's canary section: the newest [`DRAWN`] canary validations.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySection {
    pub entries: Vec<Entry>,
    pub left_out: usize,
}

impl CanarySection {
    pub fn new(validations: &[ValidationRow]) -> Option<CanarySection> {
        let all: Vec<&ValidationRow> = validations
            .iter()
            .rev()
            .filter(|v| v.canary.is_some())
            .collect();
        if all.is_empty() {
            return None;
        }
        let entries = all
            .iter()
            .take(DRAWN)
            .filter_map(|v| {
                let result = v.canary.clone()?;
                let figures = result
                    .metrics
                    .iter()
                    .map(|m| Figure::new(m, result.distributions.iter().find(|d| d.name == m.name)))
                    .collect();
                Some(Entry {
                    execution_id: v.execution_id.clone(),
                    registered_at: v.registered_at.clone(),
                    stage: v.stage.clone(),
                    result,
                    figures,
                })
            })
            .collect();
        Some(CanarySection {
            entries,
            left_out: all.len().saturating_sub(DRAWN),
        })
    }
}

/// The metrics that count against the build, for the table of builds.
pub fn failing(result: &CanaryResult) -> Vec<super::FailingCheck> {
    result
        .metrics
        .iter()
        .filter(|m| m.failed())
        .map(|m| {
            let mut detail = [m.test_text(), m.effect_text()]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            if !m.reason.is_empty() {
                if !detail.is_empty() {
                    detail.push_str(" — ");
                }
                detail.push_str(&m.reason);
            }
            super::FailingCheck {
                check: m.name.clone(),
                status: m.classification.clone(),
                // The experiment's mean against the control's: the judge compares whole
                // distributions, the page's line shows their centres.
                value: m.experiment.mean.filter(|_| m.experiment.count > 0),
                target: None,
                baseline: m.control.mean.filter(|_| m.control.count > 0),
                unit: String::new(),
                detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{judge, CompareConfig, Direction, MetricConfig, Samples};
    use crate::model::store::RequestStatus;
    use crate::report::test_data::request;
    use crate::report::{render_report, ReportModel};
    use crate::validation::canary::{
        distributions, outcome, CanaryRecord, RecordWindow, CANARY_GATE, RECORD_SCHEMA_VERSION,
    };

    fn around(n: usize, base: f64) -> Vec<f64> {
        (0..n).map(|i| base + ((i * 37) % 23) as f64).collect()
    }

    /// A record exactly as the worker writes it, from a judgement of these series.
    fn record(latency: (Vec<f64>, Vec<f64>), errors: (Vec<f64>, Vec<f64>)) -> serde_json::Value {
        let mut metrics = vec![
            MetricConfig::named("latency"),
            MetricConfig::named("error_rate"),
        ];
        for m in &mut metrics {
            m.direction = Direction::Increase;
        }
        let config = CompareConfig::with_metrics(metrics);
        let control = Samples::from_values([("latency", latency.0), ("error_rate", errors.0)]);
        let experiment = Samples::from_values([("latency", latency.1), ("error_rate", errors.1)]);
        let judgement = judge(&config, &control, &experiment);
        let record = CanaryRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            gate: CANARY_GATE,
            outcome: outcome(&judgement),
            distributions: distributions(&config, &control, &experiment),
            judgement,
            window: RecordWindow {
                start_ms: crate::report::test_data::T0,
                end_ms: crate::report::test_data::T0 + 300_000,
            },
            control_scope: "sample-Production".into(),
            experiment_scope: "sample-Staging".into(),
            provider: "prometheus".into(),
            canary_hash: "abc".into(),
            step_ms: 10_000,
            requests: 4,
            notes: vec![],
        };
        serde_json::to_value(&record).unwrap()
    }

    fn regression() -> serde_json::Value {
        record(
            (around(30, 300.0), around(30, 600.0)),
            (vec![0.0; 30], vec![0.1; 30]),
        )
    }

    fn model_of(results: Vec<serde_json::Value>) -> ReportModel {
        let requests: Vec<_> = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                request(
                    &format!("{i}{i}{i}{i}{i}{i}{i}{i}-cccc"),
                    i as i64 * 10,
                    "Canary",
                    RequestStatus::Violation,
                    Some(r),
                )
            })
            .collect();
        ReportModel::build("Sample", None, 10_080, &requests)
    }

    /// The page's canary section only.
    fn section(html: &str) -> &str {
        let start = html
            .find("<h2>Canary judgements</h2>")
            .expect("a canary section");
        let end = html[start..].find("<h2>Metrics per build</h2>").unwrap() + start;
        &html[start..end]
    }

    #[test]
    fn a_judgement_the_worker_stores_is_drawn_with_both_sides_the_interval_and_the_band() {
        let model = model_of(vec![regression()]);
        let section = model.canary.as_ref().expect("a canary section");
        assert_eq!((section.entries.len(), section.left_out), (1, 0));
        let entry = &section.entries[0];
        assert_eq!(entry.result.outcome, "fail");
        assert_eq!(entry.score_text(), "0");
        let latency = &entry.figures[0];
        assert_eq!(latency.name, "latency");
        let (control, experiment) = (
            latency.rows[0].box_plot.as_ref().unwrap(),
            latency.rows[1].box_plot.as_ref().unwrap(),
        );
        assert!(
            experiment.q1 > control.q3,
            "the slower build is to the right"
        );
        assert_eq!(latency.rows[0].dots.len(), 30);
        assert_eq!(latency.rows[1].colour, "#a11b1b", "HIGH: drawn red");
        let shift = latency.shift.as_ref().expect("the test's interval");
        assert!(shift.lower_x <= shift.estimate_x && shift.estimate_x <= shift.upper_x);
        // Anchored at the control's median, the estimate lands near the experiment's median.
        assert_eq!(latency.reference_x, Some(control.median));
        assert!(
            (shift.estimate_x - experiment.median).abs() < 15.0,
            "{shift:?}"
        );
        // The band is around "no change"; a HIGH's interval clears it.
        assert!(shift.band_x < control.median && control.median < shift.band_x + shift.band_width);
        assert!(shift.lower_x > shift.band_x + shift.band_width, "{shift:?}");
        // Everything stays inside the plot.
        let inside = |x: f64| (latency.left - 0.1..=latency.right + 0.1).contains(&x);
        assert!(latency
            .rows
            .iter()
            .flat_map(|r| &r.dots)
            .all(|d| inside(d.0)));
        assert!(latency.ticks.iter().all(|t| inside(t.0)) && latency.ticks.len() >= 3);
        // The error rate's control mean is 0: no ratio, and said so.
        assert_eq!(
            entry.figures[1].metric.effect_text(),
            "no mean ratio (a mean is 0)"
        );
    }

    #[test]
    fn the_page_prints_the_verdict_the_test_and_the_power_beside_each_figure() {
        let html = render_report(&model_of(vec![regression()]));
        let canary = section(&html);
        assert!(
            canary.contains("aria-label=\"latency: control and experiment\""),
            "{canary}"
        );
        assert!(
            canary.contains("<span class=\"fail-text\">HIGH</span>, mean ratio 1.9"),
            "{canary}"
        );
        assert!(
            canary.contains("could not have been detected</strong>"),
            "{canary}"
        );
        assert!(canary.contains("p = "), "{canary}");
        assert!(canary.contains(" band ±"), "{canary}");
        assert!(canary.contains("Control sample-Production against experiment sample-Staging"));
        // Inline only: the page's CSP allows no script and no external resource.
        for forbidden in ["<script", "href", "xlink", "<image", "url("] {
            assert!(!canary.contains(forbidden), "{forbidden}: {canary}");
        }
        // The table of builds names the failed metrics with the test's figures.
        let table = &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()];
        assert!(table.contains("Canary <span class=\"muted\">"), "{table}");
        assert!(
            table.contains("<strong>latency</strong> high: value "),
            "{table}"
        );
    }

    #[test]
    fn a_pass_that_could_not_have_failed_and_a_side_without_data_say_so() {
        let html = render_report(&model_of(vec![record(
            (around(5, 300.0), around(5, 301.0)),
            (vec![0.0; 30], vec![]),
        )]));
        let canary = section(&html);
        assert!(
            canary.contains("<strong>not detectable with n = 5 per side</strong>"),
            "{canary}"
        );
        assert!(
            canary.contains("<strong>no statement of power: a side has no data</strong>"),
            "{canary}"
        );
        assert!(canary.contains(">no data</text>"), "{canary}");
    }

    #[test]
    fn hostile_metric_names_and_scopes_are_escaped() {
        let hostile = "<script>alert(1)</script>";
        let mut result = regression();
        result["metrics"][0]["name"] = hostile.into();
        result["distributions"][0]["name"] = hostile.into();
        result["metrics"][0]["reason"] = hostile.into();
        result["controlScope"] = hostile.into();
        result["notes"] = serde_json::json!([hostile]);
        let html = render_report(&model_of(vec![result]));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;: control and experiment"));
    }

    #[test]
    fn only_the_newest_judgements_are_drawn_and_the_json_keeps_them_as_stored() {
        let model = model_of((0..DRAWN + 2).map(|_| regression()).collect());
        let section = model.canary.as_ref().unwrap();
        assert_eq!((section.entries.len(), section.left_out), (DRAWN, 2));
        assert_eq!(
            section.entries[0].execution_id,
            model.validations.last().unwrap().execution_id
        );
        let json = model.to_json();
        assert_eq!(json["validations"][0]["result"]["gate"], "canary");
        assert_eq!(json["validations"][0]["score"], 0.0);
        assert!(json["validations"][0]["result"]["metrics"][0]["mannWhitney"]["zHigh"].is_number());
    }

    #[test]
    fn an_older_or_partial_record_still_reads_without_figures_it_cannot_draw() {
        let mut result = regression();
        result.as_object_mut().unwrap().remove("distributions");
        result["metrics"][0]["mannWhitney"] = serde_json::Value::Null;
        let model = model_of(vec![result]);
        let figure = &model.canary.as_ref().unwrap().entries[0].figures[0];
        assert!(figure.empty && figure.shift.is_none());
        assert!(render_report(&model).contains("<h2>Canary judgements</h2>"));
    }
}
