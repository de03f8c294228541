//! Prometheus as an SLI provider: an instant query (`GET /api/v1/query`) at the window's end.
//! Exactly one sample counts; none (or NaN/±Inf) is no data; several is an error that says
//! how to aggregate; Prometheus' own `errorType`/`error` are passed on.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::metrics::TimeWindow;
use crate::ports::sli::{SliError, SliProvider};

pub struct Prometheus {
    base_url: String,
    /// The URL as messages show it: without user and password, which a URL may carry.
    shown_url: String,
    http: reqwest::Client,
}

impl Prometheus {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let parsed = url::Url::parse(base_url).map_err(|e| {
            format!("\"{base_url}\" is not a URL ({e}); give e.g. http://prometheus:9090")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("\"{base_url}\" is not an http(s) URL"));
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

#[async_trait]
impl SliProvider for Prometheus {
    fn deployment_fallback(&self) -> Option<&'static str> {
        // prometheus-service's get-sli handler: no deployment (and no `deployment` label) is
        // "primary".
        Some("primary")
    }

    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError> {
        let url = format!("{}/api/v1/query", self.base_url);
        let time = format!("{:.3}", window.to_ms as f64 / 1000.0);
        let response = self
            .http
            .get(&url)
            .query(&[("query", query), ("time", time.as_str())])
            .send()
            .await
            .map_err(|e| {
                // reqwest's own message would repeat the URL, credentials and all.
                SliError::Provider(format!(
                    "cannot reach Prometheus at {}: {}",
                    self.shown_url,
                    e.without_url()
                ))
            })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| {
            SliError::Provider(format!(
                "Prometheus answered HTTP {status} without JSON: {}",
                e.without_url()
            ))
        })?;
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
