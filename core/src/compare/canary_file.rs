//! The canary file: the comparison config (ours or Kayenta's canary config, exactly as
//! [`config_from_value`] reads it) plus, per metric, where its points come from (`query`, or
//! `errors` and `requests` for a rate), how several series merge, and the `step` between
//! points. YAML or JSON. Pure: the gather use case (the app crate's `canary`) asks a
//! `SampleSource` (the app crate's port) for the points.
//!
//! ```yaml
//! step: 10s            # optional, default 10s; 1s to 10m
//! metrics:
//!   - name: latency_p90
//!     query: histogram_quantile(0.9, sum by (le) (rate(http_server_duration_seconds_bucket{job="$SCOPE"}[30s])))
//!     merge: mean      # optional: sum | mean | one (default one)
//!   - name: error_rate # errors / requests per step (the spec's §9: counts judged as rates)
//!     errors: sum(increase(http_requests_total{job="$SCOPE",status=~"5.."}[10s])) or vector(0)
//!     requests: sum(increase(http_requests_total{job="$SCOPE"}[10s]))
//! ```

use std::time::Duration;

use serde_json::{Map, Value};

use super::config::{config_from_value, shown, CompareConfig, ConfigError, METRIC_KEYS, TOP_KEYS};
use crate::model::samples::Merge;
use crate::yaml_file::parse_yaml;

/// The step when the file gives none: six points a minute, 30 in a five-minute window.
pub const DEFAULT_STEP: Duration = Duration::from_secs(10);
/// No provider keeps finer points than a one-second scrape.
pub const MIN_STEP: Duration = Duration::from_secs(1);
/// Beyond ten minutes an hour's window holds six points a side: too few to detect anything.
pub const MAX_STEP: Duration = Duration::from_secs(600);

/// What a canary file adds to a metric of the config: where its points come from.
const SOURCE_KEYS: &[&str] = &["query", "errors", "requests", "merge"];
const STEP_KEY: &str = "step";
/// Where the format is described, for messages.
const FORMAT_DOC: &str = "docs/compare.md, \"Measuring from Prometheus or Dynatrace\"";

/// A checked canary file.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryFile {
    /// The judge's settings.
    pub config: CompareConfig,
    pub step: Duration,
    /// Same order and names as `config.metrics`.
    pub sources: Vec<MetricSource>,
}

/// Where one metric's points come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSource {
    pub name: String,
    pub points: PointsQuery,
    pub merge: Merge,
}

/// The query (or queries) of one metric, placeholders unfilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointsQuery {
    /// One query, its points judged as they are.
    Value(String),
    /// errors / requests per step (None where requests is 0 or missing).
    Ratio { errors: String, requests: String },
}

/// Which environment or earlier window a side is: `$SCOPE`/`${scope}` is `scope`,
/// `${location}` is `location` (a query that uses it is refused when it is unset), and the
/// window is shifted back by `offset` (Production now vs Production an hour ago).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub scope: String,
    pub location: Option<String>,
    pub offset: Duration,
}

