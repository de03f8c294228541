//! Benchmark (not a test): how soon a decision is made once its data is complete, and how
//! soon a problem's remediation starts once it is notified, with wake-ups (the stack's
//! `DecisionEvents: on`) and with the sweep alone (`off`). Through the real binaries under
//! the Runtime API emulator, the wake queue in moto's SQS, the worker subscribed to it as
//! Lambda's event source mapping does it.
//!
//! Prints, both ways: for 100 validations (10 s windows, 2 s ingestion delay, registered
//! 0.6 s apart so they fall at every phase of the sweep) the decision's lateness after the
//! window's end plus the delay (the PutApprovalResult's arrival), p50/p99/max; for 20
//! problems (alerts on 20 lanes, 1 s apart) the time from the notification to the lane's
//! first step, p50/p99; and the worker's invocations and billed GB-seconds.
//!
//! The sweep runs every 10 s here, not the stack's 10 minutes: its lateness is uniform over
//! its period, so the line scaled to `rate(10 minutes)` multiplies by 60.
//! Run: cargo bench -p unbreakable-tests --bench decision_latency

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unbreakable_emulators::lambda::apigw::rest_event;
use unbreakable_emulators::lambda::RuntimeEmulator;
use unbreakable_shared::ports::lanes::{LaneConfig, LaneConfigs, LaneKey, LaneStore};
use unbreakable_shared::ports::store::ValidationStore;
use unbreakable_tests::harness::{monspec_text, now_ms, Harness};

const VALIDATIONS: usize = 100;
const PROBLEMS: usize = 20;
const REGISTER_EVERY: Duration = Duration::from_millis(600);
const ALERT_EVERY: Duration = Duration::from_secs(1);
/// The sweep's period here, and the stack's default.
const SWEEP: Duration = Duration::from_secs(10);
const STACK_SWEEP: Duration = Duration::from_secs(600);
const INVOKE: Duration = Duration::from_secs(120);
const ALERT_TOKEN: &str = "am-bearer-token-for-the-benchmark";

/// The sweep: the schedule's event every [`SWEEP`], counting what it cost.
struct Sweep {
    invocations: Arc<AtomicUsize>,
    billed_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

fn sweep(worker: Arc<RuntimeEmulator>) -> Sweep {
    let invocations = Arc::new(AtomicUsize::new(0));
    let billed_ms = Arc::new(AtomicU64::new(0));
    let (count, billed) = (invocations.clone(), billed_ms.clone());
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let started = Instant::now();
            let event = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
            let _ = worker.invoke(event, INVOKE).await;
            count.fetch_add(1, Ordering::SeqCst);
            billed.fetch_add(
                started.elapsed().as_micros().div_ceil(1000) as u64,
                Ordering::SeqCst,
            );
        }
    });
    Sweep {
        invocations,
        billed_ms,
        task,
    }
}

/// The worker's MemorySize in the stack's template, in GB.
fn worker_memory_gb() -> f64 {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cloudformation/unbreakable.json"
    );
    let template: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mb = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .find(|r| {
            r["Properties"]["Code"]["S3Key"]
                .to_string()
                .contains("validate-build-worker")
        })
        .and_then(|r| r["Properties"]["MemorySize"].as_f64())
        .expect("the worker's MemorySize");
    mb / 1024.0
}

/// p50, p99 and max of `values` (ms), in seconds.
fn spread(mut values: Vec<i64>) -> (f64, f64, f64) {
    values.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1] as f64 / 1000.0
    };
    (at(0.50), at(0.99), at(1.0))
}

struct Run {
    lateness_ms: Vec<i64>,
    wake_invocations: usize,
    sweep_invocations: usize,
    billed_ms: u64,
}

type Subscription = (
    tokio::task::JoinHandle<()>,
    Arc<unbreakable_local::wake_queue::SubscriptionStats>,
);

impl Run {
    /// Stop the subscription and the sweep, and count what they cost.
    fn ended(lateness_ms: Vec<i64>, subscription: Option<Subscription>, sweep: Sweep) -> Run {
        sweep.task.abort();
        let (wake_invocations, wake_billed) = match subscription {
            Some((task, stats)) => {
                task.abort();
                (
                    stats.invocations.load(Ordering::SeqCst),
                    stats.billed_ms.load(Ordering::SeqCst),
                )
            }
            None => (0, 0),
        };
        Run {
            lateness_ms,
            wake_invocations,
            sweep_invocations: sweep.invocations.load(Ordering::SeqCst),
            billed_ms: wake_billed + sweep.billed_ms.load(Ordering::SeqCst),
        }
    }

