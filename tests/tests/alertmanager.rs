//! Alertmanager as a problem source, against the real Alertmanager 0.25 (and Prometheus 2.42
//! in front of it): what its webhook sends reads as notices with stable ids, firing as Open
//! and resolved as Closed, with the Bearer secret in the Authorization header.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::sync::mpsc;

use unbreakable_emulators::alertmanager::AlertmanagerServer;
use unbreakable_emulators::prometheus::{PrometheusOptions, PrometheusServer};
use unbreakable_shared::inbound::alertmanager::{parse_notification, AlertNotice, AlertState};
use unbreakable_shared::lambda::alerts::{bearer_token, token_matches};
use unbreakable_shared::slo::alert_rules::{alert_rules, AlertRuleOptions};
use unbreakable_shared::slo::context::SliContext;
use unbreakable_shared::slo::{parse_sli, parse_slo};

const SECRET: &str = "am-webhook-secret-for-tests";

/// One webhook call as received: the Authorization header and the body.
struct Call {
    authorization: Option<String>,
    body: Bytes,
}

/// A local HTTP listener standing in for the webhook endpoint: it records every call.
async fn webhook_listener() -> (String, mpsc::UnboundedReceiver<Call>) {
    let (sender, calls) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/HandleAlertmanagerAlert",
            post(
                |State(sender): State<mpsc::UnboundedSender<Call>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let authorization = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let _ = sender.send(Call {
                        authorization,
                        body,
                    });
                    "ok"
                },
            ),
        )
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/HandleAlertmanagerAlert",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

/// Wait for the call carrying a notice in `state` (Alertmanager repeats firing alerts every
/// second here, so earlier calls may repeat what was already seen); every call on the way
/// must carry the secret and parse.
async fn notice_in(
    calls: &mut mpsc::UnboundedReceiver<Call>,
    state: AlertState,
    within: Duration,
) -> AlertNotice {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let call = tokio::time::timeout(left, calls.recv())
            .await
            .unwrap_or_else(|_| panic!("no {state:?} notice within {within:?}"))
            .expect("the listener runs");
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {SECRET}").as_str())
        );
        assert!(token_matches(
            bearer_token(call.authorization.as_deref()),
            SECRET
        ));
        let notification = parse_notification(&call.body).unwrap_or_else(|e| {
            panic!(
                "Alertmanager's body is refused: {e}\n{}",
                String::from_utf8_lossy(&call.body)
            )
        });
        assert_eq!(notification.truncated_alerts, 0);
        if let Some(notice) = notification.notices.into_iter().find(|n| n.state == state) {
            return notice;
        }
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

async fn push(alertmanager: &AlertmanagerServer, alerts: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/alerts", alertmanager.url))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_alert_opens_then_closes_one_problem_through_the_real_webhook() {
    let (url, mut calls) = webhook_listener().await;
    let alertmanager = tokio::task::spawn_blocking(move || AlertmanagerServer::start(&url, SECRET))
        .await
        .unwrap()
        .unwrap();
    let started = SystemTime::now() - Duration::from_secs(60);
    let labels = json!({"alertname": "Response time degradation", "service": "carts", "stage": "production"});
    push(
        &alertmanager,
        json!([{
            "labels": labels,
            "annotations": {"summary": "p95 above 600 ms"},
            "startsAt": rfc3339(started),
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up"
        }]),
    )
    .await;
    let open = notice_in(&mut calls, AlertState::Open, Duration::from_secs(15)).await;
    assert_eq!(open.title, "Response time degradation");
    assert_eq!(
        (open.service.as_str(), open.stage.as_str()),
        ("carts", "production")
    );
    assert_eq!(open.summary.as_deref(), Some("p95 above 600 ms"));
    assert_eq!(
        open.link.as_deref(),
        Some("http://127.0.0.1:9090/graph?g0.expr=up")
    );
    assert_eq!(open.ended_ms, None);
    let started_ms = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(open.opened_ms, started_ms);
    assert!(
        open.problem_id.ends_with(&format!("@{}", rfc3339(started))),
        "{}",
        open.problem_id
    );

    let ended = SystemTime::now() - Duration::from_secs(1);
    push(
        &alertmanager,
        json!([{"labels": labels, "startsAt": rfc3339(started), "endsAt": rfc3339(ended)}]),
    )
    .await;
    let closed = notice_in(&mut calls, AlertState::Closed, Duration::from_secs(15)).await;
    assert_eq!(
        closed.problem_id, open.problem_id,
        "the same problem closes"
    );
    assert_eq!(
        closed.ended_ms,
        Some(
            ended
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
        )
    );
}

/// The sample app's error rate as a target Prometheus scrapes; a test sets it.
async fn metrics_target(error_percent: Arc<AtomicU64>) -> String {
    let app =
        Router::new().route(
            "/metrics",
            get(move || {
                let value = error_percent.load(Ordering::SeqCst);
                async move {
                    format!("# TYPE sample_error_percent gauge\nsample_error_percent {value}\n")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

const SLO: &str = r#"
objectives:
  - sli: error_rate
    displayName: Error rate (%)
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%"}
"#;
const SLI: &str = r#"
indicators:
  error_rate: max(sample_error_percent{job="$SERVICE-$STAGE"})
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_rule_fires_through_prometheus_and_alertmanager_and_resolves() {
    let rules = alert_rules(
        &parse_slo("slo.yaml", SLO).unwrap(),
        &parse_sli("sli.yaml", SLI).unwrap(),
        &AlertRuleOptions {
            for_duration: "1s".into(),
            window_ms: 60_000,
            context: SliContext {
                service: Some("carts".into()),
                stage: Some("production".into()),
                ..SliContext::default()
            },
        },
    )
    .unwrap();
    assert_eq!(rules.rules, 1, "{}", rules.yaml);

    let error_percent = Arc::new(AtomicU64::new(5));
    let target = metrics_target(error_percent.clone()).await;
    let (url, mut calls) = webhook_listener().await;
    let started = Instant::now();
    let (alertmanager, _prometheus) = tokio::task::spawn_blocking(move || {
        let alertmanager = AlertmanagerServer::start(&url, SECRET).unwrap();
        let prometheus = PrometheusServer::start_with(&PrometheusOptions {
            targets: vec![("carts-production".into(), target)],
            rule_files: vec![rules.yaml],
            alertmanager_url: Some(alertmanager.url.clone()),
        })
        .unwrap();
        (alertmanager, prometheus)
    })
    .await
    .unwrap();

    let open = notice_in(&mut calls, AlertState::Open, Duration::from_secs(30)).await;
    assert_eq!(open.title, "error_rate");
    assert_eq!(
        (open.service.as_str(), open.stage.as_str()),
        ("carts", "production")
    );
    assert_eq!(
        open.summary.as_deref(),
        Some("error_rate — Error rate (%) is 5, violating the slo.yaml pass criterion \"<=1\"")
    );
    let link = open.link.clone().expect("Prometheus sends its graph link");
    assert!(link.contains("/graph?g0.expr="), "{link}");
    eprintln!("firing after {:?}", started.elapsed());

    error_percent.store(0, Ordering::SeqCst);
    let closed = notice_in(&mut calls, AlertState::Closed, Duration::from_secs(30)).await;
    assert_eq!(
        closed.problem_id, open.problem_id,
        "the same problem closes"
    );
    assert!(closed.ended_ms.unwrap() >= open.opened_ms);
    eprintln!("resolved after {:?}", started.elapsed());
    drop(alertmanager);
}