fn error(path: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// What a metric entry held about its points, taken out before the config is read (the
/// config reader refuses keys it does not know, and reads a `query` as Kayenta's).
#[derive(Default)]
struct RawSource {
    query: Option<Value>,
    errors: Option<Value>,
    requests: Option<Value>,
    merge: Option<Value>,
}

/// The most metrics a canary file may have: each metric's judgement and distributions are
/// stored with the validation (about 6 KB each), in an item DynamoDB caps at 400 KB.
pub const MAX_METRICS: usize = 40;

/// Read a canary file's text (YAML or JSON).
pub fn parse_canary_file(text: &str) -> Result<CanaryFile, ConfigError> {
    let text = text.trim_start_matches('\u{feff}');
    let value: Value = parse_yaml("", text, |_| {
        format!("check the indentation and the keys against the canary file format ({FORMAT_DOC}); quote a query that holds `: ` or ` #`")
    })
    .map_err(|e| {
        let problem = match e.problems.first() {
            Some(p) => format!("line {}, column {}: {}", p.line, p.column, p.message),
            None => e.to_string(),
        };
        error("", problem)
    })?;
    let mut top = match value {
        Value::Object(map) => map,
        other => {
            return Err(error(
                "",
                format!(
                    "the canary file is {}, not a mapping: write `metrics:` with one entry per metric, each with its name and query ({FORMAT_DOC})",
                    shown(&other)
                ),
            ))
        }
    };
    let step = match top.shift_remove(STEP_KEY) {
        None | Some(Value::Null) => DEFAULT_STEP,
        Some(v) => parse_step(&v)?,
    };
    let mut raw: Vec<RawSource> = Vec::new();
    if let Some(Value::Array(metrics)) = top.get_mut("metrics") {
        for metric in metrics.iter_mut() {
            raw.push(match metric {
                Value::Object(m) => take_source(m),
                _ => RawSource::default(),
            });
        }
    }
    let config = config_from_value(&Value::Object(top)).map_err(with_source_keys)?;
    if config.metrics.len() > MAX_METRICS {
        return Err(error(
            "metrics",
            format!(
                "{} metrics: at most {MAX_METRICS} (every statistic of each is stored with the validation, in one DynamoDB item); split the file or drop metrics",
                config.metrics.len()
            ),
        ));
    }
    let mut sources = Vec::with_capacity(config.metrics.len());
    for (i, metric) in config.metrics.iter().enumerate() {
        let source = raw
            .get(i)
            .map_or(Ok(None), |r| points_of(i, &metric.name, r));
        let Some((points, merge)) = source? else {
            return Err(error(format!("metrics[{i}]"), no_query(&metric.name)));
        };
        if matches!(points, PointsQuery::Ratio { .. })
            && metric.nan_strategy == crate::compare::NanStrategy::Replace
        {
            return Err(error(
                format!("metrics[{i}].nanStrategy"),
                format!(
                    "\"replace\" on the rate {}: a step without requests would count as a 0 % error rate; use \"remove\" (the default) and mustHaveData",
                    metric.name
                ),
            ));
        }
        sources.push(MetricSource {
            name: metric.name.clone(),
            points,
            merge,
        });
    }
    Ok(CanaryFile {
        config,
        step,
        sources,
    })
}

/// Take the keys about points out of a metric entry. Kayenta's `query` (an object) stays:
/// it is what marks the file as Kayenta's canary config, whose reader skips it.
fn take_source(metric: &mut Map<String, Value>) -> RawSource {
    let kayenta = matches!(metric.get("query"), Some(Value::Object(_)));
    let query = if kayenta {
        metric.get("query").cloned()
    } else {
        metric.shift_remove("query")
    };
    RawSource {
        query,
        errors: metric.shift_remove("errors"),
        requests: metric.shift_remove("requests"),
        merge: metric.shift_remove("merge"),
    }
}

/// The config reader's "unknown setting" lists the judge's keys; in a canary file the step
/// and the keys about points are settings too.
fn with_source_keys(e: ConfigError) -> ConfigError {
    if !e.problem.starts_with("unknown setting: ") {
        return e;
    }
    let top_level = !e.path.contains('.') && !e.path.contains('[');
    let metric_level = e.path.starts_with("metrics[") && e.path.matches('.').count() == 1;
    let keys: Vec<&str> = if top_level {
        TOP_KEYS.iter().chain(&[STEP_KEY]).copied().collect()
    } else if metric_level {
        METRIC_KEYS.iter().chain(SOURCE_KEYS).copied().collect()
    } else {
        return e;
    };
    error(
        e.path,
        format!(
            "unknown setting: use one of {} (names are case-sensitive)",
            keys.join(", ")
        ),
    )
}

fn no_query(name: &str) -> String {
    format!(
        "{name} has no query: give query: <the provider's query for its points>, or errors and requests for a rate ({FORMAT_DOC})"
    )
}

/// A query as written: a non-empty string, trimmed; `None` when absent.
fn query_text(path: &str, value: Option<&Value>) -> Result<Option<String>, ConfigError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(Value::String(_)) => Err(error(
            path,
            "empty: give the provider's query, e.g. sum(rate(http_requests_total{job=\"$SCOPE\"}[30s]))",
        )),
        Some(other) => Err(error(
            path,
            format!(
                "{} is not a query: write the provider's query as a string (quote it in YAML when it holds `: ` or ` #`)",
                shown(other)
            ),
        )),
    }
}

/// Kayenta's `query`: `customInlineTemplate` (`PromQL:` as Kayenta writes it, or plain) or
/// `metricName`; `labelBindings` and the other keys are not read.
fn kayenta_query(path: &str, query: &Map<String, Value>) -> Result<String, ConfigError> {
    let template_at = format!("{path}.customInlineTemplate");
    if let Some(template) = query_text(&template_at, query.get("customInlineTemplate"))? {
        let text = template.strip_prefix("PromQL:").unwrap_or(&template).trim();
        if text.is_empty() {
            return Err(error(
                template_at,
                "\"PromQL:\" without a query: write PromQL:<query>, e.g. PromQL:sum(rate(http_requests_total{job=\"${scope}\"}[30s]))",
            ));
        }
        return Ok(text.to_string());
    }
    if let Some(name) = query_text(&format!("{path}.metricName"), query.get("metricName"))? {
        return Ok(name);
    }
    Err(error(
        path,
        "Kayenta's query has neither customInlineTemplate nor metricName: give customInlineTemplate: \"PromQL:<query>\" (a customFilterTemplate from `templates` is not read)",
    ))
}

