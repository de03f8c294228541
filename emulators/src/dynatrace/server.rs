//! The simulator's HTTP server: one handler for every request applies the token scopes and the
//! injected faults, records the request, and routes it to the module of its API area; `/sim/*`
//! goes to the control endpoints for tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use super::model::{Faults, Fixture, RecordedRequest, World};
use super::wire::{error, Reply};
use super::{control, entities, events, metrics_v1, metrics_v2, problems};

type Shared = Arc<Mutex<World>>;

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

    if let Some(rest) = path.strip_prefix("/sim/") {
        let (status, value) =
            control::endpoint(&mut world.lock().expect("world"), &method, rest, body_json);
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
        ("GET", _) if v1_entity_type.is_some() => Ok(entities::v1_entities(
            w,
            v1_entity_type.expect("some"),
            query,
        )),
        ("POST", "/api/v1/timeseries") => metrics_v1::v1_timeseries(w, body),
        ("POST", "/api/v1/events") => events::v1_post_event(w, body),
        ("GET", "/api/v1/events") => Ok(events::v1_events(w, query)),
        ("GET", "/api/v2/metrics/query") => metrics_v2::v2_metrics(w, query),
        ("GET", p) if p.starts_with("/api/v2/metrics/") => metrics_v2::v2_metric_descriptor(p),
        ("GET", "/api/v2/entities") => entities::v2_entities(w, query),
        ("POST", "/api/v2/events/ingest") => events::v2_ingest(w, body),
        ("GET", "/api/v2/events") => events::v2_events(w, query),
        ("GET", "/api/v2/problems") => problems::v2_problems(w, query),
        (m, p) => problems::problem_or_comments(w, m, p, body),
    };
    result.unwrap_or_else(|reply| reply)
}
