//! Prometheus as an SLI provider: an instant query (`GET /api/v1/query`) at the window's end.
//! Exactly one sample counts; none (or NaN/±Inf) is no data; several is an error that says
//! how to aggregate; Prometheus' own `errorType`/`error` are passed on. As in Keptn's
//! prometheus-service, a query Prometheus answered without one value fails its SLI only;
//! a Prometheus that cannot be asked (unreachable, timed out, credentials refused, 5xx) is
//! [`SliError::Unavailable`] and fails the evaluation.
//!
//! The same client is the canary gate's sample source ([`samples`]): the raw points of a range
//! query, one per step.

pub mod samples;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::metrics::TimeWindow;
use crate::ports::sli::{SliError, SliProvider};
use crate::text::{printable, redacted_url, truncate_chars};

pub struct Prometheus {
    base_url: String,
    /// The URL as messages show it: without user and password, which a URL may carry.
    shown_url: String,
    http: reqwest::Client,
    /// Per query, for the message when it runs out.
    timeout: Duration,
    /// Requests sent so far (the canary gate counts them).
    requests: AtomicU64,
}

/// How much of an error body a message quotes, in characters.
const CAUSE_LIMIT: usize = 200;

impl Prometheus {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let parsed = url::Url::parse(base_url).map_err(|e| {
            format!(
                "\"{}\" is not a URL ({e}); give e.g. http://prometheus:9090",
                redacted_url(base_url)
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "\"{}\" is not an http(s) URL",
                redacted_url(base_url)
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut shown = parsed.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(Prometheus {
            base_url: base_url.trim_end_matches('/').to_string(),
            shown_url: shown.as_str().trim_end_matches('/').to_string(),
            http,
            timeout,
            requests: AtomicU64::new(0),
        })
    }

    /// `GET <base URL><path>` with `params`: the JSON body of a 2xx answer, or the error
    /// that says whether the query or Prometheus failed.
    async fn get_json(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, SliError> {
        let url = format!("{}{path}", self.base_url);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|e| {
                // reqwest's own message would repeat the URL, credentials and all.
                SliError::Unavailable(if e.is_timeout() {
                    format!(
                        "Prometheus at {} did not answer within {} (the query timeout)",
                        self.shown_url,
                        humantime::format_duration(self.timeout)
                    )
                } else {
                    format!(
                        "cannot reach Prometheus at {}: {}",
                        self.shown_url,
                        e.without_url()
                    )
                })
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            SliError::Unavailable(format!(
                "Prometheus at {} answered {status}, but its body could not be read: {}",
                self.shown_url,
                e.without_url()
            ))
        })?;
        if !status.is_success() {
            return Err(http_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            SliError::Unavailable(format!(
                "Prometheus at {} answered {status} without JSON ({e}): {}; is the URL Prometheus' base URL?",
                self.shown_url,
                error_cause(&text).unwrap_or_else(|| "an empty body".into())
            ))
        })
    }
}

/// One sample's value: Prometheus sends `[timestamp, "1.23"]`.
fn sample(pair: &Value) -> Result<f64, SliError> {
    let text = pair.get(1).and_then(Value::as_str).ok_or_else(|| {
        SliError::Provider(format!("Prometheus sent a sample without a value: {pair}"))
    })?;
    let value: f64 = text
        .parse()
        .map_err(|_| SliError::Provider(format!("Prometheus sent \"{text}\", not a number")))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(SliError::NoData(format!(
            "the value is {text} (for example a rate over no requests)"
        )))
    }
}

/// Read an instant-query answer.
pub fn read_answer(body: &Value) -> Result<f64, SliError> {
    if body["status"] != "success" {
        return Err(SliError::Provider(format!(
            "Prometheus refused the query: {}: {}",
            body["errorType"].as_str().unwrap_or("error"),
            body["error"].as_str().unwrap_or("no message")
        )));
    }
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("scalar") => sample(&data["result"]),
        Some("vector") => {
            let series = data["result"].as_array().cloned().unwrap_or_default();
            match series.len() {
                0 => Err(SliError::NoData("the query returned no series".into())),
                1 => sample(&series[0]["value"]),
                n => Err(SliError::Ambiguous(format!(
                    "the query returned {n} series, not one: aggregate them, e.g. sum(...), max(...) or avg(...) around the query"
                ))),
            }
        }
        other => Err(SliError::Provider(format!(
            "the query returned a {}, not a single value: use an instant vector or a scalar",
            other.unwrap_or("nothing")
        ))),
    }
}

