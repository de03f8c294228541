//! The canary gate through the real binaries: register reads canary.yaml from the input
//! artifact and stores it; the worker takes each metric's points from a real Prometheus (started
//! here, scraping itself every second), judges them and answers the approval.

use std::time::Duration;

use serde_json::{json, Value};
use unbreakable_emulators::aws::fake::JobStatus;
use unbreakable_emulators::lambda::RuntimeEmulator;
use unbreakable_emulators::prometheus::PrometheusServer;
use unbreakable_shared::ports::artifacts::zip_files;
use unbreakable_shared::ports::store::{
    OnWarning, RequestStatus, SliProviderKind, ValidationStore,
};
use unbreakable_tests::harness::{Harness, ARTIFACT_SECRET_KEY};

const INVOKE: Duration = Duration::from_secs(60);

async fn tick(emulator: &RuntimeEmulator) -> Value {
    emulator
        .invoke(
            json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
            INVOKE,
        )
        .await
        .expect("tick")
        .response()
}

/// Prometheus' own `up`: 1 on both sides, whatever the window. Nothing changed: a pass.
const STEADY: &str = r#"
step: 1s
metrics:
  - name: up
    query: max(up{job="$SCOPE"})
    direction: either
"#;

/// A counter's raw value (not its rate): always higher in the later window, so the
/// experiment (now) is HIGH against the control (the window before).
const GROWING: &str = r#"
step: 1s
metrics:
  - name: samples_appended
    query: max(prometheus_tsdb_head_samples_appended_total{job="$SCOPE"})
    direction: increase
"#;

fn params(control: &str) -> String {
    format!(
        r#"{{"gate": "canary", "control": "{control}", "experiment": "prometheus", "sliProvider": "prometheus", "onMarginal": "manual", "window": "10s", "approvalAction": "ApproveStaging"}}"#
    )
}

