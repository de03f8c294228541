//! Alertmanager as a problem source, pure: its webhook (version 4) read as one
//! [`AlertNotice`] per alert, or refused as too large or malformed ([`AlertmanagerError`]).
//! The handler checks the `Authorization: Bearer` token and picks the HTTP status.
//!
//! Keptn's Alertmanager integration read `alerts[0]` only and dropped resolved alerts; here
//! every alert of a notification is a problem, and a resolved one closes it. Alertmanager
//! re-sends firing alerts every `repeat_interval`: the ids are stable (fingerprint and start),
//! so the lane recognises a repeat and starts nothing.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::remediation::sequence::{Problem, ProblemSource};
use crate::text::{is_hidden_or_control, parse_json_unique_keys, printable, truncate_chars};

/// As for Dynatrace's webhook: a notification of a few alerts is a few KB; anything larger
/// is not one Alertmanager would send with a sensible `max_alerts`.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// The most alerts one notification may carry: set `max_alerts` in the webhook receiver.
pub const MAX_ALERTS: usize = 100;
/// The webhook payload version Alertmanager 0.x sends (`"version": "4"`).
pub const WEBHOOK_VERSION: &str = "4";
/// The summary kept from the annotations, in characters.
const SUMMARY_LIMIT: usize = 1000;
/// Alert names are matched against remediation.yaml titles; longer ones are not names.
const TITLE_LIMIT: usize = 200;
/// Service and stage name a lane and a remediation file: at most this many characters.
const NAME_LIMIT: usize = crate::remediation::LANE_NAME_LIMIT;
/// A link longer than this is left out rather than shown.
const LINK_LIMIT: usize = 2000;

/// Firing opens a problem; resolved closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertState {
    Open,
    Closed,
}

/// One alert of a notification, as the remediation lane needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertNotice {
    /// `<fingerprint>@<startsAt in UTC, RFC 3339 with milliseconds>`: the same alert firing
    /// again after it resolved is a new problem; a repeat of a firing one is not.
    pub problem_id: String,
    /// `labels.alertname`, which remediation.yaml entries name.
    pub title: String,
    /// `labels.service`.
    pub service: String,
    /// `labels.stage`.
    pub stage: String,
    pub state: AlertState,
    /// `startsAt`, in milliseconds since the epoch.
    pub opened_ms: i64,
    /// `endsAt` of a resolved alert.
    pub ended_ms: Option<i64>,
    /// `annotations.summary` and `annotations.description`, on one line, without control or
    /// bidirectional formatting characters.
    pub summary: Option<String>,
    /// `annotations.summary` alone, when it can name a remediation.yaml entry (at most
    /// [`TITLE_LIMIT`] characters, no control or bidirectional formatting characters):
    /// Keptn's prometheus-service made it the problem title its remediations matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_title: Option<String>,
    /// `generatorURL` (the Prometheus expression behind the alert), when it is an http(s) URL.
    pub link: Option<String>,
}

impl AlertNotice {
    /// The problem the sequence keeps.
    pub fn problem(&self) -> Problem {
        Problem {
            id: self.problem_id.clone(),
            source: ProblemSource::Alertmanager,
            title: self.title.clone(),
            opened_ms: self.opened_ms,
            link: self.link.clone(),
            alt_title: self.summary_title.clone(),
        }
    }
}

/// What one webhook call carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNotification {
    /// One per alert, in the order sent.
    pub notices: Vec<AlertNotice>,
    /// Alerts Alertmanager left out of this call (`max_alerts`); they come again in a later
    /// call only if they change, so the answer should say so.
    pub truncated_alerts: u64,
}