fn points_of(
    i: usize,
    name: &str,
    raw: &RawSource,
) -> Result<Option<(PointsQuery, Merge)>, ConfigError> {
    let at = format!("metrics[{i}]");
    let merge = match &raw.merge {
        None | Some(Value::Null) => Merge::One,
        Some(v) => parse_merge(&format!("{at}.merge"), v)?,
    };
    let query_at = format!("{at}.query");
    let query = match &raw.query {
        Some(Value::Object(q)) => Some(kayenta_query(&query_at, q)?),
        other => query_text(&query_at, other.as_ref())?,
    };
    let errors = query_text(&format!("{at}.errors"), raw.errors.as_ref())?;
    let requests = query_text(&format!("{at}.requests"), raw.requests.as_ref())?;
    let points = match (query, errors, requests) {
        (Some(query), None, None) => PointsQuery::Value(query),
        (None, Some(errors), Some(requests)) => PointsQuery::Ratio { errors, requests },
        (Some(_), _, _) => {
            return Err(error(
                at,
                format!("{name} has both query and errors/requests: a metric is judged either as its query's points (query) or as a rate, errors / requests per step (errors and requests); keep one of them"),
            ))
        }
        (None, Some(_), None) => {
            return Err(error(
                format!("{at}.requests"),
                "missing: a rate needs the requests its errors belong to, e.g. requests: sum(increase(http_requests_total{job=\"$SCOPE\"}[10s]))",
            ))
        }
        (None, None, Some(_)) => {
            return Err(error(
                format!("{at}.errors"),
                "missing: a rate needs the errors to divide by the requests, e.g. errors: sum(increase(http_requests_total{job=\"$SCOPE\",status=~\"5..\"}[10s])) or vector(0)",
            ))
        }
        (None, None, None) => return Ok(None),
    };
    Ok(Some((points, merge)))
}

const MERGES: &str = "sum (counters: the series added per point), mean (gauges and latencies: their mean per point) or one (several series are an error)";

fn parse_merge(path: &str, value: &Value) -> Result<Merge, ConfigError> {
    let Value::String(text) = value else {
        return Err(error(
            path,
            format!(
                "{} is not a merge: use {MERGES} (as a string)",
                shown(value)
            ),
        ));
    };
    match text.as_str() {
        "sum" => Ok(Merge::Sum),
        "mean" => Ok(Merge::Mean),
        "one" => Ok(Merge::One),
        other => {
            let lower = other.trim().to_ascii_lowercase();
            let hint = match lower.as_str() {
                "sum" | "mean" | "one" => {
                    format!(" (write \"{lower}\": values are case-sensitive)")
                }
                "avg" | "average" => " (for an average write mean)".to_string(),
                _ => String::new(),
            };
            Err(error(
                path,
                format!("\"{other}\" is not a merge: use {MERGES}{hint}"),
            ))
        }
    }
}

fn parse_step(value: &Value) -> Result<Duration, ConfigError> {
    let range = "a step is 1s to 10m, e.g. 10s";
    let text = match value {
        Value::String(s) => s.trim(),
        Value::Number(n) => {
            return Err(error(
                STEP_KEY,
                format!("{n} has no unit: write a duration such as {n}s ({range})"),
            ))
        }
        other => {
            return Err(error(
                STEP_KEY,
                format!(
                    "{} is not a duration: write e.g. 10s ({range})",
                    shown(other)
                ),
            ))
        }
    };
    let step = humantime::parse_duration(text).map_err(|_| {
        error(
            STEP_KEY,
            format!("\"{text}\" is not a duration: write e.g. 10s, 30s or 1m ({range})"),
        )
    })?;
    if step < MIN_STEP {
        return Err(error(
            STEP_KEY,
            format!("{text} is less than 1s: no provider keeps finer points than a one-second scrape; {range}"),
        ));
    }
    if step > MAX_STEP {
        return Err(error(
            STEP_KEY,
            format!("{text} is more than 10m: an hour's window would hold six points a side, too few to detect anything; {range}"),
        ));
    }
    Ok(step)
}

/// The placeholders a canary query may use, and what fills them.
#[derive(Clone, Copy)]
enum Placeholder {
    Scope,
    Location,
}

