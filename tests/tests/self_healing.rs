//! End to end: `unbreakable local --scenario self-healing`'s stack heals its Production lane.
//! Build 1 goes through the pipeline to Production; then each scenario of issue #13 §5 runs
//! against the real function binaries, moto (Auto Scaling, Secrets Manager, DynamoDB), a real
//! Prometheus and Alertmanager, and a real Unleash on a real PostgreSQL, all started here and
//! stopped at the end. The scenarios share that one stack (starting it takes most of a
//! minute), in an order where each leaves what the next expects: desired capacity, the flag,
//! the silence. Assertions read the timeline's JSON, moto and Unleash, not log lines.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unbreakable_local::self_healing::{
    step_kinds, SelfHealing, CART_CALLS, OVERLOAD_WORKERS, SATURATING_WORKERS,
};
use unbreakable_local::{marked_processes, now_ms, LocalOptions, LocalStack};

const RESPONSE_TIME: &str = "Response time degradation";
const FAILURE_RATE: &str = "Failure rate increase";
/// The alert `unbreakable alert-rules` makes of the response-time objective.
const RESPONSE_TIME_ALERT: &str = "response_time";
const WITHIN: Duration = Duration::from_secs(180);

/// The steps of `kind` in a timeline entry.
fn steps<'a>(problem: &'a Value, kind: &str) -> Vec<&'a Value> {
    problem["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == kind)
        .collect()
}

fn timed(name: &str, started: Instant) {
    eprintln!(
        "=== scenario {name}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// An Alertmanager (version 4) notification for the lane, firing.
fn alert_body(
    healing: &SelfHealing,
    alertname: &str,
    fingerprint: &str,
    starts_at: &str,
) -> String {
    json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
        "status": "firing", "receiver": "unbreakable", "groupLabels": {"alertname": alertname},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": healing.alertmanager.url,
        "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": alertname, "service": healing.lane.service, "stage": healing.lane.stage},
            "annotations": {"summary": "sent by the test"},
            "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": fingerprint, "generatorURL": ""
        }]
    })
    .to_string()
}

