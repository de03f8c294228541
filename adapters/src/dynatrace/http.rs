//! The HTTP side of the Dynatrace client: authentication, timeouts, retries with backoff and
//! `Retry-After`, a concurrency limit, and errors that say what to fix without ever showing
//! the token.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;

/// An API token. It only ever leaves this type inside the `Authorization` header.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn new(token: impl Into<String>) -> Result<Self, DynatraceError> {
        let token = token.into().trim().to_string();
        if token.is_empty() {
            return Err(DynatraceError::Config(
                "the Dynatrace API token is empty: set DT_API_TOKEN".into(),
            ));
        }
        if token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(DynatraceError::Config(
                "the Dynatrace API token contains spaces or control characters: copy it again"
                    .into(),
            ));
        }
        Ok(ApiToken(token))
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// How hard to try.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after the first attempt, on 429, 5xx, timeouts and connection failures.
    pub max_retries: u32,
    /// First backoff; doubles each retry, plus up to the same again in jitter.
    pub backoff_base: Duration,
    /// A `Retry-After` longer than this is capped.
    pub max_retry_after: Duration,
    /// Requests in flight at once, per client.
    pub concurrency: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff_base: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(60),
            concurrency: 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynatraceError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach Dynatrace for {endpoint} at {base_url} after {attempts} attempt(s): {reason}. Check the tenant URL (DT_TENANT_URL, or the command's --dynatrace-url or --url) and the network")]
    Unreachable {
        endpoint: String,
        base_url: String,
        attempts: u32,
        reason: String,
    },
    #[error("Dynatrace did not answer {endpoint} within {timeout_secs} s ({attempts} attempt(s))")]
    Timeout {
        endpoint: String,
        timeout_secs: u64,
        attempts: u32,
    },
    #[error("Dynatrace rejected the API token for {endpoint} (401: {message}). Check DT_API_TOKEN: it must be a valid token of this tenant")]
    Unauthorized { endpoint: String, message: String },
    #[error("the API token lacks the scope `{scope}` needed for {endpoint} (403: {message}). Add the scope to the token in Dynatrace (Access tokens)")]
    MissingScope {
        endpoint: String,
        scope: String,
        message: String,
    },
    #[error("{endpoint} answered HTTP {status}{}: {message}", retried(*.attempts))]
    Http {
        endpoint: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error("unexpected answer from {endpoint}: {detail}")]
    Decode { endpoint: String, detail: String },
}

fn retried(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

impl DynatraceError {
    pub fn status(&self) -> Option<u16> {
        match self {
            DynatraceError::Http { status, .. } => Some(*status),
            DynatraceError::Unauthorized { .. } => Some(401),
            DynatraceError::MissingScope { .. } => Some(403),
            _ => None,
        }
    }
}

/// The token scope an endpoint needs (Dynatrace API reference §12).
pub fn required_scope(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        (_, p) if p.starts_with("/api/v1/") => "DataExport",
        (_, p) if p.starts_with("/api/v2/metrics") => "metrics.read",
        (_, p) if p.starts_with("/api/v2/entities") => "entities.read",
        ("POST", "/api/v2/events/ingest") => "events.ingest",
        (_, p) if p.starts_with("/api/v2/events") => "events.read",
        ("POST", p) if p.starts_with("/api/v2/problems") => "problems.write",
        (_, p) if p.starts_with("/api/v2/problems") => "problems.read",
        _ => "unknown",
    }
}

/// An answered request.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A Dynatrace tenant over HTTP.
#[derive(Debug)]
pub struct DynatraceHttp {
    base_url: String,
    token: ApiToken,
    client: reqwest::Client,
    options: ClientOptions,
    limiter: Arc<Semaphore>,
    requests_sent: AtomicUsize,
}

