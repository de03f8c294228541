//! `POST /HandleAlertmanagerAlert`: Alertmanager's webhook (version 4), authenticated by the
//! `Authorization: Bearer` token of its `http_config.authorization`. Every alert is a problem
//! on the lane its `service` and `stage` labels name: firing opens it, resolved closes it.
//! The lane recognises a repeat (Alertmanager re-sends firing alerts), so a replayed
//! notification starts nothing.
//!
//! An alert reaches only a lane with a stored remediation.yaml (never the implicit rollback of
//! a group without one), and its actions run only once the worker confirmed it with
//! Alertmanager's API (`ALERTMANAGER_URL`), or those the file marks `allowUnconfirmed`. Work
//! is bounded: at most
//! [`MAX_ALERTS`](crate::inbound::alertmanager::MAX_ALERTS) alerts per notification, one write
//! per lane, and an answer before the deadline.
//!
//! The core reads the body ([`parse_notification`]); the Bearer token, its check and the HTTP
//! status of a refused body are this handler's.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::Setting;
use super::json_response;
use crate::inbound::alertmanager::{
    parse_notification, AlertNotice, AlertState, AlertmanagerError,
};
use crate::ports::lanes::{LaneConfigs, LaneKey, LaneStore, Notice, StoreError};
use crate::ports::secrets::SecretSource;
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::time::now_ms;

/// The path API Gateway routes to this handler (the old import path of the contract's).
pub use crate::contract::ALERTMANAGER_PATH;
/// Kept free before the deadline to answer.
const ANSWER_MARGIN_MS: i64 = 2_500;

pub const ALERTMANAGER_SECRET: Setting = Setting::optional(
    "ALERTMANAGER_SECRET_ID",
    "the Secrets Manager secret holding the Bearer token Alertmanager sends (unset: the Alertmanager webhook answers 404)",
);

pub struct AlertHandler {
    pub secrets: Arc<dyn SecretSource>,
    /// `None`: the stack has no Alertmanager route.
    pub secret_id: Option<String>,
    pub lanes: Arc<dyn LaneStore>,
    /// Where the lanes' remediation.yaml files are: only a lane with one takes alerts.
    pub configs: Arc<dyn LaneConfigs>,
    /// A lane given alerts is woken at once through these.
    pub wakeups: Arc<dyn Wakeups>,
}

/// The alerts of one lane in one notification.
struct LaneAlerts<'a> {
    notices: Vec<Notice>,
    alerts: Vec<&'a AlertNotice>,
}

fn described(notice: &AlertNotice, lane: &LaneKey) -> Value {
    json!({
        "problemId": notice.problem_id, "title": notice.title,
        "lane": lane.to_string(), "state": notice.state,
    })
}

