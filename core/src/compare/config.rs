//! The comparison config: ours (flat, `metrics[]` with each setting on the metric) and
//! Kayenta's canary config (`metrics[].analysisConfigurations.canary`), read into one
//! [`CompareConfig`]. Both are checked the same way: an unknown enum string, a weight sum over
//! 100 or a level outside (0, 1) is refused (D7), and every message names the field, what is
//! wrong and how to fix it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// The group of a metric that names none (D5: Kayenta scores such a metric nowhere).
pub const DEFAULT_GROUP: &str = "default";
/// Kayenta's judge: `confLevel = 0.98`.
pub const DEFAULT_CONFIDENCE_LEVEL: f64 = 0.98;
/// Kayenta's judge: `tolerance = 0.25`.
pub const DEFAULT_TOLERANCE: f64 = 0.25;
/// The power the minimum detectable change is stated for.
pub const DEFAULT_POWER: f64 = 0.8;
/// Kayenta's sample config (`kayenta-judge/src/test/resources/test-config.json`).
pub const DEFAULT_PASS_THRESHOLD: f64 = 95.0;
pub const DEFAULT_MARGINAL_THRESHOLD: f64 = 75.0;
pub const DEFAULT_OUTLIER_FACTOR: f64 = 3.0;

/// Which change of a metric counts against the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Increase,
    Decrease,
    Either,
}

/// What a missing point (`null`) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NanStrategy {
    /// Dropped.
    Remove,
    /// Made 0.
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OutlierStrategy {
    Keep,
    Remove,
}

/// How the size of a change is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EffectMeasure {
    /// mean(experiment) / mean(control).
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// Common language effect size: P(experiment > control) + ½ P(tie).
    #[serde(rename = "cles")]
    Cles,
}

impl EffectMeasure {
    pub fn as_str(self) -> &'static str {
        match self {
            EffectMeasure::MeanRatio => "meanRatio",
            EffectMeasure::Cles => "cles",
        }
    }

    /// "No change" on this measure: Kayenta's default for every threshold.
    pub fn neutral(self) -> f64 {
        match self {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        }
    }
}

/// The effect-size gate: a significant change is High or Low only when its effect reaches
/// the allowed bound, and fails the run (critical) when it reaches the critical one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectSize {
    pub measure: EffectMeasure,
    pub allowed_increase: f64,
    pub allowed_decrease: f64,
    pub critical_increase: f64,
    pub critical_decrease: f64,
}

