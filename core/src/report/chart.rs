//! One chart per comparison and metric, across builds, drawn as inline SVG on the server.
//! Each comparison gets its own charts (a staging build and a production check of another
//! build are different measurements), and the x-axis is the builds that ran it. A build
//! without a value leaves a gap in the line; it is never drawn as 0.

use std::collections::HashMap;
use std::fmt::Write;
use std::rc::Rc;

use crate::text::level_label;

use super::slo::{Evaluation, IndicatorResult};
use super::stored::MonspecResult;
use super::{short_id, write_number, Build, ValidationRow};

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 190.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 38.0;
/// Build labels beyond this many overlap; the others keep their hover column.
const MAX_TICK_LABELS: usize = 10;

/// One build's values on a chart. The build's id and time are shared by every chart of its
/// comparison, and an outcome by every point that has it: a report draws some 10,000 points.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub execution_id: Rc<str>,
    pub registered_at: Rc<str>,
    pub source: Option<f64>,
    pub compare: Option<f64>,
    pub limit: Option<f64>,
    /// `violation` draws a marker.
    pub outcome: Option<Rc<str>>,
}

/// A build as each of its points names it.
#[derive(Clone)]
struct Column {
    execution_id: Rc<str>,
    registered_at: Rc<str>,
}

impl Column {
    fn of(build: &Build) -> Self {
        Column {
            execution_id: build.execution_id.as_str().into(),
            registered_at: build.registered_at.as_str().into(),
        }
    }

    fn empty_point(&self) -> ChartPoint {
        ChartPoint {
            execution_id: self.execution_id.clone(),
            registered_at: self.registered_at.clone(),
            source: None,
            compare: None,
            limit: None,
            outcome: None,
        }
    }
}

/// The outcomes met so far, each text allocated once.
#[derive(Default)]
struct Outcomes(Vec<Rc<str>>);

impl Outcomes {
    fn get(&mut self, outcome: &str) -> Rc<str> {
        if let Some(known) = self.0.iter().find(|o| &***o == outcome) {
            return known.clone();
        }
        let new: Rc<str> = outcome.into();
        self.0.push(new.clone());
        new
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricChart {
    pub comparison: String,
    pub title: String,
    pub unit: String,
    /// Counts: the value axis steps by whole numbers.
    pub whole_numbers: bool,
    /// One per build that ran the comparison, oldest first.
    pub points: Vec<ChartPoint>,
}

/// The divisor of [`scale`], without making the unit's text.
fn scale_divisor(unit: &str) -> f64 {
    if unit == "microseconds" {
        1000.0
    } else {
        1.0
    }
}

/// The divisor and the unit shown: µs are shown as ms, like everywhere else.
pub fn scale(unit: &str) -> (f64, String) {
    match unit {
        "microseconds" => (1000.0, "ms".into()),
        "percent" => (1.0, "%".into()),
        "perminute" => (1.0, "/min".into()),
        other => (1.0, other.to_string()),
    }
}

/// Which chart a measurement belongs to: a monspec signature by its configuration and path,
/// an SLO objective by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MetricId<'a> {
    Signature {
        configuration: &'a str,
        path: &'a str,
    },
    Objective(&'a str),
}

/// One metric's value in one validation, borrowed from its stored result.
struct Measurement<'a> {
    id: MetricId<'a>,
    /// What the chart's title is made of; made into text only for a new chart.
    title: (&'a str, &'a str),
    unit: &'a str,
    source: Option<f64>,
    compare: Option<f64>,
    limit: Option<f64>,
    outcome: Option<&'a str>,
}

impl Measurement<'_> {
    fn title(&self) -> String {
        match self.id {
            MetricId::Signature { .. } => format!("{}: {}", self.title.0, self.title.1),
            MetricId::Objective(_) => {
                let (name, metric) = self.title;
                if metric.is_empty() || metric == name {
                    name.to_string()
                } else {
                    format!("{name} ({metric})")
                }
            }
        }
    }

    fn whole_numbers(&self) -> bool {
        matches!(self.unit, "count" | "entities")
    }
}

fn monspec_measurements(result: &MonspecResult) -> impl Iterator<Item = Measurement<'_>> {
    result.configurations.iter().flat_map(|config| {
        config.signatures.iter().map(move |sig| {
            let divisor = scale_divisor(&sig.unit);
            let scaled = |v: Option<f64>| v.map(|v| v / divisor);
            Measurement {
                id: MetricId::Signature {
                    configuration: &config.key,
                    path: &sig.path,
                },
                title: (&config.key, &sig.label),
                unit: &sig.unit,
                source: scaled(sig.source_value),
                compare: scaled(sig.compare_value),
                limit: scaled(sig.limit()),
                outcome: sig.outcome.as_deref(),
            }
        })
    })
}