impl AlertHandler {
    /// Answer one request, before `deadline_ms` (see [`super::problem::answer_deadline`]).
    pub async fn answer(
        &self,
        authorization: Option<&str>,
        body: &[u8],
        deadline_ms: i64,
    ) -> Response<Body> {
        let Some(secret_id) = &self.secret_id else {
            return json_response(
                404,
                json!({"error": "the Alertmanager webhook is not configured: set ALERTMANAGER_SECRET_ID"}),
            );
        };
        let secret = match self.secrets.secret(secret_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the Alertmanager secret");
                return json_response(
                    503,
                    json!({"error": "the webhook secret cannot be read; see the function log"}),
                );
            }
        };
        if !token_matches(bearer_token(authorization), &secret) {
            tracing::warn!(
                header_present = authorization.is_some(),
                "unauthenticated Alertmanager notification"
            );
            return json_response(
                401,
                json!({"error": "missing or wrong Authorization: Bearer token; set it in the receiver's http_config.authorization.credentials"}),
            );
        }
        let notification = match parse_notification(body) {
            Ok(n) => n,
            Err(e) => {
                let status = refusal_status(&e);
                tracing::warn!(status, error = %e, "refused Alertmanager notification");
                return json_response(status, json!({"error": e.to_string()}));
            }
        };
        let mut by_lane: BTreeMap<LaneKey, LaneAlerts> = BTreeMap::new();
        for notice in &notification.notices {
            let key = LaneKey {
                service: notice.service.clone(),
                stage: notice.stage.clone(),
            };
            let lane_notice = match notice.state {
                AlertState::Open => Notice::Opened {
                    problem: notice.problem(),
                },
                AlertState::Closed => Notice::Closed {
                    problem_id: notice.problem_id.clone(),
                    at_ms: notice.ended_ms.unwrap_or_else(now_ms),
                },
            };
            let lane = by_lane.entry(key).or_insert_with(|| LaneAlerts {
                notices: Vec::new(),
                alerts: Vec::new(),
            });
            lane.notices.push(lane_notice);
            lane.alerts.push(notice);
        }
        let (mut stored, mut refused, mut full, mut failed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (key, lane) in &by_lane {
            let refuse = |list: &mut Vec<Value>, reason: &str| {
                for alert in &lane.alerts {
                    let mut entry = described(alert, key);
                    entry["reason"] = json!(reason);
                    list.push(entry);
                }
            };
            if now_ms() + ANSWER_MARGIN_MS > deadline_ms {
                refuse(
                    &mut failed,
                    "not stored before the answer's deadline; Alertmanager re-sends",
                );
                continue;
            }
            match self.configs.config(key).await {
                Ok(Some(c)) if c.remediation_yaml.is_some() => {}
                Ok(_) => {
                    refuse(&mut refused, &format!(
                        "no remediation.yaml is stored for {key}: an alert only reaches a lane with one (store it with `unbreakable remediation apply`)"
                    ));
                    continue;
                }
                Err(e) => {
                    tracing::error!(lane = %key, error = %e, "cannot read the lane's configuration");
                    refuse(&mut failed, "the lane's configuration cannot be read just now (see the function's log); Alertmanager re-sends");
                    continue;
                }
            }
            match self.lanes.notify_all(key, &lane.notices, now_ms()).await {
                Ok(()) => {
                    // The lane starts on it now, not at the next sweep.
                    let wake = WakeUp::new(WakeTarget::lane(key), now_ms());
                    send_or_log(self.wakeups.as_ref(), wake, now_ms()).await;
                    stored.extend(lane.alerts.iter().map(|a| described(a, key)))
                }
                Err(StoreError::Full(reason)) => {
                    tracing::warn!(lane = %key, %reason, "lane limit reached");
                    refuse(&mut full, &reason);
                }
                Err(e) => {
                    tracing::error!(lane = %key, error = %e, "cannot store the alerts");
                    refuse(&mut failed, "the alerts cannot be stored just now (see the function's log); Alertmanager re-sends");
                }
            }
        }
        // Alertmanager re-sends a notification only on a 5xx or a 429; the alerts stored
        // already are recognised by the lane as repeats.
        let status = if !failed.is_empty() {
            503
        } else if !full.is_empty() {
            429
        } else if stored.is_empty() {
            422
        } else {
            200
        };
        tracing::info!(
            status,
            stored = stored.len(),
            refused = refused.len(),
            full = full.len(),
            failed = failed.len(),
            truncated = notification.truncated_alerts,
            "Alertmanager notification answered"
        );
        let mut answer =
            json!({"stored": stored, "truncatedAlerts": notification.truncated_alerts});
        for (name, list) in [("refused", refused), ("limited", full), ("failed", failed)] {
            if !list.is_empty() {
                answer[name] = json!(list);
            }
        }
        if status != 200 {
            let reason = answer
                .get("failed")
                .or(answer.get("limited"))
                .or(answer.get("refused"))
                .and_then(|l| l[0]["reason"].as_str())
                .unwrap_or_default()
                .to_string();
            answer["error"] = json!(reason);
        }
        json_response(status, answer)
    }
}