impl EffectSize {
    /// Every bound at the measure's neutral value, as Kayenta defaults them.
    pub fn neutral(measure: EffectMeasure) -> Self {
        let n = measure.neutral();
        EffectSize {
            measure,
            allowed_increase: n,
            allowed_decrease: n,
            critical_increase: n,
            critical_decrease: n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outliers {
    pub strategy: OutlierStrategy,
    /// f in the fences Q1 − f·IQR and Q3 + f·IQR.
    pub factor: f64,
}

/// One metric's settings, with the defaults of the spec's §4 filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricConfig {
    pub name: String,
    /// Never empty: a metric that names no group is in [`DEFAULT_GROUP`].
    pub groups: Vec<String>,
    pub direction: Direction,
    pub nan_strategy: NanStrategy,
    pub critical: bool,
    pub must_have_data: bool,
    pub muted: bool,
    pub confidence_level: f64,
    pub tolerance: f64,
    pub effect_size: EffectSize,
    pub outliers: Outliers,
}

impl MetricConfig {
    /// A metric with every default: group `default`, direction either, NaNs removed,
    /// outliers kept, 98 %, tolerance 0.25, mean ratio with neutral bounds.
    pub fn named(name: &str) -> Self {
        MetricConfig {
            name: name.to_string(),
            groups: vec![DEFAULT_GROUP.to_string()],
            direction: Direction::Either,
            nan_strategy: NanStrategy::Remove,
            critical: false,
            must_have_data: false,
            muted: false,
            confidence_level: DEFAULT_CONFIDENCE_LEVEL,
            tolerance: DEFAULT_TOLERANCE,
            effect_size: EffectSize::neutral(EffectMeasure::MeanRatio),
            outliers: Outliers {
                strategy: OutlierStrategy::Keep,
                factor: DEFAULT_OUTLIER_FACTOR,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreThresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        ScoreThresholds {
            pass: DEFAULT_PASS_THRESHOLD,
            marginal: DEFAULT_MARGINAL_THRESHOLD,
        }
    }
}

/// Which of the two shapes a config file had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigForm {
    /// Ours: the settings on each metric.
    Flat,
    /// Kayenta's canary config: the settings in `analysisConfigurations.canary`.
    Kayenta,
}

/// A checked comparison config.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareConfig {
    pub metrics: Vec<MetricConfig>,
    /// `classifier.groupWeights`, by group name; each ≥ 0, together ≤ 100.
    pub group_weights: BTreeMap<String, f64>,
    pub score_thresholds: ScoreThresholds,
    /// The power the minimum detectable change is stated for (0 < p < 1).
    pub power: f64,
    pub form: ConfigForm,
}

impl CompareConfig {
    /// A flat config of these metrics with every other default.
    pub fn with_metrics(metrics: Vec<MetricConfig>) -> Self {
        CompareConfig {
            metrics,
            group_weights: BTreeMap::new(),
            score_thresholds: ScoreThresholds::default(),
            power: DEFAULT_POWER,
            form: ConfigForm::Flat,
        }
    }
}

/// A config that cannot be used: where (a JSON path such as `metrics[1].direction`, empty
/// for the document itself) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", located(.path, .problem))]
pub struct ConfigError {
    pub path: String,
    pub problem: String,
}

pub(crate) fn located(path: &str, problem: &str) -> String {
    if path.is_empty() {
        problem.to_string()
    } else {
        format!("{path}: {problem}")
    }
}

fn error(path: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// A value as it was written, shortened for a message.
pub(crate) fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Parse a config file's text (JSON) in either form.
pub fn parse_config(text: &str) -> Result<CompareConfig, ConfigError> {
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        error(
            "",
            format!("not valid JSON ({e}): fix the JSON at that line and column"),
        )
    })?;
    config_from_value(&value)
}

pub(crate) const TOP_KEYS: &[&str] = &["metrics", "classifier", "power", "name", "description"];
pub(crate) const METRIC_KEYS: &[&str] = &[
    "name",
    "groups",
    "direction",
    "nanStrategy",
    "critical",
    "mustHaveData",
    "muted",
    "confidenceLevel",
    "tolerance",
    "effectSize",
    "outliers",
];
/// What `analysisConfigurations.canary` may hold: the metric's settings but its name and
/// groups, which Kayenta keeps on the metric.
const CANARY_KEYS: &[&str] = &[
    "direction",
    "nanStrategy",
    "critical",
    "mustHaveData",
    "muted",
    "confidenceLevel",
    "tolerance",
    "effectSize",
    "outliers",
];
const EFFECT_KEYS: &[&str] = &[
    "measure",
    "allowedIncrease",
    "allowedDecrease",
    "criticalIncrease",
    "criticalDecrease",
];
const OUTLIER_KEYS: &[&str] = &["strategy", "outlierFactor"];
const CLASSIFIER_KEYS: &[&str] = &["groupWeights", "scoreThresholds"];
const THRESHOLD_KEYS: &[&str] = &["pass", "marginal"];
/// Keys only Kayenta's canary config has: one of them makes a file Kayenta's.
const KAYENTA_TOP_KEYS: &[&str] = &[
    "configVersion",
    "judge",
    "templates",
    "applications",
    "createdTimestamp",
    "updatedTimestamp",
];
const KAYENTA_METRIC_KEYS: &[&str] =
    &["analysisConfigurations", "extensions", "query", "scopeName"];

/// Read a config already parsed as JSON (or converted from YAML) in either form.
pub fn config_from_value(value: &Value) -> Result<CompareConfig, ConfigError> {
    let top = value.as_object().ok_or_else(|| {
        error(
            "",
            format!(
                "the config is {}, not a JSON object: write {{\"metrics\": [{{\"name\": \"latency_p50\"}}]}} with one entry per metric",
                shown(value)
            ),
        )
    })?;
    let form = if is_kayenta(top) {
        ConfigForm::Kayenta
    } else {
        ConfigForm::Flat
    };
    if form == ConfigForm::Flat {
        known_keys("", top, TOP_KEYS)?;
    }
    let metrics = match top.get("metrics") {
        None | Some(Value::Null) => {
            return Err(error(
                "metrics",
                "missing: list the metrics to judge, e.g. \"metrics\": [{\"name\": \"latency_p50\"}]",
            ))
        }
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(error(
                "metrics",
                format!(
                    "{} is not an array: write one object per metric, e.g. [{{\"name\": \"latency_p50\"}}]",
                    shown(other)
                ),
            ))
        }
    };
    let mut parsed: Vec<MetricConfig> = Vec::with_capacity(metrics.len());
    for (i, metric) in metrics.iter().enumerate() {
        let m = parse_metric(i, metric, form)?;
        if let Some(first) = parsed.iter().position(|p| p.name == m.name) {
            return Err(error(
                format!("metrics[{i}].name"),
                format!(
                    "\"{}\" is also metrics[{first}]: metric names must be unique (each names one series of the control and experiment files)",
                    m.name
                ),
            ));
        }
        parsed.push(m);
    }
    let (group_weights, score_thresholds) = parse_classifier(top.get("classifier"), form)?;
    let power = match top.get("power") {
        None | Some(Value::Null) => DEFAULT_POWER,
        Some(v) => {
            let p = number("power", v)?;
            if !(p > 0.0 && p < 1.0) {
                return Err(error(
                    "power",
                    format!(
                        "{p} is not between 0 and 1: give the probability of detecting a change, e.g. 0.8{}",
                        percent_hint(p)
                    ),
                ));
            }
            p
        }
    };
    Ok(CompareConfig {
        metrics: parsed,
        group_weights,
        score_thresholds,
        power,
        form,
    })
}