/// 5: a notification without the secret, or with a wrong one, is refused (401) and stores
/// nothing; a valid one sent twice runs its sequence once.
async fn unauthenticated_or_replayed_notifications_start_nothing(
    stack: &LocalStack,
    healing: &SelfHealing,
) {
    let http = reqwest::Client::new();
    let started = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let title = "replayed_alert";
    let body = alert_body(healing, title, "5c3a1e", &started);
    let post = |authorization: Option<String>| {
        let mut request = http
            .post(&healing.alertmanager_webhook_url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        request.send()
    };
    for authorization in [None, Some("Bearer not-the-secret".to_string())] {
        let answer = post(authorization.clone()).await.unwrap();
        assert_eq!(answer.status(), 401, "{authorization:?}");
        let text = answer.text().await.unwrap();
        assert!(text.contains("Authorization: Bearer"), "{text}");
    }
    // The Dynatrace webhook without its shared secret.
    let answer = http
        .post(stack.gateway.url("/HandleDynatraceProblem"))
        .json(
            &json!({"State": "OPEN", "ProblemID": "1", "PID": "1", "ProblemTitle": RESPONSE_TIME}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(
        healing.timeline().await.unwrap()["problems"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a refused notification stored nothing"
    );

    let since = now_ms() - 5_000;
    let valid = Some(format!("Bearer {}", healing.alertmanager_secret));
    assert_eq!(post(valid.clone()).await.unwrap().status(), 200);
    let first = healing.wait_for_end(title, since, WITHIN).await.unwrap();
    // The same notification again (Alertmanager repeats; an attacker may replay it).
    assert_eq!(post(valid).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let timeline = healing.timeline().await.unwrap();
    let problems: Vec<&Value> = timeline["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["title"] == title)
        .collect();
    assert_eq!(problems.len(), 1, "{timeline:#}");
    assert_eq!(problems[0], &first, "the replay changed nothing");
    assert_eq!(first["source"], "alertmanager");
    // No entry names it: the default entry escalates, once, and nothing else runs.
    assert_eq!(first["end"], "escalated", "{first:#}");
    assert_eq!(
        step_kinds(&first),
        vec!["opened", "matched", "ended"],
        "{first:#}"
    );
}

/// 1: a saturating load → "Response time degradation" → one more instance → the wait →
/// the evaluation passes → resolved.
async fn a_saturating_load_is_healed_by_one_more_instance(healing: &SelfHealing) {
    assert_eq!(healing.desired_capacity().await.unwrap(), 1);
    healing.wait_for_instances(1, WITHIN).await.unwrap();
    let since = now_ms();
    let load = healing.start_load(SATURATING_WORKERS, 0).unwrap();
    let ended = healing.wait_for_end(RESPONSE_TIME, since, WITHIN).await;
    let instances = healing.instances();
    load.stop();
    let problem = ended.unwrap();
    eprintln!("{problem:#}");
    assert_eq!(problem["source"], "dynatrace");
    assert_eq!(problem["end"], "resolved", "{problem:#}");
    let started = steps(&problem, "actionStarted");
    assert_eq!(started.len(), 1, "only the first action ran: {problem:#}");
    let finished = steps(&problem, "actionFinished");
    assert_eq!(finished[0]["ok"], true, "{problem:#}");
    assert!(
        finished[0]["why"].as_str().unwrap().contains("2"),
        "{problem:#}"
    );
    let evaluated = steps(&problem, "evaluated");
    assert_eq!(evaluated.len(), 1);
    assert!(
        evaluated[0]["result"] == "pass" || evaluated[0]["result"] == "warning",
        "{problem:#}"
    );
    // The real things: moto's group, and the instances behind the balancer.
    assert_eq!(healing.desired_capacity().await.unwrap(), 2);
    assert_eq!(instances, 2);
}

/// 2: `EnablePromotion` on → "Failure rate increase" → the flag is switched off in Unleash,
/// once → resolved.
async fn the_promotion_flag_is_switched_off_once(healing: &SelfHealing) {
    healing.set_promotion(true).await.unwrap();
    let since = now_ms();
    let load = healing.start_load(1, CART_CALLS).unwrap();
    let ended = healing.wait_for_end(FAILURE_RATE, since, WITHIN).await;
    load.stop();
    let problem = ended.unwrap();
    eprintln!("{problem:#}");
    assert_eq!(problem["end"], "resolved", "{problem:#}");
    assert_eq!(steps(&problem, "actionStarted").len(), 1, "{problem:#}");
    assert_eq!(steps(&problem, "actionFinished")[0]["ok"], true);
    assert!(!healing.promotion_on().await.unwrap());
    // Unleash's own event log: our switch on, and exactly one switch off.
    let switches = healing.promotion_switches().await.unwrap();
    let kinds: Vec<&str> = switches.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "feature-environment-enabled",
            "feature-environment-disabled"
        ],
        "{switches:?}"
    );
}

/// 3: with Prometheus alone watching, the generated response-time rule fires through
/// Alertmanager → one more instance → resolved.
async fn a_generated_rule_fires_through_alertmanager_and_scales(healing: &SelfHealing) {
    assert_eq!(healing.desired_capacity().await.unwrap(), 1);
    healing.wait_for_instances(1, WITHIN).await.unwrap();
    healing.set_detection(false);
    let since = now_ms() - 60_000;
    let load = healing.start_load(SATURATING_WORKERS, 0).unwrap();
    let ended = healing
        .wait_for_end(RESPONSE_TIME_ALERT, since, WITHIN)
        .await;
    load.stop();
    let problem = ended.unwrap();
    eprintln!("{problem:#}");
    assert_eq!(problem["source"], "alertmanager");
    assert_eq!(problem["end"], "resolved", "{problem:#}");
    assert_eq!(steps(&problem, "actionStarted").len(), 1, "{problem:#}");
    assert_eq!(healing.desired_capacity().await.unwrap(), 2);
    healing.set_detection(true);
}

/// 4: at MaxSize the scaling fails with the reason; the flag switch that follows does not
/// help; nothing is left: escalated, and no action beyond the list ran.
async fn actions_that_do_not_help_end_escalated(healing: &SelfHealing) {
    assert_eq!(healing.desired_capacity().await.unwrap(), 2);
    healing.wait_for_instances(2, WITHIN).await.unwrap();
    let since = now_ms();
    let load = healing.start_load(OVERLOAD_WORKERS, 0).unwrap();
    let ended = healing.wait_for_end(RESPONSE_TIME, since, WITHIN).await;
    load.stop();
    let problem = ended.unwrap();
    eprintln!("{problem:#}");
    assert_eq!(problem["end"], "escalated", "{problem:#}");
    let started = steps(&problem, "actionStarted");
    assert_eq!(started.len(), 2, "both actions, no more: {problem:#}");
    let finished = steps(&problem, "actionFinished");
    assert_eq!(finished[0]["ok"], false);
    assert!(
        finished[0]["why"].as_str().unwrap().contains("MaxSize 2"),
        "{problem:#}"
    );
    assert_eq!(finished[1]["ok"], true);
    let evaluated = steps(&problem, "evaluated");
    assert_eq!(
        evaluated.len(),
        1,
        "only the switch is evaluated: {problem:#}"
    );
    assert_eq!(evaluated[0]["result"], "fail", "{problem:#}");
    assert_eq!(
        healing.desired_capacity().await.unwrap(),
        2,
        "never above MaxSize"
    );
    assert!(step_kinds(&problem).last().is_some_and(|k| k == "ended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_production_lane_heals_itself_in_every_scenario() {
    let started = Instant::now();
    let options = LocalOptions {
        builds: vec![1],
        window: Duration::from_secs(10),
        tick: Duration::from_secs(1),
        problem_interval: Duration::from_secs(2),
        problem_intervals: 2,
        self_healing: Some(unbreakable_local::self_healing::default_dir()),
        ..LocalOptions::default()
    };
    let mut stack = LocalStack::start(options).await.expect("local stack");
    let marker = stack.marker.clone();
    timed("setup (stack up)", started);
    let release = stack.release(1).await.expect("release");
    assert!(release.succeeded, "{release:?}");
    timed("setup (build 1 in Production)", started);
    let healing = stack.self_healing.as_ref().expect("self-healing parts");

    let t = Instant::now();
    unauthenticated_or_replayed_notifications_start_nothing(&stack, healing).await;
    timed("5 (unauthenticated, replayed)", t);

    // Dynatrace (the OneAgent stand-in) watches the lane; the alert rules stay silent.
    let silence = healing.silence_alerts().await.unwrap();
    let t = Instant::now();
    a_saturating_load_is_healed_by_one_more_instance(healing).await;
    timed("1 (response time → scaling)", t);

    // On the two instances scenario 1 left.
    let t = Instant::now();
    the_promotion_flag_is_switched_off_once(healing).await;
    timed("2 (failure rate → flag off)", t);
    // Scaled in by hand, as a scale-in policy would once the load is gone.
    healing.set_desired_capacity(1).await.unwrap();

    healing.expire_silence(&silence).await.unwrap();
    let t = Instant::now();
    a_generated_rule_fires_through_alertmanager_and_scales(healing).await;
    timed("3 (Prometheus rule → Alertmanager → scaling)", t);

    let _silence = healing.silence_alerts().await.unwrap();
    let t = Instant::now();
    actions_that_do_not_help_end_escalated(healing).await;
    timed("4 (MaxSize, escalated)", t);

    assert!(!marked_processes(&marker).is_empty());
    stack.shutdown().await;
    assert_eq!(marked_processes(&marker), Vec::<u32>::new());
    timed("all", started);
}
