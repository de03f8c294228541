//! The simulator's wire contract (shapes from the Dynatrace API reference), exercised through
//! the real client where the client has a call for it.

use serde_json::{json, Value};
use unbreakable_emulators::dynatrace::{DynatraceSimulator, Fixture, DEFAULT_TOKEN};
use unbreakable_shared::dynatrace::{
    ApiToken, ClientOptions, DynatraceError, DynatraceHttp, DynatraceV1, DynatraceV2,
};
use unbreakable_shared::ports::metrics::TimeWindow;

const T: i64 = 1_795_255_200_000;

fn fixture() -> Fixture {
    serde_json::from_value(json!({
        "entities": [
            {"entityId": "SERVICE-A", "displayName": "SampleNodeJsService", "type": "SERVICE", "tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": "Production"}]},
            {"entityId": "SERVICE-B", "displayName": "SampleNodeJsService", "type": "SERVICE", "tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": "Production"}]},
            {"entityId": "SERVICE-C", "displayName": "Other", "type": "SERVICE", "tags": [{"context": "AWS", "key": "DeploymentGroup", "value": "Production"}]}
        ],
        "problems": [{"problemId": "-647_1641223491837V2", "displayId": "P-1", "title": "Response time degradation", "status": "OPEN", "startTime": T, "endTime": -1, "impactLevel": "SERVICES", "severityLevel": "PERFORMANCE",
            "impactedEntities": [{"entityId": {"id": "SERVICE-A", "type": "SERVICE"}, "name": "SampleNodeJsService"}]}]
    }))
    .unwrap()
}

async fn start() -> DynatraceSimulator {
    DynatraceSimulator::start(fixture()).await.unwrap()
}

fn http(sim: &DynatraceSimulator, token: &str) -> DynatraceHttp {
    DynatraceHttp::new(
        &sim.base_url,
        ApiToken::new(token).unwrap(),
        ClientOptions::default(),
    )
    .unwrap()
}

async fn raw(sim: &DynatraceSimulator, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", sim.base_url));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Api-Token {t}"));
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn missing_tokens_and_scopes_get_the_documented_bodies() {
    let sim = start().await;
    let (status, body) = raw(&sim, "/api/v2/entities?entitySelector=type(SERVICE)", None).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": {"code": 401, "message": "Missing authorization parameter."}})
        )
    );
    sim.world
        .lock()
        .unwrap()
        .tokens
        .insert("read-only".into(), vec!["metrics.read".into()]);
    let (status, body) = raw(&sim, "/api/v2/problems/x", Some("read-only")).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": {"code": 403, "message": "Token is missing required scope. Use one of: problems.read (Read problems)"}})
        )
    );
}