/// A refused body: larger than the webhook takes ([`TooBig`](Self::TooBig),
/// [`TooManyAlerts`](Self::TooManyAlerts)) or not a notification ([`Invalid`](Self::Invalid)).
/// The message says what to change; the handler picks the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertmanagerError {
    #[error("the body is {bytes} bytes, more than the {MAX_BODY_BYTES} an Alertmanager notification needs; set max_alerts in the webhook receiver")]
    TooBig { bytes: usize },
    #[error("the notification carries {count} alerts, at most {MAX_ALERTS} alerts per notification are taken; set max_alerts: {MAX_ALERTS} in the webhook receiver")]
    TooManyAlerts { count: usize },
    #[error("{0}")]
    Invalid(String),
}

fn bad(message: impl Into<String>) -> AlertmanagerError {
    AlertmanagerError::Invalid(message.into())
}

/// A text from the body as it may appear in a message: short, on one line.
fn shown(text: &str) -> String {
    printable(&truncate_chars(text, 64))
}

/// A JSON value as it may appear in a message.
fn shown_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", shown(s)),
        other => shown(&other.to_string()),
    }
}

/// Read an Alertmanager webhook body; the error names the field (with the alert's index)
/// and what to change.
pub fn parse_notification(body: &[u8]) -> Result<AlertNotification, AlertmanagerError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(AlertmanagerError::TooBig { bytes: body.len() });
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        bad(format!(
            "the body is not UTF-8 text (invalid byte at offset {}); send Alertmanager's webhook JSON",
            e.valid_up_to()
        ))
    })?;
    let value = parse_json_unique_keys(text).map_err(|e| {
        bad(format!(
            "the body is not JSON with each key once ({e}); point an Alertmanager webhook receiver at this endpoint"
        ))
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object (Alertmanager's webhook payload)"))?;
    match object.get("version") {
        Some(Value::String(v)) if v == WEBHOOK_VERSION => {}
        Some(other) => {
            return Err(bad(format!(
                "version {} is not supported: this endpoint reads Alertmanager's webhook version \"{WEBHOOK_VERSION}\" (Alertmanager 0.x)",
                shown_value(other)
            )))
        }
        None => {
            return Err(bad(format!(
                "version is missing: this endpoint reads Alertmanager's webhook payload, version \"{WEBHOOK_VERSION}\""
            )))
        }
    }
    let truncated_alerts = match object.get("truncatedAlerts") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(format!(
                "truncatedAlerts {} is not a whole number of alerts",
                shown_value(v)
            ))
        })?,
    };
    let alerts = match object.get("alerts") {
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(bad(
                "alerts is empty: an Alertmanager notification carries at least one alert",
            ))
        }
        Some(Value::Array(list)) if list.len() > MAX_ALERTS => {
            return Err(AlertmanagerError::TooManyAlerts { count: list.len() })
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("alerts must be a JSON array of alerts")),
        None => {
            return Err(bad(
                "alerts is missing: send Alertmanager's webhook payload",
            ))
        }
    };
    let notices = alerts
        .iter()
        .enumerate()
        .map(|(i, alert)| parse_alert(i, alert))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AlertNotification {
        notices,
        truncated_alerts,
    })
}

/// Alertmanager's fingerprint: 16 hex digits (up to 32 accepted).
fn is_fingerprint(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// An RFC 3339 time with any offset, in milliseconds; `None` for Go's zero time
/// (`0001-01-01T00:00:00Z`), which Alertmanager sends as the end of a firing alert.
fn parse_time(text: &str) -> Result<Option<i64>, String> {
    let time = DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!(
            "\"{}\" is not an RFC 3339 time like 2024-05-01T12:00:00.123Z ({e})",
            shown(text)
        )
    })?;
    let ms = time.timestamp_millis();
    if time.with_timezone(&Utc).year() <= 1 {
        return Ok(None);
    }
    if ms < 0 {
        return Err(format!("\"{}\" is before 1970", shown(text)));
    }
    Ok(Some(ms))
}