    fn print(&self, label: &str, items: usize, memory_gb: f64) {
        let (p50, p99, max) = spread(self.lateness_ms.clone());
        let mut slowest: Vec<(usize, i64)> = self.lateness_ms.iter().copied().enumerate().collect();
        slowest.sort_by_key(|(_, ms)| -ms);
        slowest.truncate(3);
        eprintln!("  {label}: slowest (item, ms) {slowest:?}");
        let invocations = self.wake_invocations + self.sweep_invocations;
        let gb_s = self.billed_ms as f64 / 1000.0 * memory_gb;
        println!(
            "  {label:<28} {p50:>7.2} s {p99:>7.2} s {max:>7.2} s   {invocations:>4} ({} wake, {} sweep), {:.3} per item; {gb_s:.3} GB-s, {:.5} per item",
            self.wake_invocations,
            self.sweep_invocations,
            invocations as f64 / items as f64,
            gb_s / items as f64,
        );
    }
}

async fn validations(events: bool) -> Run {
    let h = Harness::start().await.unwrap();
    h.put_object("Bench/Monspec", monspec_text().into_bytes())
        .await;
    let mut env = vec![("INGESTION_DELAY_DYNATRACE_SECONDS", "2".to_string())];
    if events {
        env.push(h.events());
    }
    let (register, _register_process) = h.function("register-build-validation", &env).await;
    let (worker, _worker_process) = h.function("validate-build-worker", &env).await;
    let worker = Arc::new(worker);
    let subscription = events.then(|| h.subscribe(worker.clone()));
    let sweep = sweep(worker.clone());
    let mut pipelines = Vec::new();
    for i in 0..VALIDATIONS {
        let next = Instant::now() + REGISTER_EVERY;
        let pipeline = format!("Bench{i:03}");
        let execution = format!("exec-{i}");
        h.define_pipeline(&pipeline);
        h.fake.enter_stage(&pipeline, "Staging", &execution);
        let data = h.job_data(
            &json!({"comparison": "StagingToProduction", "window": "10s", "approvalAction": "ApproveStaging", "executionId": execution}).to_string(),
            Some("Bench/Monspec"),
            None,
        );
        let (_job, event) = h.fake.new_job(
            &pipeline,
            "Staging",
            "RegisterStagingValidation",
            None,
            data,
        );
        let answer = register.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(answer["status"], "Succeeded", "{answer}");
        h.fake.enter_stage(&pipeline, "ApproveStaging", &execution);
        h.fake
            .start_approval(&pipeline, "ApproveStaging", "ApproveStaging");
        pipelines.push(pipeline);
        tokio::time::sleep_until(next.into()).await;
    }
    let limit = Instant::now() + Duration::from_secs(12) + SWEEP * 3;
    while h.fake.approvals().len() < VALIDATIONS && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sweep.task.abort();
    let approvals = h.fake.approvals();
    assert_eq!(approvals.len(), VALIDATIONS, "every validation decided");
    let mut lateness_ms = Vec::new();
    for pipeline in &pipelines {
        let request = h.store().history(pipeline, 0).await.unwrap().requests[0].clone();
        let call = approvals.iter().find(|a| &a.pipeline == pipeline).unwrap();
        assert!(call.at_ms >= request.ready_ms, "{pipeline} decided early");
        lateness_ms.push(call.at_ms - request.ready_ms);
    }
    Run::ended(lateness_ms, subscription, sweep)
}

fn rfc3339_ms(ms: i64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms as u64))
        .to_string()
}

/// One firing alert on `service`'s Production lane, as Alertmanager's webhook (version 4).
fn alert_body(fingerprint: u64, service: &str, starts_ms: i64) -> String {
    json!({
        "version": "4", "groupKey": "{}:{alertname=~\".+\"}", "status": "firing",
        "receiver": "unbreakable", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "error_rate", "service": service, "stage": "Production"},
            "annotations": {"summary": "error_rate"},
            "startsAt": rfc3339_ms(starts_ms), "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": format!("{fingerprint:016x}"), "generatorURL": "http://prometheus:9090/graph"
        }]
    })
    .to_string()
}