/// The limit an objective's line shows: its first pass target that had what it needed
/// (several criteria make several targets; the table below the heatmap lists them all).
fn objective_limit(i: &IndicatorResult) -> Option<f64> {
    i.pass_targets
        .iter()
        .find(|t| !t.no_baseline)
        .and_then(|t| t.target_value)
}

fn slo_measurements(evaluation: &Evaluation) -> impl Iterator<Item = Measurement<'_>> {
    evaluation.indicator_results.iter().map(|i| Measurement {
        id: MetricId::Objective(i.name()),
        title: (i.name(), i.metric()),
        unit: "",
        source: i.measured(),
        compare: i.baseline(),
        limit: objective_limit(i),
        outcome: Some(if i.status == "fail" {
            "violation"
        } else {
            "pass"
        }),
    })
}

fn measurements(validation: &ValidationRow) -> Box<dyn Iterator<Item = Measurement<'_>> + '_> {
    match (&validation.evaluation, &validation.monspec) {
        (Some(evaluation), _) => Box::new(slo_measurements(evaluation)),
        (None, Some(result)) => Box::new(monspec_measurements(result)),
        (None, None) => Box::new(std::iter::empty()),
    }
}

pub fn charts(validations: &[ValidationRow], builds: &[Build]) -> Vec<MetricChart> {
    let mut comparisons: Vec<&str> = Vec::new();
    for v in validations {
        if !comparisons.contains(&v.comparison.as_str()) {
            comparisons.push(&v.comparison);
        }
    }
    let mut charts = Vec::new();
    let mut outcomes = Outcomes::default();
    for comparison in comparisons {
        // A build that ran the comparison twice (a retried stage) shows its latest result.
        let columns: Vec<(Column, Option<&ValidationRow>)> = builds
            .iter()
            .filter_map(|b| {
                let ran: Vec<&ValidationRow> = b
                    .validations
                    .iter()
                    .map(|&i| &validations[i])
                    .filter(|v| v.comparison == comparison)
                    .collect();
                if ran.is_empty() {
                    return None;
                }
                Some((
                    Column::of(b),
                    ran.iter()
                        .rev()
                        .find(|v| v.evaluation.is_some() || v.monspec.is_some())
                        .copied(),
                ))
            })
            .collect();
        let mut by_id: HashMap<MetricId, usize> = HashMap::new();
        for (column, (_, validation)) in columns.iter().enumerate() {
            let Some(validation) = validation else {
                continue;
            };
            for m in measurements(validation) {
                let index = *by_id.entry(m.id).or_insert_with(|| {
                    charts.push(MetricChart {
                        comparison: comparison.to_string(),
                        title: m.title(),
                        unit: scale(m.unit).1,
                        whole_numbers: m.whole_numbers(),
                        points: columns.iter().map(|(c, _)| c.empty_point()).collect(),
                    });
                    charts.len() - 1
                });
                let point = &mut charts[index].points[column];
                point.source = m.source;
                point.compare = m.compare;
                point.limit = m.limit;
                point.outcome = m.outcome.map(|o| outcomes.get(o));
            }
        }
    }
    charts
}

/// `x y ` of a path, to a tenth of a pixel. Rounded as `{:.1}` would round them but for a
/// tie a multiplication moved (a twentieth of a pixel, never seen); the exact decimal
/// expansion behind `{:.1}` was a tenth of the report's time.
fn write_point(path: &mut String, x: f64, y: f64) {
    for v in [x, y] {
        let tenths = (v * 10.0).round_ties_even();
        if tenths.is_finite() && tenths.abs() < 1e15 {
            let tenths = tenths as i64;
            let sign = if tenths < 0 { "-" } else { "" };
            let tenths = tenths.unsigned_abs();
            let _ = write!(path, "{sign}{}.{} ", tenths / 10, tenths % 10);
        } else {
            let _ = write!(path, "{v:.1} ");
        }
    }
}

/// The value axis: 0 and a few round levels up to the largest value, whole numbers for
/// counts (a 0/1 metric reads 0, 1, never 0, 0.5, 1 or 1, 0, 0).
pub fn value_levels(max: f64, whole_numbers: bool) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let rough = max / 3.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let step = if whole_numbers { step.max(1.0) } else { step };
    let steps = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=steps).map(|i| i as f64 * step).collect()
}