fn is_kayenta(top: &Map<String, Value>) -> bool {
    KAYENTA_TOP_KEYS.iter().any(|k| top.contains_key(*k))
        || top
            .get("metrics")
            .and_then(Value::as_array)
            .is_some_and(|metrics| {
                metrics.iter().any(|m| {
                    m.as_object()
                        .is_some_and(|m| KAYENTA_METRIC_KEYS.iter().any(|k| m.contains_key(*k)))
                })
            })
}

fn known_keys(path: &str, object: &Map<String, Value>, known: &[&str]) -> Result<(), ConfigError> {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            return Err(error(
                at,
                format!(
                    "unknown setting: use one of {} (names are case-sensitive)",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn object<'a>(
    path: &str,
    value: &'a Value,
    example: &str,
) -> Result<&'a Map<String, Value>, ConfigError> {
    value.as_object().ok_or_else(|| {
        error(
            path,
            format!("{} is not an object: write e.g. {example}", shown(value)),
        )
    })
}

fn number(path: &str, value: &Value) -> Result<f64, ConfigError> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| error(path, format!("{n} is out of range: give a finite number"))),
        Value::String(s) if s.trim().parse::<f64>().is_ok() => Err(error(
            path,
            format!(
                "\"{s}\" is a string: write the number without quotes, {}",
                s.trim()
            ),
        )),
        other => Err(error(
            path,
            format!("{} is not a number: write a number, e.g. 1.1", shown(other)),
        )),
    }
}

fn boolean(path: &str, value: &Value) -> Result<bool, ConfigError> {
    value.as_bool().ok_or_else(|| {
        error(
            path,
            format!(
                "{} is not a boolean: write true or false (without quotes)",
                shown(value)
            ),
        )
    })
}