async fn problems(events: bool) -> Run {
    let h = Harness::start().await.unwrap();
    let remediation = "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations:\n  - problemType: default\n    actionsOnOpen:\n    - action: escalate\n";
    let lanes: Vec<LaneKey> = (0..PROBLEMS)
        .map(|i| LaneKey {
            service: format!("Svc{i:02}"),
            stage: "Production".into(),
        })
        .collect();
    for key in &lanes {
        h.store()
            .put_config(
                key,
                &LaneConfig {
                    remediation_yaml: Some(remediation.into()),
                    monspec_json: Some(monspec_text()),
                    comparison: Some("StagingToProduction".into()),
                    updated_ms: now_ms(),
                    ..LaneConfig::default()
                },
            )
            .await
            .unwrap();
    }
    let secret = aws_sdk_secretsmanager::Client::new(&h.sdk)
        .create_secret()
        .name("alertmanager-webhook-token")
        .secret_string(ALERT_TOKEN)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap_or_default()
        .to_string();
    let mut webhook_env = vec![("ALERTMANAGER_SECRET_ID", secret)];
    let mut worker_env = vec![
        ("REMEDIATION_POLL_SECONDS", "1".to_string()),
        ("REMEDIATION_COOLDOWN_SECONDS", "1".to_string()),
    ];
    if events {
        webhook_env.push(h.events());
        worker_env.push(h.events());
    }
    let (webhook, _webhook_process) = h
        .function("handle-problem-notification", &webhook_env)
        .await;
    let (worker, _worker_process) = h.function("validate-build-worker", &worker_env).await;
    let worker = Arc::new(worker);
    let subscription = events.then(|| h.subscribe(worker.clone()));
    let sweep = sweep(worker.clone());
    let bearer = format!("Bearer {ALERT_TOKEN}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let mut notified_ms = Vec::new();
    for (i, key) in lanes.iter().enumerate() {
        let next = Instant::now() + ALERT_EVERY;
        let body = alert_body(0x100 + i as u64, &key.service, now_ms() - 60_000);
        notified_ms.push(now_ms());
        let answer = webhook
            .invoke(
                rest_event(
                    "POST",
                    "/HandleAlertmanagerAlert",
                    &[],
                    &headers,
                    Some(&body),
                ),
                INVOKE,
            )
            .await
            .unwrap()
            .response();
        assert_eq!(answer["statusCode"], 200, "{answer}");
        tokio::time::sleep_until(next.into()).await;
    }
    let first_steps = |histories: &unbreakable_shared::ports::lanes::LanePage| -> Vec<Option<i64>> {
        lanes
            .iter()
            .map(|key| {
                let history = histories.histories.iter().find(|h| &h.key == key)?;
                let sequence = serde_json::to_value(history.ended.first()?).ok()?;
                sequence["steps"]
                    .as_array()?
                    .iter()
                    .find(|s| s["kind"]["kind"] == "actionStarted" || s["kind"]["kind"] == "ended")
                    .and_then(|s| s["atMs"].as_i64())
            })
            .collect()
    };
    let limit = Instant::now() + SWEEP * 3;
    let steps = loop {
        let steps = first_steps(&h.store().lane_histories(50, 10).await.unwrap());
        if steps.iter().all(Option::is_some) || Instant::now() > limit {
            break steps;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    sweep.task.abort();
    let lateness_ms = steps
        .iter()
        .zip(&notified_ms)
        .map(|(step, notified)| step.expect("every lane started") - notified)
        .collect();
    Run::ended(lateness_ms, subscription, sweep)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let memory_gb = worker_memory_gb();
    let scale = STACK_SWEEP.as_secs_f64() / SWEEP.as_secs_f64();
    let header = "                                   p50        p99        max    worker invocations; billed GB-s";
    println!(
        "decision_latency: release binaries, moto's SQS as the wake queue, the sweep every {} s (the stack's: {} s), the worker at {:.0} MB",
        SWEEP.as_secs(),
        STACK_SWEEP.as_secs(),
        memory_gb * 1024.0
    );
    println!("{VALIDATIONS} validations: decision after the window's end plus the ingestion delay");
    println!("{header}");
    let on = validations(true).await;
    on.print("events on (+ the sweep)", VALIDATIONS, memory_gb);
    let off = validations(false).await;
    off.print("sweep only", VALIDATIONS, memory_gb);
    let (p50, p99, max) = spread(off.lateness_ms.clone());
    println!(
        "  {:<28} {:>7.0} s {:>7.0} s {:>7.0} s   (sweep only, lateness x{scale:.0})",
        "sweep only, rate(10 minutes)",
        p50 * scale,
        p99 * scale,
        max * scale
    );
    println!("{PROBLEMS} problems: notification to the lane's first step");
    println!("{header}");
    let on = problems(true).await;
    on.print("events on (+ the sweep)", PROBLEMS, memory_gb);
    let off = problems(false).await;
    off.print("sweep only", PROBLEMS, memory_gb);
    let (p50, p99, max) = spread(off.lateness_ms.clone());
    println!(
        "  {:<28} {:>7.0} s {:>7.0} s {:>7.0} s   (sweep only, lateness x{scale:.0})",
        "sweep only, rate(10 minutes)",
        p50 * scale,
        p99 * scale,
        max * scale
    );
    println!("The sweep's invocations do not grow with load: 144 a day at rate(10 minutes), whatever is decided.");
}
