//! The control and experiment files: a JSON object mapping each metric name to its points,
//! `null` for a missing point (`{"latency_p50": [212.0, null, 230.5]}`). A metric of the config
//! that a file lacks is an empty series; names the config does not have are not read.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config::{located, shown, CompareConfig};

/// Each metric's raw series, `None` for a missing point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    series: BTreeMap<String, Vec<Option<f64>>>,
}

impl Samples {
    pub fn new() -> Self {
        Samples::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, series: Vec<Option<f64>>) {
        self.series.insert(name.into(), series);
    }

    /// Series without missing points, e.g. for tests and benchmarks.
    pub fn from_values<S: Into<String>>(pairs: impl IntoIterator<Item = (S, Vec<f64>)>) -> Self {
        let mut samples = Samples::new();
        for (name, values) in pairs {
            samples.insert(name, values.into_iter().map(Some).collect());
        }
        samples
    }

    /// The metric's series; empty when the file did not have it.
    pub fn series(&self, name: &str) -> &[Option<f64>] {
        self.series.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A samples file that cannot be used: where (`latency_p50[2]`, empty for the document) and
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", located(.path, .problem))]
pub struct SamplesError {
    pub path: String,
    pub problem: String,
}

fn error(path: impl Into<String>, problem: impl Into<String>) -> SamplesError {
    SamplesError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Read a control or experiment file's text: the series of every metric of `config`.
pub fn parse_samples(text: &str, config: &CompareConfig) -> Result<Samples, SamplesError> {
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        error(
            "",
            format!("not valid JSON ({e}): fix the JSON at that line and column"),
        )
    })?;
    let object = value.as_object().ok_or_else(|| {
        error(
            "",
            format!(
                "the file is {}, not a JSON object: map each metric name to its points, e.g. {{\"latency_p50\": [212.0, null, 230.5]}}",
                shown(&value)
            ),
        )
    })?;
    let mut samples = Samples::new();
    for metric in &config.metrics {
        let name = &metric.name;
        let points = match object.get(name) {
            None => continue,
            Some(Value::Array(points)) => points,
            Some(other) => {
                return Err(error(
                    name.clone(),
                    format!(
                        "{} is not an array: give the metric's points as numbers, null for a missing point, e.g. [212.0, null, 230.5]",
                        shown(other)
                    ),
                ))
            }
        };
        let mut series = Vec::with_capacity(points.len());
        for (i, point) in points.iter().enumerate() {
            series.push(match point {
                Value::Null => None,
                Value::Number(n) => {
                    Some(n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
                        error(
                            format!("{name}[{i}]"),
                            format!("{n} is out of range: give a finite number"),
                        )
                    })?)
                }
                Value::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                    return Err(error(
                        format!("{name}[{i}]"),
                        format!(
                            "\"{s}\" is a string: write the number without quotes, {}",
                            s.trim()
                        ),
                    ))
                }
                other => {
                    return Err(error(
                        format!("{name}[{i}]"),
                        format!(
                            "{} is not a number: write numbers, or null for a missing point",
                            shown(other)
                        ),
                    ))
                }
            });
        }
        samples.insert(name.clone(), series);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::config::MetricConfig;

    fn config(names: &[&str]) -> CompareConfig {
        CompareConfig::with_metrics(names.iter().map(|n| MetricConfig::named(n)).collect())
    }

    #[test]
    fn series_read_with_null_as_a_missing_point() {
        let s = parse_samples(
            r#"{"latency_p50": [212.0, null, 230.5, 7], "other": "not read"}"#,
            &config(&["latency_p50", "errors"]),
        )
        .unwrap();
        assert_eq!(
            s.series("latency_p50"),
            &[Some(212.0), None, Some(230.5), Some(7.0)]
        );
        assert!(
            s.series("errors").is_empty(),
            "missing from the file: empty"
        );
        assert!(s.series("other").is_empty(), "not in the config: not read");
    }

    #[test]
    fn each_unusable_shape_names_its_place() {
        let c = config(&["latency_p50"]);
        let message = |text: &str| parse_samples(text, &c).unwrap_err().to_string();
        assert_eq!(
            message(r#"{"latency_p50": [1, "abc"]}"#),
            "latency_p50[1]: \"abc\" is not a number: write numbers, or null for a missing point"
        );
        assert_eq!(
            message(r#"{"latency_p50": [1, "2.5"]}"#),
            "latency_p50[1]: \"2.5\" is a string: write the number without quotes, 2.5"
        );
        assert_eq!(
            message(r#"{"latency_p50": 212}"#),
            "latency_p50: 212 is not an array: give the metric's points as numbers, null for a missing point, e.g. [212.0, null, 230.5]"
        );
        assert_eq!(
            message(r#"[[1, 2]]"#),
            "the file is [[1,2]], not a JSON object: map each metric name to its points, e.g. {\"latency_p50\": [212.0, null, 230.5]}"
        );
        assert!(message("{\"latency_p50\": [1,").starts_with("not valid JSON (EOF while parsing"));
        assert!(message("{\"latency_p50\": [1e400]}")
            .starts_with("not valid JSON (number out of range"));
    }
}
