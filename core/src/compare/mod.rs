//! The statistical gate: Kayenta's Mann–Whitney judge done exactly, with a statement of power
//! (the spec: `shared/reference/compare.md`). Pure: text and numbers in, a [`Judgement`] out;
//! no I/O, no clock, no randomness (where Kayenta adds Gaussian noise to constant samples,
//! the test runs deterministically on them, D3).
//!
//! The steps, one module each:
//! - [`config`]: our flat config and Kayenta's canary config, checked (D7);
//! - [`samples`]: the control and experiment files;
//! - [`transforms`]: the NaN strategy and IQR outliers (D6), then [`stats`];
//! - [`mann_whitney`]: U, z, the p-value (D8), the Hodges–Lehmann estimate (D3b) and the exact
//!   interval (D1), the k-th pairwise difference by selection;
//! - [`classify`]: pass, high, low, nodata or nodata_fail (D2, D4), the effect sizes and
//!   critical metrics;
//! - [`score`]: weighted groups (D5) and the pass/marginal thresholds;
//! - [`power`]: the minimum detectable change (Noether, the tolerance folded in);
//! - [`canary_file`]: the config plus where each metric's points come from (a provider's
//!   query per metric, or errors and requests for a rate), for the app crate's `canary::gather`.

pub mod canary_file;
pub mod classify;
pub mod config;
pub mod format;
pub mod mann_whitney;
pub mod normal;
pub mod power;
pub mod samples;
pub mod score;
pub mod stats;
pub mod transforms;

use serde::Serialize;

pub use classify::{classify_metric, classify_values, Classification, MetricResult};
pub use config::{
    config_from_value, parse_config, CompareConfig, ConfigError, ConfigForm, Direction,
    EffectMeasure, EffectSize, MetricConfig, NanStrategy, OutlierStrategy, Outliers,
    ScoreThresholds,
};
pub use mann_whitney::{mann_whitney, MannWhitney};
pub use power::{minimum_detectable_change, PowerStatement};
pub use samples::{parse_samples, Samples, SamplesError};
pub use score::{GroupScore, RunResult};
pub use stats::SeriesStats;

/// The run's judgement: the JSON output of `unbreakable compare --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    pub result: RunResult,
    /// 0…100, rounded half-up to 2 decimals.
    pub score: f64,
    /// Why the score was forced to 0 (a critical metric, too many without data, none scored);
    /// None otherwise.
    pub reason: Option<String>,
    pub groups: Vec<GroupScore>,
    /// In the config's order, muted ones included.
    pub metrics: Vec<MetricResult>,
}

impl Judgement {
    /// The document as JSON; NaN and ±∞ become `null` (serde_json writes them so).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a judgement serialises")
    }
}

