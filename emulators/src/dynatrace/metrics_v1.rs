//! Metrics v1: `POST /api/v1/timeseries` in `queryMode: total`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::aggregate::{aggregate, points, sim_metric, Agg};
use super::model::World;
use super::wire::{error, int_field, Reply};

pub(super) fn v1_timeseries(w: &World, body: Option<Value>) -> Result<Reply, Reply> {
    let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
    let id = body["timeseriesId"]
        .as_str()
        .ok_or_else(|| error(400, "timeseriesId is required"))?;
    let metric = sim_metric(id).ok_or_else(|| error(400, &format!("Timeseries {id} not found")))?;
    let (from, to) = (
        int_field(&body, "startTimestamp"),
        int_field(&body, "endTimestamp"),
    );
    let (Some(from), Some(to)) = (from, to) else {
        return Err(error(400, "startTimestamp and endTimestamp are required"));
    };
    let total = body["queryMode"]
        .as_str()
        .is_some_and(|m| m.eq_ignore_ascii_case("total"));
    if !total {
        return Err(error(400, "the simulator serves queryMode total only"));
    }
    let percentile = body.get("percentile").and_then(|p| {
        p.as_f64()
            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
    });
    let agg_name = body["aggregationType"].as_str().unwrap_or("avg");
    let agg = Agg::parse(agg_name, percentile).ok_or_else(|| {
        error(
            400,
            &format!("aggregationType {agg_name} is invalid (percentile needs 1-99)"),
        )
    })?;
    let include_parents = body["includeParentIds"].as_bool().unwrap_or(false);
    let filter: Option<Vec<String>> = body["entities"].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    });
    if let Some(ids) = &filter {
        for id in ids {
            let known = w.entity(id).is_some_and(|e| {
                e.entity_type == metric.entity_type
                    || (include_parents && e.entity_type == "SERVICE")
            });
            if !known {
                return Err(error(
                    400,
                    &format!(
                        "Entity {id} is not supported by timeseries {}",
                        body["timeseriesId"]
                    ),
                ));
            }
        }
    }
    let mut data_points = serde_json::Map::new();
    let mut names = serde_json::Map::new();
    for e in w
        .entities
        .iter()
        .filter(|e| e.entity_type == metric.entity_type)
    {
        let parent = e
            .from_relationships
            .get("isServiceMethodOfService")
            .and_then(|p| p.first())
            .cloned();
        let selected = match &filter {
            None => !points(w, &e.entity_id, metric.base, from, to).is_empty(),
            Some(ids) => {
                ids.contains(&e.entity_id) || parent.as_ref().is_some_and(|p| ids.contains(p))
            }
        };
        if !selected {
            continue;
        }
        let value = aggregate(w, &[e.entity_id.as_str()], metric.base, agg, from, to);
        let key = match (&parent, include_parents) {
            (Some(p), true) => {
                if let Some(pe) = w.entity(p) {
                    names.insert(p.clone(), json!(pe.display_name));
                }
                format!("{}, {p}", e.entity_id)
            }
            _ => e.entity_id.clone(),
        };
        data_points.insert(key, json!([[from, value]]));
        names.insert(e.entity_id.clone(), json!(e.display_name));
    }
    let unit = match (metric.base, agg) {
        (_, Agg::Count) => "Count (count)",
        ("responsetime", _) => "MicroSecond (µs)",
        ("failurerate", _) => "Percent (%)",
        _ => "PerMinute (count/min)",
    };
    Ok((
        StatusCode::OK,
        json!({"result": {
            "dataPoints": data_points,
            "unit": unit,
            "resolutionInMillisUTC": to - from,
            "aggregationType": agg_name.to_ascii_uppercase(),
            "entities": names,
            "timeseriesId": id,
        }}),
    ))
}