/// register → the window closes → the worker judges both pipelines from the points
/// Prometheus recorded → one approves (nothing changed), one rejects (a metric is HIGH).
#[tokio::test(flavor = "multi_thread")]
async fn a_canary_gate_is_registered_judged_from_prometheus_and_decided() {
    let prometheus = tokio::task::spawn_blocking(|| PrometheusServer::start(&[]))
        .await
        .unwrap()
        .expect("Prometheus (bash .ci/run installs it)");
    // The control is the 10 s before registration: let Prometheus record them first.
    tokio::time::sleep(Duration::from_secs(13)).await;

    let h = Harness::start().await.unwrap();
    let (register, register_process) = h.function("register-build-validation", &[]).await;
    let (worker, worker_process) = h
        .function(
            "validate-build-worker",
            &[("PROMETHEUS_URL", prometheus.url.clone())],
        )
        .await;
    for (pipeline, file, execution) in [
        ("Steady", STEADY, "exec-steady"),
        ("Growing", GROWING, "exec-growing"),
    ] {
        h.define_pipeline(pipeline);
        h.fake.enter_stage(pipeline, "Staging", execution);
        let key = format!("{pipeline}/quality-gate.zip");
        h.put_object(&key, zip_files(&[("gate/canary.yaml", file.as_bytes())]))
            .await;
        let (job, event) = h.fake.new_job(
            pipeline,
            "Staging",
            "RegisterStagingValidation",
            Some(execution),
            h.job_data(&params("prometheus@-10s"), Some(&key), None),
        );
        let answer = register.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(answer["status"], "Succeeded", "{pipeline}: {answer}");
        assert!(matches!(
            h.fake.job(&job).unwrap().status,
            JobStatus::Succeeded { .. }
        ));
        let stored = h.store().history(pipeline, 0).await.unwrap().requests;
        let gate = stored[0].canary.as_ref().expect("a canary gate");
        assert_eq!(stored[0].comparison, "Canary");
        assert_eq!(gate.file, file);
        assert_eq!(gate.provider, SliProviderKind::Prometheus);
        assert_eq!(
            (gate.control.as_str(), gate.experiment.as_str()),
            ("prometheus@-10s", "prometheus")
        );
        assert_eq!(gate.on_marginal, OnWarning::Manual);
        h.fake.enter_stage(pipeline, "ApproveStaging", execution);
        h.fake
            .start_approval(pipeline, "ApproveStaging", "ApproveStaging");
    }

    // The window closes, and Prometheus has scraped its last second.
    tokio::time::sleep(Duration::from_millis(12_000)).await;
    let report = tick(&worker).await;
    assert_eq!(
        (report["approved"].as_u64(), report["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{report}\n{}",
        worker_process.output()
    );
    let approvals = h.fake.approvals();
    let call = |pipeline: &str| {
        approvals
            .iter()
            .find(|a| a.pipeline == pipeline)
            .unwrap_or_else(|| panic!("no approval for {pipeline}: {approvals:?}"))
            .clone()
    };
    let steady = call("Steady");
    assert_eq!(steady.status, "Approved", "{}", steady.summary);
    assert!(
        steady.summary.starts_with("canary PASS (score 100): "),
        "{}",
        steady.summary
    );
    let growing = call("Growing");
    assert_eq!(growing.status, "Rejected", "{}", growing.summary);
    assert!(
        growing
            .summary
            .starts_with("canary FAIL (score 0): samples_appended HIGH p="),
        "{}",
        growing.summary
    );

    // Every statistic is stored with the request, with both distributions.
    let stored = &h.store().history("Growing", 0).await.unwrap().requests[0];
    assert_eq!(stored.status, RequestStatus::Violation);
    let record: Value = serde_json::from_str(stored.result_json.as_deref().unwrap()).unwrap();
    assert_eq!(record["gate"], "canary");
    assert_eq!(record["outcome"], "fail");
    let metric = &record["metrics"][0];
    assert_eq!(metric["classification"], "high");
    for key in ["pValue", "ciLower", "ciUpper", "zHigh", "band"] {
        assert!(metric["mannWhitney"][key].is_number(), "{key}: {metric:#}");
    }
    assert!(
        metric["experiment"]["count"].as_u64().unwrap() >= 8,
        "a point a second over 10 s: {metric:#}"
    );
    assert!(
        record["distributions"][0]["experiment"]["min"].as_f64()
            >= record["distributions"][0]["control"]["max"].as_f64(),
        "later values are higher: {record:#}"
    );

    for output in [register_process.output(), worker_process.output()] {
        assert!(!output.contains(ARTIFACT_SECRET_KEY), "a secret was logged");
        assert!(
            !output.contains("artifact-session-token"),
            "a secret was logged"
        );
    }
}

/// A canary file or scope the worker could not measure fails the register job with what to
/// fix; nothing is stored. canary.json is read when there is no canary.yaml.
#[tokio::test(flavor = "multi_thread")]
async fn register_refuses_a_canary_gate_it_could_not_measure_and_reads_canary_json() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    let (register, _process) = h.function("register-build-validation", &[]).await;
    let zip = |name: &str, text: &str| zip_files(&[(name, text.as_bytes())]);
    h.put_object("no-canary.zip", zip("readme.md", "nothing here"))
        .await;
    h.put_object(
        "bad-direction.zip",
        zip(
            "canary.yaml",
            &STEADY.replace("direction: either", "direction: sideways"),
        ),
    )
    .await;
    h.put_object(
        "location.zip",
        zip(
            "canary.yaml",
            &STEADY.replace("job=\"$SCOPE\"", "job=\"$SCOPE\",region=\"${location}\""),
        ),
    )
    .await;
    h.put_object("not-a-zip.yaml", STEADY.as_bytes().to_vec())
        .await;
    let cases = [
        (
            params("prometheus@-10s"),
            "no-canary.zip",
            "the ZIP has no canary.yaml (it holds: readme.md) (or canary.json)",
        ),
        (
            params("prometheus@-10s"),
            "not-a-zip.yaml",
            "not a ZIP; canary.yaml is read from a ZIP artifact",
        ),
        (
            params("prometheus@-10s"),
            "bad-direction.zip",
            "canary.yaml: ",
        ),
        (
            params("prometheus@-10s"),
            "location.zip",
            "canary.yaml: metric up cannot be measured on the control \"prometheus@-10s\": ",
        ),
        (
            params("prometheus"),
            "no-canary.zip",
            "\"control\" and \"experiment\" are the same scope over overlapping windows",
        ),
    ];
    for (user_parameters, key, message) in cases {
        let (job, event) = h.fake.new_job(
            "Sample",
            "Staging",
            "RegisterStagingValidation",
            Some("exec-1"),
            h.job_data(&user_parameters, Some(key), None),
        );
        let answer = register.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(answer["status"], "Failed", "{key}");
        match h.fake.job(&job).unwrap().status {
            JobStatus::Failed {
                failure_type,
                message: m,
            } => {
                assert_eq!(failure_type, "ConfigurationError", "{m}");
                assert!(m.contains(message), "expected \"{message}\" in: {m}");
                assert!(!m.contains('\n'), "one line: {m}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    assert!(
        h.store()
            .history("Sample", 0)
            .await
            .unwrap()
            .requests
            .is_empty(),
        "nothing stored"
    );

    // The same file as JSON.
    let as_json =
        r#"{"step": "1s", "metrics": [{"name": "up", "query": "max(up{job=\"$SCOPE\"})"}]}"#;
    h.put_object("json.zip", zip("canary.json", as_json)).await;
    let (_, event) = h.fake.new_job(
        "Sample",
        "Staging",
        "RegisterStagingValidation",
        Some("exec-1"),
        h.job_data(&params("prometheus@-10s"), Some("json.zip"), None),
    );
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    let stored = h.store().history("Sample", 0).await.unwrap().requests;
    assert_eq!(stored[0].canary.as_ref().unwrap().file, as_json);
}