impl DynatraceHttp {
    /// `base_url` is the tenant URL (`https://abc123.live.dynatrace.com` or
    /// `https://host/e/<env>`), with or without a trailing slash.
    pub fn new(
        base_url: &str,
        token: ApiToken,
        options: ClientOptions,
    ) -> Result<Self, DynatraceError> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let parsed = url::Url::parse(trimmed).map_err(|e| {
            DynatraceError::Config(format!("the Dynatrace tenant URL \"{trimmed}\" is not a URL ({e}): use e.g. https://abc12345.live.dynatrace.com"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(DynatraceError::Config(format!(
                "the Dynatrace tenant URL \"{trimmed}\" must be http(s)://host[/e/<environment-id>]"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("unbreakable/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DynatraceError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(DynatraceHttp {
            base_url: trimmed.to_string(),
            token,
            client,
            limiter: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            requests_sent: AtomicUsize::new(0),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests_sent(&self) -> usize {
        self.requests_sent.load(Ordering::Relaxed)
    }

    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, DynatraceError> {
        self.send(Method::GET, path, query, None).await
    }

    /// GET every page: collects `items` from each answer and follows `next` (a cursor or page
    /// key field), which is then sent alone as `next_param`, as Dynatrace requires.
    pub async fn get_all_pages(
        &self,
        path: &str,
        first: Vec<(&str, String)>,
        items: &str,
        next: &str,
        next_param: &str,
    ) -> Result<Vec<Value>, DynatraceError> {
        let mut query = first;
        let mut all = Vec::new();
        loop {
            let body = self.get(path, &query).await?.body;
            all.extend(body[items].as_array().cloned().unwrap_or_default());
            match body[next].as_str() {
                Some(key) if !key.is_empty() => query = vec![(next_param, key.to_string())],
                _ => return Ok(all),
            }
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, DynatraceError> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// Send with retries. 401/403 fail at once; 429, 5xx, timeouts and connection failures are
    /// retried up to `max_retries` times with exponential backoff and jitter, honouring
    /// `Retry-After`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, DynatraceError> {
        let endpoint = format!("{method} {path}");
        let url = format!("{}{path}", self.base_url);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = self.limiter.acquire().await.expect("limiter never closes");
                self.requests_sent.fetch_add(1, Ordering::Relaxed);
                let mut request = self
                    .client
                    .request(method.clone(), &url)
                    .header(AUTHORIZATION, format!("Api-Token {}", self.token.0))
                    .query(query);
                if let Some(body) = body {
                    request = request.json(body);
                }
                request.send().await
            };
            let retry_after;
            let failure = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| DynatraceError::Decode {
                                endpoint: endpoint.clone(),
                                detail: format!("body is not JSON ({e})"),
                            })?
                        };
                        return Ok(Answer {
                            status,
                            headers,
                            body,
                        });
                    }
                    let message = error_message(&text, status);
                    match status.as_u16() {
                        401 => return Err(DynatraceError::Unauthorized { endpoint, message }),
                        403 => {
                            return Err(DynatraceError::MissingScope {
                                scope: required_scope(&method, path).to_string(),
                                endpoint,
                                message,
                            })
                        }
                        429 | 500..=599 => {
                            retry_after = parse_retry_after(&headers);
                            DynatraceError::Http {
                                endpoint: endpoint.clone(),
                                status: status.as_u16(),
                                message,
                                attempts: attempt,
                            }
                        }
                        code => {
                            return Err(DynatraceError::Http {
                                endpoint,
                                status: code,
                                message,
                                attempts: attempt,
                            })
                        }
                    }
                }
                Err(e) if e.is_timeout() => {
                    retry_after = None;
                    DynatraceError::Timeout {
                        endpoint: endpoint.clone(),
                        timeout_secs: self.options.request_timeout.as_secs(),
                        attempts: attempt,
                    }
                }
                Err(e) => {
                    retry_after = None;
                    DynatraceError::Unreachable {
                        endpoint: endpoint.clone(),
                        base_url: self.base_url.clone(),
                        attempts: attempt,
                        reason: error_chain(&e.without_url()),
                    }
                }
            };
            if attempt > self.options.max_retries {
                return Err(failure);
            }
            let delay = match retry_after {
                Some(wait) => wait.min(self.options.max_retry_after),
                None => backoff(self.options.backoff_base, attempt),
            };
            tracing::debug!(%endpoint, attempt, delay_ms = delay.as_millis() as u64, error = %failure, "retrying Dynatrace request");
            tokio::time::sleep(delay).await;
        }
    }
}

/// base × 2^(attempt−1), plus jitter of up to the same again.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1 << (attempt - 1).min(10));
    exp + exp.mul_f64(fastrand::f64())
}

/// `Retry-After` in seconds (Dynatrace sends seconds when it sends the header at all).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The `error.message` of the Dynatrace envelope, with constraint violations, else the body.
fn error_message(text: &str, status: StatusCode) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        let snippet: String = text.chars().take(200).collect();
        return if snippet.trim().is_empty() {
            status.canonical_reason().unwrap_or("no body").to_string()
        } else {
            snippet
        };
    };
    let error = &body["error"];
    let mut message = error["message"]
        .as_str()
        .unwrap_or("no message")
        .to_string();
    if let Some(violations) = error["constraintViolations"].as_array() {
        let details: Vec<String> = violations
            .iter()
            .map(|v| {
                format!(
                    "{}: {}",
                    v["path"].as_str().unwrap_or("?"),
                    v["message"].as_str().unwrap_or("?")
                )
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    message
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let token = ApiToken::new("dt0c01.ABC.SECRET").unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
        let http = DynatraceHttp::new(
            "https://x.live.dynatrace.com/",
            token,
            ClientOptions::default(),
        )
        .unwrap();
        assert!(!format!("{http:?}").contains("SECRET"));
        assert_eq!(http.base_url(), "https://x.live.dynatrace.com");
    }

    #[test]
    fn bad_urls_and_tokens_say_what_to_fix() {
        let err = DynatraceHttp::new(
            "abc.live.dynatrace.com",
            ApiToken::new("t").unwrap(),
            ClientOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is not a URL"), "{err}");
        assert!(ApiToken::new("  ")
            .unwrap_err()
            .to_string()
            .contains("set DT_API_TOKEN"));
    }

    #[test]
    fn scopes_follow_the_reference_table() {
        assert_eq!(
            required_scope(&Method::POST, "/api/v1/timeseries"),
            "DataExport"
        );
        assert_eq!(
            required_scope(&Method::GET, "/api/v2/metrics/query"),
            "metrics.read"
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/v2/events/ingest"),
            "events.ingest"
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/v2/problems/P-1/comments"),
            "problems.write"
        );
    }

    #[test]
    fn error_envelope_is_read_with_constraint_violations() {
        let body = r#"{"error":{"code":400,"message":"Constraints violated.","constraintViolations":[{"path":"from","message":"bad","parameterLocation":"QUERY"}]}}"#;
        assert_eq!(
            error_message(body, StatusCode::BAD_REQUEST),
            "Constraints violated. (from: bad)"
        );
        assert_eq!(error_message("", StatusCode::BAD_GATEWAY), "Bad Gateway");
    }

    #[test]
    fn backoff_grows_and_jitters_within_bounds() {
        let base = Duration::from_millis(100);
        for attempt in 1..=3 {
            let d = backoff(base, attempt);
            let floor = base * (1 << (attempt - 1));
            assert!(d >= floor && d <= floor * 2, "{attempt}: {d:?}");
        }
    }
}
