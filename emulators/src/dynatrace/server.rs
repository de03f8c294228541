//! The simulator's HTTP server: Dynatrace v1/v2 endpoints with the documented shapes, token
//! scopes, injected faults, and `/sim/*` control endpoints for tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::aggregate::{aggregate, points, sim_metric, Agg};
use super::model::{EntityDef, Faults, Fixture, RecordedRequest, World};
use super::selector::{
    has_tag, parse_tag, split_top_level, unquote, EntitySelector, MetricExpression,
};

type Shared = Arc<Mutex<World>>;
type Reply = (StatusCode, Value);

/// A running simulator.
pub struct DynatraceSimulator {
    pub base_url: String,
    pub world: Shared,
    /// Dropping it stops the server (the graceful shutdown waits on its receiver).
    _shutdown: tokio::sync::oneshot::Sender<()>,
    pub address: SocketAddr,
}

impl DynatraceSimulator {
    /// Start on a free loopback port with `fixture` loaded.
    pub async fn start(fixture: Fixture) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("address"), fixture).await
    }

    pub async fn start_on(address: SocketAddr, fixture: Fixture) -> std::io::Result<Self> {
        let world: Shared = Arc::new(Mutex::new(World::from_fixture(fixture)));
        let app = Router::new().fallback(handle).with_state(world.clone());
        let (address, tx) = crate::serve::serve(address, app).await?;
        Ok(DynatraceSimulator {
            base_url: format!("http://{address}"),
            world,
            _shutdown: tx,
            address,
        })
    }

    pub fn set_faults(&self, faults: Faults) {
        self.world.lock().expect("world").faults = faults;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.world.lock().expect("world").requests.clone()
    }

    pub fn clear_requests(&self) {
        self.world.lock().expect("world").requests.clear();
    }

    pub fn comments(&self) -> Vec<(String, Value)> {
        self.world.lock().expect("world").comments.clone()
    }

    pub fn events(&self) -> Vec<Value> {
        self.world.lock().expect("world").events.clone()
    }
}

fn error(code: u16, message: &str) -> Reply {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        json!({"error": {"code": code, "message": message}}),
    )
}

fn scope_for(method: &Method, path: &str) -> (&'static str, &'static str) {
    match (method.as_str(), path) {
        (_, p) if p.starts_with("/api/v1/") => (
            "DataExport",
            "Access problem and event feed, metrics, and topology",
        ),
        (_, p) if p.starts_with("/api/v2/metrics") => ("metrics.read", "Read metrics"),
        (_, p) if p.starts_with("/api/v2/entities") => ("entities.read", "Read entities"),
        ("POST", "/api/v2/events/ingest") => ("events.ingest", "Ingest events"),
        (_, p) if p.starts_with("/api/v2/events") => ("events.read", "Read events"),
        ("POST", p) if p.starts_with("/api/v2/problems") => ("problems.write", "Write problems"),
        _ => ("problems.read", "Read problems"),
    }
}