#[tokio::test]
async fn v1_entity_lookup_applies_the_tag_context() {
    let sim = start().await;
    let (_, contextless) = raw(
        &sim,
        "/api/v1/entity/services?tag=DeploymentGroup:Production",
        Some(DEFAULT_TOKEN),
    )
    .await;
    let ids: Vec<&str> = contextless
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entityId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SERVICE-A", "SERVICE-B"]);
    let (_, aws) = raw(
        &sim,
        "/api/v1/entity/services?tag=%5BAWS%5DDeploymentGroup:Production",
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(aws.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn v2_entities_page_with_next_page_key_alone() {
    let sim = start().await;
    let (_, first) = raw(
        &sim,
        "/api/v2/entities?entitySelector=type(SERVICE)&pageSize=2",
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["entities"].as_array().unwrap().len(), 2);
    let key = first["nextPageKey"].as_str().unwrap();
    let (status, _) = raw(
        &sim,
        &format!("/api/v2/entities?nextPageKey={key}&pageSize=2"),
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(status, 400, "nextPageKey must come alone");
    let (_, first) = raw(
        &sim,
        "/api/v2/entities?entitySelector=type(SERVICE)&pageSize=2",
        Some(DEFAULT_TOKEN),
    )
    .await;
    let key = first["nextPageKey"].as_str().unwrap();
    let (_, second) = raw(
        &sim,
        &format!("/api/v2/entities?nextPageKey={key}"),
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(second["entities"][0]["entityId"], "SERVICE-C");
    assert_eq!(second["nextPageKey"], Value::Null);
}

#[tokio::test]
async fn v1_deployment_events_attach_by_tag_and_read_back_newest_first() {
    let sim = start().await;
    let v1 = DynatraceV1::new(http(&sim, DEFAULT_TOKEN));
    let event = |version: &str, start: i64| {
        json!({"eventType": "CUSTOM_DEPLOYMENT", "source": "AWS CodePipeline", "start": start.to_string(), "end": start.to_string(),
            "attachRules": {"tagRule": [{"meTypes": ["SERVICE"], "tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": "Production"}]}]},
            "deploymentName": "DeployToProduction", "deploymentVersion": version, "customProperties": {"CodeDeploy.DeploymentId": version}})
    };
    let ids = v1.post_event(&event("d-OLD", T)).await.unwrap();
    assert_eq!(ids.len(), 2, "one stored event per matched entity");
    v1.post_event(&event("d-NEW", T + 60_000)).await.unwrap();
    let events = v1
        .events(
            "SERVICE-A",
            "CUSTOM_DEPLOYMENT",
            TimeWindow {
                from_ms: T - 1,
                to_ms: T + 3_600_000,
            },
        )
        .await
        .unwrap();
    let versions: Vec<&str> = events
        .iter()
        .map(|e| e["deploymentVersion"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["d-NEW", "d-OLD"]);
    assert_eq!(
        events[0]["customProperties"]["CodeDeploy.DeploymentId"],
        "d-NEW"
    );

    let mut unmatched = event("d-X", T);
    unmatched["attachRules"]["tagRule"][0]["tags"][0]["value"] = "Nowhere".into();
    let err = v1.post_event(&unmatched).await.unwrap_err();
    assert!(
        matches!(&err, DynatraceError::Http { status: 400, message, .. } if message.contains("No MEIdentifier do match")),
        "{err}"
    );
}

#[tokio::test]
async fn v2_events_ingest_and_query() {
    let sim = start().await;
    let v2 = DynatraceV2::new(http(&sim, DEFAULT_TOKEN));
    let ok = v2
        .ingest_event(&json!({"eventType": "CUSTOM_DEPLOYMENT", "title": "DeployToProduction d-1", "startTime": T,
            "entitySelector": "type(SERVICE),tag(\"DeploymentGroup:Production\")",
            "properties": {"dt.event.deployment.version": "d-1", "CodeDeploy.DeploymentId": "d-1", "dt.event.source": "AWS CodePipeline"}}))
        .await
        .unwrap();
    assert_eq!(ok.len(), 2);
    let none = v2.ingest_event(&json!({"eventType": "CUSTOM_DEPLOYMENT", "title": "x", "entitySelector": "type(SERVICE),tag(\"DeploymentGroup:Nowhere\")"})).await.unwrap();
    assert!(none.is_empty(), "no OK report means no entity matched");
    let events = v2
        .events(
            "eventType(\"CUSTOM_DEPLOYMENT\")",
            "entityId(\"SERVICE-B\")",
            TimeWindow {
                from_ms: T - 1,
                to_ms: T + 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["entityId"]["entityId"]["id"], "SERVICE-B");
    assert!(events[0]["properties"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "CodeDeploy.DeploymentId", "value": "d-1"})));
}

#[tokio::test]
async fn problems_and_comments_in_both_versions() {
    let sim = start().await;
    let pid = "-647_1641223491837V2";
    let v1 = DynatraceV1::new(http(&sim, DEFAULT_TOKEN));
    let v2 = DynatraceV2::new(http(&sim, DEFAULT_TOKEN));
    assert_eq!(v1.problem(pid).await.unwrap()["status"], "OPEN");
    assert_eq!(v2.problem(pid).await.unwrap()["displayId"], "P-1");
    v1.comment_problem(
        pid,
        "Created new Deployment: d-2",
        "Unbreakable",
        "AWS Lambda",
    )
    .await
    .unwrap();
    v2.comment_problem(pid, "Rollback done", "Unbreakable")
        .await
        .unwrap();
    let comments: Vec<String> = sim
        .comments()
        .iter()
        .map(|(p, c)| format!("{p}: {}", c["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        comments,
        [
            format!("{pid}: Created new Deployment: d-2"),
            format!("{pid}: Rollback done")
        ]
    );
    let err = v2.problem("nope").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn live_requests_are_binned_per_minute_into_metrics() {
    let sim = start().await;
    let client = reqwest::Client::new();
    let requests: Vec<Value> = (0..10).map(|i| json!({"entityId": "SERVICE-A", "timestampMs": T + i * 1000, "responseTimeUs": 100_000 + i * 10_000, "failed": i % 5 == 0})).collect();
    let resp = client
        .post(format!("{}/sim/ingest", sim.base_url))
        .json(&json!({"requests": requests}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = client
        .get(format!("{}/api/v2/metrics/query", sim.base_url))
        .header("Authorization", format!("Api-Token {DEFAULT_TOKEN}"))
        .query(&[("metricSelector", "builtin:service.response.time:splitBy():avg,builtin:service.errors.total.rate:splitBy():avg,builtin:service.requestCount.total:splitBy():value"), ("entitySelector", "entityId(\"SERVICE-A\")"), ("from", &T.to_string()), ("to", &(T + 60_000).to_string()), ("resolution", "Inf")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = |i: usize| body["result"][i]["data"][0]["values"][0].as_f64().unwrap();
    assert_eq!(value(0), 145_000.0);
    assert_eq!(value(1), 20.0);
    assert_eq!(value(2), 10.0);
    let bad = client
        .post(format!("{}/sim/ingest", sim.base_url))
        .json(&json!({"points": [{"entityId": "SERVICE-A"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("needs entityId, metric, timestampMs and value"));
}

#[tokio::test]
async fn unsupported_selectors_are_rejected_like_a_tenant_would() {
    let sim = start().await;
    let (status, body) = raw(&sim, "/api/v2/metrics/query?metricSelector=builtin:service.response.time:avg&entitySelector=healthState(%22HEALTHY%22)&resolution=Inf", Some(DEFAULT_TOKEN)).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unsupported entity selector criterion"));
    let (status, _) = raw(
        &sim,
        "/api/v2/metrics/query?metricSelector=builtin:nope:avg&resolution=Inf",
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(status, 404);
}