/// One of `choices` (each with what it means, for the message).
fn choice<T: Copy>(
    path: &str,
    value: &Value,
    what: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let list = match names.as_slice() {
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => String::new(),
    };
    match value {
        Value::String(s) => choices
            .iter()
            .find(|(n, _)| *n == s.as_str())
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let hint = choices
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
                    .map(|(n, _)| format!(" (write \"{n}\": values are case-sensitive)"))
                    .unwrap_or_default();
                error(path, format!("\"{s}\" is not {what}: use {list}{hint}"))
            }),
        other => Err(error(
            path,
            format!("{} is not {what}: use {list} (as a string)", shown(other)),
        )),
    }
}

/// " (a fraction: 0.98, not 98)" when `v` looks like a percentage.
fn percent_hint(v: f64) -> String {
    if v > 1.0 && v < 100.0 {
        format!(" (a fraction: {}, not {v})", v / 100.0)
    } else {
        String::new()
    }
}

fn present<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    settings.get(key).filter(|v| !v.is_null())
}

fn parse_metric(i: usize, value: &Value, form: ConfigForm) -> Result<MetricConfig, ConfigError> {
    let at = format!("metrics[{i}]");
    let metric = object(&at, value, "{\"name\": \"latency_p50\"}")?;
    let name = metric_name(&at, metric)?;
    let groups = parse_groups(&format!("{at}.groups"), metric.get("groups"))?;
    // Where the settings are: on the metric (ours) or in its canary block (Kayenta's).
    let empty = Map::new();
    let (settings_at, settings) = match form {
        ConfigForm::Flat => {
            known_keys(&at, metric, METRIC_KEYS)?;
            (at.clone(), metric)
        }
        ConfigForm::Kayenta => canary_settings(&at, metric, &empty)?,
    };
    let mut m = MetricConfig::named(&name);
    m.groups = groups;
    read_settings(&settings_at, settings, &mut m)?;
    Ok(m)
}

/// The metric's `name` (at `at`): the series it judges in the control and experiment files.
fn metric_name(at: &str, metric: &Map<String, Value>) -> Result<String, ConfigError> {
    match metric.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(error(
            format!("{at}.name"),
            "missing: give each metric the name of its series in the control and experiment files",
        )),
        Some(other) => Err(error(
            format!("{at}.name"),
            format!(
                "{} is not a metric name: write the name of its series as a non-empty string",
                shown(other)
            ),
        )),
    }
}

/// The settings of a metric of Kayenta's canary config, with their path: its
/// `analysisConfigurations.canary` block, or `empty` when it has none.
fn canary_settings<'a>(
    at: &str,
    metric: &'a Map<String, Value>,
    empty: &'a Map<String, Value>,
) -> Result<(String, &'a Map<String, Value>), ConfigError> {
    for key in CANARY_KEYS {
        if metric.contains_key(*key) {
            return Err(error(
                format!("{at}.{key}"),
                format!(
                    "in Kayenta's canary config this setting belongs in analysisConfigurations.canary.{key}: move it there"
                ),
            ));
        }
    }
    // `extensions` is the name older Kayenta configs used for the same block.
    let (block, container) = match (
        present(metric, "analysisConfigurations"),
        present(metric, "extensions"),
    ) {
        (Some(v), _) => ("analysisConfigurations", Some(v)),
        (None, Some(v)) => ("extensions", Some(v)),
        (None, None) => ("analysisConfigurations", None),
    };
    let container_at = format!("{at}.{block}");
    let canary_at = format!("{container_at}.canary");
    let canary = match container {
        None => empty,
        Some(c) => {
            let c = object(
                &container_at,
                c,
                "{\"canary\": {\"direction\": \"increase\"}}",
            )?;
            match present(c, "canary") {
                None => empty,
                Some(v) => object(&canary_at, v, "{\"direction\": \"increase\"}")?,
            }
        }
    };
    known_keys(&canary_at, canary, CANARY_KEYS)?;
    Ok((canary_at, canary))
}