async fn handle(
    State(world): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let body_json: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };

    if let Some(control) = path.strip_prefix("/sim/") {
        let (status, value) = control_endpoint(&world, &method, control, body_json);
        return (status, axum::Json(value)).into_response();
    }

    let (faults, rule) = {
        let query_text = query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("api-token"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut w = world.lock().expect("world");
        let rule = w
            .faults
            .take_rule(&path, &query_text, &String::from_utf8_lossy(&body));
        (w.faults.clone(), rule)
    };
    let latency_ms = faults.latency_ms + rule.as_ref().map_or(0, |r| r.latency_ms);
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let mut w = world.lock().expect("world");
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        // The token may also come as a query parameter; never record it.
        query: query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("api-token"))
            .cloned()
            .collect(),
        body: body_json.clone(),
        authorized_header: headers.contains_key("authorization"),
        status: 200,
    };
    let mut extra_headers = HeaderMap::new();
    let rule_reply = rule.and_then(|r| match (r.status, r.body) {
        (None, None) => None,
        (status, Some(body)) => Some((
            StatusCode::from_u16(status.unwrap_or(200)).unwrap_or(StatusCode::OK),
            body,
        )),
        (Some(code), None) => Some(error(code, "Simulated failure (fault rule)")),
    });
    let (status, value) = if let Some(reply) = rule_reply {
        reply
    } else if let Some(code) = faults.fail_always {
        error(code, "Simulated server failure")
    } else if let Some(mut next) = w.faults.fail_next.clone().filter(|n| n.count > 0) {
        next.count -= 1;
        if next.status == 429 {
            if let Some(secs) = next.retry_after_secs {
                extra_headers.insert("retry-after", HeaderValue::from(secs));
            }
        }
        let status = next.status;
        w.faults.fail_next = Some(next);
        error(
            status,
            if status == 429 {
                "Too Many Requests"
            } else {
                "Simulated server failure"
            },
        )
    } else {
        match authenticate(&w, &method, &path, &headers, &query) {
            Err(reply) => reply,
            Ok(()) => route(&mut w, &method, &path, &query, body_json),
        }
    };
    record.status = status.as_u16();
    w.requests.push(record);
    drop(w);
    (status, extra_headers, axum::Json(value)).into_response()
}

fn authenticate(
    w: &World,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<(), Reply> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Api-Token "))
        .map(str::to_string);
    let from_query = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-token"))
        .map(|(_, v)| v.clone());
    let Some(scopes) = from_header.or(from_query).and_then(|t| w.tokens.get(&t)) else {
        return Err(error(401, "Missing authorization parameter."));
    };
    let (scope, name) = scope_for(method, path);
    if !scopes.iter().any(|s| s == scope) {
        return Err(error(
            403,
            &format!("Token is missing required scope. Use one of: {scope} ({name})"),
        ));
    }
    Ok(())
}