/// The status a refused body is answered with: 413 for more than the webhook takes (the
/// receiver's `max_alerts` is the fix), 400 for a body that is not a notification.
fn refusal_status(refusal: &AlertmanagerError) -> u16 {
    match refusal {
        AlertmanagerError::TooBig { .. } | AlertmanagerError::TooManyAlerts { .. } => 413,
        AlertmanagerError::Invalid(_) => 400,
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, as
/// RFC 7235 has it); `None` for another scheme or an empty token.
pub fn bearer_token(authorization_header: Option<&str>) -> Option<&str> {
    let header = authorization_header?.trim();
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether the presented token is the secret, in time that depends on neither (both are
/// hashed first, so not even the length shows). An empty secret matches nothing: a secret
/// left unset must not open the endpoint.
pub fn token_matches(presented: Option<&str>, secret: &str) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    if secret.is_empty() {
        return false;
    }
    let presented = Sha256::digest(presented.as_bytes());
    let secret = Sha256::digest(secret.as_bytes());
    bool::from(presented.as_slice().ct_eq(secret.as_slice()))
}

/// The `Authorization` header and the body of an API Gateway request. A header that is not
/// visible ASCII is still a header (refused by the token check, and logged as present).
pub fn authorization_and_body(request: &Request) -> (Option<String>, Vec<u8>) {
    let authorization = request
        .headers()
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match request.body() {
        Body::Text(t) => t.clone().into_bytes(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    };
    (authorization, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::lanes::{LaneConfig, MemoryLaneConfigs, MemoryLanes};
    use crate::ports::memory::MemorySecrets;

    const TOKEN: &str = "am-token";

    fn handler(lanes: Arc<MemoryLanes>) -> AlertHandler {
        let configs = Arc::new(MemoryLaneConfigs::default());
        futures::executor::block_on(configs.put_config(
            &lane(),
            &LaneConfig {
                remediation_yaml: Some("remediations: []".into()),
                ..LaneConfig::default()
            },
        ))
        .unwrap();
        AlertHandler {
            secrets: Arc::new(MemorySecrets {
                values: [("arn:am".to_string(), TOKEN.to_string())].into(),
            }),
            secret_id: Some("arn:am".into()),
            lanes,
            configs,
            wakeups: Arc::new(crate::ports::wakeups::SweepOnly),
        }
    }

    fn body(status: &str) -> String {
        let ends = if status == "resolved" {
            "2026-11-22T01:05:00Z"
        } else {
            "0001-01-01T00:00:00Z"
        };
        json!({
            "version": "4", "groupKey": "{}:{alertname=\"response_time_p95\"}", "status": status,
            "receiver": "unbreakable", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
            "alerts": [
                {"status": status, "labels": {"alertname": "response_time_p95", "service": "SampleDevOpsApp", "stage": "Production"},
                 "annotations": {"summary": "slow"}, "startsAt": "2026-11-22T01:00:00Z", "endsAt": ends,
                 "fingerprint": "aaaa", "generatorURL": "http://prometheus:9090/graph"},
                {"status": status, "labels": {"alertname": "error_rate", "service": "SampleDevOpsApp", "stage": "Production"},
                 "annotations": {}, "startsAt": "2026-11-22T01:00:00Z", "endsAt": ends,
                 "fingerprint": "bbbb", "generatorURL": ""}
            ]
        })
        .to_string()
    }

    async fn ask(h: &AlertHandler, auth: Option<&str>, body: &str) -> (u16, serde_json::Value) {
        let response = h.answer(auth, body.as_bytes(), now_ms() + 60_000).await;
        let Body::Text(text) = response.body() else {
            panic!("a text body")
        };
        (
            response.status().as_u16(),
            serde_json::from_str(text).unwrap(),
        )
    }

    fn lane() -> LaneKey {
        LaneKey {
            service: "SampleDevOpsApp".into(),
            stage: "Production".into(),
        }
    }

    #[tokio::test]
    async fn every_alert_is_a_problem_on_its_lane_and_resolved_closes_it() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        let (status, answer) = ask(&h, Some("Bearer am-token"), &body("firing")).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["stored"].as_array().unwrap().len(), 2);
        let (status, _) = ask(&h, Some("Bearer am-token"), &body("resolved")).await;
        assert_eq!(status, 200);
        let inbox = lanes.lane(&lane()).await.unwrap().unwrap().inbox;
        let kinds: Vec<String> = inbox
            .iter()
            .map(|n| match n {
                Notice::Opened { problem } => format!("open {} {}", problem.title, problem.id),
                Notice::Closed { problem_id, .. } => format!("closed {problem_id}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "open response_time_p95 aaaa@2026-11-22T01:00:00.000Z",
                "open error_rate bbbb@2026-11-22T01:00:00.000Z",
                "closed aaaa@2026-11-22T01:00:00.000Z",
                "closed bbbb@2026-11-22T01:00:00.000Z",
            ]
        );
        match &inbox[0] {
            Notice::Opened { problem } => {
                assert_eq!(
                    problem.link.as_deref(),
                    Some("http://prometheus:9090/graph")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_missing_or_wrong_token_is_refused_before_anything_is_stored() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        for auth in [
            None,
            Some("Bearer nope"),
            Some("am-token"),
            Some("Basic am-token"),
        ] {
            let (status, answer) = ask(&h, auth, &body("firing")).await;
            assert_eq!(status, 401, "{auth:?}");
            assert!(answer["error"]
                .as_str()
                .unwrap()
                .contains("http_config.authorization.credentials"));
        }
        assert!(lanes.lane(&lane()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn another_version_is_refused_with_its_name_and_without_a_route_the_answer_is_404() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        let v3 = body("firing").replace("\"version\":\"4\"", "\"version\":\"3\"");
        let (status, answer) = ask(&h, Some("Bearer am-token"), &v3).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("\"3\""),
            "{answer}"
        );
        assert!(lanes.lane(&lane()).await.unwrap().is_none());

        let unconfigured = AlertHandler {
            secret_id: None,
            ..handler(lanes)
        };
        let (status, answer) = ask(&unconfigured, Some("Bearer am-token"), &body("firing")).await;
        assert_eq!(status, 404);
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .contains("ALERTMANAGER_SECRET_ID"));
    }

    #[tokio::test]
    async fn an_alert_for_a_lane_without_remediation_yaml_is_refused_and_nothing_is_stored() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        let other = body("firing").replace("SampleDevOpsApp", "Unconfigured");
        let (status, answer) = ask(&h, Some("Bearer am-token"), &other).await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["refused"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("no remediation.yaml is stored for Unconfigured/Production"),
            "{answer}"
        );
        let unconfigured = LaneKey {
            service: "Unconfigured".into(),
            stage: "Production".into(),
        };
        assert!(lanes.lane(&unconfigured).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_full_inbox_answers_429_with_the_reason_and_more_than_100_alerts_413() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        let many = |n: usize, from: usize| {
            let alerts: Vec<Value> = (from..from + n)
                .map(|i| json!({"status": "firing", "labels": {"alertname": format!("a{i}"), "service": "SampleDevOpsApp", "stage": "Production"},
                    "annotations": {}, "startsAt": "2026-11-22T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": format!("{i:04x}"), "generatorURL": ""}))
                .collect();
            json!({"version": "4", "status": "firing", "receiver": "unbreakable", "alerts": alerts})
                .to_string()
        };
        let (status, answer) = ask(&h, Some("Bearer am-token"), &many(101, 0)).await;
        assert_eq!(status, 413, "{answer}");
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .contains("at most 100 alerts"));
        assert!(lanes.lane(&lane()).await.unwrap().is_none());

        let (status, _) = ask(&h, Some("Bearer am-token"), &many(80, 0)).await;
        assert_eq!(status, 200);
        let (status, answer) = ask(&h, Some("Bearer am-token"), &many(40, 80)).await;
        assert_eq!(status, 429, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("the inbox of SampleDevOpsApp/Production is full"),
            "{answer}"
        );
        assert_eq!(lanes.lane(&lane()).await.unwrap().unwrap().inbox.len(), 80);
    }

    #[test]
    fn the_bearer_token_is_read_from_the_authorization_header() {
        let cases = [
            (Some("Bearer s3cret"), Some("s3cret")),
            (Some("bearer  s3cret "), Some("s3cret")),
            (Some("BEARER s3cret"), Some("s3cret")),
            (Some("Basic dXNlcjpwYXNz"), None),
            (Some("Bearer"), None),
            (Some("Bearer   "), None),
            (Some("s3cret"), None),
            (Some(""), None),
            (None, None),
        ];
        for (header, token) in cases {
            assert_eq!(bearer_token(header), token, "{header:?}");
        }
    }

    #[test]
    fn only_the_secret_itself_matches_and_an_empty_secret_matches_nothing() {
        assert!(token_matches(Some("s3cret"), "s3cret"));
        assert!(!token_matches(Some("s3cre"), "s3cret"));
        assert!(!token_matches(Some("s3cret "), "s3cret"));
        assert!(!token_matches(None, "s3cret"));
        assert!(!token_matches(Some(""), ""));
        assert!(!token_matches(None, ""));
    }

    #[test]
    fn a_body_too_large_is_413_and_one_that_is_not_a_notification_400() {
        let cases = [
            (AlertmanagerError::TooBig { bytes: 600_000 }, 413),
            (AlertmanagerError::TooManyAlerts { count: 101 }, 413),
            (AlertmanagerError::Invalid("alerts is missing".into()), 400),
        ];
        for (refusal, status) in cases {
            assert_eq!(refusal_status(&refusal), status, "{refusal}");
        }
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_with_413_and_its_message() {
        let lanes = Arc::new(MemoryLanes::new());
        let h = handler(lanes.clone());
        let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(512 * 1024));
        let (status, answer) = ask(&h, Some("Bearer am-token"), &huge).await;
        assert_eq!(status, 413, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(
                "more than the 524288 an Alertmanager notification needs; set max_alerts in the webhook receiver"
            ),
            "{answer}"
        );
        assert!(lanes.lane(&lane()).await.unwrap().is_none());
    }
}
