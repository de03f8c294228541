//! One chart per metric across builds, drawn as inline SVG on the server. A build without a
//! value leaves a gap in the line; it is never drawn as 0.

use serde_json::Value;

use super::BuildRow;

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub source: Option<f64>,
    pub compare: Option<f64>,
    pub limit: Option<f64>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricChart {
    pub title: String,
    pub unit: String,
    /// One per build, in table order.
    pub points: Vec<ChartPoint>,
}

/// Every signature result in a result JSON.
pub fn signatures(result: &Value) -> impl Iterator<Item = &Value> {
    result["configurations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["signatures"].as_array().into_iter().flatten())
}

/// µs are shown as ms, like everywhere else.
fn scale(unit: &str) -> (f64, String) {
    match unit {
        "microseconds" => (1000.0, "ms".into()),
        "percent" => (1.0, "%".into()),
        "perminute" => (1.0, "/min".into()),
        other => (1.0, other.to_string()),
    }
}

pub fn charts(builds: &[BuildRow]) -> Vec<MetricChart> {
    let mut charts: Vec<(String, MetricChart)> = Vec::new();
    for (index, build) in builds.iter().enumerate() {
        let Some(result) = &build.result else {
            continue;
        };
        for config in result["configurations"].as_array().into_iter().flatten() {
            let key = config["key"].as_str().unwrap_or_default();
            for sig in config["signatures"].as_array().into_iter().flatten() {
                let id = format!("{key}/{}", sig["path"].as_str().unwrap_or_default());
                let (divisor, unit) = scale(sig["unit"].as_str().unwrap_or_default());
                let value = |field: &str| sig[field].as_f64().map(|v| v / divisor);
                let limit = if sig["validate"] == "lower" {
                    value("lowerLimit")
                } else {
                    value("upperLimit")
                };
                let chart = match charts.iter_mut().find(|(k, _)| *k == id) {
                    Some((_, c)) => c,
                    None => {
                        charts.push((
                            id.clone(),
                            MetricChart {
                                title: format!(
                                    "{key}: {}",
                                    sig["label"].as_str().unwrap_or_default()
                                ),
                                unit,
                                points: vec![
                                    ChartPoint {
                                        source: None,
                                        compare: None,
                                        limit: None,
                                        outcome: None
                                    };
                                    builds.len()
                                ],
                            },
                        ));
                        &mut charts.last_mut().expect("pushed").1
                    }
                };
                chart.points[index] = ChartPoint {
                    source: value("sourceValue"),
                    compare: value("compareValue"),
                    limit,
                    outcome: sig["outcome"].as_str().map(str::to_string),
                };
            }
        }
    }
    charts.into_iter().map(|(_, c)| c).collect()
}

/// Pixel geometry of a chart, precomputed for the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub source_path: String,
    pub compare_path: String,
    pub limit_path: String,
    /// (x, y) of violation markers.
    pub violations: Vec<(f64, f64)>,
    /// (x, label) of the build ticks.
    pub ticks: Vec<(f64, String)>,
    /// (y, label) of the value axis.
    pub levels: Vec<(f64, String)>,
}

impl MetricChart {
    pub fn geometry(&self) -> Geometry {
        let values = self
            .points
            .iter()
            .flat_map(|p| [p.source, p.compare, p.limit])
            .flatten();
        let max = values.fold(0.0_f64, f64::max);
        let max = if max <= 0.0 { 1.1 } else { max * 1.1 };
        let n = self.points.len().max(1);
        let x = |i: usize| {
            if n == 1 {
                LEFT + (WIDTH - LEFT - RIGHT) / 2.0
            } else {
                LEFT + i as f64 * (WIDTH - LEFT - RIGHT) / (n - 1) as f64
            }
        };
        let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / max);
        let path = |pick: &dyn Fn(&ChartPoint) -> Option<f64>| {
            let mut d = String::new();
            let mut pen_down = false;
            for (i, p) in self.points.iter().enumerate() {
                match pick(p) {
                    Some(v) => {
                        d.push_str(&format!(
                            "{}{:.1} {:.1} ",
                            if pen_down { "L" } else { "M" },
                            x(i),
                            y(v)
                        ));
                        // A lone point still shows: a zero-length segment with round caps.
                        if !pen_down {
                            d.push_str(&format!("L{:.1} {:.1} ", x(i), y(v)));
                        }
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            d.trim_end().to_string()
        };
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
            ticks: (0..self.points.len())
                .map(|i| (x(i), format!("#{}", i + 1)))
                .collect(),
            levels: [0.0, 0.5, 1.0]
                .iter()
                .map(|f| (y(max / 1.1 * f), level_label(max / 1.1 * f)))
                .collect(),
        }
    }
}

/// A value-axis label: whole numbers from 10 up, one decimal below (so a 0–1 axis reads
/// 0, 0.5, 1 rather than 0, 0, 1).
fn level_label(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[Option<f64>]) -> MetricChart {
        MetricChart {
            title: "t".into(),
            unit: "ms".into(),
            points: values
                .iter()
                .map(|v| ChartPoint {
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
        let baseline = format!("{:.1}", HEIGHT - BOTTOM);
        assert!(!g.source_path.contains(&baseline), "{}", g.source_path);
        assert_eq!(g.violations.len(), 2);
    }

    #[test]
    fn connected_values_form_one_line() {
        let g = chart(&[Some(1.0), Some(2.0), Some(3.0)]).geometry();
        assert_eq!(g.source_path.matches('M').count(), 1, "{}", g.source_path);
        assert_eq!(g.ticks.len(), 3);
    }

    #[test]
    fn small_axes_get_distinct_labels() {
        assert_eq!(
            [0.0, 0.5, 1.0, 9.96, 753.4].map(level_label),
            ["0", "0.5", "1", "10", "753"].map(str::to_string)
        );
    }
}