/// Pixel geometry of a chart, precomputed for the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub source_path: String,
    pub compare_path: String,
    pub limit_path: String,
    /// (x, y) of violation markers.
    pub violations: Vec<(f64, f64)>,
    pub ticks: Vec<Tick>,
    /// (y, label) of the value axis.
    pub levels: Vec<(f64, String)>,
    pub columns: Vec<HoverColumn>,
}

/// A labelled build on the x-axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub x: f64,
    pub label: String,
    pub title: String,
}

/// An invisible band over one build: its values on hover.
#[derive(Debug, Clone, PartialEq)]
pub struct HoverColumn {
    pub x: f64,
    pub width: f64,
    pub title: String,
}

pub const PLOT_TOP: f64 = TOP;
pub const PLOT_BOTTOM: f64 = HEIGHT - BOTTOM;
pub const PLOT_LEFT: f64 = LEFT;
pub const PLOT_RIGHT: f64 = WIDTH - RIGHT;

impl MetricChart {
    /// A value with the chart's unit, or `none`.
    fn write_value(&self, out: &mut String, v: Option<f64>) {
        match v {
            Some(v) => {
                write_number(out, v);
                if !self.unit.is_empty() {
                    out.push(' ');
                    out.push_str(&self.unit);
                }
            }
            None => out.push_str("none"),
        }
    }

    pub fn geometry(&self) -> Geometry {
        let max = self
            .points
            .iter()
            .flat_map(|p| [p.source, p.compare, p.limit])
            .flatten()
            .fold(0.0_f64, f64::max);
        let whole_numbers = self.whole_numbers
            || self
                .points
                .iter()
                .flat_map(|p| [p.source, p.compare, p.limit])
                .flatten()
                .all(|v| v.fract() == 0.0);
        let levels = value_levels(max, whole_numbers);
        let top = *levels.last().expect("at least 0 and one level");
        let step = levels[1] - levels[0];
        let n = self.points.len().max(1);
        let band = (PLOT_RIGHT - PLOT_LEFT) / n as f64;
        let x = |i: usize| {
            if n == 1 {
                PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) / 2.0
            } else {
                PLOT_LEFT + i as f64 * (PLOT_RIGHT - PLOT_LEFT) / (n - 1) as f64
            }
        };
        let y = |v: f64| PLOT_TOP + (PLOT_BOTTOM - PLOT_TOP) * (1.0 - v / top);
        let path = |pick: &dyn Fn(&ChartPoint) -> Option<f64>| {
            let mut d = String::with_capacity(self.points.len() * 12);
            let mut pen_down = false;
            for (i, p) in self.points.iter().enumerate() {
                match pick(p) {
                    Some(v) => {
                        d.push(if pen_down { 'L' } else { 'M' });
                        write_point(&mut d, x(i), y(v));
                        // A lone point still shows: a zero-length segment with round caps.
                        if !pen_down {
                            d.push('L');
                            write_point(&mut d, x(i), y(v));
                        }
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            d.truncate(d.trim_end().len());
            d
        };
        let label_every = n.div_ceil(MAX_TICK_LABELS);
        Geometry {
            source_path: path(&|p| p.source),
            compare_path: path(&|p| p.compare),
            limit_path: path(&|p| p.limit),
            violations: self
                .points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.outcome.as_deref() == Some("violation"))
                .filter_map(|(i, p)| p.source.map(|v| (x(i), y(v))))
                .collect(),
            // The newest build is always labelled; the others every so many.
            ticks: (0..self.points.len())
                .filter(|i| (self.points.len() - 1 - i).is_multiple_of(label_every))
                .map(|i| Tick {
                    x: x(i),
                    label: short_id(&self.points[i].execution_id).to_string(),
                    title: format!(
                        "build {} at {}",
                        self.points[i].execution_id, self.points[i].registered_at
                    ),
                })
                .collect(),
            levels: levels
                .iter()
                .map(|v| (y(*v), level_label(*v, step)))
                .collect(),
            columns: self
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| HoverColumn {
                    x: (x(i) - band / 2.0).max(0.0),
                    width: band,
                    title: self.hover_title(p),
                })
                .collect(),
        }
    }