/// Judge every metric of `config` on its control and experiment series, then score the run.
pub fn judge(config: &CompareConfig, control: &Samples, experiment: &Samples) -> Judgement {
    let metrics: Vec<MetricResult> = config
        .metrics
        .iter()
        .map(|m| {
            classify_metric(
                m,
                control.series(&m.name),
                experiment.series(&m.name),
                config.power,
            )
        })
        .collect();
    let scored = score::score(
        metrics.iter().map(MetricResult::scored),
        &config.group_weights,
    );
    Judgement {
        result: score::result_of(scored.score, config.score_thresholds),
        score: scored.score,
        reason: scored.reason,
        groups: scored.groups,
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(config: &str, control: &str, experiment: &str) -> Judgement {
        let config = parse_config(config).unwrap();
        judge(
            &config,
            &parse_samples(control, &config).unwrap(),
            &parse_samples(experiment, &config).unwrap(),
        )
    }

    #[test]
    fn the_output_has_the_contracts_fields() {
        let j = run(
            r#"{"metrics": [{"name": "latency", "groups": ["latency"]}, {"name": "errors"}]}"#,
            r#"{"latency": [1, 2, 3, 4, 5, 6], "errors": [0, 0]}"#,
            r#"{"latency": [2, 3, 4, 5, 6, 7]}"#,
        );
        let v = j.to_json();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&v), ["result", "score", "reason", "groups", "metrics"]);
        assert_eq!(keys(&v["groups"][0]), ["name", "score", "noData"]);
        assert_eq!(
            keys(&v["metrics"][0]),
            [
                "name",
                "groups",
                "muted",
                "classification",
                "critical",
                "reason",
                "deviation",
                "effectSize",
                "effectSizeMeasure",
                "control",
                "experiment",
                "mannWhitney",
                "power"
            ]
        );
        assert_eq!(
            keys(&v["metrics"][0]["control"]),
            ["count", "min", "max", "mean", "std"]
        );
        assert_eq!(
            keys(&v["metrics"][0]["mannWhitney"]),
            [
                "u",
                "z",
                "pValue",
                "estimate",
                "ciLower",
                "ciUpper",
                "ciAchievable",
                "confidenceLevel",
                "zCritical",
                "band",
                "zHigh",
                "zLow",
                "nControl",
                "nExperiment"
            ]
        );
        assert_eq!(
            keys(&v["metrics"][0]["power"]),
            [
                "alpha",
                "power",
                "nControl",
                "nExperiment",
                "pStar",
                "shiftSd",
                "mdeShift",
                "mdePercent",
                "detectable"
            ]
        );
        assert_eq!(v["metrics"][0]["effectSizeMeasure"], "meanRatio");
        // errors: no experiment data → nodata in group default; 1 of 2 → the score is 0.
        assert_eq!(v["metrics"][1]["classification"], "nodata");
        assert_eq!(v["metrics"][1]["groups"], json!(["default"]));
        assert_eq!(v["metrics"][1]["mannWhitney"], serde_json::Value::Null);
        assert_eq!(v["metrics"][1]["power"], serde_json::Value::Null);
        assert_eq!(
            (v["result"].as_str(), v["score"].as_f64()),
            (Some("fail"), Some(0.0))
        );
        assert_eq!(
            v["reason"],
            "1 of 2 scored metrics have no data (50 % or more): the score is 0"
        );
    }

    #[test]
    fn nan_is_written_null() {
        let j = run(
            r#"{"metrics": [{"name": "errors"}]}"#,
            r#"{"errors": [0, 0, 0, 0, 0, 0]}"#,
            r#"{"errors": [1, 2, 1, 3, 2, 1]}"#,
        );
        let m = &j.to_json()["metrics"][0];
        assert_eq!(m["classification"], "high");
        assert_eq!(m["deviation"], serde_json::Value::Null);
        assert_eq!(m["effectSize"], serde_json::Value::Null);
        assert_eq!(
            m["power"]["mdePercent"],
            serde_json::Value::Null,
            "control mean 0"
        );
        let text = serde_json::to_string(&j).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    }

    #[test]
    fn a_critical_high_fails_the_run_with_its_name() {
        let j = run(
            r#"{"metrics": [{"name": "latency", "critical": true}, {"name": "cpu"}]}"#,
            r#"{"latency": [1, 2, 3, 4, 5, 6, 7], "cpu": [1, 2, 3]}"#,
            r#"{"latency": [11, 12, 13, 14, 15, 16, 17], "cpu": [1, 2, 3]}"#,
        );
        assert_eq!(j.result, RunResult::Fail);
        assert_eq!(j.score, 0.0);
        assert_eq!(
            j.reason.as_deref(),
            Some("critical metric latency is high: the score is 0")
        );
        assert!(j.metrics[0].critical);
    }

    #[test]
    fn a_pass_and_a_high_in_two_weighted_groups_is_marginal() {
        let j = run(
            r#"{"metrics": [{"name": "latency", "groups": ["latency"]}, {"name": "errors", "groups": ["errors"]}],
                "classifier": {"groupWeights": {"latency": 80, "errors": 20}}}"#,
            r#"{"latency": [1, 2, 3, 4, 5, 6, 7], "errors": [1, 2, 3, 4, 5, 6, 7]}"#,
            r#"{"latency": [1, 2, 3, 4, 5, 6, 7], "errors": [11, 12, 13, 14, 15, 16, 17]}"#,
        );
        assert_eq!(j.metrics[1].classification, Classification::High);
        assert_eq!((j.score, j.result), (80.0, RunResult::Marginal));
        assert_eq!(j.reason, None);
    }

    #[test]
    fn judging_is_deterministic() {
        let config = r#"{"metrics": [{"name": "a"}, {"name": "b"}]}"#;
        let control = r#"{"a": [5, 5, 5, 5, 5], "b": [1.5, 2.5, 3.5, null]}"#;
        let experiment = r#"{"a": [6, 6, 6, 6, 6], "b": [2.5, 3.5, 4.5, 9]}"#;
        assert_eq!(
            serde_json::to_string(&run(config, control, experiment)).unwrap(),
            serde_json::to_string(&run(config, control, experiment)).unwrap()
        );
    }
}