/// Every setting present in `settings` (at `settings_at`) into `m`, checked in this order.
fn read_settings(
    settings_at: &str,
    settings: &Map<String, Value>,
    m: &mut MetricConfig,
) -> Result<(), ConfigError> {
    let path = |key: &str| format!("{settings_at}.{key}");
    if let Some(v) = present(settings, "direction") {
        m.direction = choice(
            &path("direction"),
            v,
            "a direction",
            &[
                ("increase", Direction::Increase),
                ("decrease", Direction::Decrease),
                ("either", Direction::Either),
            ],
        )?;
    }
    if let Some(v) = present(settings, "nanStrategy") {
        m.nan_strategy = choice(
            &path("nanStrategy"),
            v,
            "a NaN strategy (remove drops a missing point, replace makes it 0)",
            &[
                ("remove", NanStrategy::Remove),
                ("replace", NanStrategy::Replace),
            ],
        )?;
    }
    for (key, field) in [
        ("critical", &mut m.critical),
        ("mustHaveData", &mut m.must_have_data),
        ("muted", &mut m.muted),
    ] {
        if let Some(v) = present(settings, key) {
            *field = boolean(&path(key), v)?;
        }
    }
    if let Some(v) = present(settings, "confidenceLevel") {
        m.confidence_level = confidence_level(&path("confidenceLevel"), v)?;
    }
    if let Some(v) = present(settings, "tolerance") {
        m.tolerance = tolerance(&path("tolerance"), v)?;
    }
    if let Some(v) = present(settings, "effectSize") {
        m.effect_size = parse_effect_size(&path("effectSize"), v)?;
    }
    if let Some(v) = present(settings, "outliers") {
        parse_outliers(&path("outliers"), v, &mut m.outliers)?;
    }
    Ok(())
}

fn confidence_level(at: &str, v: &Value) -> Result<f64, ConfigError> {
    let c = number(at, v)?;
    if !(c > 0.0 && c < 1.0) {
        return Err(error(
            at,
            format!(
                "{c} is not between 0 and 1 (both excluded): e.g. 0.98 for 98 %{}",
                percent_hint(c)
            ),
        ));
    }
    Ok(c)
}

fn tolerance(at: &str, v: &Value) -> Result<f64, ConfigError> {
    let t = number(at, v)?;
    if !(0.0..1.0).contains(&t) {
        return Err(error(
            at,
            format!(
                "{t} is not at least 0 and below 1: the band is this fraction of the estimate, e.g. 0.25 (or 0 for the plain test){}",
                percent_hint(t)
            ),
        ));
    }
    Ok(t)
}

/// `effectSize` (at `at`): the measure, then each bound, neutral unless written.
fn parse_effect_size(at: &str, v: &Value) -> Result<EffectSize, ConfigError> {
    let effect = object(
        at,
        v,
        "{\"measure\": \"meanRatio\", \"allowedIncrease\": 1.1}",
    )?;
    known_keys(at, effect, EFFECT_KEYS)?;
    let measure = match present(effect, "measure") {
        None => EffectMeasure::MeanRatio,
        Some(v) => choice(
            &format!("{at}.measure"),
            v,
            "an effect size measure",
            &[
                ("meanRatio", EffectMeasure::MeanRatio),
                ("cles", EffectMeasure::Cles),
            ],
        )?,
    };
    let mut e = EffectSize::neutral(measure);
    for (key, field) in [
        ("allowedIncrease", &mut e.allowed_increase),
        ("allowedDecrease", &mut e.allowed_decrease),
        ("criticalIncrease", &mut e.critical_increase),
        ("criticalDecrease", &mut e.critical_decrease),
    ] {
        if let Some(v) = present(effect, key) {
            *field = number(&format!("{at}.{key}"), v)?;
        }
    }
    Ok(e)
}