    /// `build … at …: value …, baseline …, limit … (outcome)`, written into one string: a
    /// report has a hover column per build and chart.
    fn hover_title(&self, p: &ChartPoint) -> String {
        let mut title = String::with_capacity(128);
        let _ = write!(
            title,
            "build {} at {}: value ",
            p.execution_id, p.registered_at
        );
        self.write_value(&mut title, p.source);
        title.push_str(", baseline ");
        self.write_value(&mut title, p.compare);
        title.push_str(", limit ");
        self.write_value(&mut title, p.limit);
        if let Some(outcome) = &p.outcome {
            let _ = write!(title, " ({outcome})");
        }
        title
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[Option<f64>]) -> MetricChart {
        MetricChart {
            comparison: "StagingToProduction".into(),
            title: "t".into(),
            unit: "ms".into(),
            whole_numbers: false,
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| ChartPoint {
                    execution_id: format!("{i:08}-1234-5678").into(),
                    registered_at: "2026-11-21T10:00:00Z".into(),
                    source: *v,
                    compare: None,
                    limit: None,
                    outcome: Some("violation".into()),
                })
                .collect(),
        }
    }

    #[test]
    fn missing_values_break_the_line_instead_of_dropping_to_zero() {
        let g = chart(&[Some(10.0), None, Some(10.0)]).geometry();
        // Two separate moves, no segment through the gap.
        assert_eq!(g.source_path.matches('M').count(), 2, "{}", g.source_path);
        let baseline = format!("{:.1}", PLOT_BOTTOM);
        assert!(!g.source_path.contains(&baseline), "{}", g.source_path);
        assert_eq!(g.violations.len(), 2);
        assert!(
            g.columns[1].title.contains("value none"),
            "{:?}",
            g.columns[1]
        );
    }

    #[test]
    fn path_points_are_written_to_a_tenth_of_a_pixel() {
        let mut path = String::new();
        for (x, y) in [(56.0, 152.0), (0.04, 12.25), (627.96, 99.99), (-0.26, 3.0)] {
            write_point(&mut path, x, y);
        }
        assert_eq!(path, "56.0 152.0 0.0 12.2 628.0 100.0 -0.3 3.0 ");
    }

    #[test]
    fn connected_values_form_one_line_labelled_by_build() {
        let g = chart(&[Some(1.0), Some(2.0), Some(3.0)]).geometry();
        assert_eq!(g.source_path.matches('M').count(), 1, "{}", g.source_path);
        let labels: Vec<&str> = g.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["00000000", "00000001", "00000002"]);
        assert!(g.ticks[2].title.contains("build 00000002-1234-5678 at"));
    }

    #[test]
    fn many_builds_label_some_ticks_and_always_the_newest() {
        let g = chart(&vec![Some(1.0); 95]).geometry();
        assert!(g.ticks.len() <= MAX_TICK_LABELS, "{}", g.ticks.len());
        assert!(g.ticks.last().unwrap().title.contains("00000094-1234"));
        assert_eq!(g.columns.len(), 95, "every build keeps its hover column");
    }

    #[test]
    fn value_axes_are_round_and_read_once_each() {
        let cases: [(f64, bool, &[&str]); 9] = [
            (1.0, true, &["0", "1"]),
            (0.0, true, &["0", "1"]),
            (2.0, true, &["0", "1", "2"]),
            (1.0, false, &["0", "0.5", "1"]),
            (9.96, false, &["0", "5", "10"]),
            (753.4, false, &["0", "500", "1000"]),
            (1005.0, false, &["0", "500", "1000", "1500"]),
            (0.3, false, &["0", "0.1", "0.2", "0.3"]),
            (0.04, false, &["0", "0.02", "0.04"]),
        ];
        for (max, whole, expected) in cases {
            let levels = value_levels(max, whole);
            let step = levels[1] - levels[0];
            let labels: Vec<String> = levels.iter().map(|v| level_label(*v, step)).collect();
            assert_eq!(labels, expected, "max {max}, whole numbers {whole}");
        }
    }

    #[test]
    fn a_count_chart_of_zeros_and_ones_has_the_levels_0_and_1() {
        let mut c = chart(&[Some(0.0), Some(1.0), Some(0.0)]);
        c.whole_numbers = true;
        c.points[1].limit = Some(0.5);
        let labels: Vec<String> = c.geometry().levels.into_iter().map(|l| l.1).collect();
        assert_eq!(labels, ["0", "1"]);
        // All zeros still get an axis to stand on.
        let labels: Vec<String> = chart(&[Some(0.0), Some(0.0)])
            .geometry()
            .levels
            .into_iter()
            .map(|l| l.1)
            .collect();
        assert_eq!(labels, ["0", "1"]);
    }
}
