//! Metrics v2: `GET /api/v2/metrics/query` and the metric descriptor
//! `GET /api/v2/metrics/{selector}`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::aggregate::{aggregate, sim_metric, Agg};
use super::model::{EntityDef, World};
use super::selector::{split_top_level, EntitySelector, MetricExpression};
use super::wire::{error, now_ms, param, v2_time, Reply};

pub(super) fn v2_metrics(w: &World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let selector_text =
        param(query, "metricSelector").ok_or_else(|| error(400, "Constraints violated."))?;
    let expressions = split_top_level(selector_text, ',');
    if expressions.len() > 10 {
        return Err(error(
            400,
            "Constraints violated. (metricSelector: at most 10 metric expressions)",
        ));
    }
    let now = now_ms();
    let from = v2_time(param(query, "from"), now - 2 * 3_600_000)?;
    let to = v2_time(param(query, "to"), now)?;
    let (resolution_text, bucket_ms) = resolution(param(query, "resolution"), to - from)?;
    let entity_selector = param(query, "entitySelector")
        .map(EntitySelector::parse)
        .transpose()
        .map_err(|m| error(400, &m))?;
    let mut results = Vec::new();
    let mut total = 0;
    for text in &expressions {
        // `(<selector>):fold`: the whole window in one value, whatever the resolution.
        let (text, folded) = match text
            .trim()
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix("):fold"))
        {
            Some(inner) => (inner, true),
            None => (text.as_ref(), false),
        };
        let buckets = if folded {
            vec![(from, to)]
        } else {
            buckets(from, to, bucket_ms)
        };
        let expr = MetricExpression::parse(text).map_err(|m| error(400, &m))?;
        let metric = sim_metric(&expr.key)
            .ok_or_else(|| error(404, &format!("Metric key {} not found", expr.key)))?;
        let (agg_name, percentile) = expr.aggregation.clone().unwrap_or(("avg".into(), None));
        let agg = Agg::parse(&agg_name, percentile)
            .ok_or_else(|| error(400, "Metric selector parse error"))?;
        let candidates: Vec<&EntityDef> = w
            .entities
            .iter()
            .filter(|e| e.entity_type == metric.entity_type)
            .filter(|e| entity_selector.as_ref().is_none_or(|s| s.matches(w, e)))
            .collect();
        total = total.max(candidates.len());
        let dimension = format!("dt.entity.{}", metric.entity_type.to_ascii_lowercase());
        // The dimensions left after :splitBy and :merge: without either, one series per entity.
        let mut dimensions = expr
            .split_by
            .clone()
            .unwrap_or_else(|| vec![dimension.clone()]);
        if let Some(unknown) = expr
            .merged
            .iter()
            .find(|m| *m != "0" && !dimensions.contains(m))
        {
            return Err(error(
                400,
                &format!(
                    "Metric selector parse error: :merge(\"{unknown}\") names a dimension {} does not have",
                    expr.key
                ),
            ));
        }
        dimensions.retain(|d| {
            !expr
                .merged
                .iter()
                .any(|m| m == d || (m == "0" && *d == dimension))
        });
        let mut data = Vec::new();
        match dimensions.as_slice() {
            [] => {
                let ids: Vec<&str> = candidates.iter().map(|e| e.entity_id.as_str()).collect();
                if let Some((timestamps, values)) =
                    series(&buckets, |f, t| aggregate(w, &ids, metric.base, agg, f, t))
                {
                    data.push(json!({"dimensions": [], "dimensionMap": {}, "timestamps": timestamps, "values": values}));
                }
            }
            [d] if *d == dimension => {
                for e in &candidates {
                    if let Some((timestamps, values)) = series(&buckets, |f, t| {
                        aggregate(w, &[e.entity_id.as_str()], metric.base, agg, f, t)
                    }) {
                        let (dims, map) = if expr.names {
                            (
                                json!([e.display_name, e.entity_id]),
                                json!({format!("{dimension}.name"): e.display_name, dimension.clone(): e.entity_id}),
                            )
                        } else {
                            (
                                json!([e.entity_id]),
                                json!({dimension.clone(): e.entity_id}),
                            )
                        };
                        data.push(json!({"dimensions": dims, "dimensionMap": map, "timestamps": timestamps, "values": values}));
                    }
                }
            }
            _ => {
                return Err(error(
                    400,
                    &format!(
                        "the simulator supports the dimension {dimension} only (kept, or dropped with :splitBy() or :merge(\"{dimension}\")) for {}",
                        expr.key
                    ),
                ))
            }
        }
        let ratio = if data.is_empty() { 0.0 } else { 1.0e-7 };
        let metric_id = if folded {
            format!("({}):fold", expr.text)
        } else {
            expr.text.clone()
        };
        results.push(json!({"metricId": metric_id, "dataPointCountRatio": ratio, "dimensionCountRatio": ratio, "data": data}));
    }
    Ok((
        StatusCode::OK,
        json!({"totalCount": total, "nextPageKey": null, "resolution": resolution_text, "result": results}),
    ))
}

