//! [`AlertSource`] on Alertmanager's API v2: `GET /api/v2/alerts` with the alert's labels as
//! filters, active and neither silenced nor inhibited. An alert is confirmed when an alert of
//! the same fingerprint and start time is listed; anything else (another start, silenced,
//! resolved, Alertmanager unreachable or answering nonsense) is not, with the reason.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::lanes::LaneKey;
use crate::ports::remediation::{AlertConfirmation, AlertSource};
use crate::remediation::sequence::Problem;
use crate::text::redacted_url;

pub struct AlertmanagerApi {
    base_url: String,
    timeout: Duration,
    /// Built at the first confirmation: most worker invocations never need it.
    http: std::sync::OnceLock<reqwest::Client>,
}

impl AlertmanagerApi {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let parsed = url::Url::parse(base_url).map_err(|e| {
            format!("\"{base_url}\" is not a URL ({e}); give e.g. http://alertmanager:9093")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "\"{}\" is not an http(s) URL",
                redacted_url(base_url)
            ));
        }
        Ok(AlertmanagerApi {
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
            http: std::sync::OnceLock::new(),
        })
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.timeout)
                .build()
                .expect("an HTTP client with rustls")
        })
    }
}

/// A label matcher as Alertmanager's `filter` takes it: `name="value"`, quotes and
/// backslashes escaped.
fn matcher(name: &str, value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{name}=\"{escaped}\"")
}

/// Alertmanager's `startsAt`, in milliseconds.
fn starts_ms(alert: &Value) -> Option<i64> {
    let text = alert.get("startsAt")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Whether `alerts` (the API's answer) lists the problem's alert as active.
pub fn lists_firing(alerts: &Value, fingerprint: &str, opened_ms: i64) -> Result<bool, String> {
    let list = alerts
        .as_array()
        .ok_or("Alertmanager's answer is not a list of alerts")?;
    Ok(list.iter().any(|alert| {
        alert.get("fingerprint").and_then(Value::as_str) == Some(fingerprint)
            && starts_ms(alert) == Some(opened_ms)
            && alert
                .pointer("/status/state")
                .and_then(Value::as_str)
                .is_some_and(|state| state == "active")
    }))
}

#[async_trait]
impl AlertSource for AlertmanagerApi {
    async fn confirm(&self, lane: &LaneKey, problem: &Problem) -> AlertConfirmation {
        let unconfirmed = |why: String| AlertConfirmation::Unconfirmed(why);
        let Some((fingerprint, _)) = problem.id.split_once('@') else {
            return unconfirmed(format!("{} is not an Alertmanager alert id", problem.id));
        };
        let query = [
            ("active", "true".to_string()),
            ("silenced", "false".to_string()),
            ("inhibited", "false".to_string()),
            ("filter", matcher("alertname", &problem.title)),
            ("filter", matcher("service", &lane.service)),
            ("filter", matcher("stage", &lane.stage)),
        ];
        let answer = self
            .http()
            .get(format!("{}/api/v2/alerts", self.base_url))
            .query(&query)
            .send()
            .await;
        let answer = match answer {
            Ok(a) if a.status().is_success() => a,
            Ok(a) => {
                tracing::warn!(status = %a.status(), "Alertmanager refused the alerts query");
                return unconfirmed(format!(
                    "Alertmanager answered {} to the alerts query",
                    a.status().as_u16()
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "Alertmanager did not answer");
                return unconfirmed("Alertmanager did not answer the alerts query".into());
            }
        };
        let alerts: Value = match answer.json().await {
            Ok(v) => v,
            Err(_) => return unconfirmed("Alertmanager's answer is not JSON".into()),
        };
        match lists_firing(&alerts, fingerprint, problem.opened_ms) {
            Ok(true) => AlertConfirmation::Firing,
            Ok(false) => unconfirmed(format!(
                "Alertmanager does not list alert {} as firing (resolved, silenced or inhibited)",
                problem.id
            )),
            Err(why) => unconfirmed(why.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_active_alert_of_the_same_fingerprint_and_start_is_firing() {
        let t = "2026-11-22T01:00:00Z";
        let ms = chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis();
        let alert = |fp: &str, start: &str, state: &str| json!({"fingerprint": fp, "startsAt": start, "status": {"state": state}});
        let listed = json!([alert("aaaa", t, "active")]);
        assert!(lists_firing(&listed, "aaaa", ms).unwrap());
        assert!(!lists_firing(&listed, "bbbb", ms).unwrap());
        assert!(!lists_firing(&listed, "aaaa", ms + 1000).unwrap());
        assert!(!lists_firing(&json!([alert("aaaa", t, "suppressed")]), "aaaa", ms).unwrap());
        assert!(lists_firing(&json!({"error": "x"}), "aaaa", ms).is_err());
    }

    #[test]
    fn a_label_value_is_quoted_as_alertmanager_reads_it() {
        assert_eq!(matcher("alertname", "a\"b\\c"), "alertname=\"a\\\"b\\\\c\"");
    }
}