const PLACEHOLDERS: [(&str, Placeholder); 4] = [
    ("${scope}", Placeholder::Scope),
    ("$SCOPE", Placeholder::Scope),
    ("${location}", Placeholder::Location),
    ("$LOCATION", Placeholder::Location),
];

impl CanaryFile {
    /// The query text for one side, placeholders filled; Err names the placeholder (the
    /// caller names the metric).
    pub fn fill(query: &str, scope: &Scope) -> Result<String, String> {
        let mut out = String::with_capacity(query.len());
        let mut rest = query;
        // One pass over the text as written, so a scope's own `$` is never read as a
        // placeholder.
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some((token, which)) = PLACEHOLDERS.iter().find(|(t, _)| tail.starts_with(t)) {
                match which {
                    Placeholder::Scope => out.push_str(&scope.scope),
                    Placeholder::Location => match &scope.location {
                        Some(location) => out.push_str(location),
                        None => {
                            return Err(format!(
                                "the query uses {token}, but the scope \"{}\" has no location: give the scope as scope={},location=<location>",
                                scope.scope, scope.scope
                            ))
                        }
                    },
                }
                rest = &tail[token.len()..];
            } else if let Some(after) = tail.strip_prefix("${") {
                let name = after.split('}').next().unwrap_or_default();
                return Err(format!(
                    "unknown placeholder ${{{name}}}: a canary query may use $SCOPE (or ${{scope}}) and ${{location}}"
                ));
            } else {
                // A `$` of the query itself, e.g. the end of a regular expression.
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

const SCOPE_FORMS: &str =
    "write sample-staging, sample-production@-1h, or scope=sample-production,location=eu-west-1,offset=1h";

/// Parse a scope given on the command line or in UserParameters: "sample-staging",
/// "sample-production@-1h" (an offset back in time), or "scope=…,location=…,offset=1h".
pub fn parse_scope(text: &str) -> Result<Scope, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!(
            "the scope is empty: give the name the queries select with $SCOPE; {SCOPE_FORMS}"
        ));
    }
    if text.contains('=') {
        return keyed_scope(text);
    }
    let (name, offset) = match text.rsplit_once('@') {
        None => (text, Duration::ZERO),
        Some((name, offset)) => {
            let offset = offset.trim();
            let Some(back) = offset.strip_prefix('-') else {
                return Err(format!(
                    "the offset \"@{offset}\" of the scope \"{text}\" has no minus: an offset goes back in time, e.g. {}@-1h",
                    name.trim()
                ));
            };
            (name.trim(), offset_duration(back.trim(), text)?)
        }
    };
    if name.is_empty() {
        return Err(format!(
            "the scope \"{text}\" has no name before the @: {SCOPE_FORMS}"
        ));
    }
    Ok(Scope {
        scope: name.to_string(),
        location: None,
        offset,
    })
}

fn offset_duration(text: &str, scope: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|_| {
        format!("the offset \"{text}\" of the scope \"{scope}\" is not a duration such as 1h, 30m or 1d")
    })
}

fn keyed_scope(text: &str) -> Result<Scope, String> {
    let (mut scope, mut location, mut offset) = (None, None, None);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!(
                "\"{part}\" in the scope \"{text}\" is not key=value: {SCOPE_FORMS}"
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let slot: &mut Option<String> = match key {
            "scope" => &mut scope,
            "location" => &mut location,
            "offset" => &mut offset,
            other => {
                return Err(format!(
                "unknown key \"{other}\" in the scope \"{text}\": use scope, location and offset"
            ))
            }
        };
        if slot.is_some() {
            return Err(format!(
                "\"{key}\" appears twice in the scope \"{text}\": give it once"
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "\"{key}\" is empty in the scope \"{text}\": give its value, e.g. {key}={}",
                match key {
                    "scope" => "sample-production",
                    "location" => "eu-west-1",
                    _ => "1h",
                }
            ));
        }
        *slot = Some(value.to_string());
    }
    let Some(scope) = scope else {
        return Err(format!(
            "the scope \"{text}\" names no scope: add scope=<name>, e.g. scope=sample-production,{text}"
        ));
    };
    let offset = match offset {
        None => Duration::ZERO,
        // Both spellings go back: a canary is never compared with the future.
        Some(o) => offset_duration(o.strip_prefix('-').unwrap_or(o.as_str()).trim(), text)?,
    };
    Ok(Scope {
        scope,
        location,
        offset,
    })
}

#[cfg(test)]
#[path = "canary_file_tests.rs"]
mod tests;
