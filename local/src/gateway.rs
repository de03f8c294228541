//! A tiny local API Gateway: HTTP on loopback, turned into REST API proxy events (payload
//! 1.0) for the function behind each route, and the function's proxy answer turned back into
//! HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use unbreakable_emulators::lambda::apigw::rest_event;
use unbreakable_emulators::lambda::{Invocation, RuntimeEmulator};

/// (method, path) → the function's emulator.
pub type Routes = BTreeMap<(String, String), Arc<RuntimeEmulator>>;

pub struct Gateway {
    pub address: SocketAddr,
    /// Dropping it stops the server (the graceful shutdown waits on its receiver).
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Gateway {
    pub async fn start(routes: Routes) -> std::io::Result<Self> {
        let app = Router::new().fallback(handle).with_state(Arc::new(routes));
        let (address, tx) =
            unbreakable_emulators::serve::serve(unbreakable_emulators::serve::loopback(), app)
                .await?;
        Ok(Gateway {
            address,
            _shutdown: tx,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

async fn handle(
    State(routes): State<Arc<Routes>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let Some(function) = routes.get(&(method.to_string(), path.clone())) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"message": format!("no route {method} {path}; routes: {}", routes.keys().map(|(m, p)| format!("{m} {p}")).collect::<Vec<_>>().join(", "))})),
        )
            .into_response();
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let query_refs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let header_refs: Vec<(&str, &str)> = header_pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let text = String::from_utf8_lossy(&body).to_string();
    let event = rest_event(
        method.as_str(),
        &path,
        &query_refs,
        &header_refs,
        (!body.is_empty()).then_some(text.as_str()),
    );
    // API Gateway's integration timeout.
    match function.invoke(event, Duration::from_secs(29)).await {
        Ok(Invocation::Response(answer)) => proxy_response(&answer),
        Ok(Invocation::Error(e)) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(serde_json::json!({"message": "Internal server error", "function": e})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::GATEWAY_TIMEOUT,
            axum::Json(serde_json::json!({"message": e})),
        )
            .into_response(),
    }
}

/// `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` → HTTP.
fn proxy_response(answer: &Value) -> Response {
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|c| StatusCode::from_u16(c as u16).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for (k, v) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    for (k, values) in answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for v in values.as_array().into_iter().flatten() {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
    }
    let body = answer["body"].as_str().unwrap_or_default().to_string();
    (status, headers, body).into_response()
}