/// `outliers` (at `at`) into `outliers`: the strategy, then the fences' factor.
fn parse_outliers(at: &str, v: &Value, outliers: &mut Outliers) -> Result<(), ConfigError> {
    let written = object(at, v, "{\"strategy\": \"remove\", \"outlierFactor\": 3.0}")?;
    known_keys(at, written, OUTLIER_KEYS)?;
    if let Some(v) = present(written, "strategy") {
        outliers.strategy = choice(
            &format!("{at}.strategy"),
            v,
            "an outlier strategy",
            &[
                ("keep", OutlierStrategy::Keep),
                ("remove", OutlierStrategy::Remove),
            ],
        )?;
    }
    if let Some(v) = present(written, "outlierFactor") {
        let f = number(&format!("{at}.outlierFactor"), v)?;
        if f <= 0.0 {
            return Err(error(
                format!("{at}.outlierFactor"),
                format!("{f} is not more than 0: the fences are this many IQRs beyond the quartiles, e.g. 3.0"),
            ));
        }
        outliers.factor = f;
    }
    Ok(())
}

fn parse_groups(at: &str, value: Option<&Value>) -> Result<Vec<String>, ConfigError> {
    let list = match value {
        None | Some(Value::Null) => return Ok(vec![DEFAULT_GROUP.to_string()]),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(error(
                at,
                format!(
                    "{} is not an array of group names: write e.g. [\"latency\"]",
                    shown(other)
                ),
            ))
        }
    };
    let mut groups: Vec<String> = Vec::with_capacity(list.len());
    for (j, g) in list.iter().enumerate() {
        match g {
            Value::String(s) if !s.trim().is_empty() => {
                if !groups.contains(s) {
                    groups.push(s.clone());
                }
            }
            other => {
                return Err(error(
                    format!("{at}[{j}]"),
                    format!(
                        "{} is not a group name: write a non-empty string, e.g. \"latency\"",
                        shown(other)
                    ),
                ))
            }
        }
    }
    if groups.is_empty() {
        groups.push(DEFAULT_GROUP.to_string());
    }
    Ok(groups)
}

fn parse_classifier(
    value: Option<&Value>,
    form: ConfigForm,
) -> Result<(BTreeMap<String, f64>, ScoreThresholds), ConfigError> {
    let mut weights = BTreeMap::new();
    let mut thresholds = ScoreThresholds::default();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok((weights, thresholds));
    };
    let classifier = object(
        "classifier",
        value,
        "{\"groupWeights\": {\"latency\": 60, \"errors\": 40}, \"scoreThresholds\": {\"pass\": 95, \"marginal\": 75}}",
    )?;
    if form == ConfigForm::Flat {
        known_keys("classifier", classifier, CLASSIFIER_KEYS)?;
    }
    if let Some(v) = present(classifier, "groupWeights") {
        let at = "classifier.groupWeights";
        let map = object(at, v, "{\"latency\": 60, \"errors\": 40}")?;
        let mut sum = 0.0;
        for (group, w) in map {
            let path = format!("{at}.{group}");
            let w = number(&path, w)?;
            if w < 0.0 {
                return Err(error(
                    path,
                    format!("{w} is negative: give a weight of 0 or more"),
                ));
            }
            sum += w;
            weights.insert(group.clone(), w);
        }
        // A little slack for weights such as 33.3 + 33.3 + 33.4 that add up to 100.00000000000001.
        if sum > 100.0 + 1e-9 {
            return Err(error(
                at,
                format!(
                    "the weights add up to {sum}: they must add up to at most 100 (groups without a weight share what is left)"
                ),
            ));
        }
    }
    if let Some(v) = present(classifier, "scoreThresholds") {
        let at = "classifier.scoreThresholds";
        let map = object(at, v, "{\"pass\": 95, \"marginal\": 75}")?;
        known_keys(at, map, THRESHOLD_KEYS)?;
        if let Some(v) = present(map, "pass") {
            thresholds.pass = number(&format!("{at}.pass"), v)?;
        }
        if let Some(v) = present(map, "marginal") {
            thresholds.marginal = number(&format!("{at}.marginal"), v)?;
        }
    }
    Ok((weights, thresholds))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