/// `resolution` as Dynatrace reads it: `Inf` in any letter case is one value over the window;
/// `<n>m`, `<n>h`, `<n>d` buckets of that size; none, about 120 buckets of whole minutes.
fn resolution(text: Option<&str>, window_ms: i64) -> Result<(String, i64), Reply> {
    const MINUTE: i64 = 60_000;
    let Some(text) = text else {
        let minutes = (window_ms / 120 / MINUTE).max(1);
        return Ok((format!("{minutes}m"), minutes * MINUTE));
    };
    if text.eq_ignore_ascii_case("inf") {
        return Ok(("Inf".into(), window_ms.max(1)));
    }
    let unit = match text.chars().last() {
        Some('m') => MINUTE,
        Some('h') => 60 * MINUTE,
        Some('d') => 24 * 60 * MINUTE,
        _ => 0,
    };
    match text[..text.len().saturating_sub(1)].parse::<i64>() {
        Ok(n) if n > 0 && unit > 0 => Ok((text.to_string(), n * unit)),
        _ => Err(error(
            400,
            &format!(
                "Constraints violated. (resolution: \"{text}\" is not Inf or a duration like 10m)"
            ),
        )),
    }
}

/// The window cut into buckets of `bucket_ms`, the last one ending at `to`.
fn buckets(from: i64, to: i64, bucket_ms: i64) -> Vec<(i64, i64)> {
    let mut list = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + bucket_ms).min(to);
        list.push((start, end));
        start = end;
    }
    if list.is_empty() {
        list.push((from, to));
    }
    list
}

/// One series over the buckets: a value per bucket (null where there is no data), or `None`
/// when no bucket has data (Dynatrace leaves such a series out).
fn series(
    buckets: &[(i64, i64)],
    value: impl Fn(i64, i64) -> Option<f64>,
) -> Option<(Vec<i64>, Vec<Value>)> {
    let values: Vec<Option<f64>> = buckets.iter().map(|(f, t)| value(*f, *t)).collect();
    if values.iter().all(Option::is_none) {
        return None;
    }
    Some((
        buckets.iter().map(|(_, t)| *t).collect(),
        values.into_iter().map(|v| json!(v)).collect(),
    ))
}

/// `GET /api/v2/metrics/{selector}`: what dynatrace-service reads of a descriptor. A
/// selector that already aggregates (`:avg`, `:percentile(95)`) has the default aggregation
/// `value`, as Dynatrace answers; every simulated metric supports `resolution=Inf`.
pub(super) fn v2_metric_descriptor(path: &str) -> Result<Reply, Reply> {
    let raw = &path["/api/v2/metrics/".len()..];
    let selector: String =
        url::form_urlencoded::parse(format!("s={}", raw.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    let expr = MetricExpression::parse(&selector).map_err(|m| error(400, &m))?;
    let metric = sim_metric(&expr.key)
        .ok_or_else(|| error(404, &format!("Metric key {} not found", expr.key)))?;
    let aggregation = if expr.aggregation.is_some() {
        "value"
    } else {
        "avg"
    };
    Ok((
        StatusCode::OK,
        json!({
            "metricId": selector,
            "displayName": expr.key,
            "unit": if metric.base == "responsetime" { "MicroSecond" } else { "Count" },
            "entityType": [metric.entity_type],
            "defaultAggregation": {"type": aggregation},
            "resolutionInfSupported": true,
        }),
    ))
}
