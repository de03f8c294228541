//! The Lambda Runtime API (`/2018-06-01/runtime/...`) as the `lambda_runtime` crate uses it:
//! a long-polled `next` that hands out queued events with their request id and deadline,
//! and `response` / `error` posts that complete them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Response(Value),
    /// `{"errorType", "errorMessage"}` from `/error`.
    Error(Value),
}

impl Invocation {
    pub fn response(self) -> Value {
        match self {
            Invocation::Response(v) => v,
            Invocation::Error(e) => panic!("the function failed: {e}"),
        }
    }
}

struct Queued {
    id: String,
    event: Value,
    deadline_ms: u128,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<Queued>>,
    notify: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    init_errors: Mutex<Vec<Value>>,
    counter: Mutex<u64>,
    /// When the function first asked for an event: the end of its init phase.
    first_poll: Mutex<Option<Instant>>,
    /// When each event was handed to the function, in order.
    handed_out: Mutex<Vec<Instant>>,
}

pub struct RuntimeEmulator {
    pub address: SocketAddr,
    inner: Arc<Inner>,
    /// Dropping it stops the server (the graceful shutdown waits on its receiver).
    _shutdown: oneshot::Sender<()>,
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl RuntimeEmulator {
    pub async fn start() -> std::io::Result<Self> {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(inner.clone());
        let (address, tx) = crate::serve::serve(crate::serve::loopback(), app).await?;
        Ok(RuntimeEmulator {
            address,
            inner,
            _shutdown: tx,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host:port, no scheme.
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// Queue an event with `timeout` as the function's deadline, and wait for its end.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Invocation, String> {
        let id = {
            let mut c = self.inner.counter.lock().expect("counter");
            *c += 1;
            format!("req-{:06}-{}", *c, epoch_ms() % 1_000_000)
        };
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .expect("waiting")
            .insert(id.clone(), tx);
        self.inner.queue.lock().expect("queue").push_back(Queued {
            id: id.clone(),
            event,
            deadline_ms: epoch_ms() + timeout.as_millis(),
        });
        self.inner.notify.notify_one();
        // A little beyond the deadline: the function answers by then or has timed out.
        match tokio::time::timeout(timeout + Duration::from_secs(2), rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id} was dropped")),
            Err(_) => {
                self.inner.waiting.lock().expect("waiting").remove(&id);
                Err(format!("invocation {id} timed out after {timeout:?}"))
            }
        }
    }

    pub fn init_errors(&self) -> Vec<Value> {
        self.inner.init_errors.lock().expect("init errors").clone()
    }

    /// When the function first polled `next`, if it has: Lambda's end of init.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.inner.first_poll.lock().expect("first poll")
    }

    /// When each event so far was handed to the function, in order.
    pub fn handed_out(&self) -> Vec<Instant> {
        self.inner.handed_out.lock().expect("handed out").clone()
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    inner
        .first_poll
        .lock()
        .expect("first poll")
        .get_or_insert_with(Instant::now);
    loop {
        let notified = inner.notify.notified();
        if let Some(q) = inner.queue.lock().expect("queue").pop_front() {
            inner
                .handed_out
                .lock()
                .expect("handed out")
                .push(Instant::now());
            let mut headers = HeaderMap::new();
            headers.insert(
                "lambda-runtime-aws-request-id",
                q.id.parse().expect("header"),
            );
            headers.insert(
                "lambda-runtime-deadline-ms",
                q.deadline_ms.to_string().parse().expect("header"),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test"
                    .parse()
                    .expect("header"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0"
                    .parse()
                    .expect("header"),
            );
            headers.insert("content-type", "application/json".parse().expect("header"));
            return (StatusCode::OK, headers, q.event.to_string()).into_response();
        }
        notified.await;
    }
}

fn complete(inner: &Inner, id: &str, outcome: Invocation) -> StatusCode {
    match inner.waiting.lock().expect("waiting").remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    complete(&inner, &id, Invocation::Response(value))
}

async fn error(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    complete(&inner, &id, Invocation::Error(value))
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.init_errors.lock().expect("init errors").push(value);
    StatusCode::ACCEPTED
}