/// Why an answer that is not 2xx failed, from its body: Prometheus' `errorType: error`, a
/// proxy's `message`, or the start of a body that is not JSON, on one line.
fn error_cause(body: &str) -> Option<String> {
    let cause = match serde_json::from_str::<Value>(body) {
        Ok(json) => match (
            json["errorType"].as_str(),
            json["error"].as_str(),
            json["message"].as_str(),
        ) {
            (Some(kind), Some(error), _) => format!("{kind}: {error}"),
            (None, Some(error), _) => error.to_string(),
            (_, None, Some(message)) => message.to_string(),
            _ => return None,
        },
        Err(_) => body.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let cause = truncate_chars(&printable(cause.trim()), CAUSE_LIMIT);
    (!cause.is_empty()).then_some(cause)
}

/// The error of an answer that is not 2xx, keeping its status and cause. Only a query's own
/// fault (400 bad_data, 422 execution) fails its SLI alone; the rest says no query can be
/// answered, so the evaluation fails and the worker retries.
pub fn http_error(status: reqwest::StatusCode, body: &str) -> SliError {
    let cause = error_cause(body).unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("no reason given")
            .into()
    });
    let message = format!("Prometheus answered {status}: {cause}");
    match status.as_u16() {
        401 | 403 => SliError::Unavailable(format!(
            "{message} (check the user and password in the URL, http://user:password@host:9090, or the proxy in front of Prometheus)"
        )),
        // /api/v1/query exists on every Prometheus: a 404 says the URL is not one.
        404 => SliError::Unavailable(format!(
            "{message} (is the URL Prometheus' base URL, without /api/v1?)"
        )),
        408 | 429 | 500..=599 => SliError::Unavailable(message),
        _ => SliError::Provider(message),
    }
}

