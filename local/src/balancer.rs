//! A local round-robin load balancer: the stand-in for the load balancer in front of an Auto
//! Scaling group. An HTTP reverse proxy on a loopback port that hands each request to the
//! next of a set of backends; the set changes while it runs (`set_backends`), as instances
//! come and go.
//!
//! A backend that refuses the connection (an instance that just stopped) is skipped for the
//! next one, as a balancer's health check would soon take it out; any other failure is the
//! client's 502. With no backend at all the answer is 503.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// Bodies are buffered so a request can go to another backend; the sample app's are tiny.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Headers about one connection, not the request: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

#[derive(Default)]
struct Backends {
    list: RwLock<Vec<SocketAddr>>,
    next: AtomicUsize,
}

impl Backends {
    /// The backends in the order this request tries them: the next in turn first.
    fn turn(&self) -> Vec<SocketAddr> {
        let list = self.list.read().expect("backends").clone();
        if list.is_empty() {
            return list;
        }
        let first = self.next.fetch_add(1, Ordering::Relaxed) % list.len();
        list.iter()
            .cycle()
            .skip(first)
            .take(list.len())
            .copied()
            .collect()
    }
}

struct Proxy {
    address: SocketAddr,
    backends: Backends,
    http: reqwest::Client,
}

pub struct Balancer {
    proxy: Arc<Proxy>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Listen on a free loopback port, with no backend yet.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("the balancer cannot listen on a loopback port")?;
        let address = listener.local_addr()?;
        let proxy = Arc::new(Proxy {
            address,
            backends: Backends::default(),
            http: reqwest::Client::builder()
                // A queued request on a saturated instance may take long; never forever.
                .timeout(Duration::from_secs(60))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("the balancer's HTTP client")?,
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Balancer { proxy, task })
    }

    pub fn address(&self) -> SocketAddr {
        self.proxy.address
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.proxy.address)
    }

    /// The instances requests go to from now on, in turn.
    pub fn set_backends(&self, backends: Vec<SocketAddr>) {
        *self.proxy.backends.list.write().expect("backends") = backends;
    }

    pub fn backends(&self) -> Vec<SocketAddr> {
        self.proxy.backends.list.read().expect("backends").clone()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn forwardable(
    headers: &HeaderMap,
) -> impl Iterator<Item = (&HeaderName, &axum::http::HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let backends = proxy.backends.turn();
    if backends.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no backend behind the balancer at {}: no instance is registered (set_backends)",
                proxy.address
            ),
        )
            .into_response();
    }
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the balancer forwards bodies of up to {MAX_BODY} bytes"),
        )
            .into_response();
    };
    let mut refused = vec![];
    for backend in backends {
        let mut outgoing = proxy
            .http
            .request(parts.method.clone(), format!("http://{backend}{path}"))
            .body(body.clone());
        for (name, value) in forwardable(&parts.headers) {
            outgoing = outgoing.header(name, value);
        }
        match outgoing.send().await {
            Ok(answer) => {
                let status = answer.status();
                let mut response = Response::builder().status(status);
                for (name, value) in forwardable(answer.headers()) {
                    response = response.header(name, value);
                }
                return match answer.bytes().await {
                    Ok(bytes) => response
                        .body(Body::from(bytes))
                        .unwrap_or_else(|e| bad_gateway(&format!("{backend}: {e}"))),
                    Err(e) => bad_gateway(&format!("{backend} broke off its answer: {e}")),
                };
            }
            // Stopped instance: the next one in turn takes the request.
            Err(e) if e.is_connect() => refused.push(backend.to_string()),
            Err(e) => return bad_gateway(&format!("{backend}: {e}")),
        }
    }
    bad_gateway(&format!(
        "every backend refused the connection: {}",
        refused.join(", ")
    ))
}

fn bad_gateway(why: &str) -> Response {
    (StatusCode::BAD_GATEWAY, format!("balancer: {why}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    /// A backend that answers with its name, the method, path and query, and the body; 500
    /// on `/fail`.
    async fn backend(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(move |request: Request| async move {
            let (parts, body) = request.into_parts();
            let body = to_bytes(body, 1024).await.unwrap();
            let text = format!(
                "{name} {} {} {}",
                parts.method,
                parts.uri,
                String::from_utf8_lossy(&body)
            );
            let status = if parts.uri.path() == "/fail" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            (status, [("x-instance", name)], text)
        });
        let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (address, task)
    }

    /// An address nobody listens on.
    fn closed_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    async fn get(url: &str) -> (u16, String) {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    #[tokio::test]
    async fn requests_go_round_robin_to_the_backends_of_the_moment() {
        let (a, _a) = backend("a").await;
        let (b, _b) = backend("b").await;
        let balancer = Balancer::start().await.unwrap();
        balancer.set_backends(vec![a, b]);
        let mut served = vec![];
        for i in 0..4 {
            let (status, text) = get(&format!("{}/api/echo?text={i}", balancer.url())).await;
            assert_eq!(status, 200);
            served.push(text);
        }
        assert_eq!(
            served,
            vec![
                "a GET /api/echo?text=0 ",
                "b GET /api/echo?text=1 ",
                "a GET /api/echo?text=2 ",
                "b GET /api/echo?text=3 "
            ]
        );
        balancer.set_backends(vec![b]);
        assert_eq!(balancer.backends(), vec![b]);
        for _ in 0..2 {
            assert!(get(&balancer.url()).await.1.starts_with("b GET / "));
        }
    }

    #[tokio::test]
    async fn method_body_status_and_headers_pass_through() {
        let (a, _a) = backend("a").await;
        let balancer = Balancer::start().await.unwrap();
        balancer.set_backends(vec![a]);
        let client = reqwest::Client::new();
        let answer = client
            .request(
                Method::POST,
                format!("{}/api/cart?item=sock", balancer.url()),
            )
            .body("two")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["x-instance"], "a");
        assert_eq!(
            answer.text().await.unwrap(),
            "a POST /api/cart?item=sock two"
        );
        let (status, text) = get(&format!("{}/fail", balancer.url())).await;
        assert_eq!((status, text.as_str()), (500, "a GET /fail "));
    }

    #[tokio::test]
    async fn a_stopped_backend_is_skipped_and_none_at_all_is_explained() {
        let (a, _a) = backend("a").await;
        let gone = closed_port();
        let balancer = Balancer::start().await.unwrap();
        let (status, text) = get(&balancer.url()).await;
        assert_eq!(status, 503);
        assert_eq!(
            text,
            format!(
                "no backend behind the balancer at {}: no instance is registered (set_backends)",
                balancer.address()
            )
        );
        balancer.set_backends(vec![gone, a]);
        for _ in 0..3 {
            assert_eq!(get(&balancer.url()).await, (200, "a GET / ".into()));
        }
        balancer.set_backends(vec![gone]);
        assert_eq!(
            get(&balancer.url()).await,
            (
                502,
                format!("balancer: every backend refused the connection: {gone}")
            )
        );
    }

    #[tokio::test]
    async fn dropping_the_balancer_closes_its_port() {
        let balancer = Balancer::start().await.unwrap();
        let address = balancer.address();
        drop(balancer);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(address).await.is_err());
    }
}