fn utc_text(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("a time parsed from RFC 3339 is in range")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_alert(i: usize, alert: &Value) -> Result<AlertNotice, AlertmanagerError> {
    let at = |field: &str| format!("alerts[{i}].{field}");
    let alert = alert
        .as_object()
        .ok_or_else(|| bad(format!("alerts[{i}] must be a JSON object (an alert)")))?;
    let state = match alert.get("status") {
        Some(Value::String(s)) if s == "firing" => AlertState::Open,
        Some(Value::String(s)) if s == "resolved" => AlertState::Closed,
        Some(other) => {
            return Err(bad(format!(
                "{} {} is neither \"firing\" nor \"resolved\"",
                at("status"),
                shown_value(other)
            )))
        }
        None => {
            return Err(bad(format!(
                "{} is missing: Alertmanager sends \"firing\" or \"resolved\"",
                at("status")
            )))
        }
    };
    let labels = match alert.get("labels") {
        Some(Value::Object(labels)) => labels,
        Some(_) => {
            return Err(bad(format!(
                "{} must be a JSON object of label names and values",
                at("labels")
            )))
        }
        None => {
            return Err(bad(format!(
                "{} is missing: the alert needs its alertname, service and stage labels",
                at("labels")
            )))
        }
    };
    let label = |name: &str, how: &str| -> Result<String, AlertmanagerError> {
        match labels.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::String(_)) | None => Err(bad(format!(
                "{} is missing: {how}",
                at(&format!("labels.{name}"))
            ))),
            Some(other) => Err(bad(format!(
                "{} {} must be a string",
                at(&format!("labels.{name}")),
                shown_value(other)
            ))),
        }
    };
    let title = label(
        "alertname",
        "every alert names itself in an `alertname` label; name the alert rule",
    )?;
    if title.chars().count() > TITLE_LIMIT || title.chars().any(is_hidden_or_control) {
        return Err(bad(format!(
            "{} \"{}\" is not an alert name (at most {TITLE_LIMIT} characters, no control or bidirectional formatting characters): rename the alert rule",
            at("labels.alertname"),
            shown(&title)
        )));
    }
    let mut names = Vec::new();
    for name in ["service", "stage"] {
        let value = label(
            name,
            &format!("add a `{name}` label to the alert rule (unbreakable alert-rules does)"),
        )?;
        if !crate::remediation::is_lane_name(&value) {
            return Err(bad(format!(
                "{} \"{}\" is not a {name} name (1-{NAME_LIMIT} characters of A-Z a-z 0-9 . _ -): set the label to the {name} as unbreakable knows it",
                at(&format!("labels.{name}")),
                shown(&value)
            )));
        }
        names.push(value);
    }
    let stage = names.pop().expect("two names");
    let service = names.pop().expect("two names");
    let fingerprint = match alert.get("fingerprint") {
        Some(Value::String(f)) if is_fingerprint(f) => f.clone(),
        Some(other) => {
            return Err(bad(format!(
                "{} {} is not an Alertmanager fingerprint (16 hex digits like 4c6a1b2f0e9d8c7a)",
                at("fingerprint"),
                shown_value(other)
            )))
        }
        None => {
            return Err(bad(format!(
                "{} is missing: Alertmanager 0.19 and later send one with every alert",
                at("fingerprint")
            )))
        }
    };
    let time = |field: &str| -> Result<Option<i64>, AlertmanagerError> {
        match alert.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_time(s).map_err(|e| bad(format!("{} {e}", at(field)))),
            Some(other) => Err(bad(format!(
                "{} {} must be an RFC 3339 time in a string",
                at(field),
                shown_value(other)
            ))),
        }
    };
    let opened_ms = time("startsAt")?.ok_or_else(|| {
        bad(format!(
            "{} is missing: an alert without a start cannot be told apart from its repeats",
            at("startsAt")
        ))
    })?;
    let ended_ms = match (state, time("endsAt")?) {
        (AlertState::Open, _) => None,
        (AlertState::Closed, Some(ms)) => Some(ms),
        (AlertState::Closed, None) => {
            return Err(bad(format!(
                "{} is missing: a resolved alert says when it ended",
                at("endsAt")
            )))
        }
    };
    Ok(AlertNotice {
        problem_id: format!("{fingerprint}@{}", utc_text(opened_ms)),
        title,
        service,
        stage,
        state,
        opened_ms,
        ended_ms,
        summary: summary(alert.get("annotations").and_then(Value::as_object)),
        summary_title: summary_title(alert.get("annotations").and_then(Value::as_object)),
        link: alert
            .get("generatorURL")
            .and_then(Value::as_str)
            .and_then(web_link),
    })
}