/// `time` as Prometheus' Go client sends it: whole seconds without a fraction.
fn query_time(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

#[async_trait]
impl SliProvider for Prometheus {
    fn deployment_fallback(&self) -> Option<&'static str> {
        // prometheus-service's get-sli handler: no deployment (and no `deployment` label) is
        // "primary".
        Some("primary")
    }

    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError> {
        let time = query_time(window.to_ms);
        let body = self
            .get_json(
                "/api/v1/query",
                &[("query", query), ("time", time.as_str())],
            )
            .await?;
        read_answer(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn credentials_in_the_url_never_reach_a_message() {
        let p = Prometheus::new("http://admin:s3cret@127.0.0.1:1", Duration::from_secs(2)).unwrap();
        let window = TimeWindow {
            from_ms: 0,
            to_ms: 1_000,
        };
        let e = p.value("up", window).await.unwrap_err().to_string();
        assert!(
            e.contains("cannot reach Prometheus at http://127.0.0.1:1"),
            "{e}"
        );
        assert!(!e.contains("s3cret") && !e.contains("admin"), "{e}");
        let bad = Prometheus::new("prometheus:9090", Duration::from_secs(2))
            .err()
            .unwrap();
        assert!(
            bad.contains("is not an http(s) URL") || bad.contains("give e.g."),
            "{bad}"
        );
    }

    #[test]
    fn an_error_answer_keeps_its_status_and_cause_and_says_whether_the_query_or_prometheus_failed()
    {
        use reqwest::StatusCode;
        let unauthorized = "Prometheus answered 401 Unauthorized: Unauthorized (check the user and password in the URL, http://user:password@host:9090, or the proxy in front of Prometheus)";
        let cases = [
            (401, r#"{"message":"Unauthorized"}"#, SliError::Unavailable(unauthorized.into())),
            (401, "Unauthorized\n", SliError::Unavailable(unauthorized.into())),
            (401, "", SliError::Unavailable(unauthorized.into())),
            (
                403,
                "<html>\n<title>403 Forbidden</title></html>",
                SliError::Unavailable("Prometheus answered 403 Forbidden: <html> <title>403 Forbidden</title></html> (check the user and password in the URL, http://user:password@host:9090, or the proxy in front of Prometheus)".into()),
            ),
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#,
                SliError::Provider("Prometheus answered 400 Bad Request: bad_data: parse error at char 5".into()),
            ),
            (
                422,
                r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#,
                SliError::Provider("Prometheus answered 422 Unprocessable Entity: execution: many-to-many matching not allowed".into()),
            ),
            (
                503,
                r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
                SliError::Unavailable("Prometheus answered 503 Service Unavailable: timeout: query timed out in expression evaluation".into()),
            ),
            (
                502,
                "bad gateway\u{202E}",
                SliError::Unavailable("Prometheus answered 502 Bad Gateway: bad gateway\u{FFFD}".into()),
            ),
            (
                404,
                "404 page not found",
                SliError::Unavailable("Prometheus answered 404 Not Found: 404 page not found (is the URL Prometheus' base URL, without /api/v1?)".into()),
            ),
        ];
        for (status, body, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(http_error(status, body), expected, "{status} {body}");
        }
        let long = "x".repeat(1000);
        let SliError::Provider(cut) = http_error(StatusCode::BAD_REQUEST, &long) else {
            panic!("a 400 is the query's")
        };
        assert!(cut.ends_with('…') && cut.chars().count() < 260, "{cut}");
    }

    #[test]
    fn the_time_is_sent_in_whole_seconds_as_prometheus_client_does() {
        assert_eq!(query_time(1_571_649_085_000), "1571649085");
        assert_eq!(query_time(1_571_649_085_250), "1571649085.250");
    }

    /// Answers each connection with the next canned (status, body), or never answers
    /// (`None`): the answers a real Prometheus will not give on request.
    async fn canned(answers: Vec<Option<(u16, &'static str)>>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut silent = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap() == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                match answer {
                    Some((status, body)) => {
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        stream.write_all(answer.as_bytes()).await.unwrap();
                    }
                    // Kept open and silent until the test ends.
                    None => silent.push(stream),
                }
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        url
    }

    #[tokio::test]
    async fn a_refused_query_fails_its_sli_and_an_unauthorised_or_silent_prometheus_is_unavailable()
    {
        let url = canned(vec![
            Some((401, r#"{"message":"Unauthorized"}"#)),
            Some((
                400,
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#,
            )),
            Some((200, "<html>login</html>")),
            None,
        ])
        .await;
        let p = Prometheus::new(&url, Duration::from_millis(300)).unwrap();
        let window = TimeWindow {
            from_ms: 0,
            to_ms: 1_000,
        };
        let e = p.value("up", window).await.unwrap_err();
        assert!(
            matches!(&e, SliError::Unavailable(m) if m.starts_with("Prometheus answered 401 Unauthorized: Unauthorized")),
            "{e:?}"
        );
        assert_eq!(
            p.value("sum(", window).await,
            Err(SliError::Provider(
                "Prometheus answered 400 Bad Request: bad_data: parse error at char 5".into()
            ))
        );
        let e = p.value("up", window).await.unwrap_err();
        assert!(
            matches!(&e, SliError::Unavailable(m) if m.contains("answered 200 OK without JSON") && m.contains("<html>login</html>")),
            "{e:?}"
        );
        assert_eq!(
            p.value("up", window).await,
            Err(SliError::Unavailable(format!(
                "Prometheus at {url} did not answer within 300ms (the query timeout)"
            )))
        );
    }

    #[test]
    fn answers_are_one_value_no_data_or_an_error_that_says_why() {
        let vector = |result: Value| json!({"status": "success", "data": {"resultType": "vector", "result": result}});
        assert_eq!(
            read_answer(&vector(json!([{"metric": {}, "value": [1.0, "2.5"]}]))),
            Ok(2.5)
        );
        assert_eq!(
            read_answer(
                &json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "7"]}})
            ),
            Ok(7.0)
        );
        assert!(matches!(
            read_answer(&vector(json!([]))),
            Err(SliError::NoData(_))
        ));
        assert!(matches!(
            read_answer(&vector(json!([{"value": [1.0, "NaN"]}]))),
            Err(SliError::NoData(_))
        ));
        assert!(matches!(
            read_answer(&vector(json!([{"value": [1.0, "+Inf"]}]))),
            Err(SliError::NoData(_))
        ));
        let two = read_answer(&vector(
            json!([{"value": [1.0, "1"]}, {"value": [1.0, "2"]}]),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            two.contains("returned 2 series") && two.contains("sum(...)"),
            "{two}"
        );
        let refused = read_answer(
            &json!({"status": "error", "errorType": "bad_data", "error": "parse error"}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            refused,
            "Prometheus refused the query: bad_data: parse error"
        );
        let matrix = read_answer(
            &json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
        )
        .unwrap_err()
        .to_string();
        assert!(matrix.contains("a matrix, not a single value"), "{matrix}");
    }
}
