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

#[tokio::test]
async fn v2_problem_list_filters_by_status_severity_entity_and_window() {
    use unbreakable_shared::dynatrace::DynatraceSli;
    use unbreakable_shared::ports::sli::SliProvider;
    let sim = start().await;
    {
        let mut w = sim.world.lock().unwrap();
        let on = |id: &str| json!([{"entityId": {"id": id, "type": "SERVICE"}, "name": "x"}]);
        // Closed an hour before T; an open error on SERVICE-B; one starting after the window.
        w.problems.push(json!({"problemId": "closed_1", "displayId": "P-2", "status": "CLOSED", "severityLevel": "PERFORMANCE", "impactLevel": "SERVICES", "startTime": T - 7_200_000, "endTime": T - 3_600_000, "impactedEntities": on("SERVICE-A")}));
        w.problems.push(json!({"problemId": "open_b", "displayId": "P-3", "status": "OPEN", "severityLevel": "ERROR", "impactLevel": "SERVICES", "startTime": T + 1_000, "endTime": -1, "affectedEntities": on("SERVICE-B")}));
        w.problems.push(json!({"problemId": "later", "displayId": "P-4", "status": "OPEN", "severityLevel": "ERROR", "impactLevel": "SERVICES", "startTime": T + 7_200_000, "endTime": -1, "impactedEntities": on("SERVICE-A")}));
    }
    let window = TimeWindow {
        from_ms: T - 600_000,
        to_ms: T + 600_000,
    };
    let list = |selector: &str, extra: &str| {
        format!(
            "/api/v2/problems?from={}&to={}{}{extra}",
            window.from_ms,
            window.to_ms,
            if selector.is_empty() {
                String::new()
            } else {
                format!("&problemSelector={selector}")
            }
        )
    };
    let ids = |body: &Value| -> Vec<String> {
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["displayId"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, all) = raw(&sim, &list("", ""), Some(DEFAULT_TOKEN)).await;
    assert_eq!(
        (status, all["totalCount"].as_u64()),
        (200, Some(2)),
        "{all}"
    );
    assert_eq!(
        ids(&all),
        ["P-3", "P-1"],
        "newest first, in the window only"
    );
    let (_, errors) = raw(
        &sim,
        &list("severityLevel(%22error%22,%22AVAILABILITY%22)", ""),
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(ids(&errors), ["P-3"]);
    let (_, paged) = raw(&sim, &list("", "&pageSize=1"), Some(DEFAULT_TOKEN)).await;
    assert_eq!(
        (ids(&paged), paged["totalCount"].as_u64()),
        (vec!["P-3".to_string()], Some(2))
    );
    let key = paged["nextPageKey"].as_str().unwrap();
    let (_, next) = raw(
        &sim,
        &format!("/api/v2/problems?nextPageKey={key}"),
        Some(DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(
        (ids(&next), &next["nextPageKey"]),
        (vec!["P-1".to_string()], &Value::Null)
    );
    let (status, bad) = raw(&sim, &list("owner(%22me%22)", ""), Some(DEFAULT_TOKEN)).await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unsupported problem selector criterion owner"));

    // Through the SLI provider: the problemSelector and entitySelector are encoded and applied.
    let sli = DynatraceSli::new(http(&sim, DEFAULT_TOKEN));
    let count = |q: &'static str| sli.value(q, window);
    assert_eq!(count("PV2;problemSelector=status(\"open\")").await, Ok(2.0));
    assert_eq!(
        count("PV2;problemSelector=status(\"open\")&entitySelector=type(SERVICE),entityId(\"SERVICE-B\")").await,
        Ok(1.0)
    );
    assert_eq!(
        count("PV2;problemSelector=status(\"closed\")&entitySelector=type(SERVICE),tag(\"DeploymentGroup:Production\")").await,
        Ok(0.0)
    );
    let query = sim.requests().last().unwrap().query.clone();
    assert!(
        query.contains(&("problemSelector".into(), "status(\"closed\")".into())),
        "{query:?}"
    );
}

#[tokio::test]
async fn v2_metrics_give_a_series_per_entity_unless_merged() {
    let sim = start().await;
    let client = reqwest::Client::new();
    let requests: Vec<Value> = ["SERVICE-A", "SERVICE-B"]
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"entityId": e, "timestampMs": T, "responseTimeUs": 100_000 * (i + 1), "failed": false}))
        .collect();
    client
        .post(format!("{}/sim/ingest", sim.base_url))
        .json(&json!({"requests": requests}))
        .send()
        .await
        .unwrap();
    let query = |selector: &str| {
        let (sim, client) = (&sim, &client);
        let selector = selector.to_string();
        async move {
            client
                .get(format!("{}/api/v2/metrics/query", sim.base_url))
                .header("Authorization", format!("Api-Token {DEFAULT_TOKEN}"))
                .query(&[
                    ("metricSelector", selector.as_str()),
                    (
                        "entitySelector",
                        "type(SERVICE),tag(\"DeploymentGroup:Production\")",
                    ),
                    ("from", &T.to_string()),
                    ("to", &(T + 60_000).to_string()),
                    ("resolution", "Inf"),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let values = |body: &Value| -> Vec<f64> {
        body["result"][0]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|d| d["values"][0].as_f64().unwrap())
            .collect()
    };
    assert_eq!(
        values(&query("builtin:service.response.time:avg").await),
        [100_000.0, 200_000.0]
    );
    for merged in [
        "builtin:service.response.time:merge(\"dt.entity.service\"):avg",
        "builtin:service.response.time:merge(0):avg",
        "builtin:service.response.time:splitBy():avg",
    ] {
        assert_eq!(values(&query(merged).await), [150_000.0], "{merged}");
    }
    let bad = query("builtin:service.response.time:merge(\"dt.entity.host\"):avg").await;
    assert_eq!(bad["error"]["code"], 400, "{bad}");
}

#[tokio::test]
async fn a_fault_rule_fails_only_the_requests_it_matches() {
    use unbreakable_emulators::dynatrace::{FaultRule, Faults};
    let sim = start().await;
    sim.set_faults(Faults {
        rules: vec![
            FaultRule {
                path: "/api/v2/entities".into(),
                contains: vec!["DeploymentGroup:Production".into()],
                status: Some(503),
                count: Some(1),
                ..FaultRule::default()
            },
            FaultRule {
                path: "/api/v2/entities".into(),
                contains: vec!["Other".into()],
                body: Some(json!({"totalCount": 0, "entities": [], "nextPageKey": "canned"})),
                ..FaultRule::default()
            },
        ],
        ..Faults::default()
    });
    let get = |selector: &'static str| {
        let sim = &sim;
        async move {
            let resp = reqwest::Client::new()
                .get(format!("{}/api/v2/entities", sim.base_url))
                .header("Authorization", format!("Api-Token {DEFAULT_TOKEN}"))
                .query(&[("entitySelector", selector)])
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let production = "type(SERVICE),tag(\"DeploymentGroup:Production\")";
    let (status, body) = get(production).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["message"], "Simulated failure (fault rule)");
    assert_eq!(
        get(production).await.0,
        200,
        "count 1: the second request goes through"
    );
    let (status, body) = get("type(SERVICE),entityName.equals(\"Other\")").await;
    assert_eq!((status, &body["nextPageKey"]), (200, &json!("canned")));
    assert_eq!(get("type(SERVICE)").await.0, 200, "no rule matches");
}