/// `summary — description`, either alone, or none; one line, cut to [`SUMMARY_LIMIT`].
fn summary(annotations: Option<&Map<String, Value>>) -> Option<String> {
    let read = |name: &str| {
        annotations
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let text = match (read("summary"), read("description")) {
        (Some(s), Some(d)) if s != d => format!("{s} — {d}"),
        (Some(s), _) => s.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => return None,
    };
    Some(printable(&truncate_chars(&text, SUMMARY_LIMIT)))
}

/// `annotations.summary` as a title to match, or none: a summary that is not a short line
/// of visible text (a long templated description) names no entry.
fn summary_title(annotations: Option<&Map<String, Value>>) -> Option<String> {
    let summary = annotations?.get("summary")?.as_str()?.trim();
    (!summary.is_empty()
        && summary.chars().count() <= TITLE_LIMIT
        && !summary.chars().any(is_hidden_or_control))
    .then(|| summary.to_string())
}

/// Only an http(s) URL becomes a link: a `javascript:` one in a page would run.
fn web_link(text: &str) -> Option<String> {
    if text.len() > LINK_LIMIT {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What Alertmanager 0.25 sent for the sample rule (the local test's capture, shortened).
    fn body() -> Value {
        json!({
            "receiver": "unbreakable",
            "status": "firing",
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "error_rate", "service": "carts", "stage": "production", "project": "sockshop"},
                "annotations": {"summary": "error_rate", "description": "Error rate (%) is 4.2, violating the slo.yaml pass criterion \"<=1\""},
                "startsAt": "2024-05-01T12:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": "4c6a1b2f0e9d8c7a"
            }],
            "groupLabels": {"alertname": "error_rate"},
            "commonLabels": {"alertname": "error_rate"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": "{}:{alertname=\"error_rate\"}",
            "truncatedAlerts": 0
        })
    }

    fn parse(value: &Value) -> Result<AlertNotification, AlertmanagerError> {
        parse_notification(value.to_string().as_bytes())
    }

    #[test]
    fn a_firing_alert_is_an_open_notice_with_its_labels() {
        let n = parse(&body()).unwrap();
        assert_eq!(n.truncated_alerts, 0);
        assert_eq!(
            n.notices,
            vec![AlertNotice {
                problem_id: "4c6a1b2f0e9d8c7a@2024-05-01T12:00:00.123Z".into(),
                title: "error_rate".into(),
                service: "carts".into(),
                stage: "production".into(),
                state: AlertState::Open,
                opened_ms: 1_714_564_800_123,
                ended_ms: None,
                summary: Some("error_rate — Error rate (%) is 4.2, violating the slo.yaml pass criterion \"<=1\"".into()),
                summary_title: Some("error_rate".into()),
                link: Some("http://prometheus:9090/graph?g0.expr=up".into()),
            }]
        );
        let problem = n.notices[0].problem();
        assert_eq!(problem.source, ProblemSource::Alertmanager);
        assert_eq!(problem.id, n.notices[0].problem_id);
        assert_eq!(problem.title, "error_rate");
        assert_eq!(problem.alt_title.as_deref(), Some("error_rate"));
    }

    #[test]
    fn the_summary_is_a_second_title_only_when_it_can_name_an_entry() {
        let title = |summary: Value| {
            let mut b = body();
            b["alerts"][0]["annotations"]["summary"] = summary;
            parse(&b).unwrap().notices[0].problem().alt_title
        };
        assert_eq!(
            title(" Response time degradation ".into()),
            Some("Response time degradation".into())
        );
        for (case, summary) in [
            ("empty", json!("  ")),
            ("bidi", json!("Response\u{202E} time")),
            ("two lines", json!("Response time\ndegradation")),
            ("longer than a title", json!("x".repeat(201))),
            ("not text", json!(7)),
        ] {
            assert_eq!(title(summary), None, "{case}");
        }
    }

    #[test]
    fn every_alert_is_a_notice_and_a_resolved_one_closes_the_same_problem() {
        let mut b = body();
        let mut resolved = b["alerts"][0].clone();
        resolved["status"] = "resolved".into();
        // Alertmanager writes times in its own zone: the same instant, another offset.
        resolved["startsAt"] = "2024-05-01T14:00:00.123+02:00".into();
        resolved["endsAt"] = "2024-05-01T12:05:00Z".into();
        let mut other = b["alerts"][0].clone();
        other["fingerprint"] = "00000000000000ff".into();
        other["labels"]["alertname"] = "response_time_p95".into();
        b["alerts"] = json!([b["alerts"][0].clone(), other, resolved]);
        let n = parse(&b).unwrap();
        assert_eq!(n.notices.len(), 3, "Keptn read alerts[0] only");
        assert_eq!(n.notices[1].title, "response_time_p95");
        assert_ne!(n.notices[1].problem_id, n.notices[0].problem_id);
        assert_eq!(n.notices[2].state, AlertState::Closed);
        assert_eq!(n.notices[2].problem_id, n.notices[0].problem_id);
        assert_eq!(n.notices[2].ended_ms, Some(1_714_565_100_000));
    }

    #[test]
    fn the_same_alert_firing_again_after_it_resolved_is_a_new_problem() {
        let mut b = body();
        b["alerts"][0]["startsAt"] = "2024-05-01T13:00:00Z".into();
        let again = parse(&b).unwrap();
        let first = parse(&body()).unwrap();
        assert_ne!(again.notices[0].problem_id, first.notices[0].problem_id);
        assert_eq!(
            again.notices[0].problem_id,
            "4c6a1b2f0e9d8c7a@2024-05-01T13:00:00.000Z"
        );
    }

    #[test]
    fn truncated_alerts_are_reported_and_the_ones_that_came_are_read() {
        let mut b = body();
        b["truncatedAlerts"] = 7.into();
        let n = parse(&b).unwrap();
        assert_eq!(n.truncated_alerts, 7);
        assert_eq!(n.notices.len(), 1);
    }

    #[test]
    fn optional_parts_may_be_absent_and_a_script_link_is_no_link() {
        let mut b = body();
        let alert = b["alerts"][0].as_object_mut().unwrap();
        alert.remove("annotations");
        alert.remove("endsAt");
        alert.insert("generatorURL".into(), "javascript:alert(1)".into());
        b.as_object_mut().unwrap().remove("truncatedAlerts");
        let n = parse(&b).unwrap();
        assert_eq!(n.notices[0].summary, None);
        assert_eq!(n.notices[0].link, None);
        assert_eq!(n.truncated_alerts, 0);

        let mut b = body();
        b["alerts"][0]["annotations"] =
            json!({"description": "p95\u{202E} is\nhigh", "summary": ""});
        b["alerts"][0]["generatorURL"] = "".into();
        let n = parse(&b).unwrap();
        assert_eq!(
            n.notices[0].summary.as_deref(),
            Some("p95\u{FFFD} is\u{FFFD}high")
        );
        assert_eq!(n.notices[0].link, None);
    }

    /// Which refusal a bad body is, as the table names it (the handler maps each to a status).
    #[derive(Debug, PartialEq, Eq)]
    enum Kind {
        TooBig,
        TooManyAlerts,
        Invalid,
    }

    impl Kind {
        fn of(e: &AlertmanagerError) -> Kind {
            match e {
                AlertmanagerError::TooBig { .. } => Kind::TooBig,
                AlertmanagerError::TooManyAlerts { .. } => Kind::TooManyAlerts,
                AlertmanagerError::Invalid(_) => Kind::Invalid,
            }
        }
    }

    #[test]
    fn bad_bodies_say_which_field_of_which_alert() {
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut b = body();
            edit(&mut b);
            b.to_string().into_bytes()
        };
        let alert = |field: &'static str, value: Value| {
            with(&move |b: &mut Value| b["alerts"][0][field] = value.clone())
        };
        let without = |field: &'static str| {
            with(&move |b: &mut Value| {
                b["alerts"][0].as_object_mut().unwrap().remove(field);
            })
        };
        let label = |name: &'static str, value: Value| {
            with(&move |b: &mut Value| b["alerts"][0]["labels"][name] = value.clone())
        };
        let without_label = |name: &'static str| {
            with(&move |b: &mut Value| {
                b["alerts"][0]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove(name);
            })
        };
        let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let third_without_service = with(&|b: &mut Value| {
            let mut third = b["alerts"][0].clone();
            third["labels"].as_object_mut().unwrap().remove("service");
            b["alerts"] = json!([b["alerts"][0].clone(), b["alerts"][0].clone(), third]);
        });
        let cases: Vec<(&str, Vec<u8>, Kind, &str)> = vec![
            ("body_over_the_cap", huge.into_bytes(), Kind::TooBig, "bytes, more than the 524288 an Alertmanager notification needs; set max_alerts in the webhook receiver"),
            ("101_alerts", with(&|b| { let one = b["alerts"][0].clone(); b["alerts"] = json!(vec![one; 101]); }), Kind::TooManyAlerts, "the notification carries 101 alerts, at most 100 alerts per notification are taken; set max_alerts: 100 in the webhook receiver"),
            ("invalid_utf8", b"{\"version\":\"4\xff\"}".to_vec(), Kind::Invalid, "the body is not UTF-8 text (invalid byte at offset 13)"),
            ("not_json", b"alert!".to_vec(), Kind::Invalid, "the body is not JSON with each key once"),
            ("not_an_object", b"[]".to_vec(), Kind::Invalid, "the body must be a JSON object"),
            ("duplicate_status_key", br#"{"version":"4","version":"3"}"#.to_vec(), Kind::Invalid, "the key \"version\" appears twice in one object"),
            ("no_version", with(&|b| { b.as_object_mut().unwrap().remove("version"); }), Kind::Invalid, "version is missing: this endpoint reads Alertmanager's webhook payload, version \"4\""),
            ("version_3", with(&|b| b["version"] = "3".into()), Kind::Invalid, "version \"3\" is not supported: this endpoint reads Alertmanager's webhook version \"4\""),
            ("version_as_number", with(&|b| b["version"] = 4.into()), Kind::Invalid, "version 4 is not supported"),
            ("no_alerts", with(&|b| { b.as_object_mut().unwrap().remove("alerts"); }), Kind::Invalid, "alerts is missing"),
            ("alerts_not_a_list", with(&|b| b["alerts"] = json!({})), Kind::Invalid, "alerts must be a JSON array of alerts"),
            ("empty_alerts", with(&|b| b["alerts"] = json!([])), Kind::Invalid, "alerts is empty: an Alertmanager notification carries at least one alert"),
            ("alert_not_an_object", with(&|b| b["alerts"] = json!(["x"])), Kind::Invalid, "alerts[0] must be a JSON object (an alert)"),
            ("negative_truncated", with(&|b| b["truncatedAlerts"] = (-1).into()), Kind::Invalid, "truncatedAlerts -1 is not a whole number of alerts"),
            ("no_status", without("status"), Kind::Invalid, "alerts[0].status is missing: Alertmanager sends \"firing\" or \"resolved\""),
            ("status_pending", alert("status", "pending".into()), Kind::Invalid, "alerts[0].status \"pending\" is neither \"firing\" nor \"resolved\""),
            ("no_labels", without("labels"), Kind::Invalid, "alerts[0].labels is missing"),
            ("labels_a_list", alert("labels", json!([])), Kind::Invalid, "alerts[0].labels must be a JSON object"),
            ("no_alertname", without_label("alertname"), Kind::Invalid, "alerts[0].labels.alertname is missing: every alert names itself in an `alertname` label"),
            ("alertname_with_bidi", label("alertname", "slow\u{202E}".into()), Kind::Invalid, "alerts[0].labels.alertname \"slow\u{FFFD}\" is not an alert name"),
            ("alertname_too_long", label("alertname", "a".repeat(201).into()), Kind::Invalid, "is not an alert name (at most 200 characters"),
            ("no_service", without_label("service"), Kind::Invalid, "alerts[0].labels.service is missing: add a `service` label to the alert rule (unbreakable alert-rules does)"),
            ("service_of_the_third_alert", third_without_service, Kind::Invalid, "alerts[2].labels.service is missing: add a `service` label to the alert rule (unbreakable alert-rules does)"),
            ("empty_stage", label("stage", " ".into()), Kind::Invalid, "alerts[0].labels.stage is missing: add a `stage` label"),
            ("service_a_path", label("service", "../carts".into()), Kind::Invalid, "alerts[0].labels.service \"../carts\" is not a service name (1-100 characters of A-Z a-z 0-9 . _ -)"),
            ("stage_dots", label("stage", "..".into()), Kind::Invalid, "alerts[0].labels.stage \"..\" is not a stage name"),
            ("service_a_number", label("service", 3.into()), Kind::Invalid, "alerts[0].labels.service 3 must be a string"),
            ("no_fingerprint", without("fingerprint"), Kind::Invalid, "alerts[0].fingerprint is missing"),
            ("fingerprint_not_hex", alert("fingerprint", "zz; drop".into()), Kind::Invalid, "alerts[0].fingerprint \"zz; drop\" is not an Alertmanager fingerprint (16 hex digits"),
            ("no_start", without("startsAt"), Kind::Invalid, "alerts[0].startsAt is missing: an alert without a start cannot be told apart from its repeats"),
            ("zero_start", alert("startsAt", "0001-01-01T00:00:00Z".into()), Kind::Invalid, "alerts[0].startsAt is missing"),
            ("start_not_a_time", alert("startsAt", "yesterday".into()), Kind::Invalid, "alerts[0].startsAt \"yesterday\" is not an RFC 3339 time like 2024-05-01T12:00:00.123Z"),
            ("start_without_zone", alert("startsAt", "2024-05-01T12:00:00".into()), Kind::Invalid, "alerts[0].startsAt \"2024-05-01T12:00:00\" is not an RFC 3339 time"),
            ("start_before_1970", alert("startsAt", "1969-12-31T23:59:59Z".into()), Kind::Invalid, "alerts[0].startsAt \"1969-12-31T23:59:59Z\" is before 1970"),
            ("start_a_number", alert("startsAt", 1714564800.into()), Kind::Invalid, "alerts[0].startsAt 1714564800 must be an RFC 3339 time in a string"),
            ("resolved_without_end", with(&|b| { b["alerts"][0]["status"] = "resolved".into(); }), Kind::Invalid, "alerts[0].endsAt is missing: a resolved alert says when it ended"),
            ("end_not_a_time", alert("endsAt", "soon".into()), Kind::Invalid, "alerts[0].endsAt \"soon\" is not an RFC 3339 time"),
        ];
        for (name, body, kind, expected) in cases {
            let e = parse_notification(&body).unwrap_err();
            assert_eq!(Kind::of(&e), kind, "{name}: {e}");
            assert!(e.to_string().contains(expected), "{name}: {e}");
        }
    }
}