fn param<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn params<'q>(query: &'q [(String, String)], key: &str) -> Vec<&'q str> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// v2 time parameter: epoch ms, or `now-<N><m|h|d>`; default `fallback`.
fn v2_time(text: Option<&str>, fallback: i64) -> Result<i64, Reply> {
    let now = now_ms();
    let Some(text) = text else {
        return Ok(fallback);
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if text == "now" {
        return Ok(now);
    }
    let parsed = text.strip_prefix("now-").and_then(|rel| {
        let (n, unit) = rel.split_at(rel.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = n.parse().ok()?;
        let ms = match unit {
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return None,
        };
        Some(now - n * ms)
    });
    parsed.ok_or_else(|| error(400, &format!("Invalid timestamp: {text}")))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn route(
    w: &mut World,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: Option<Value>,
) -> Reply {
    let v1_entity_type = match path {
        "/api/v1/entity/services" => Some("SERVICE"),
        "/api/v1/entity/applications" => Some("APPLICATION"),
        "/api/v1/entity/infrastructure/hosts" => Some("HOST"),
        "/api/v1/entity/infrastructure/processes" => Some("PROCESS_GROUP_INSTANCE"),
        "/api/v1/entity/infrastructure/process-groups" => Some("PROCESS_GROUP"),
        _ => None,
    };
    let result = match (method.as_str(), path) {
        ("GET", _) if v1_entity_type.is_some() => {
            Ok(v1_entities(w, v1_entity_type.expect("some"), query))
        }
        ("POST", "/api/v1/timeseries") => v1_timeseries(w, body),
        ("POST", "/api/v1/events") => v1_post_event(w, body),
        ("GET", "/api/v1/events") => Ok(v1_events(w, query)),
        ("GET", "/api/v2/metrics/query") => v2_metrics(w, query),
        ("GET", p) if p.starts_with("/api/v2/metrics/") => v2_metric_descriptor(p),
        ("GET", "/api/v2/entities") => v2_entities(w, query),
        ("POST", "/api/v2/events/ingest") => v2_ingest(w, body),
        ("GET", "/api/v2/events") => v2_events(w, query),
        ("GET", "/api/v2/problems") => v2_problems(w, query),
        (m, p) => problems(w, m, p, body),
    };
    result.unwrap_or_else(|reply| reply)
}

fn v1_relationships(map: &std::collections::BTreeMap<String, Vec<String>>) -> Value {
    json!(map)
}

fn v1_entity_json(e: &EntityDef) -> Value {
    json!({
        "entityId": e.entity_id,
        "displayName": e.display_name,
        "discoveredName": e.display_name,
        "tags": e.tags,
        "fromRelationships": v1_relationships(&e.from_relationships),
        "toRelationships": v1_relationships(&e.to_relationships),
    })
}

fn v1_entities(w: &World, entity_type: &str, query: &[(String, String)]) -> Reply {
    let tags: Vec<_> = params(query, "tag").into_iter().map(parse_tag).collect();
    let ids = params(query, "entity");
    let list: Vec<Value> = w
        .entities
        .iter()
        .filter(|e| e.entity_type == entity_type)
        .filter(|e| tags.iter().all(|t| has_tag(e, t)))
        .filter(|e| ids.is_empty() || ids.contains(&e.entity_id.as_str()))
        .map(v1_entity_json)
        .collect();
    (StatusCode::OK, Value::Array(list))
}

fn int_field(body: &Value, key: &str) -> Option<i64> {
    body.get(key).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

fn v1_timeseries(w: &World, body: Option<Value>) -> Result<Reply, Reply> {
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

fn v2_metrics(w: &World, query: &[(String, String)]) -> Result<Reply, Reply> {
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
fn v2_metric_descriptor(path: &str) -> Result<Reply, Reply> {
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

fn v2_entity_json(w: &World, e: &EntityDef, fields: &str) -> Value {
    let mut v =
        json!({"entityId": e.entity_id, "type": e.entity_type, "displayName": e.display_name});
    let rels = |map: &std::collections::BTreeMap<String, Vec<String>>| {
        let out: serde_json::Map<String, Value> = map
            .iter()
            .map(|(k, ids)| {
                let list: Vec<Value> = ids.iter().map(|id| json!({"id": id, "type": w.entity(id).map(|o| o.entity_type.as_str()).unwrap_or_else(|| id.split('-').next().unwrap_or(""))})).collect();
                (k.clone(), Value::Array(list))
            })
            .collect();
        Value::Object(out)
    };
    if fields.contains("+tags") {
        v["tags"] = json!(e.tags.iter().map(|t| json!({"context": t.context, "key": t.key, "value": t.value, "stringRepresentation": t.string_representation()})).collect::<Vec<_>>());
    }
    if fields.contains("+fromRelationships") {
        v["fromRelationships"] = rels(&e.from_relationships);
    }
    if fields.contains("+toRelationships") {
        v["toRelationships"] = rels(&e.to_relationships);
    }
    v
}

fn v2_entities(w: &mut World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let (ids, offset, fields, page_size) = if let Some(key) = param(query, "nextPageKey") {
        if query.len() > 1 {
            return Err(error(
                400,
                "Constraints violated. (nextPageKey: must be the only parameter)",
            ));
        }
        let (ids, offset, fields) = w
            .pages
            .remove(key)
            .filter(|(_, _, f)| !f.starts_with("problems|"))
            .ok_or_else(|| error(400, "Invalid nextPageKey"))?;
        let size = fields
            .split('|')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        (ids, offset, fields, size)
    } else {
        let selector = EntitySelector::parse(
            param(query, "entitySelector")
                .ok_or_else(|| error(400, "Constraints violated. (entitySelector: required)"))?,
        )
        .map_err(|m| error(400, &m))?;
        let page_size: usize = param(query, "pageSize")
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        let ids = selector
            .select(w)
            .iter()
            .map(|e| e.entity_id.clone())
            .collect();
        (
            ids,
            0,
            format!("{}|{page_size}", param(query, "fields").unwrap_or("")),
            page_size,
        )
    };
    let page: Vec<Value> = ids
        .iter()
        .skip(offset)
        .take(page_size)
        .filter_map(|id| w.entity(id))
        .map(|e| v2_entity_json(w, e, &fields))
        .collect();
    let next = if offset + page_size < ids.len() {
        let key = format!("page-{}", w.fresh_id().unsigned_abs());
        w.pages
            .insert(key.clone(), (ids.clone(), offset + page_size, fields));
        Value::String(key)
    } else {
        Value::Null
    };
    Ok((
        StatusCode::OK,
        json!({"totalCount": ids.len(), "pageSize": page_size, "nextPageKey": next, "entities": page}),
    ))
}

fn v1_post_event(w: &mut World, body: Option<Value>) -> Result<Reply, Reply> {
    let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
    let event_type = body["eventType"]
        .as_str()
        .ok_or_else(|| error(400, "eventType is required"))?
        .to_string();
    let source = body["source"]
        .as_str()
        .ok_or_else(|| error(400, "source is required"))?
        .to_string();
    if event_type == "CUSTOM_DEPLOYMENT" && body["deploymentName"].as_str().is_none() {
        return Err(error(
            400,
            "deploymentName is required for CUSTOM_DEPLOYMENT",
        ));
    }
    let rules = &body["attachRules"];
    let mut matched: Vec<String> = rules["entityIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .filter(|id| w.entity(id).is_some())
        .collect();
    for rule in rules["tagRule"].as_array().into_iter().flatten() {
        let types: Vec<&str> = rule["meTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags: Vec<_> = rule["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| serde_json::from_value::<super::model::TagDef>(t.clone()).ok())
            .collect();
        for e in w.entities.iter().filter(|e| {
            types.contains(&e.entity_type.as_str()) && tags.iter().all(|t| has_tag(e, t))
        }) {
            if !matched.contains(&e.entity_id) {
                matched.push(e.entity_id.clone());
            }
        }
    }
    if matched.is_empty() {
        return Err(error(
            400,
            &format!(
                "Invalid attachRules object provided. No MEIdentifier do match: {}",
                rules
            ),
        ));
    }
    let start = int_field(&body, "start").unwrap_or_else(now_ms);
    let end = int_field(&body, "end").unwrap_or(start);
    let (mut event_ids, mut stored) = (vec![], vec![]);
    for entity_id in matched {
        let id = w.fresh_id();
        let entity = w.entity(&entity_id).cloned().expect("matched");
        let mut event = body.clone();
        let object = event.as_object_mut().expect("object body");
        object.remove("attachRules");
        object.remove("start");
        object.remove("end");
        object.extend([
            ("eventId".to_string(), json!(id)),
            ("id".to_string(), json!(format!("{id}_{start}"))),
            ("startTime".to_string(), json!(start)),
            ("endTime".to_string(), json!(end)),
            ("entityId".to_string(), json!(entity_id)),
            ("entityName".to_string(), json!(entity.display_name)),
            ("eventType".to_string(), json!(event_type)),
            ("eventStatus".to_string(), json!("CLOSED")),
            ("source".to_string(), json!(source)),
            ("tags".to_string(), json!(entity.tags)),
        ]);
        w.events.push(event);
        event_ids.push(json!(id));
        stored.push(json!(format!("{id}_{start}")));
    }
    Ok((
        StatusCode::OK,
        json!({"storedEventIds": event_ids, "storedIds": stored, "storedCorrelationIds": []}),
    ))
}

fn v1_events(w: &World, query: &[(String, String)]) -> Reply {
    let now = now_ms();
    let from = param(query, "from")
        .and_then(|s| s.parse().ok())
        .unwrap_or(now - 30 * 86_400_000);
    let to = param(query, "to")
        .and_then(|s| s.parse().ok())
        .unwrap_or(now);
    let mut events: Vec<Value> = w
        .events
        .iter()
        .filter(|e| param(query, "entityId").is_none_or(|id| e["entityId"] == id))
        .filter(|e| param(query, "eventType").is_none_or(|t| e["eventType"] == t))
        .filter(|e| {
            e["startTime"]
                .as_i64()
                .is_some_and(|s| s >= from && s <= to)
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64()));
    (
        StatusCode::OK,
        json!({"nextEventStartTms": null, "nextEventId": null, "nextCursor": null, "from": from, "to": to, "totalEventCount": events.len(), "events": events}),
    )
}

fn v2_ingest(w: &mut World, body: Option<Value>) -> Result<Reply, Reply> {
    let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
    let event_type = body["eventType"]
        .as_str()
        .ok_or_else(|| error(400, "Constraints violated. (eventType: must not be null)"))?
        .to_string();
    let title = body["title"]
        .as_str()
        .ok_or_else(|| error(400, "Constraints violated. (title: must not be null)"))?
        .to_string();
    let selector = body["entitySelector"]
        .as_str()
        .map(EntitySelector::parse)
        .transpose()
        .map_err(|m| error(400, &m))?;
    let matched: Vec<EntityDef> = match &selector {
        Some(s) => s.select(w).into_iter().cloned().collect(),
        None => vec![],
    };
    let start = body["startTime"].as_i64().unwrap_or_else(now_ms);
    let properties: Vec<Value> = body["properties"].as_object().into_iter().flatten().map(|(k, v)| json!({"key": k, "value": v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())})).collect();
    let mut results = Vec::new();
    for entity in matched {
        let id = w.fresh_id();
        let correlation = format!("{:016x}", id as u64);
        let mut props = properties.clone();
        props.push(json!({"key": "dt.event.group_label", "value": title}));
        w.events.push(json!({
            "eventId": format!("{id}_{start}"), "startTime": start, "endTime": body["endTime"].as_i64().unwrap_or(start),
            "eventType": event_type, "title": title,
            "entityId": {"entityId": {"id": entity.entity_id, "type": entity.entity_type}, "name": entity.display_name},
            // v1 feed fields too, so either API reads the same store.
            "entityName": entity.display_name, "source": body["properties"]["dt.event.source"].clone(),
            "customProperties": body["properties"].clone(),
            "properties": props, "status": "CLOSED", "correlationId": correlation,
            "entityTags": entity.tags.iter().map(|t| json!({"context": t.context, "key": t.key, "value": t.value, "stringRepresentation": t.string_representation()})).collect::<Vec<_>>(),
        }));
        results.push(json!({"correlationId": correlation, "status": "OK"}));
    }
    Ok((
        StatusCode::CREATED,
        json!({"reportCount": results.len(), "eventIngestResults": results}),
    ))
}

fn v2_events(w: &World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let now = now_ms();
    let from = v2_time(param(query, "from"), now - 2 * 3_600_000)?;
    let to = v2_time(param(query, "to"), now)?;
    let mut wanted_type = None;
    for criterion in param(query, "eventSelector")
        .map(|s| split_top_level(s, ','))
        .unwrap_or_default()
    {
        match super::selector::call(&criterion) {
            Some(("eventType", args)) => {
                wanted_type = Some(unquote(args).map_err(|m| error(400, &m))?)
            }
            _ => {
                return Err(error(
                    400,
                    &format!("unsupported event selector criterion {criterion}"),
                ))
            }
        }
    }
    let selector = param(query, "entitySelector")
        .map(EntitySelector::parse)
        .transpose()
        .map_err(|m| error(400, &m))?;
    let entity_of = |e: &Value| {
        e["entityId"]["entityId"]["id"]
            .as_str()
            .or(e["entityId"].as_str())
            .map(str::to_string)
    };
    let mut events: Vec<Value> = w
        .events
        .iter()
        .filter(|e| {
            wanted_type
                .as_ref()
                .is_none_or(|t| e["eventType"] == t.as_str())
        })
        .filter(|e| {
            e["startTime"]
                .as_i64()
                .is_some_and(|s| s >= from && s <= to)
        })
        .filter(|e| {
            selector.as_ref().is_none_or(|s| {
                entity_of(e)
                    .and_then(|id| w.entity(&id))
                    .is_some_and(|ent| s.matches(w, ent))
            })
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64()));
    Ok((
        StatusCode::OK,
        json!({"totalCount": events.len(), "pageSize": 1000, "events": events}),
    ))
}

/// One criterion of a problem selector: the field and the values it may take (ORed).
fn problem_criteria(text: &str) -> Result<Vec<(&'static str, Vec<String>)>, Reply> {
    let mut criteria = Vec::new();
    for criterion in split_top_level(text, ',') {
        let (name, args) = super::selector::call(&criterion).ok_or_else(|| {
            error(
                400,
                &format!("cannot parse problem selector criterion {criterion}"),
            )
        })?;
        let field = match name {
            "status" => "status",
            "severityLevel" => "severityLevel",
            "impactLevel" => "impactLevel",
            "displayId" => "displayId",
            "problemId" => "problemId",
            other => {
                return Err(error(
                    400,
                    &format!("unsupported problem selector criterion {other}"),
                ))
            }
        };
        let values = split_top_level(args, ',')
            .iter()
            .map(|a| unquote(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| error(400, &m))?;
        criteria.push((field, values));
    }
    Ok(criteria)
}

/// The entities a problem concerns: impacted, affected and its root cause.
fn problem_entities(problem: &Value) -> Vec<String> {
    ["impactedEntities", "affectedEntities"]
        .iter()
        .flat_map(|k| problem[*k].as_array().cloned().unwrap_or_default())
        .chain(std::iter::once(problem["rootCauseEntity"].clone()))
        .filter_map(|e| e["entityId"]["id"].as_str().map(str::to_string))
        .collect()
}

/// `GET /api/v2/problems`: problems active in the window (opened before its end, not closed
/// before its start), filtered by `problemSelector` and `entitySelector`, newest first, paged.
fn v2_problems(w: &mut World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let (ids, offset, page_size) = if let Some(key) = param(query, "nextPageKey") {
        if query.len() > 1 {
            return Err(error(
                400,
                "Constraints violated. (nextPageKey: must be the only parameter)",
            ));
        }
        let (ids, offset, fields) = w
            .pages
            .remove(key)
            .filter(|(_, _, f)| f.starts_with("problems|"))
            .ok_or_else(|| error(400, "Invalid nextPageKey"))?;
        let size = fields
            .split('|')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        (ids, offset, size)
    } else {
        let now = now_ms();
        let from = v2_time(param(query, "from"), now - 2 * 3_600_000)?;
        let to = v2_time(param(query, "to"), now)?;
        let criteria = problem_criteria(param(query, "problemSelector").unwrap_or(""))?;
        let selector = param(query, "entitySelector")
            .map(EntitySelector::parse)
            .transpose()
            .map_err(|m| error(400, &m))?;
        let page_size: usize = match param(query, "pageSize").map(str::parse) {
            None => 50,
            Some(Ok(n)) if (1..=500).contains(&n) => n,
            Some(_) => {
                return Err(error(
                    400,
                    "Constraints violated. (pageSize: must be between 1 and 500)",
                ))
            }
        };
        let mut matched: Vec<&Value> = w
            .problems
            .iter()
            .filter(|p| {
                let start = p["startTime"].as_i64().unwrap_or(i64::MIN);
                let end = p["endTime"].as_i64().unwrap_or(-1);
                start <= to && (end == -1 || end >= from)
            })
            .filter(|p| {
                criteria.iter().all(|(field, values)| {
                    p[*field]
                        .as_str()
                        .is_some_and(|v| values.iter().any(|x| x.eq_ignore_ascii_case(v)))
                })
            })
            .filter(|p| {
                selector.as_ref().is_none_or(|s| {
                    problem_entities(p)
                        .iter()
                        .filter_map(|id| w.entity(id))
                        .any(|e| s.matches(w, e))
                })
            })
            .collect();
        matched.sort_by_key(|p| std::cmp::Reverse(p["startTime"].as_i64()));
        let ids = matched
            .iter()
            .filter_map(|p| p["problemId"].as_str().map(str::to_string))
            .collect();
        (ids, 0, page_size)
    };
    let page: Vec<Value> = ids
        .iter()
        .skip(offset)
        .take(page_size)
        .filter_map(|id| w.problems.iter().find(|p| p["problemId"] == id.as_str()))
        .cloned()
        .collect();
    let next = if offset + page_size < ids.len() {
        let key = format!("page-{}", w.fresh_id().unsigned_abs());
        w.pages.insert(
            key.clone(),
            (
                ids.clone(),
                offset + page_size,
                format!("problems|{page_size}"),
            ),
        );
        Value::String(key)
    } else {
        Value::Null
    };
    Ok((
        StatusCode::OK,
        json!({"totalCount": ids.len(), "pageSize": page_size, "nextPageKey": next, "problems": page}),
    ))
}

/// A v2 problem's entity stubs as v1 `rankedEvents`/`rankedImpacts` entries.
fn v1_ranked(problem: &Value, key: &str) -> Value {
    problem[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|stub| json!({"entityId": stub["entityId"]["id"], "entityName": stub["name"], "status": problem["status"]}))
        .collect()
}

fn problems(w: &mut World, method: &str, path: &str, body: Option<Value>) -> Result<Reply, Reply> {
    let not_found = || error(404, &format!("No endpoint {method} {path}"));
    let (v1, rest) = if let Some(rest) = path.strip_prefix("/api/v1/problem/details/") {
        (true, rest)
    } else if let Some(rest) = path.strip_prefix("/api/v2/problems/") {
        (false, rest)
    } else {
        return Err(not_found());
    };
    let (raw_id, comments) = match rest.strip_suffix("/comments") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let id = url::form_urlencoded::parse(format!("x={raw_id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let problem = w
        .problems
        .iter()
        .find(|p| p["problemId"] == id.as_str())
        .cloned()
        .ok_or_else(|| error(404, &format!("Problem {id} not found")))?;
    match (method, comments) {
        ("GET", false) if v1 => Ok((
            StatusCode::OK,
            json!({"result": {
                "id": problem["problemId"], "displayName": problem["displayId"], "status": problem["status"], "title": problem["title"],
                "startTime": problem["startTime"], "endTime": problem["endTime"], "impactLevel": problem["impactLevel"],
                "severityLevel": problem["severityLevel"],
                // v1 names the entities in its ranked lists: affected entities are where the
                // events happened, impacted ones what they impact.
                "rankedEvents": v1_ranked(&problem, "affectedEntities"),
                "rankedImpacts": v1_ranked(&problem, "impactedEntities"),
                "commentCount": w.comments.iter().filter(|(p, _)| p == &id).count(), "tagsOfAffectedEntities": [],
            }}),
        )),
        ("GET", false) => Ok((StatusCode::OK, problem)),
        ("POST", true) => {
            let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
            let (field, content) = if v1 {
                ("comment", body["comment"].as_str())
            } else {
                ("message", body["message"].as_str())
            };
            let content = content
                .ok_or_else(|| {
                    error(
                        400,
                        &format!("Constraints violated. ({field}: must not be null)"),
                    )
                })?
                .to_string();
            if v1 && body["user"].as_str().is_none() {
                return Err(error(400, "Constraints violated. (user: must not be null)"));
            }
            let comment_id = format!("{}_{}", w.fresh_id(), now_ms());
            let stored = json!({"id": comment_id, "createdAtTimestamp": now_ms(), "content": content, "userName": body["user"].as_str().unwrap_or("api-token-owner"), "authorName": body["user"].as_str().unwrap_or("api-token-owner"), "context": body["context"]});
            w.comments.push((id, stored.clone()));
            Ok(if v1 {
                (StatusCode::OK, stored)
            } else {
                (StatusCode::CREATED, Value::Null)
            })
        }
        ("GET", true) => {
            let list: Vec<Value> = w
                .comments
                .iter()
                .filter(|(p, _)| p == &id)
                .map(|(_, c)| c.clone())
                .collect();
            Ok((
                StatusCode::OK,
                json!({"totalCount": list.len(), "pageSize": 500, "comments": list}),
            ))
        }
        _ => Err(not_found()),
    }
}

/// `/sim/*`: read what was received, inject faults, feed live data. No authentication.
fn control_endpoint(
    world: &Shared,
    method: &Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut w = world.lock().expect("world");
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
        ("POST", "ingest") => ingest(&mut w, body.unwrap_or(Value::Null))
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
