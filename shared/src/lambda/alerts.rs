//! `POST /HandleAlertmanagerAlert`: Alertmanager's webhook (version 4), authenticated by the
//! `Authorization: Bearer` token of its `http_config.authorization`. Every alert is a problem
//! on the lane its `service` and `stage` labels name: firing opens it, resolved closes it.
//! The lane recognises a repeat (Alertmanager re-sends firing alerts), so a replayed
//! notification starts nothing.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::config::Setting;
use super::problem::json_response;
use crate::ports::lanes::{LaneKey, LaneStore, Notice};
use crate::ports::secrets::SecretSource;
use crate::remediation::alertmanager::{
    bearer_token, parse_notification, token_matches, AlertState,
};
use crate::time::now_ms;

/// The path API Gateway routes to this handler.
pub const ALERTMANAGER_PATH: &str = "/HandleAlertmanagerAlert";

pub const ALERTMANAGER_SECRET: Setting = Setting::optional(
    "ALERTMANAGER_SECRET_ID",
    "the Secrets Manager secret holding the Bearer token Alertmanager sends (unset: the Alertmanager webhook answers 404)",
);

pub struct AlertHandler {
    pub secrets: Arc<dyn SecretSource>,
    /// `None`: the stack has no Alertmanager route.
    pub secret_id: Option<String>,
    pub lanes: Arc<dyn LaneStore>,
}

impl AlertHandler {
    pub async fn answer(&self, authorization: Option<&str>, body: &[u8]) -> Response<Body> {
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
                tracing::warn!(status = e.status(), error = %e, "refused Alertmanager notification");
                return json_response(e.status(), json!({"error": e.to_string()}));
            }
        };
        let mut answered = Vec::new();
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
            if let Err(e) = self.lanes.notify(&key, &lane_notice, now_ms()).await {
                tracing::error!(lane = %key, error = %e, "cannot store the alert");
                // Alertmanager re-sends on a 5xx; the notices stored already are recognised.
                return json_response(
                    503,
                    json!({"error": format!("cannot store the alert for {key}: {e}"), "stored": answered}),
                );
            }
            answered.push(json!({
                "problemId": notice.problem_id, "title": notice.title,
                "lane": key.to_string(), "state": notice.state,
            }));
        }
        tracing::info!(
            alerts = answered.len(),
            truncated = notification.truncated_alerts,
            "Alertmanager notification stored"
        );
        json_response(
            200,
            json!({"stored": answered, "truncatedAlerts": notification.truncated_alerts}),
        )
    }
}

/// The `Authorization` header and the body of an API Gateway request.
pub fn authorization_and_body(request: &Request) -> (Option<String>, Vec<u8>) {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
    use crate::ports::lanes::MemoryLanes;
    use crate::ports::memory::MemorySecrets;

    const TOKEN: &str = "am-token";

    fn handler(lanes: Arc<MemoryLanes>) -> AlertHandler {
        AlertHandler {
            secrets: Arc::new(MemorySecrets {
                values: [("arn:am".to_string(), TOKEN.to_string())].into(),
            }),
            secret_id: Some("arn:am".into()),
            lanes,
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
        let response = h.answer(auth, body.as_bytes()).await;
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
}
