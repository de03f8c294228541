//! The simulator's own `/sim/*` endpoints for tests: what was received, faults, live data.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::model::{EntityDef, Faults, World};

/// `/sim/*`: read what was received, inject faults, feed live data. No authentication.
pub(super) fn endpoint(
    w: &mut World,
    method: &Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let bad = |m: String| (StatusCode::BAD_REQUEST, json!({"error": m}));
    match (method.as_str(), path) {
        ("GET", "requests") => (StatusCode::OK, json!(w.requests)),
        ("DELETE", "requests") => {
            w.requests.clear();
            (StatusCode::OK, json!({}))
        }
        ("GET", "events") => (StatusCode::OK, json!(w.events)),
        ("GET", "comments") => (
            StatusCode::OK,
            json!(w
                .comments
                .iter()
                .map(|(p, c)| json!({"problemId": p, "comment": c}))
                .collect::<Vec<_>>()),
        ),
        ("GET", "faults") => (StatusCode::OK, json!(w.faults)),
        ("PUT", "faults") => match serde_json::from_value::<Faults>(body.unwrap_or(json!({}))) {
            Ok(f) => {
                w.faults = f;
                (StatusCode::OK, json!(w.faults))
            }
            Err(e) => bad(format!("faults: {e}")),
        },
        ("POST", "entities") => {
            match serde_json::from_value::<Vec<EntityDef>>(body.unwrap_or(json!([]))) {
                Ok(list) => {
                    for e in list {
                        w.upsert_entity(e);
                    }
                    (StatusCode::OK, json!({"entities": w.entities.len()}))
                }
                Err(e) => bad(format!("entities: expected a list of entities ({e})")),
            }
        }
        ("POST", "problems") => match body {
            Some(p) if p["problemId"].is_string() => {
                let id = p["problemId"].clone();
                w.problems.retain(|x| x["problemId"] != id);
                w.problems.push(p);
                (StatusCode::OK, json!({"problemId": id}))
            }
            _ => bad("problems: expected a problem object with problemId".into()),
        },
        ("POST", "ingest") => ingest(w, body.unwrap_or(Value::Null))
            .map_or_else(bad, |n| (StatusCode::OK, json!({"accepted": n}))),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"error": format!("no control endpoint {method} /sim/{path}")}),
        ),
    }
}

/// Live measurements: `{"points": [{entityId, metric, timestampMs, value}]}` and/or
/// `{"requests": [{entityId, timestampMs, responseTimeUs, failed}]}`.
fn ingest(w: &mut World, body: Value) -> Result<usize, String> {
    let mut n = 0;
    for p in body["points"].as_array().into_iter().flatten() {
        let (Some(entity), Some(metric), Some(t), Some(v)) = (
            p["entityId"].as_str(),
            p["metric"].as_str(),
            p["timestampMs"].as_i64(),
            p["value"].as_f64(),
        ) else {
            return Err(format!(
                "ingest: point {p} needs entityId, metric, timestampMs and value"
            ));
        };
        let bucket = t - t.rem_euclid(w.live_bucket_ms.max(1));
        w.series
            .entry((entity.to_string(), metric.to_string()))
            .or_default()
            .insert(bucket, v);
        n += 1;
    }
    for r in body["requests"].as_array().into_iter().flatten() {
        let (Some(entity), Some(t), Some(rt)) = (
            r["entityId"].as_str(),
            r["timestampMs"].as_i64(),
            r["responseTimeUs"].as_f64(),
        ) else {
            return Err(format!(
                "ingest: request {r} needs entityId, timestampMs and responseTimeUs"
            ));
        };
        w.ingest_request(entity, t, rt, r["failed"].as_bool().unwrap_or(false));
        n += 1;
    }
    Ok(n)
}
