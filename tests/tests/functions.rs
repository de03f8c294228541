//! The six Lambda functions through their real binaries, under the Runtime API emulator,
//! against moto, the CodePipeline/CodeDeploy fake and the Dynatrace simulator.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use unbreakable_emulators::aws::fake::JobStatus;
use unbreakable_emulators::dynatrace::DEFAULT_TOKEN;
use unbreakable_emulators::lambda::apigw::{http_event, rest_event};
use unbreakable_emulators::lambda::Invocation;
use unbreakable_shared::ports::store::{RequestKey, RequestStatus, ValidationStore};
use unbreakable_tests::harness::{
    monspec_text, now_ms, Harness, ARTIFACT_SECRET_KEY, WEBHOOK_SECRET,
};

const INVOKE: Duration = Duration::from_secs(60);

fn no_secrets(output: &str) {
    for secret in [
        DEFAULT_TOKEN,
        ARTIFACT_SECRET_KEY,
        "artifact-session-token",
        WEBHOOK_SECRET,
    ] {
        assert!(
            !output.contains(secret),
            "a secret was logged: {secret}\n{output}"
        );
    }
}

fn failure(h: &Harness, job: &str) -> (String, String) {
    match h.fake.job(job).expect("job").status {
        JobStatus::Failed {
            failure_type,
            message,
        } => (failure_type, message),
        other => panic!("job {job} did not fail: {other:?}"),
    }
}

async fn tick(emulator: &unbreakable_emulators::lambda::RuntimeEmulator) -> Value {
    emulator.invoke(json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}), INVOKE).await.expect("tick").response()
}

/// The tutorial's happy path: register (monspec from a raw S3 artifact) → the window closes
/// → the worker approves exactly the waiting approval of that execution.
#[tokio::test(flavor = "multi_thread")]
async fn registered_build_is_approved_by_the_worker() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object("Sample/Monspec/AbC1234", monspec_text().into_bytes())
        .await;
    let (register, register_process) = h.function("register-build-validation", &[]).await;
    let (worker, worker_process) = h.function("validate-build-worker", &[]).await;

    let data = h.job_data(r#"{"comparison": "StagingToProduction", "window": "10s", "approvalAction": "ApproveStaging", "executionId": "exec-1"}"#, Some("Sample/Monspec/AbC1234"), None);
    let (job, event) = h
        .fake
        .new_job("Sample", "Staging", "RegisterStagingValidation", None, data);
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(
        h.fake.job(&job).unwrap().status,
        JobStatus::Succeeded { .. }
    ));

    // Before the window closes the worker finds nothing to do.
    let early = tick(&worker).await;
    assert_eq!(early["ready"], 0, "{early}");

    h.fake.enter_stage("Sample", "ApproveStaging", "exec-1");
    let token = h
        .fake
        .start_approval("Sample", "ApproveStaging", "ApproveStaging");
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let report = tick(&worker).await;
    assert_eq!(report["approved"], 1, "{report}");

    let approvals = h.fake.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0].token, token);
    assert_eq!(approvals[0].status, "Approved");
    assert!(
        approvals[0]
            .summary
            .starts_with("APPROVED StagingToProduction: all 2 signatures passed"),
        "{}",
        approvals[0].summary
    );
    assert!(
        approvals[0]
            .summary
            .ends_with(unbreakable_tests::harness::REPORT_URL),
        "{}",
        approvals[0].summary
    );

    let stored = h.store().history("Sample", 0).await.unwrap().requests;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, RequestStatus::Ok);
    assert_eq!(stored[0].execution_id, "exec-1");
    assert!(
        stored[0].next_check_ms.is_none(),
        "a finished request leaves the ready index"
    );
    let result: Value = serde_json::from_str(stored[0].result_json.as_deref().unwrap()).unwrap();
    assert_eq!(result["status"], "approved");
    no_secrets(&register_process.output());
    no_secrets(&worker_process.output());
    assert!(
        register_process.output().contains("\"requestId\""),
        "logs carry the request id:\n{}",
        register_process.output()
    );
}

/// A window is judged only once its end plus the provider's ingestion delay has passed:
/// the worker finds nothing due when the window has closed but the delay has not.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_is_judged_after_its_end_plus_the_ingestion_delay() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object("Sample/Monspec/AbC1234", monspec_text().into_bytes())
        .await;
    let (register, _register_process) = h
        .function(
            "register-build-validation",
            &[("INGESTION_DELAY_DYNATRACE_SECONDS", "3".into())],
        )
        .await;
    let (worker, _worker_process) = h.function("validate-build-worker", &[]).await;
    let data = h.job_data(r#"{"comparison": "StagingToProduction", "window": "10s", "approvalAction": "ApproveStaging", "executionId": "exec-1"}"#, Some("Sample/Monspec/AbC1234"), None);
    let (_job, event) =
        h.fake
            .new_job("Sample", "Staging", "RegisterStagingValidation", None, data);
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    let stored = h.store().history("Sample", 0).await.unwrap().requests;
    assert_eq!(stored[0].ready_ms, stored[0].timestamp_ms + 13_000);
    assert!(
        stored[0].status_msg.contains("3s of ingestion delay"),
        "{}",
        stored[0].status_msg
    );

    h.fake.enter_stage("Sample", "ApproveStaging", "exec-1");
    h.fake
        .start_approval("Sample", "ApproveStaging", "ApproveStaging");
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let closed = tick(&worker).await;
    assert_eq!(
        closed["ready"], 0,
        "the window closed, its data is not in yet: {closed}"
    );
    assert!(h.fake.approvals().is_empty());
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let report = tick(&worker).await;
    assert_eq!(report["approved"], 1, "{report}");
}

/// Register a 10 s validation of `exec-1` with wake-ups on (`overrides` on top), its approval
/// waiting already; the stored request.
async fn register_with_events(
    h: &Harness,
    overrides: &[(&'static str, String)],
) -> unbreakable_shared::ports::store::ValidationRequest {
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object("Sample/Monspec/AbC1234", monspec_text().into_bytes())
        .await;
    let mut env = vec![h.events()];
    env.extend(overrides.iter().cloned());
    let (register, _register_process) = h.function("register-build-validation", &env).await;
    let data = h.job_data(r#"{"comparison": "StagingToProduction", "window": "10s", "approvalAction": "ApproveStaging", "executionId": "exec-1"}"#, Some("Sample/Monspec/AbC1234"), None);
    let (_job, event) =
        h.fake
            .new_job("Sample", "Staging", "RegisterStagingValidation", None, data);
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    h.fake.enter_stage("Sample", "ApproveStaging", "exec-1");
    h.fake
        .start_approval("Sample", "ApproveStaging", "ApproveStaging");
    h.store().history("Sample", 0).await.unwrap().requests[0].clone()
}

/// Wait (at most `limit`) for the first PutApprovalResult.
async fn first_approval(
    h: &Harness,
    limit: Duration,
) -> unbreakable_emulators::aws::fake::ApprovalCall {
    let start = std::time::Instant::now();
    loop {
        if let Some(call) = h.fake.approvals().first() {
            return call.clone();
        }
        assert!(start.elapsed() < limit, "no decision within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Event-driven: register asks for the worker at the window's end plus the delay, and the
/// worker, subscribed to the wake queue and never ticked, decides then. A wake-up that
/// arrives before the data is complete (sent by hand here, as a duplicate or a clock's skew
/// would) judges nothing: the request is put back and woken again when it is due.
#[tokio::test(flavor = "multi_thread")]
async fn a_wake_up_decides_at_the_windows_end_plus_the_delay_and_never_before() {
    use unbreakable_shared::ports::wakeups::{WakeTarget, WakeUp, Wakeups};
    let h = Harness::start().await.unwrap();
    let delay = [("INGESTION_DELAY_DYNATRACE_SECONDS", "3".to_string())];
    let request = register_with_events(&h, &delay).await;
    assert_eq!(request.ready_ms, request.timestamp_ms + 13_000);
    let (worker, _worker_process) = h.function("validate-build-worker", &[h.events()]).await;
    let worker = std::sync::Arc::new(worker);
    let (subscription, invocations) = h.subscribe(worker.clone());
    // Early, by hand: due now, 13 s before the data is complete.
    unbreakable_shared::aws::sqs::SqsWakeups::new(&h.sdk, h.wake_queue_url.clone())
        .send(
            &WakeUp::new(WakeTarget::validation(&request.key()), now_ms()),
            now_ms(),
        )
        .await
        .unwrap();

    let approval = first_approval(&h, Duration::from_secs(30)).await;
    subscription.abort();
    assert_eq!(approval.status, "Approved", "{approval:?}");
    assert!(
        approval.at_ms >= request.ready_ms,
        "decided {} ms before the data was complete",
        request.ready_ms - approval.at_ms
    );
    // The worker saves `ok` just after CodePipeline takes the approval: wait for that save.
    let settled = std::time::Instant::now();
    let stored = loop {
        let stored = h.store().get(&request.key()).await.unwrap().unwrap();
        if stored.status != RequestStatus::Decided || settled.elapsed() > Duration::from_secs(10) {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stored.status, RequestStatus::Ok);
    assert_eq!(stored.attempts, 1, "the early claim was not counted");
    assert!(
        invocations
            .invocations
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2,
        "the early wake-up and the one at the data's time"
    );
    assert_eq!(h.fake.approvals().len(), 1);
}

/// A lost wake-up (a message deleted unread, a queue purged) delays a decision to the next
/// sweep, no more: the sweep finds the request due and decides it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_wake_up_is_caught_by_the_sweep() {
    let h = Harness::start().await.unwrap();
    let request = register_with_events(&h, &[]).await;
    let sqs = unbreakable_shared::aws::sqs::SqsClient::new(&h.sdk);
    // Held back until the window's end (10 s): received then, and deleted unread.
    let sent = sqs
        .receive_messages(&h.wake_queue_url, 10, 20, 60)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1, "register sent one wake-up: {sent:?}");
    sqs.delete_message(&h.wake_queue_url, &sent[0].receipt_handle)
        .await
        .unwrap();

    let (worker, _worker_process) = h.function("validate-build-worker", &[h.events()]).await;
    let wait = (request.ready_ms - now_ms()).max(0) as u64 + 200;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert!(h.fake.approvals().is_empty(), "nothing was woken");
    let report = tick(&worker).await;
    assert_eq!(report["approved"], 1, "{report}");
}

/// Bad input to register ends in one PutJobFailureResult that says what to fix; nothing is stored.
const SLO_GATE_PARAMS: &str = r#"{"gate": "slo", "service": "sample", "sliProvider": "prometheus", "window": "1m", "approvalAction": "ApproveStaging"}"#;
const SLO_GATE_SLO: &str = "spec_version: \"1.0\"
comparison: {compare_with: single_result}
objectives:
  - sli: error_rate
    key_sli: true
    pass:
      - criteria:
          - \"<=1\"
  - sli: response_time
    pass: [{criteria: [\"<=+10%\"]}]
total_score: {pass: \"90%\"}
";
const SLO_GATE_SLI: &str = "indicators:\n  error_rate: errors\n  response_time: rt\n";

#[tokio::test(flavor = "multi_thread")]
async fn an_slo_gate_is_registered_with_its_files_and_settings() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object(
        "quality-gate.zip",
        unbreakable_shared::ports::artifacts::zip_files(&[
            ("gate/slo.yaml", SLO_GATE_SLO.as_bytes()),
            ("gate/sli.yaml", SLO_GATE_SLI.as_bytes()),
        ]),
    )
    .await;
    let (register, _process) = h.function("register-build-validation", &[]).await;
    let (job, event) = h.fake.new_job(
        "Sample",
        "Staging",
        "RegisterStagingValidation",
        Some("exec-1"),
        h.job_data(SLO_GATE_PARAMS, Some("quality-gate.zip"), None),
    );
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert_eq!(h.fake.job(&job).unwrap().result_calls, 1);
    let stored = h.store().history("Sample", 0).await.unwrap().requests;
    assert_eq!(stored.len(), 1);
    let request = &stored[0];
    assert_eq!(request.comparison, "SLO");
    assert_eq!(request.execution_id, "exec-1");
    assert_eq!(request.window_ms, 60_000);
    assert_eq!(
        request.ready_ms,
        request.timestamp_ms + 60_000,
        "the harness sets no ingestion delay"
    );
    let gate = request.slo.as_ref().expect("an SLO gate");
    assert_eq!(gate.slo, SLO_GATE_SLO);
    assert_eq!(gate.sli, SLO_GATE_SLI);
    assert_eq!(gate.service, "sample");
    assert_eq!(
        gate.provider,
        unbreakable_shared::ports::store::SliProviderKind::Prometheus
    );
    assert_eq!(
        gate.on_warning,
        unbreakable_shared::ports::store::OnWarning::Manual
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn register_rejects_bad_input_with_a_message_and_stores_nothing() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object(
        "monspec.zip",
        unbreakable_shared::ports::artifacts::zip_files(&[("readme.md", b"no monspec here")]),
    )
    .await;
    let (register, _process) = h.function("register-build-validation", &[]).await;

    let cases: Vec<(Value, &str, &str)> = vec![
        // Malformed event: no artifactCredentials.
        (
            {
                let mut data = h.job_data(
                    "StagingToProduction,5,ApproveStaging",
                    Some("missing"),
                    None,
                );
                data.as_object_mut().unwrap().remove("artifactCredentials");
                data
            },
            "ConfigurationError",
            "malformed CodePipeline job event: missing field `artifactCredentials`",
        ),
        (
            h.job_data(
                "StagingToProduction,5,ApproveStaging",
                Some("Sample/Monspec/missing"),
                None,
            ),
            "JobFailed",
            "s3://unbreakable-artifacts/Sample/Monspec/missing: no such object",
        ),
        (
            h.job_data(
                "StagingToProduction,5,ApproveStaging",
                Some("monspec.zip"),
                None,
            ),
            "ConfigurationError",
            "the ZIP has no monspec.json (it holds: readme.md)",
        ),
        // Confirmed under a 256 MiB memory limit: a ZIP inflating to 1 GiB killed the
        // function and the job stayed pending. Refused by the entry's declared size, and an
        // object by its ContentLength, before either is read whole.
        (
            h.job_data(
                "StagingToProduction,5,ApproveStaging",
                Some("bomb.zip"),
                None,
            ),
            "ConfigurationError",
            "monspec.json inflated is 16777216 bytes; the limit is 102400 bytes",
        ),
        (
            h.job_data(
                "StagingToProduction,5,ApproveStaging",
                Some("huge.json"),
                None,
            ),
            "ConfigurationError",
            "the input artifact is too large: s3://unbreakable-artifacts/huge.json: the object is 10485761 bytes; the limit is 10485760 bytes",
        ),
        (
            h.job_data("StagingToProduction,5", Some("monspec.zip"), None),
            "ConfigurationError",
            "expected 3 or 4 comma-separated fields, got 2",
        ),
        (
            h.job_data("StagingToProduction,5,ApproveStaging", None, None),
            "ConfigurationError",
            "no monspec: the action has no input artifact",
        ),
        (
            h.job_data(
                "StagingToProduction,5,ApproveProduction",
                Some("good"),
                None,
            ),
            "ConfigurationError",
            "pipeline Sample has no manual approval action named ApproveProduction",
        ),
        (
            h.job_data("StagingToProdction,5,ApproveStaging", Some("good"), None),
            "ConfigurationError",
            "unknown comparison \"StagingToProdction\"",
        ),
        // SLO gates: the files come from a ZIP, are linted, and every objective needs a query.
        (
            h.job_data(SLO_GATE_PARAMS, Some("monspec.zip"), None),
            "ConfigurationError",
            "the ZIP has no slo.yaml (it holds: readme.md)",
        ),
        (
            h.job_data(SLO_GATE_PARAMS, Some("good"), None),
            "ConfigurationError",
            "not a ZIP; slo.yaml is read from a ZIP artifact",
        ),
        (
            h.job_data(SLO_GATE_PARAMS, Some("slo-bad-criterion.zip"), None),
            "ConfigurationError",
            "slo.yaml:8:13: objectives[0].pass[0].criteria[0]: \"<<5\" has no plain number after the operator",
        ),
        (
            h.job_data(SLO_GATE_PARAMS, Some("slo-missing-query.zip"), None),
            "ConfigurationError",
            "sli.yaml has no query for response_time that slo.yaml judges: add each under indicators",
        ),
        (
            h.job_data(
                r#"{"gate": "slo", "window": "1m", "approvalAction": "ApproveStaging"}"#,
                Some("slo-good.zip"),
                None,
            ),
            "ConfigurationError",
            "an SLO gate needs \"service\"",
        ),
    ];
    h.put_object("good", monspec_text().into_bytes()).await;
    h.put_object("bomb.zip", zip_bomb()).await;
    h.put_object("huge.json", vec![b' '; 10 * 1024 * 1024 + 1])
        .await;
    let slo_zip = |slo: &str, sli: &str| {
        unbreakable_shared::ports::artifacts::zip_files(&[
            ("slo.yaml", slo.as_bytes()),
            ("sli.yaml", sli.as_bytes()),
        ])
    };
    h.put_object(
        "slo-bad-criterion.zip",
        slo_zip(&SLO_GATE_SLO.replace("\"<=1\"", "\"<<5\""), SLO_GATE_SLI),
    )
    .await;
    h.put_object(
        "slo-missing-query.zip",
        // error_rate has prometheus-service's default query; response_time has none.
        slo_zip(SLO_GATE_SLO, "indicators:\n  throughput: requests\n"),
    )
    .await;
    h.put_object("slo-good.zip", slo_zip(SLO_GATE_SLO, SLO_GATE_SLI))
        .await;
    for (data, failure_type, message) in cases {
        let (job, event) = h.fake.new_job(
            "Sample",
            "Staging",
            "RegisterStagingValidation",
            Some("exec-1"),
            data,
        );
        let answer = register.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(answer["status"], "Failed");
        let (t, m) = failure(&h, &job);
        assert_eq!(t, failure_type, "{m}");
        assert!(m.contains(message), "expected \"{message}\" in: {m}");
        assert_eq!(
            h.fake.job(&job).unwrap().result_calls,
            1,
            "exactly one PutJob*Result"
        );
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

    // Not a CodePipeline event at all: the invocation fails, naming what is missing.
    match register
        .invoke(json!({"hello": "world"}), INVOKE)
        .await
        .unwrap()
    {
        Invocation::Error(e) => assert!(
            e["errorMessage"]
                .as_str()
                .unwrap()
                .contains("\"CodePipeline.job\" is missing"),
            "{e}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A 16 KB ZIP whose monspec.json inflates to 16 MiB.
fn zip_bomb() -> Vec<u8> {
    unbreakable_shared::ports::artifacts::zip_files(&[(
        "monspec.json",
        &vec![b' '; 16 * 1024 * 1024],
    )])
}

/// Put a ready validation for `pipeline`/`execution` and wait for a worker tick to take it.
async fn store_ready(h: &Harness, pipeline: &str, comparison: &str, execution: &str) -> RequestKey {
    let request = h.ready_request(
        pipeline,
        comparison,
        execution,
        Duration::from_secs(90),
        Duration::from_secs(30),
    );
    h.store().create(&request).await.unwrap();
    request.key()
}

async fn stored(
    h: &Harness,
    key: &RequestKey,
) -> unbreakable_shared::ports::store::ValidationRequest {
    h.store().get(key).await.unwrap().expect("stored request")
}

fn approval_waiting(h: &Harness, pipeline: &str, execution: &str) -> String {
    h.define_pipeline(pipeline);
    h.fake.enter_stage(pipeline, "Staging", execution);
    h.fake.enter_stage(pipeline, "ApproveStaging", execution);
    h.fake
        .start_approval(pipeline, "ApproveStaging", "ApproveStaging")
}

/// A violation and a build without data are both rejected, with the reason in the summary.
#[tokio::test(flavor = "multi_thread")]
async fn violations_and_missing_data_reject_with_the_reason() {
    let h = Harness::start().await.unwrap();
    approval_waiting(&h, "Slow", "exec-slow");
    approval_waiting(&h, "Empty", "exec-empty");
    let slow = store_ready(&h, "Slow", "SlowStagingToProduction", "exec-slow").await;
    let empty = store_ready(&h, "Empty", "CanaryToProduction", "exec-empty").await;
    let (worker, process) = h
        .function(
            "validate-build-worker",
            &[("WORKER_MAX_ATTEMPTS", "1".into())],
        )
        .await;
    let report = tick(&worker).await;
    assert_eq!(report["rejected"], 2, "{report}");

    let approvals = h.fake.approvals();
    let slow_call = approvals.iter().find(|a| a.pipeline == "Slow").unwrap();
    assert_eq!(slow_call.status, "Rejected");
    assert!(slow_call.summary.starts_with("REJECTED SlowStagingToProduction: 1 of 2 signatures failed (1 violation, 0 nodata, 0 error)"), "{}", slow_call.summary);
    assert!(
        slow_call.summary.contains("avg response time"),
        "the summary names the signature: {}",
        slow_call.summary
    );
    let empty_call = approvals.iter().find(|a| a.pipeline == "Empty").unwrap();
    assert_eq!(empty_call.status, "Rejected");
    assert!(
        empty_call.summary.contains("2 nodata"),
        "{}",
        empty_call.summary
    );
    assert!(
        empty_call
            .summary
            .contains("no entity matched the tags DeploymentGroup:Canary"),
        "{}",
        empty_call.summary
    );
    assert_eq!(stored(&h, &slow).await.status, RequestStatus::Violation);
    assert_eq!(stored(&h, &empty).await.status, RequestStatus::Violation);
    no_secrets(&process.output());
}

/// The approval stage has not started when the verdict is ready: the decision is kept and
/// applied on a later tick, to that execution's approval.
#[tokio::test(flavor = "multi_thread")]
async fn a_decision_waits_for_its_approval_and_is_applied_later() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Later");
    h.fake.enter_stage("Later", "Staging", "exec-2");
    let key = store_ready(&h, "Later", "StagingToProduction", "exec-2").await;
    let (worker, _process) = h.function("validate-build-worker", &[]).await;

    let first = tick(&worker).await;
    assert_eq!(
        (first["evaluated"].as_u64(), first["deferred"].as_u64()),
        (Some(1), Some(1)),
        "{first}"
    );
    let waiting = stored(&h, &key).await;
    assert_eq!(waiting.status, RequestStatus::Decided);
    assert!(
        waiting
            .status_msg
            .contains("ApproveStaging has not started yet")
            || waiting.status_msg.contains("has not run yet"),
        "{}",
        waiting.status_msg
    );
    assert!(h.fake.approvals().is_empty());

    h.fake.enter_stage("Later", "ApproveStaging", "exec-2");
    let token = h
        .fake
        .start_approval("Later", "ApproveStaging", "ApproveStaging");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = tick(&worker).await;
    assert_eq!(
        (second["evaluated"].as_u64(), second["approved"].as_u64()),
        (Some(0), Some(1)),
        "evaluated once, applied later: {second}"
    );
    let approvals = h.fake.approvals();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].token, token);
    assert_eq!(stored(&h, &key).await.status, RequestStatus::Ok);
}

/// Confirmed: one item with `Status: "bogus"` failed the worker's whole tick (a valid request
/// waited forever) and the report for that pipeline answered 502.
#[tokio::test(flavor = "multi_thread")]
async fn an_item_with_an_unknown_status_is_quarantined_and_the_rest_is_decided() {
    let h = Harness::start().await.unwrap();
    approval_waiting(&h, "Sample", "exec-1");
    let good = store_ready(&h, "Sample", "StagingToProduction", "exec-1").await;
    let mut poison = h.ready_request(
        "Sample",
        "StagingToProduction",
        "exec-0",
        Duration::from_secs(120),
        Duration::from_secs(30),
    );
    poison.timestamp_ms -= 1;
    let mut item = unbreakable_shared::aws::dynamodb::to_item(&poison);
    item.insert("Status".into(), AttributeValue::S("bogus".into()));
    let dynamodb = aws_sdk_dynamodb::Client::new(&h.sdk);
    dynamodb
        .put_item()
        .table_name(unbreakable_tests::harness::TABLE)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let (worker, process) = h.function("validate-build-worker", &[]).await;
    let report = tick(&worker).await;
    assert_eq!(
        (report["approved"].as_u64(), report["quarantined"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(stored(&h, &good).await.status, RequestStatus::Ok);
    let raw = dynamodb
        .get_item()
        .table_name(unbreakable_tests::harness::TABLE)
        .key("PipelineName", AttributeValue::S("Sample".into()))
        .key(
            "Timestamp",
            AttributeValue::N(poison.timestamp_ms.to_string()),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the item is kept");
    assert!(
        !raw.contains_key("Pending"),
        "out of the ready index: {raw:?}"
    );
    let why = raw["Quarantined"].as_s().unwrap();
    assert!(why.contains("unknown Status \"bogus\""), "{why}");
    assert!(
        process
            .output()
            .contains("quarantining an item that cannot be read"),
        "{}",
        process.output()
    );
    let again = tick(&worker).await;
    assert_eq!(again["ready"], 0, "{again}");

    let (reporter, _report_process) = h.function("build-validation-report", &[]).await;
    let event = rest_event(
        "GET",
        "/BuildValidationResults",
        &[("pipelineName", "Sample"), ("json", "true")],
        &[],
        None,
    );
    let response = reporter.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(response["statusCode"], 200, "{response}");
}

/// A newer execution took over the stage: the old verdict must not touch its approval.
#[tokio::test(flavor = "multi_thread")]
async fn a_superseded_execution_leaves_the_approval_alone() {
    let h = Harness::start().await.unwrap();
    let token = approval_waiting(&h, "Moved", "exec-new");
    let key = store_ready(&h, "Moved", "SlowStagingToProduction", "exec-old").await;
    let (worker, _process) = h.function("validate-build-worker", &[]).await;
    let report = tick(&worker).await;
    assert_eq!(report["superseded"], 1, "{report}");
    assert!(
        h.fake.approvals().is_empty(),
        "no PutApprovalResult for another execution"
    );
    let run = h
        .fake
        .action_run("Moved", "ApproveStaging", "ApproveStaging")
        .unwrap();
    assert_eq!(
        (run.status.as_deref(), run.token.as_deref()),
        (Some("InProgress"), Some(token.as_str()))
    );
    let request = stored(&h, &key).await;
    assert_eq!(request.status, RequestStatus::Superseded);
    assert!(
        request
            .status_msg
            .contains("now runs execution exec-new, not exec-old"),
        "{}",
        request.status_msg
    );
    // Finished: it left the ready index.
    assert_eq!(tick(&worker).await["ready"], 0);
}

/// Four workers ticking at once over 100 due validations: exactly one PutApprovalResult each.
#[tokio::test(flavor = "multi_thread")]
async fn four_racing_workers_approve_each_of_100_validations_exactly_once() {
    let h = Harness::start().await.unwrap();
    let mut keys = Vec::new();
    for i in 0..100 {
        let pipeline = format!("Race{i:03}");
        approval_waiting(&h, &pipeline, &format!("exec-{i}"));
        keys.push(store_ready(&h, &pipeline, "StagingToProduction", &format!("exec-{i}")).await);
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(
            h.function(
                "validate-build-worker",
                &[
                    ("WORKER_BATCH", "40".into()),
                    ("WORKER_CONCURRENCY", "4".into()),
                ],
            )
            .await,
        );
    }
    let mut approved = 0;
    for _round in 0..20 {
        let reports = futures::future::join_all(workers.iter().map(|(w, _)| tick(w))).await;
        approved += reports
            .iter()
            .map(|r| r["approved"].as_u64().unwrap())
            .sum::<u64>();
        let ready: u64 = reports.iter().map(|r| r["ready"].as_u64().unwrap()).sum();
        if ready == 0 {
            break;
        }
    }
    let calls = h.fake.approvals();
    let repeated: Vec<_> = calls
        .iter()
        .filter(|c| calls.iter().filter(|o| o.pipeline == c.pipeline).count() > 1)
        .collect();
    let warnings: Vec<String> = workers
        .iter()
        .flat_map(|(_, p)| p.output().lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert_eq!(
        calls.len(),
        100,
        "PutApprovalResult calls; repeated: {repeated:?}; worker warnings: {warnings:#?}"
    );
    assert!(
        calls
            .iter()
            .all(|c| c.error.is_none() && c.status == "Approved"),
        "{calls:?}"
    );
    let mut pipelines: Vec<&str> = calls.iter().map(|c| c.pipeline.as_str()).collect();
    pipelines.sort();
    pipelines.dedup();
    assert_eq!(pipelines.len(), 100, "one per validation");
    assert_eq!(approved, 100);
    for key in &keys {
        assert_eq!(stored(&h, key).await.status, RequestStatus::Ok);
    }
}

/// A worker killed in the middle of an evaluation: its lease lapses, another worker takes
/// the request up again and decides it.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_evaluation_does_not_lose_the_validation() {
    let h = Harness::start().await.unwrap();
    approval_waiting(&h, "Crash", "exec-c");
    let key = store_ready(&h, "Crash", "StagingToProduction", "exec-c").await;
    h.dynatrace
        .set_faults(unbreakable_emulators::dynatrace::Faults {
            latency_ms: 4000,
            ..Default::default()
        });
    let lease = [
        ("WORKER_LEASE_SECONDS", "2".into()),
        ("WORKER_DEADLINE_MARGIN_SECONDS", "1".into()),
    ];
    let (first, mut first_process) = h.function("validate-build-worker", &lease).await;
    // A lease outlasts its invocation's deadline (3 s) by the margin (1 s): 4 s.
    let pending = tokio::spawn(async move {
        let _ = first.invoke(json!({}), Duration::from_secs(3)).await;
    });
    // Wait until it has claimed the request and is waiting on Dynatrace, then kill it.
    let started = std::time::Instant::now();
    while stored(&h, &key).await.status != RequestStatus::Evaluating {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first worker never claimed the request"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first_process.kill();
    pending.abort();
    assert!(h.fake.approvals().is_empty());

    h.dynatrace.set_faults(Default::default());
    let (second, _second_process) = h.function("validate-build-worker", &lease).await;
    // Within the lease nobody may take it.
    assert_eq!(tick(&second).await["claimed"], 0);
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let report = tick(&second).await;
    assert_eq!(report["approved"], 1, "{report}");
    let request = stored(&h, &key).await;
    assert_eq!(request.status, RequestStatus::Ok);
    assert_eq!(request.attempts, 2, "the killed attempt counts");
    assert_eq!(h.fake.approvals().len(), 1);
}

/// Dynatrace failing on every attempt ends the validation as an error and rejects the build:
/// fail closed, never left hanging.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_measurement_errors_reject_after_the_last_attempt() {
    let h = Harness::start().await.unwrap();
    approval_waiting(&h, "Down", "exec-d");
    let key = store_ready(&h, "Down", "StagingToProduction", "exec-d").await;
    h.dynatrace
        .set_faults(unbreakable_emulators::dynatrace::Faults {
            fail_always: Some(500),
            ..Default::default()
        });
    let (worker, _process) = h
        .function(
            "validate-build-worker",
            &[
                ("WORKER_MAX_ATTEMPTS", "2".into()),
                ("WORKER_RECHECK_SECONDS", "0.2".into()),
            ],
        )
        .await;
    let first = tick(&worker).await;
    assert_eq!(first["retried"], 1, "{first}");
    assert_eq!(stored(&h, &key).await.status, RequestStatus::Waiting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tick(&worker).await;
    assert_eq!(second["rejected"], 1, "{second}");
    let request = stored(&h, &key).await;
    assert_eq!(request.status, RequestStatus::Error);
    let call = &h.fake.approvals()[0];
    assert_eq!(call.status, "Rejected");
    assert!(call.summary.contains("error"), "{}", call.summary);
}

/// A missing setting stops the cold start with the variable's name.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_setting_fails_the_cold_start_naming_the_variable() {
    let h = Harness::start().await.unwrap();
    let (_emulator, mut process) = h
        .function(
            "validate-build-worker",
            &[("VALIDATION_TABLE", String::new())],
        )
        .await;
    assert_eq!(process.wait_exit(Duration::from_secs(10)), Some(2));
    assert!(process.output().contains("configuration: VALIDATION_TABLE is not set (the name of the DynamoDB table of build validations)"), "{}", process.output());
    let (_emulator, mut process) = h
        .function(
            "build-validation-report",
            &[("VALIDATION_TABLE", String::new())],
        )
        .await;
    assert_eq!(process.wait_exit(Duration::from_secs(10)), Some(2));
    let (_emulator, mut process) = h
        .function(
            "handle-problem-notification",
            &[("WEBHOOK_SECRET_ARN", String::new())],
        )
        .await;
    assert_eq!(process.wait_exit(Duration::from_secs(10)), Some(2));
    assert!(
        process.output().contains("WEBHOOK_SECRET_ARN is not set"),
        "{}",
        process.output()
    );
    let (_emulator, mut process) = h
        .function(
            "validate-build-worker",
            &[("DT_TENANT_URL", "tenant.example".into())],
        )
        .await;
    assert_eq!(process.wait_exit(Duration::from_secs(10)), Some(2));
    assert!(
        process
            .output()
            // Not a URL, so it could be anything pasted there (a token): not shown.
            .contains(
                "DT_TENANT_URL must be an http(s) URL, got \"(not shown: it may hold a token)\""
            ),
        "{}",
        process.output()
    );
}

fn revision(key: &str) -> Value {
    json!({"revisionType": "S3", "s3Location": {"bucket": "unbreakable-artifacts", "key": key, "bundleType": "zip", "eTag": format!("etag-{key}")}})
}

/// Production runs build 4 after build 3; push-deployment-event tells Dynatrace about it.
async fn deploy_build_4(
    h: &Harness,
    events: &unbreakable_emulators::lambda::RuntimeEmulator,
) -> String {
    h.fake.define_pipeline(
        "Sample",
        &[(
            "Production",
            vec![
                (
                    "DeployToProduction",
                    "Deploy",
                    "CodeDeploy",
                    json!({"ApplicationName": "SampleApp", "DeploymentGroupName": "Production"}),
                ),
                (
                    "PushProductionDeploymentEvent",
                    "Invoke",
                    "Lambda",
                    json!({}),
                ),
            ],
        )],
    );
    h.fake.create_group("SampleApp", "Production");
    deploy_production(h, 3);
    let build4 = deploy_production(h, 4);
    push_event(h, events).await;
    build4
}

async fn push_event(h: &Harness, events: &unbreakable_emulators::lambda::RuntimeEmulator) {
    h.put_object("monspec.json", monspec_text().into_bytes())
        .await;
    let (job, event) = h.fake.new_job(
        "Sample",
        "Production",
        "PushProductionDeploymentEvent",
        Some("exec-p"),
        h.job_data("Production,Build deployed", Some("monspec.json"), None),
    );
    let answer = events.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(
        h.fake.job(&job).unwrap().status,
        JobStatus::Succeeded { .. }
    ));
}

/// Confirmed: lambda_runtime logs each raw event at TRACE, the webhook header and the
/// artifact credentials included; `RUST_LOG=trace` wrote them out. Every function, at TRACE,
/// through the calls that carry or fetch a secret.
#[tokio::test(flavor = "multi_thread")]
async fn no_function_logs_a_secret_at_rust_log_trace() {
    let h = Harness::start().await.unwrap();
    let trace = [("RUST_LOG", "trace".to_string())];
    let mut outputs = Vec::new();

    approval_waiting(&h, "Gate", "exec-1");
    h.put_object("Gate/Monspec/m", monspec_text().into_bytes())
        .await;
    let (register, register_process) = h.function("register-build-validation", &trace).await;
    let (job, event) = h.fake.new_job(
        "Gate",
        "Staging",
        "RegisterStagingValidation",
        Some("exec-1"),
        // Another execution than the one the worker approves below, which publish reads.
        h.job_data(
            "StagingToProduction,5,ApproveStaging,exec-0",
            Some("Gate/Monspec/m"),
            None,
        ),
    );
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(
        h.fake.job(&job).unwrap().status,
        JobStatus::Succeeded { .. }
    ));
    outputs.push(register_process);

    store_ready(&h, "Gate", "StagingToProduction", "exec-1").await;
    let (worker, worker_process) = h.function("validate-build-worker", &trace).await;
    assert_eq!(tick(&worker).await["approved"], 1);
    outputs.push(worker_process);

    let (publish, publish_process) = h.function("publish-validation-result", &trace).await;
    let (_, event) = h.fake.new_job(
        "Gate",
        "ApproveStaging",
        "PublishResult",
        Some("exec-1"),
        h.job_data("StagingToProduction", None, Some("Gate/ValidationR/out")),
    );
    let answer = publish.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    outputs.push(publish_process);

    let (report, report_process) = h.function("build-validation-report", &trace).await;
    let event = rest_event(
        "GET",
        "/BuildValidationResults",
        &[("pipelineName", "Gate"), ("json", "true")],
        &[],
        None,
    );
    let response = report.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(response["statusCode"], 200, "{response}");
    outputs.push(report_process);

    let (events, events_process) = h.function("push-deployment-event", &trace).await;
    deploy_build_4(&h, &events).await;
    outputs.push(events_process);
    let (problems, problems_process) = h.function("handle-problem-notification", &trace).await;
    open_problem(&h, "-100_1V2");
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-100_1V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    outputs.push(problems_process);

    for process in &outputs {
        let output = process.output();
        assert!(
            output.contains("\"level\":\"TRACE\""),
            "RUST_LOG=trace took effect:\n{output}"
        );
        no_secrets(&output);
    }
}

/// A problem on the production service, open in the simulator since now.
fn open_problem(h: &Harness, pid: &str) {
    let stub = json!({"entityId": {"id": "SERVICE-PRODUCTION01", "type": "SERVICE"}, "name": "SampleNodeJsService"});
    h.dynatrace.world.lock().unwrap().problems.push(json!({"problemId": pid, "displayId": "P-100", "title": "Response time degradation", "status": "OPEN", "startTime": now_ms(), "endTime": -1, "affectedEntities": [stub], "impactedEntities": [stub], "rootCauseEntity": null}));
}

fn close_problem(h: &Harness, pid: &str) {
    let mut world = h.dynatrace.world.lock().unwrap();
    let problem = world
        .problems
        .iter_mut()
        .find(|p| p["problemId"] == pid)
        .unwrap();
    problem["status"] = json!("CLOSED");
    problem["endTime"] = json!(now_ms());
}

fn notification(pid: &str, entity: &str) -> String {
    json!({"State": "OPEN", "ProblemID": "P-100", "PID": pid, "ProblemTitle": "Response time degradation", "ImpactedEntities": [{"type": "SERVICE", "name": "SampleNodeJsService", "entity": entity}]}).to_string()
}

async fn post_problem(
    emulator: &unbreakable_emulators::lambda::RuntimeEmulator,
    secret: Option<&str>,
    body: &str,
) -> (u64, Value) {
    let headers: Vec<(&str, &str)> = secret
        .map(|s| {
            vec![
                ("x-unbreakable-secret", s),
                ("content-type", "application/json"),
            ]
        })
        .unwrap_or_default();
    let response = emulator
        .invoke(
            rest_event("POST", "/HandleDynatraceProblem", &[], &headers, Some(body)),
            INVOKE,
        )
        .await
        .unwrap()
        .response();
    let status = response["statusCode"].as_u64().unwrap();
    let body: Value =
        serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    (status, body)
}

/// The self-healing path: a problem on the production service rolls build 4 back to build 3,
/// once, with a comment; unauthenticated, malformed, test and re-sent notifications don't.
#[tokio::test(flavor = "multi_thread")]
async fn a_production_problem_rolls_back_once_and_comments() {
    let h = Harness::start().await.unwrap();
    let (events, events_process) = h.function("push-deployment-event", &[]).await;
    let build4 = deploy_build_4(&h, &events).await;
    let stored_event = h
        .dynatrace
        .events()
        .into_iter()
        .find(|e| e["eventType"] == "CUSTOM_DEPLOYMENT")
        .expect("deployment event");
    assert_eq!(
        stored_event["customProperties"]["CodeDeploy.DeploymentId"],
        build4.as_str()
    );
    assert_eq!(
        stored_event["customProperties"]["CodeDeploy.DeploymentGroup"],
        "Production"
    );
    assert_eq!(
        stored_event["customProperties"]["PipelineExecutionId"],
        "exec-p"
    );
    no_secrets(&events_process.output());

    let (problems, process) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-100_1V2");
    let body = notification("-100_1V2", "SERVICE-PRODUCTION01");

    let (status, answer) = post_problem(&problems, None, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("missing or wrong x-unbreakable-secret header"))
    );
    let (status, _) = post_problem(&problems, Some("whsec-test-0123456788"), &body).await;
    assert_eq!(status, 401);
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        r#"{"State":"OPEN","PID":"1"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("ImpactedEntities is missing"),
        "{answer}"
    );
    let test_notification = r#"{"PID":"99999","ProblemID":"999","State":"OPEN","ImpactedEntities":[{"type":"HOST","name":"MyHost1","entity":"HOST-XXXXXXXXXXXXX"}]}"#;
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), test_notification).await;
    assert_eq!(
        (status, answer["note"].as_str()),
        (200, Some("test notification acknowledged"))
    );
    assert_eq!(h.fake.deployments().len(), 2, "nothing deployed so far");

    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
    let rollback_id = answer["actions"][0]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let rollback = h
        .fake
        .deployments()
        .into_iter()
        .find(|d| d.id == rollback_id)
        .unwrap();
    assert_eq!(rollback.revision["s3Location"]["key"], "app_build3.zip");
    assert!(
        rollback
            .description
            .starts_with("Unbreakable rollback for problem P-100"),
        "{}",
        rollback.description
    );
    let comments = h.dynatrace.comments();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1["content"]
            .as_str()
            .unwrap()
            .contains(&format!("rolled back {build4}")),
        "{comments:?}"
    );

    // Dynatrace re-sends the same notification: no second rollback (CodeDeploy already runs
    // the rollback; while it does not yet, the ledger's claim stops it).
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["actions"][0]["action"], "skipped");
    assert!(
        answer["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{build4} is no longer the last successful deployment of SampleApp/Production ({rollback_id} is)")),
        "{answer}"
    );
    assert_eq!(h.fake.deployments().len(), 3, "exactly one rollback");

    // The rollback itself is announced, then a new problem points at it: never roll back a rollback.
    push_event(&h, &events).await;
    open_problem(&h, "-200_2V2");
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-200_2V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["actions"][0]["deploymentId"],
        rollback_id.as_str(),
        "{answer}"
    );
    assert!(
        answer["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("is itself a rollback"),
        "{answer}"
    );
    assert_eq!(h.fake.deployments().len(), 3);
    assert_eq!(
        h.dynatrace.comments().len(),
        3,
        "every handled problem gets a comment"
    );

    // RESOLVED: nothing to stop without a self-healing sequence, and only once Dynatrace
    // itself says the problem is closed.
    let resolved = body.replace("\"OPEN\"", "\"RESOLVED\"");
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &resolved).await;
    assert_eq!(status, 200);
    assert!(
        answer["note"]
            .as_str()
            .unwrap()
            .contains("still reports problem -100_1V2 open"),
        "{answer}"
    );
    close_problem(&h, "-100_1V2");
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &resolved).await;
    assert_eq!(
        (status, answer["note"].as_str()),
        (200, Some("no self-healing sequence to stop"))
    );
    assert_eq!(h.fake.deployments().len(), 3);
    no_secrets(&process.output());
}

fn reason(answer: &Value, i: usize) -> String {
    answer["actions"][i]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Build 4 runs in Production with its deployment event; the webhook is up.
async fn production_with_build_4(
    h: &Harness,
) -> (
    String,
    unbreakable_emulators::lambda::RuntimeEmulator,
    unbreakable_emulators::lambda::FunctionProcess,
) {
    let (events, _events_process) = h.function("push-deployment-event", &[]).await;
    let build4 = deploy_build_4(h, &events).await;
    let (problems, process) = h.function("handle-problem-notification", &[]).await;
    (build4, problems, process)
}

/// Build `n` of the sample app deployed to Production by a person: its deployment id.
fn deploy_production(h: &Harness, n: u32) -> String {
    h.fake.deploy(
        "SampleApp",
        "Production",
        revision(&format!("app_build{n}.zip")),
        "user",
        &format!("build {n}"),
    )
}

/// Confirmed: an OPEN replayed after RESOLVED rolled back the newer build deployed since.
#[tokio::test(flavor = "multi_thread")]
async fn an_open_replayed_after_resolved_does_not_roll_back_the_newer_build() {
    let h = Harness::start().await.unwrap();
    let (_, problems, process) = production_with_build_4(&h).await;
    open_problem(&h, "-300_3V2");
    close_problem(&h, "-300_3V2");
    deploy_production(&h, 5);
    let deployed = h.fake.deployments().len();
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-300_3V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        reason(&answer, 0).contains("problem -300_3V2 is CLOSED in Dynatrace, not OPEN"),
        "{answer}"
    );
    assert_eq!(h.fake.deployments().len(), deployed, "nothing redeployed");
    no_secrets(&process.output());
}

/// Confirmed: a late OPEN rolled back the fix and reinstalled the build that caused it.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_open_after_a_fix_was_deployed_does_not_roll_back_the_fix() {
    let h = Harness::start().await.unwrap();
    let (events, _events_process) = h.function("push-deployment-event", &[]).await;
    let build4 = deploy_build_4(&h, &events).await;
    open_problem(&h, "-400_4V2");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let fix = deploy_production(&h, 5);
    push_event(&h, &events).await;
    let (problems, _process) = h.function("handle-problem-notification", &[]).await;
    let deployed = h.fake.deployments().len();
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-400_4V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        reason(&answer, 0).contains(&format!("{fix} was created")),
        "{answer}"
    );
    assert!(
        reason(&answer, 0).contains("after problem -400_4V2 started; it cannot have caused it"),
        "{answer}"
    );
    assert!(reason(&answer, 1).contains(&format!("{build4} is no longer the last successful deployment of SampleApp/Production ({fix} is)")), "{answer}");
    assert_eq!(h.fake.deployments().len(), deployed, "the fix stays");
}

/// Confirmed: a problem id Dynatrace does not know still caused a rollback.
#[tokio::test(flavor = "multi_thread")]
async fn a_problem_id_dynatrace_does_not_know_does_not_roll_back() {
    let h = Harness::start().await.unwrap();
    let (_, problems, _process) = production_with_build_4(&h).await;
    let deployed = h.fake.deployments().len();
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-999_9V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        reason(&answer, 0).contains("Dynatrace does not know problem -999_9V2; nothing was done"),
        "{answer}"
    );
    assert_eq!(h.fake.deployments().len(), deployed);
    assert!(h.dynatrace.comments().is_empty());
}

/// Confirmed: a deployment event planted with an ingest token naming an old build made the
/// handler redeploy the build before it while build 4 was current.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_event_naming_an_old_build_does_not_roll_back_the_current_one() {
    let h = Harness::start().await.unwrap();
    h.fake.create_group("SampleApp", "Production");
    deploy_production(&h, 1);
    let build2 = deploy_production(&h, 2);
    deploy_production(&h, 3);
    let build4 = deploy_production(&h, 4);
    let planted = reqwest::Client::new()
        .post(format!("{}/api/v2/events/ingest", h.dynatrace.base_url))
        .header("Authorization", format!("Api-Token {DEFAULT_TOKEN}"))
        .json(&json!({"eventType": "CUSTOM_DEPLOYMENT", "title": "planted", "entitySelector": "entityId(\"SERVICE-PRODUCTION01\")", "startTime": now_ms() - 1000,
            "properties": {"CodeDeploy.DeploymentId": build2, "CodeDeploy.Application": "SampleApp", "CodeDeploy.DeploymentGroup": "Production"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status().as_u16(), 201);
    let (problems, _process) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-500_5V2");
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-500_5V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(reason(&answer, 0).contains(&format!("{build2} is no longer the last successful deployment of SampleApp/Production ({build4} is)")), "{answer}");
    assert_eq!(h.fake.deployments().len(), 4, "build 1 is not redeployed");
}

/// Confirmed: two problems sent at once to two warm instances rolled one group back twice.
#[tokio::test(flavor = "multi_thread")]
async fn two_problems_on_one_group_at_once_roll_back_exactly_once() {
    let h = Harness::start().await.unwrap();
    let (_, first, _p1) = production_with_build_4(&h).await;
    let (second, _p2) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-601_1V2");
    open_problem(&h, "-602_2V2");
    let deployed = h.fake.deployments().len();
    let (one, two) = (
        notification("-601_1V2", "SERVICE-PRODUCTION01"),
        notification("-602_2V2", "SERVICE-PRODUCTION01"),
    );
    let (a, b) = tokio::join!(
        post_problem(&first, Some(WEBHOOK_SECRET), &one),
        post_problem(&second, Some(WEBHOOK_SECRET), &two),
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    let rolled: Vec<&Value> = [&a.1, &b.1]
        .into_iter()
        .filter(|x| x["actions"][0]["action"] == "rolledBack")
        .collect();
    assert_eq!(rolled.len(), 1, "{a:?} {b:?}");
    let other = if a.1["actions"][0]["action"] == "rolledBack" {
        &b.1
    } else {
        &a.1
    };
    // Refused by the group lock while both are in flight, or, when the first rollback was
    // already created, because the deployment it blamed is no longer the group's last.
    let why = reason(other, 0);
    assert!(
        (why.contains("SampleApp/Production was rolled back")
            && why.contains("cooldown is 15 minutes"))
            || why.contains("is no longer the last successful deployment of SampleApp/Production"),
        "{other}"
    );
    assert_eq!(
        h.fake.deployments().len(),
        deployed + 1,
        "exactly one rollback"
    );
}

/// Confirmed: after one failed CreateDeployment the re-sent notification answered "already
/// rolled back" and nothing was ever redeployed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_create_deployment_answers_503_and_the_resent_notification_rolls_back() {
    let h = Harness::start().await.unwrap();
    let (build4, problems, _process) = production_with_build_4(&h).await;
    open_problem(&h, "-700_7V2");
    h.fake.fail_next_create_deployment(
        "DeploymentLimitExceededException",
        "a deployment is already in progress",
    );
    let body = notification("-700_7V2", "SERVICE-PRODUCTION01");
    let deployed = h.fake.deployments().len();
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 503, "the sender must retry: {answer}");
    assert!(
        reason(&answer, 0).contains("CreateDeployment failed"),
        "{answer}"
    );
    assert!(
        reason(&answer, 0).contains("a deployment is already in progress"),
        "{answer}"
    );
    assert!(
        reason(&answer, 0).contains(
            "the claim was undone, so a retry can roll back; re-send the notification to retry"
        ),
        "{answer}"
    );
    assert_eq!(h.fake.deployments().len(), deployed);
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
    assert_eq!(answer["actions"][0]["deploymentId"], build4.as_str());
    assert_eq!(h.fake.deployments().len(), deployed + 1);
}

/// Measured: 2,000 copies of one entity cost 2,000 event queries; 5,001 entities got no
/// answer within 29 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_impacted_entities_are_answered_quickly_with_one_events_query() {
    let h = Harness::start().await.unwrap();
    let (_, problems, _process) = production_with_build_4(&h).await;
    let many: Vec<Value> = (0..1000).map(|i| json!({"entityId": {"id": format!("SERVICE-{i:016X}"), "type": "SERVICE"}, "name": "s"})).collect();
    open_problem(&h, "-800_8V2");
    {
        let mut world = h.dynatrace.world.lock().unwrap();
        let p = world
            .problems
            .iter_mut()
            .find(|p| p["problemId"] == "-800_8V2")
            .unwrap();
        p["impactedEntities"] = json!(many);
    }
    let listed: Vec<Value> = (0..1000).map(|i| json!({"type": "SERVICE", "name": "s", "entity": format!("SERVICE-{:016X}", i % 500)})).collect();
    let body = json!({"State": "OPEN", "ProblemID": "P-800", "PID": "-800_8V2", "ImpactedEntities": listed}).to_string();
    h.dynatrace.clear_requests();
    let started = std::time::Instant::now();
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
    assert_eq!(
        answer["entities"],
        json!({"examined": 100, "notExamined": 901}),
        "{answer}"
    );
    let event_queries = h
        .dynatrace
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/events")
        .count();
    assert_eq!(event_queries, 1, "one events query for all entities");
    assert!(took < Duration::from_secs(5), "answered in {took:?}");
}

/// Bodies the webhook refuses through the real binary, each with its message.
#[tokio::test(flavor = "multi_thread")]
async fn refused_notification_bodies_say_what_is_wrong() {
    let h = Harness::start().await.unwrap();
    let (problems, _process) = h.function("handle-problem-notification", &[]).await;
    let duplicate = r#"{"PID":"-1_2V2","State":"RESOLVED","State":"OPEN","ImpactedEntities":[]}"#;
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), duplicate).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the key \"State\" appears twice in one object"),
        "{answer}"
    );
    let huge = format!(r#"{{"PID":"-1_2V2","pad":"{}"}}"#, "x".repeat(5_500_000));
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &huge).await;
    assert_eq!(status, 413);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("more than the 524288 a problem notification needs"),
        "{answer}"
    );
    let long_pid =
        json!({"PID": "1".repeat(200_000), "State": "OPEN", "ImpactedEntities": []}).to_string();
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &long_pid).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("is not a Dynatrace problem id"),
        "{answer}"
    );
    // `{"PID":"<0xff>"}`, base64-encoded as API Gateway passes a binary body.
    let mut event = rest_event(
        "POST",
        "/HandleDynatraceProblem",
        &[],
        &[("x-unbreakable-secret", WEBHOOK_SECRET)],
        Some("eyJQSUQiOiL/In0="),
    );
    event["isBase64Encoded"] = json!(true);
    let response = problems.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(response["statusCode"], 400, "{response}");
    assert!(
        response["body"]
            .as_str()
            .unwrap()
            .contains("the body is not UTF-8 text"),
        "{response}"
    );
    assert!(h.fake.deployments().is_empty());
}

/// Tags still settling: the event is retried until an entity matches, within the deadline;
/// with no entity at all the job fails before the function's deadline, naming the tags.
#[tokio::test(flavor = "multi_thread")]
async fn deployment_events_wait_for_tags_within_the_deadline() {
    let h = Harness::start().await.unwrap();
    h.fake.define_pipeline(
        "Sample",
        &[(
            "Canary",
            vec![("NotifyCanary", "Invoke", "Lambda", json!({}))],
        )],
    );
    h.put_object("monspec.json", monspec_text().into_bytes())
        .await;
    let (events, _process) = h.function("push-deployment-event", &[]).await;

    // No entity ever: give up with time to answer the job.
    let (job, event) = h.fake.new_job(
        "Sample",
        "Canary",
        "NotifyCanary",
        Some("exec-1"),
        h.job_data("Canary,canary build", Some("monspec.json"), None),
    );
    let started = std::time::Instant::now();
    let answer = events
        .invoke(event, Duration::from_secs(8))
        .await
        .unwrap()
        .response();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered before the deadline"
    );
    assert_eq!(answer["status"], "Failed");
    let (failure_type, message) = failure(&h, &job);
    assert_eq!(failure_type, "JobFailed");
    assert!(
        message.contains("no entity matched the tags of environment Canary"),
        "{message}"
    );
    assert!(
        message.contains("SERVICE with DeploymentGroup:Canary"),
        "{message}"
    );

    // A ZIP bomb fails the job saying what is too big, before it is inflated.
    h.put_object("bomb.zip", zip_bomb()).await;
    let (job, event) = h.fake.new_job(
        "Sample",
        "Canary",
        "NotifyCanary",
        Some("exec-1"),
        h.job_data("Canary,canary build", Some("bomb.zip"), None),
    );
    let answer = events.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Failed", "{answer}");
    let (failure_type, message) = failure(&h, &job);
    assert_eq!(failure_type, "ConfigurationError");
    assert!(
        message.contains("monspec.json inflated is 16777216 bytes; the limit is 102400 bytes"),
        "{message}"
    );

    // The entity shows up while the function retries: an annotation (no CodeDeploy in this stage).
    let world = h.dynatrace.world.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        world
            .lock()
            .unwrap()
            .upsert_entity(unbreakable_tests::harness::service(
                "SERVICE-CANARY000001",
                "Canary",
            ));
    });
    let (job, event) = h.fake.new_job(
        "Sample",
        "Canary",
        "NotifyCanary",
        Some("exec-2"),
        h.job_data(
            r#"{"environment": "Canary", "description": "canary build"}"#,
            Some("monspec.json"),
            None,
        ),
    );
    let answer = events
        .invoke(event, Duration::from_secs(30))
        .await
        .unwrap()
        .response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(
        h.fake.job(&job).unwrap().status,
        JobStatus::Succeeded { .. }
    ));
    let annotation = h
        .dynatrace
        .events()
        .into_iter()
        .find(|e| e["eventType"] == "CUSTOM_ANNOTATION")
        .expect("annotation");
    assert_eq!(
        annotation["entityId"]["entityId"]["id"],
        "SERVICE-CANARY000001"
    );
}

/// A response header, from `headers` (HTTP API) or `multiValueHeaders` (REST API).
fn header(response: &Value, name: &str) -> String {
    response["headers"][name]
        .as_str()
        .or_else(|| response["multiValueHeaders"][name][0].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The report through both API Gateway payload versions: escaped, with a CSP, and JSON mode.
#[tokio::test(flavor = "multi_thread")]
async fn the_report_escapes_everything_in_html_and_json_modes() {
    let h = Harness::start().await.unwrap();
    let mut request = h.ready_request(
        "Sample",
        "StagingToProduction",
        "exec-1",
        Duration::from_secs(120),
        Duration::from_secs(30),
    );
    request.status = RequestStatus::Violation;
    request.next_check_ms = None;
    request.status_msg = "<script>alert('status')</script>".into();
    request.result_json = Some(json!({"configurations": [{"key": "<img src=x onerror=alert(1)>", "signatures": [{"path": "perfsignature[0]", "label": "avg response time", "unit": "microseconds", "validate": "upper", "outcome": "violation", "sourceValue": 900000.0, "compareValue": 480000.0, "upperLimit": 576000.0, "blocksApproval": true, "reason": "<b>too slow</b>"}]}]}).to_string());
    h.store().create(&request).await.unwrap();
    let mut second = h.ready_request(
        "Sample",
        "StagingToProduction",
        "exec-2",
        Duration::from_secs(60),
        Duration::from_secs(30),
    );
    second.status = RequestStatus::Waiting;
    h.store().create(&second).await.unwrap();
    let (report, _process) = h.function("build-validation-report", &[]).await;

    for event in [
        rest_event(
            "GET",
            "/BuildValidationResults",
            &[("pipelineName", "Sample")],
            &[],
            None,
        ),
        http_event(
            "GET",
            "/BuildValidationResults",
            &[("pipelineName", "Sample")],
            &[],
            None,
        ),
    ] {
        let response = report.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(response["statusCode"], 200, "{response}");
        assert!(
            header(&response, "content-security-policy").contains("default-src 'none'"),
            "{response}"
        );
        let html = response["body"].as_str().unwrap();
        assert!(
            !html.contains("<script") && !html.contains("<img") && !html.contains("<b>"),
            "unescaped input:\n{html}"
        );
        assert!(html.contains("&#60;b&#62;too slow&#60;/b&#62;"), "{html}");
        assert!(html.contains("<svg"), "a chart");
        assert_eq!(html.matches("<tr>").count(), 3, "header + 2 builds");
    }

    let response = report
        .invoke(
            rest_event(
                "GET",
                "/BuildValidationResults",
                &[("pipelineName", "<script>alert(1)</script>")],
                &[],
                None,
            ),
            INVOKE,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(response["statusCode"], 400);
    let html = response["body"].as_str().unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("is not a pipeline name"), "{html}");

    let response = report
        .invoke(
            http_event(
                "GET",
                "/BuildValidationResults",
                &[("pipelineName", "Sample"), ("json", "true")],
                &[],
                None,
            ),
            INVOKE,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(header(&response, "content-type"), "application/json");
    let document: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(document["schemaVersion"], 1);
    assert_eq!(document["validations"].as_array().unwrap().len(), 2);
    assert_eq!(
        document["validations"][0]["statusMessage"], "<script>alert('status')</script>",
        "JSON keeps the data; the content type keeps it inert"
    );

    let response = report
        .invoke(
            rest_event("GET", "/BuildValidationResults", &[], &[], None),
            INVOKE,
        )
        .await
        .unwrap()
        .response();
    assert!(response["body"]
        .as_str()
        .unwrap()
        .contains("<form method=\"get\">"));
}

/// publish-validation-result writes result.json and the filled monspec of this execution's
/// validation as the output artifact, and fails clearly when there is no result yet.
#[tokio::test(flavor = "multi_thread")]
async fn publishing_writes_the_result_artifact_or_says_why_not() {
    let h = Harness::start().await.unwrap();
    approval_waiting(&h, "Sample", "exec-1");
    store_ready(&h, "Sample", "StagingToProduction", "exec-1").await;
    let (publish, process) = h.function("publish-validation-result", &[]).await;

    let (job, event) = h.fake.new_job(
        "Sample",
        "ApproveStaging",
        "PublishResult",
        Some("exec-1"),
        h.job_data("", None, Some("Sample/ValidationR/out1")),
    );
    publish.invoke(event, INVOKE).await.unwrap().response();
    let (_, message) = failure(&h, &job);
    assert!(
        message.contains("has no result yet (status waiting"),
        "{message}"
    );

    let (worker, _w) = h.function("validate-build-worker", &[]).await;
    assert_eq!(tick(&worker).await["approved"], 1);
    let (job, event) = h.fake.new_job(
        "Sample",
        "ApproveStaging",
        "PublishResult",
        Some("exec-1"),
        h.job_data("StagingToProduction", None, Some("Sample/ValidationR/out2")),
    );
    let answer = publish.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(
        h.fake.job(&job).unwrap().status,
        JobStatus::Succeeded { .. }
    ));
    let zip = h
        .get_object("Sample/ValidationR/out2")
        .await
        .expect("output artifact");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut result = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("result.json").unwrap(), &mut result)
        .unwrap();
    assert!(result.contains("\"status\": \"approved\""), "{result}");
    assert!(archive.by_name("monspec.json").is_ok());

    let (job, event) = h.fake.new_job(
        "Sample",
        "ApproveStaging",
        "PublishResult",
        Some("exec-9"),
        h.job_data("", None, Some("x")),
    );
    publish.invoke(event, INVOKE).await.unwrap().response();
    let (_, message) = failure(&h, &job);
    assert!(
        message.contains("no validation was registered by execution exec-9 of Sample"),
        "{message}"
    );
    no_secrets(&process.output());
}

const SELF_HEALING_REMEDIATION: &str = "apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
spec:
  remediations:
  - problemType: Response time degradation
    actionsOnOpen:
    - action: scaling
      value: +1
      wait: 1s
    - action: scaling
      value: +1
      wait: 1s
";

/// Dynatrace's response time of the Production services: 480 ms in the harness.
const SELF_HEALING_SLI: &str = r#"spec_version: "1.0"
indicators:
  response_time: MV2;MicroSecond;metricSelector=builtin:service.response.time:merge("dt.entity.service"):avg&entitySelector=type(SERVICE),tag("DeploymentGroup:$STAGE")
"#;

fn self_healing_slo(limit_ms: u32) -> String {
    format!(
        "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time\n    pass:\n      - criteria: [\"<{limit_ms}\"]\ntotal_score:\n  pass: \"90%\"\n  warning: \"75%\"\n"
    )
}

/// Production on an Auto Scaling group (moto, min 1, max `max`) attached to its deployment
/// group (the fake), with the lane's files stored as `unbreakable remediation apply` does.
async fn production_on_auto_scaling(
    h: &Harness,
    max: i32,
    slo_limit_ms: Option<u32>,
) -> aws_sdk_autoscaling::Client {
    use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
    use unbreakable_shared::ports::lanes::{LaneConfig, LaneConfigs, LaneKey};
    unbreakable_tests::ec2::create_launch_template(&h.moto.endpoint, "production-template")
        .await
        .expect("launch template");
    let autoscaling = aws_sdk_autoscaling::Client::new(&h.sdk);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("production-asg")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name("production-template")
                .version("$Latest")
                .build(),
        )
        .min_size(1)
        .max_size(max)
        .desired_capacity(1)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("CreateAutoScalingGroup");
    h.fake
        .create_group_with_auto_scaling("SampleApp", "Production", &["production-asg"]);
    // Judged by an SLO on Dynatrace's response time, or else by a monspec comparison (the
    // harness's staging and production answer alike: that passes).
    let config = match slo_limit_ms {
        Some(limit) => LaneConfig {
            remediation_yaml: Some(SELF_HEALING_REMEDIATION.into()),
            slo_yaml: Some(self_healing_slo(limit)),
            sli_yaml: Some(SELF_HEALING_SLI.into()),
            provider: Some(unbreakable_shared::ports::store::SliProviderKind::Dynatrace),
            updated_ms: now_ms(),
            ..LaneConfig::default()
        },
        None => LaneConfig {
            remediation_yaml: Some(SELF_HEALING_REMEDIATION.into()),
            monspec_json: Some(monspec_text()),
            comparison: Some("StagingToProduction".into()),
            updated_ms: now_ms(),
            ..LaneConfig::default()
        },
    };
    h.store()
        .put_config(
            &LaneKey {
                service: "SampleApp".into(),
                stage: "Production".into(),
            },
            &config,
        )
        .await
        .unwrap();
    autoscaling
}

async fn desired_capacity(autoscaling: &aws_sdk_autoscaling::Client) -> i32 {
    autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("production-asg")
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()[0]
        .desired_capacity()
        .unwrap_or_default()
}

/// Tick the worker until the lane's sequence for `pid` ended (at most 30 ticks a second
/// apart); the timeline's JSON for it.
async fn tick_until_ended(
    h: &Harness,
    worker: &unbreakable_emulators::lambda::RuntimeEmulator,
    pid: &str,
) -> Value {
    use unbreakable_shared::ports::lanes::LaneStore;
    for _ in 0..30 {
        let report = tick(worker).await;
        assert!(
            report["remediation"]["errors"]
                .as_array()
                .is_some_and(|e| e.is_empty()),
            "{report}"
        );
        let histories = h.store().lane_histories(50, 10).await.unwrap().histories;
        if let Some(sequence) = histories
            .iter()
            .flat_map(|h| h.ended.iter())
            .find(|s| s.problem.id == pid)
        {
            return serde_json::to_value(sequence).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let lanes: Vec<_> = h
        .store()
        .lane_histories(50, 10)
        .await
        .unwrap()
        .histories
        .into_iter()
        .map(|h| h.lane)
        .collect();
    panic!("the sequence of {pid} did not end in 30 ticks: {lanes:#?}");
}

/// The self-healing path in AWS's shape, through the real binaries: a production problem on
/// a group with a remediation.yaml is handed to its lane (no rollback); the worker scales the
/// group's Auto Scaling group 1 → 2, waits, evaluates the SLO through Dynatrace, and resolves;
/// every step is a comment on the problem and on the timeline.
#[tokio::test(flavor = "multi_thread")]
async fn a_problem_on_a_lane_with_remediation_scales_production_and_resolves() {
    let h = Harness::start().await.unwrap();
    let (events, _events_process) = h.function("push-deployment-event", &[]).await;
    deploy_build_4(&h, &events).await;
    let autoscaling = production_on_auto_scaling(&h, 3, Some(600)).await;
    let deployments_before = h.fake.deployments().len();

    let (problems, problems_process) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-300_3V2");
    let body = notification("-300_3V2", "SERVICE-PRODUCTION01");
    let (status, answer) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["actions"][0]["action"], "queued", "{answer}");

    let fast = [
        ("REMEDIATION_POLL_SECONDS", "1".to_string()),
        ("REMEDIATION_COOLDOWN_SECONDS", "1".to_string()),
    ];
    let (worker, worker_process) = h.function("validate-build-worker", &fast).await;
    let sequence = tick_until_ended(&h, &worker, "-300_3V2").await;
    assert_eq!(sequence["phase"]["end"], "resolved", "{sequence:#}");
    assert_eq!(
        desired_capacity(&autoscaling).await,
        2,
        "one instance more, once"
    );
    assert_eq!(
        h.fake.deployments().len(),
        deployments_before,
        "no rollback"
    );
    let whys: Vec<&str> = sequence["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["why"].as_str().unwrap())
        .collect();
    let text = whys.join("\n");
    for expected in [
        "names the problem \"Response time degradation\"",
        "starting action 1 of 2 (scaling +1)",
        "desired 1 → 2 of group production-asg, InService 2/2 after",
        "the evaluation after action 1 passed",
        "resolved after 1 action(s)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let comments: Vec<String> = h
        .dynatrace
        .comments()
        .into_iter()
        .filter(|(pid, _)| pid == "-300_3V2")
        .map(|(_, c)| c["content"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        comments
            .iter()
            .any(|c| c.contains("resolved after 1 action")),
        "every step comments on the problem: {comments:?}"
    );

    // A re-sent OPEN after the sequence ended starts nothing.
    let (status, _) = post_problem(&problems, Some(WEBHOOK_SECRET), &body).await;
    assert_eq!(status, 200);
    tick(&worker).await;
    tick(&worker).await;
    assert_eq!(desired_capacity(&autoscaling).await, 2, "no second scaling");

    // The timeline shows it.
    let (report, _report_process) = h.function("build-validation-report", &[]).await;
    let response = report
        .invoke(
            rest_event(
                "GET",
                "/RemediationSequences",
                &[("json", "true")],
                &[],
                None,
            ),
            INVOKE,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(response["statusCode"], 200, "{response}");
    let timeline: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        timeline["problems"][0]["problemId"], "-300_3V2",
        "{timeline:#}"
    );
    no_secrets(&problems_process.output());
    no_secrets(&worker_process.output());
}

/// Actions that do not help: the SLO keeps failing, both scalings run (1 → 2 → 3 is refused
/// at MaxSize 2, so the second fails with the reason), and the sequence escalates with no
/// action beyond the list.
#[tokio::test(flavor = "multi_thread")]
async fn actions_that_do_not_help_escalate_and_scaling_at_max_size_fails_with_the_reason() {
    let h = Harness::start().await.unwrap();
    let (events, _events_process) = h.function("push-deployment-event", &[]).await;
    deploy_build_4(&h, &events).await;
    // 480 ms measured, 100 ms asked: every evaluation fails.
    let autoscaling = production_on_auto_scaling(&h, 2, Some(100)).await;
    let (problems, _problems_process) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-400_4V2");
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-400_4V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let fast = [
        ("REMEDIATION_POLL_SECONDS", "1".to_string()),
        ("REMEDIATION_COOLDOWN_SECONDS", "1".to_string()),
    ];
    let (worker, _worker_process) = h.function("validate-build-worker", &fast).await;
    let sequence = tick_until_ended(&h, &worker, "-400_4V2").await;
    assert_eq!(sequence["phase"]["end"], "escalated", "{sequence:#}");
    assert_eq!(desired_capacity(&autoscaling).await, 2);
    let text: String = sequence["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}\n", s["why"].as_str().unwrap()))
        .collect();
    for expected in [
        "the evaluation after action 1 failed",
        "desired 3 would exceed MaxSize 2 of group production-asg",
        "still open after all 2 action(s)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(
        text.matches("starting action").count(),
        2,
        "no action beyond the list:\n{text}"
    );
}

/// Without slo.yaml the lane is judged by its monspec comparison through Dynatrace, as the
/// tutorial's gate judges a build.
#[tokio::test(flavor = "multi_thread")]
async fn a_lane_without_slo_files_is_judged_by_its_monspec_comparison() {
    let h = Harness::start().await.unwrap();
    let (events, _events_process) = h.function("push-deployment-event", &[]).await;
    deploy_build_4(&h, &events).await;
    let autoscaling = production_on_auto_scaling(&h, 3, None).await;
    let (problems, _problems_process) = h.function("handle-problem-notification", &[]).await;
    open_problem(&h, "-500_5V2");
    let (status, answer) = post_problem(
        &problems,
        Some(WEBHOOK_SECRET),
        &notification("-500_5V2", "SERVICE-PRODUCTION01"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let fast = [("REMEDIATION_POLL_SECONDS", "1".to_string())];
    let (worker, _worker_process) = h.function("validate-build-worker", &fast).await;
    let sequence = tick_until_ended(&h, &worker, "-500_5V2").await;
    assert_eq!(sequence["phase"]["end"], "resolved", "{sequence:#}");
    assert_eq!(desired_capacity(&autoscaling).await, 2);
    let text = sequence.to_string();
    assert!(
        text.contains("passed: monspec StagingToProduction:"),
        "{sequence:#}"
    );
}

/// Findings on self-healing, through the real binaries: the Alertmanager webhook refuses what
/// no remediation.yaml asked for and bounds what it takes, unconfirmed alerts run only what
/// the file allows without confirmation, no rollback is ever rolled back or undoes a fix,
/// replays are remembered without a count limit, and the timeline shows every rollback and
/// no hidden characters.
mod self_healing_findings {
    use super::*;
    use unbreakable_emulators::lambda::{FunctionProcess, RuntimeEmulator};
    use unbreakable_shared::ports::lanes::{
        LaneConfig, LaneConfigs, LaneKey, LaneRecord, LaneStore,
    };
    use unbreakable_shared::remediation::sequence::Phase;

    /// The Bearer token Alertmanager's receiver sends (`http_config.authorization`).
    const ALERT_TOKEN: &str = "am-bearer-token-for-function-tests";

    /// The problem webhook with its Alertmanager route: the token in Secrets Manager, named by
    /// `ALERTMANAGER_SECRET_ID`, as the stack wires it. Once per harness (the secret's name).
    async fn alert_webhook(h: &Harness) -> (RuntimeEmulator, FunctionProcess) {
        let arn = aws_sdk_secretsmanager::Client::new(&h.sdk)
            .create_secret()
            .name("alertmanager-webhook-token")
            .secret_string(ALERT_TOKEN)
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .unwrap_or_default()
            .to_string();
        h.function(
            "handle-problem-notification",
            &[("ALERTMANAGER_SECRET_ID", arn)],
        )
        .await
    }

    fn rfc3339_ms(ms: i64) -> String {
        humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
        )
        .to_string()
    }

    /// One firing alert as Alertmanager 0.25 sends it: fingerprint `fp` (16 hex digits),
    /// started at `starts_ms`.
    fn firing(fp: u64, alertname: &str, service: &str, stage: &str, starts_ms: i64) -> Value {
        json!({
            "status": "firing",
            "labels": {"alertname": alertname, "service": service, "stage": stage},
            "annotations": {"summary": alertname},
            "startsAt": rfc3339_ms(starts_ms), "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": format!("{fp:016x}"), "generatorURL": "http://prometheus:9090/graph"
        })
    }

    /// The lane's problem id of that alert: `<fingerprint>@<startsAt>`.
    fn alert_id(fp: u64, starts_ms: i64) -> String {
        format!("{fp:016x}@{}", rfc3339_ms(starts_ms))
    }

    /// Alertmanager's webhook body (version 4) carrying `alerts`.
    fn alert_body(alerts: Vec<Value>) -> String {
        json!({
            "version": "4", "groupKey": "{}:{alertname=~\".+\"}", "status": "firing",
            "receiver": "unbreakable", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0, "alerts": alerts
        })
        .to_string()
    }

    /// POST /HandleAlertmanagerAlert with the Bearer token: the status and the JSON answer.
    async fn post_alert(emulator: &RuntimeEmulator, body: &str) -> (u64, Value) {
        let bearer = format!("Bearer {ALERT_TOKEN}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        let response = emulator
            .invoke(
                rest_event(
                    "POST",
                    "/HandleAlertmanagerAlert",
                    &[],
                    &headers,
                    Some(body),
                ),
                INVOKE,
            )
            .await
            .unwrap()
            .response();
        let status = response["statusCode"].as_u64().unwrap();
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null"))
            .unwrap_or(Value::Null);
        (status, body)
    }

    fn lane_key(service: &str, stage: &str) -> LaneKey {
        LaneKey {
            service: service.into(),
            stage: stage.into(),
        }
    }

    fn sample_production() -> LaneKey {
        lane_key("SampleApp", "Production")
    }

    /// A 0.1.4 remediation.yaml whose `default` entry runs `actions` (list items indented
    /// under `actionsOnOpen`).
    fn default_remediation(actions: &str) -> String {
        format!(
            "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations:\n  - problemType: default\n    actionsOnOpen:\n{actions}"
        )
    }

    /// The lane's files as `unbreakable remediation apply` stores them: `remediation_yaml`,
    /// judged by the monspec comparison (which passes in the harness).
    async fn store_remediation(h: &Harness, key: &LaneKey, remediation_yaml: &str) {
        h.store()
            .put_config(
                key,
                &LaneConfig {
                    remediation_yaml: Some(remediation_yaml.into()),
                    monspec_json: Some(monspec_text()),
                    comparison: Some("StagingToProduction".into()),
                    updated_ms: now_ms(),
                    ..LaneConfig::default()
                },
            )
            .await
            .unwrap();
    }

    /// The worker with actions checked every second and a 1 s cooldown.
    fn fast_worker_env() -> Vec<(&'static str, String)> {
        vec![
            ("REMEDIATION_POLL_SECONDS", "1".to_string()),
            ("REMEDIATION_COOLDOWN_SECONDS", "1".to_string()),
        ]
    }

    /// Every step's `why` of a sequence (store or timeline JSON), one a line.
    fn whys(sequence: &Value) -> String {
        sequence["steps"]
            .as_array()
            .map(|steps| {
                steps
                    .iter()
                    .filter_map(|s| s["why"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The ended sequences stored for `key`, as JSON.
    async fn ended_on(h: &Harness, key: &LaneKey) -> Vec<Value> {
        h.store()
            .lane_histories(50, 500)
            .await
            .unwrap()
            .histories
            .into_iter()
            .filter(|history| &history.key == key)
            .flat_map(|history| history.ended)
            .map(|sequence| serde_json::to_value(sequence).unwrap())
            .collect()
    }

    /// Tick the worker until `key`'s lane has no notice in its inbox, nothing queued and
    /// nothing active (at most `ticks` ticks, 300 ms apart): the lane and how many sequences
    /// the ticks reported ended.
    async fn tick_until_idle(
        h: &Harness,
        worker: &RuntimeEmulator,
        key: &LaneKey,
        ticks: usize,
    ) -> (LaneRecord, u64) {
        let mut ended = 0;
        for _ in 0..ticks {
            let report = tick(worker).await;
            assert!(
                report["remediation"]["errors"]
                    .as_array()
                    .is_some_and(|e| e.is_empty()),
                "{report}"
            );
            ended += report["remediation"]["ended"].as_u64().unwrap_or_default();
            let record = h.store().lane(key).await.unwrap().expect("the lane");
            let idle = record.inbox.is_empty()
                && record.lane.queue.is_empty()
                && record
                    .lane
                    .active
                    .as_ref()
                    .is_none_or(|s| matches!(s.phase, Phase::Ended { .. }));
            if idle {
                return (record, ended);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let record = h.store().lane(key).await.unwrap();
        panic!("lane {key} was not idle after {ticks} ticks: {record:#?}");
    }

    /// `GET /RemediationSequences` (HTML, or JSON with `json=true`) through the report
    /// function: the body of its 200.
    async fn timeline_body(report: &RuntimeEmulator, json: bool) -> String {
        let query: Vec<(&str, &str)> = if json {
            vec![("json", "true")]
        } else {
            Vec::new()
        };
        let response = report
            .invoke(
                rest_event("GET", "/RemediationSequences", &query, &[], None),
                INVOKE,
            )
            .await
            .unwrap()
            .response();
        assert_eq!(response["statusCode"], 200, "{response}");
        response["body"].as_str().unwrap_or_default().to_string()
    }

    /// Every string in a JSON document, decoded (a `\u0000` escape is a NUL here).
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => {
                for item in items {
                    strings(item, out);
                }
            }
            Value::Object(fields) => {
                for (key, item) in fields {
                    out.push(key.clone());
                    strings(item, out);
                }
            }
            _ => {}
        }
    }

    /// Confirmed: an alert for a lane without a stored remediation.yaml was stored (200) and
    /// the worker ran the rollback of a file-less lane on it: anyone holding the Alertmanager
    /// token could roll Production back.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_alert_for_a_lane_without_remediation_yaml_is_refused_and_nothing_runs() {
        let h = Harness::start().await.unwrap();
        let (events, _events_process) = h.function("push-deployment-event", &[]).await;
        deploy_build_4(&h, &events).await;
        let (alerts, process) = alert_webhook(&h).await;
        let deployed = h.fake.deployments().len();
        let body = alert_body(vec![firing(
            0xa1,
            "response_time_p95",
            "SampleApp",
            "Production",
            now_ms() - 60_000,
        )]);
        let (status, answer) = post_alert(&alerts, &body).await;
        assert_eq!(status, 422, "every alert refused: {answer}");
        assert!(
            answer["refused"][0]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("no remediation.yaml is stored for SampleApp/Production"),
            "{answer}"
        );
        let (worker, _worker_process) = h.function("validate-build-worker", &[]).await;
        tick(&worker).await;
        tick(&worker).await;
        assert_eq!(
            h.fake.deployments().len(),
            deployed,
            "build 4 stays: nothing rolled back"
        );
        assert!(
            h.store()
                .lane(&sample_production())
                .await
                .unwrap()
                .is_none(),
            "nothing stored"
        );
        let output = process.output();
        no_secrets(&output);
        assert!(!output.contains(ALERT_TOKEN), "the token was logged");
    }

    /// Event-driven: an alert's lane starts on it the moment the webhook stores it. The
    /// webhook sends a wake-up for the lane, and the worker, subscribed to the wake queue and
    /// never ticked, runs the first step.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_alerts_first_action_starts_without_a_sweep() {
        let h = Harness::start().await.unwrap();
        let key = sample_production();
        store_remediation(&h, &key, &default_remediation("    - action: escalate\n")).await;
        let arn = aws_sdk_secretsmanager::Client::new(&h.sdk)
            .create_secret()
            .name("alertmanager-webhook-token")
            .secret_string(ALERT_TOKEN)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap_or_default()
            .to_string();
        let (alerts, _process) = h
            .function(
                "handle-problem-notification",
                &[("ALERTMANAGER_SECRET_ID", arn), h.events()],
            )
            .await;
        let mut env = fast_worker_env();
        env.push(h.events());
        let (worker, _worker_process) = h.function("validate-build-worker", &env).await;
        let (subscription, invocations) = h.subscribe(std::sync::Arc::new(worker));
        let starts = now_ms() - 60_000;
        let body = alert_body(vec![firing(
            0x77,
            "error_rate",
            "SampleApp",
            "Production",
            starts,
        )]);
        let (status, answer) = post_alert(&alerts, &body).await;
        assert_eq!(status, 200, "{answer}");

        let begin = std::time::Instant::now();
        let ended = loop {
            let ended = ended_on(&h, &key).await;
            if !ended.is_empty() {
                break ended;
            }
            assert!(
                begin.elapsed() < Duration::from_secs(20),
                "the lane did not start: {:#?}",
                h.store().lane(&key).await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        subscription.abort();
        assert!(
            invocations
                .invocations
                .load(std::sync::atomic::Ordering::SeqCst)
                >= 1,
            "served by a wake-up"
        );
        assert_eq!(ended[0]["phase"]["end"], "escalated", "{:#}", ended[0]);
    }

    /// Confirmed: a notification of any number of alerts was stored, one inbox notice each
    /// (the lane's item grows toward DynamoDB's 400 KB and the worker's tick with it).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_notification_of_more_than_100_alerts_is_refused_with_413() {
        let h = Harness::start().await.unwrap();
        let key = sample_production();
        store_remediation(&h, &key, &default_remediation("    - action: escalate\n")).await;
        let (alerts, _process) = alert_webhook(&h).await;
        let starts = now_ms() - 600_000;
        let many: Vec<Value> = (0..101u64)
            .map(|i| {
                firing(
                    0x1000 + i,
                    &format!("alert_{i:03}"),
                    "SampleApp",
                    "Production",
                    starts + i as i64 * 1000,
                )
            })
            .collect();
        let (status, answer) = post_alert(&alerts, &alert_body(many)).await;
        assert_eq!(status, 413, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains("at most 100 alerts"),
            "{answer}"
        );
        assert!(
            h.store().lane(&key).await.unwrap().is_none(),
            "nothing stored"
        );
    }

    /// Confirmed: alerts naming services nobody configured each created a lane (a registry
    /// entry, a lane item and the timeline's reads), so one caller could grow the table and
    /// every timeline page without limit.
    #[tokio::test(flavor = "multi_thread")]
    async fn alerts_naming_unknown_services_create_no_lane() {
        let h = Harness::start().await.unwrap();
        let (alerts, _process) = alert_webhook(&h).await;
        let starts = now_ms() - 120_000;
        let unknown: Vec<Value> = (0..50u64)
            .map(|i| {
                firing(
                    0x2000 + i,
                    "error_rate",
                    &format!("Svc{i:02}"),
                    "Production",
                    starts + i as i64 * 1000,
                )
            })
            .collect();
        let (status, answer) = post_alert(&alerts, &alert_body(unknown)).await;
        assert_eq!(status, 422, "{answer}");
        let refused = answer["refused"].as_array().cloned().unwrap_or_default();
        assert_eq!(refused.len(), 50, "{answer}");
        let reasons: String = refused
            .iter()
            .map(|r| format!("{}\n", r["reason"].as_str().unwrap_or_default()))
            .collect();
        for i in 0..50 {
            let expected = format!("no remediation.yaml is stored for Svc{i:02}/Production");
            assert!(
                reasons.contains(&expected),
                "missing {expected:?} in {answer}"
            );
        }
        let page = h.store().lane_histories(100, 1).await.unwrap();
        let lanes: Vec<String> = page.histories.iter().map(|l| l.key.to_string()).collect();
        assert!(lanes.is_empty(), "no lane at all: {lanes:?}");
        assert!(h
            .store()
            .lane(&lane_key("Svc00", "Production"))
            .await
            .unwrap()
            .is_none());
    }

    /// Confirmed: an alert, which nobody can confirm without Alertmanager's API, ran every
    /// action of remediation.yaml (scaling here) on the word of whoever held the token.
    /// Without ALERTMANAGER_URL on the worker only actions marked `allowUnconfirmed: true` run,
    /// then the sequence escalates.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_unconfirmed_alert_runs_only_actions_allowed_unconfirmed_and_escalates() {
        let h = Harness::start().await.unwrap();
        let autoscaling = production_on_auto_scaling(&h, 3, None).await;
        let key = sample_production();
        store_remediation(
            &h,
            &key,
            &default_remediation(
                "    - action: scaling\n      value: +1\n      wait: 1s\n    - action: escalate\n",
            ),
        )
        .await;
        let (alerts, _process) = alert_webhook(&h).await;
        let starts = now_ms() - 60_000;
        let (status, answer) = post_alert(
            &alerts,
            &alert_body(vec![firing(
                0xb1,
                "response_time_p95",
                "SampleApp",
                "Production",
                starts,
            )]),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let (worker, _worker_process) = h
            .function("validate-build-worker", &fast_worker_env())
            .await;
        let sequence = tick_until_ended(&h, &worker, &alert_id(0xb1, starts)).await;
        assert_eq!(sequence["phase"]["end"], "escalated", "{sequence:#}");
        assert_eq!(desired_capacity(&autoscaling).await, 1, "no scaling ran");
        let text = whys(&sequence);
        assert!(text.contains("not confirmed"), "{text}");
        assert!(
            !text.contains("starting action 1 of 2 (scaling +1)"),
            "the scaling must not start:\n{text}"
        );
    }

    /// Confirmed: after the webhook rolled build 4 back, an alert on a lane whose
    /// remediation.yaml says `rollback` made the worker roll the rollback back: build 4, the
    /// build that caused the problem, was deployed again.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_self_healing_rollback_never_rolls_back_a_rollback() {
        let h = Harness::start().await.unwrap();
        let (build4, problems, _problems_process) = production_with_build_4(&h).await;
        open_problem(&h, "-910_1V2");
        let (status, answer) = post_problem(
            &problems,
            Some(WEBHOOK_SECRET),
            &notification("-910_1V2", "SERVICE-PRODUCTION01"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
        let rollback_id = answer["actions"][0]["rollbackDeploymentId"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            h.fake.deployment(&rollback_id).unwrap().status,
            "Succeeded",
            "the fake deploys at once"
        );
        let deployed = h.fake.deployments().len();

        let key = sample_production();
        store_remediation(
            &h,
            &key,
            &default_remediation("    - action: rollback\n      allowUnconfirmed: true\n"),
        )
        .await;
        // After the rollback was created: it cannot be refused as newer than the problem.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let starts = now_ms();
        let (alerts, _process) = alert_webhook(&h).await;
        let (status, answer) = post_alert(
            &alerts,
            &alert_body(vec![firing(
                0xc1,
                "response_time_p95",
                "SampleApp",
                "Production",
                starts,
            )]),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let (worker, _worker_process) = h
            .function("validate-build-worker", &fast_worker_env())
            .await;
        let sequence = tick_until_ended(&h, &worker, &alert_id(0xc1, starts)).await;
        let redeployed: Vec<String> = h
            .fake
            .deployments()
            .iter()
            .map(|d| format!("{} {}", d.id, d.revision["s3Location"]["key"]))
            .collect();
        assert_eq!(
            h.fake.deployments().len(),
            deployed,
            "{build4} must not come back: {redeployed:?}"
        );
        let text = whys(&sequence);
        assert!(
            text.contains("not rolling back a rollback") || text.contains("cooldown"),
            "{text}"
        );
    }

    /// Confirmed: with a remediation.yaml on the group, a late OPEN after a fix was deployed
    /// was handed to the lane ("queued") without the webhook's checks, and the lane's rollback
    /// rolled the fix back, reinstalling build 4, the build that caused the problem.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_late_open_on_a_lane_with_remediation_does_not_roll_back_the_fix() {
        let h = Harness::start().await.unwrap();
        let (events, _events_process) = h.function("push-deployment-event", &[]).await;
        deploy_build_4(&h, &events).await;
        store_remediation(
            &h,
            &sample_production(),
            &default_remediation("    - action: rollback\n"),
        )
        .await;
        open_problem(&h, "-920_2V2");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fix = deploy_production(&h, 5);
        push_event(&h, &events).await;
        let (problems, _process) = h.function("handle-problem-notification", &[]).await;
        let deployed = h.fake.deployments().len();
        let (status, answer) = post_problem(
            &problems,
            Some(WEBHOOK_SECRET),
            &notification("-920_2V2", "SERVICE-PRODUCTION01"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let actions = answer["actions"].as_array().cloned().unwrap_or_default();
        assert!(
            actions.iter().all(|a| a["action"] != "queued"),
            "nothing handed to the lane: {answer}"
        );
        assert!(
            actions.iter().any(|a| a["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("it cannot have caused it")),
            "{answer}"
        );
        let (worker, _worker_process) = h
            .function("validate-build-worker", &fast_worker_env())
            .await;
        tick(&worker).await;
        tick(&worker).await;
        assert_eq!(h.fake.deployments().len(), deployed, "the fix {fix} stays");
    }

    /// Confirmed: a lane's queue had no bound: every alert of a flood queued behind the active
    /// sequence, all of it in the lane's one item. At most 20 wait behind the active one; the
    /// rest end at once as refused, with the reason, and everything ends.
    ///
    /// The plan's first action is a feature toggle allowed unconfirmed (it fails: the worker
    /// has no UNLEASH_URL), so the first sequence is running while the others open; an
    /// escalate-only plan ends each sequence within its own input, and no queue ever forms.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_flood_of_alerts_queues_at_most_20_and_refuses_the_rest() {
        let h = Harness::start().await.unwrap();
        let key = sample_production();
        store_remediation(
            &h,
            &key,
            &default_remediation(
                "    - action: featuretoggle\n      value: EnablePromotion:off\n      allowUnconfirmed: true\n    - action: escalate\n",
            ),
        )
        .await;
        let (alerts, _process) = alert_webhook(&h).await;
        // Each alert its own start, so each sequence its own problem id and time.
        let base = now_ms() - 120_000;
        let flood: Vec<(u64, i64)> = (0..40u64)
            .map(|i| (0x3000 + i, base + i as i64 * 1000))
            .collect();
        let body = alert_body(
            flood
                .iter()
                .enumerate()
                .map(|(i, (fp, starts))| {
                    firing(
                        *fp,
                        &format!("alert_{i:02}"),
                        "SampleApp",
                        "Production",
                        *starts,
                    )
                })
                .collect(),
        );
        let (status, answer) = post_alert(&alerts, &body).await;
        assert_eq!(status, 200, "{answer}");
        let mut env = fast_worker_env();
        env.push(("REMEDIATION_MAX_ACTIONS_PER_HOUR", "1000".to_string()));
        let (worker, _worker_process) = h.function("validate-build-worker", &env).await;
        let (lane, reported) = tick_until_idle(&h, &worker, &key, 12).await;
        assert!(lane.lane.queue.is_empty() && lane.inbox.is_empty());
        assert_eq!(reported, 40, "the ticks ended all 40");

        let ended = ended_on(&h, &key).await;
        let ids: std::collections::BTreeSet<String> = ended
            .iter()
            .map(|s| s["problem"]["id"].as_str().unwrap_or_default().to_string())
            .collect();
        for (fp, starts) in &flood {
            assert!(
                ids.contains(&alert_id(*fp, *starts)),
                "{} did not end (or its record was overwritten); {} stored",
                alert_id(*fp, *starts),
                ended.len()
            );
        }
        assert_eq!(ended.len(), 40, "one record each");
        let refused: Vec<&Value> = ended
            .iter()
            .filter(|s| s["phase"]["end"] == "refused")
            .collect();
        assert!(
            (1..=20).contains(&refused.len()),
            "the active one and at most 20 queued are taken; {} refused",
            refused.len()
        );
        for sequence in &refused {
            assert!(whys(sequence).contains("is full"), "{sequence:#}");
        }
        for sequence in ended.iter().filter(|s| s["phase"]["end"] != "refused") {
            assert!(
                whys(sequence).contains("starting action 1"),
                "a taken problem runs its plan: {sequence:#}"
            );
        }
    }

    /// Confirmed: a lane remembered the last 100 ended problems only; after more had ended,
    /// Alertmanager's repeat of an old firing alert started its actions again.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_replayed_alert_starts_nothing_however_many_problems_ended_since() {
        let h = Harness::start().await.unwrap();
        let key = sample_production();
        store_remediation(&h, &key, &default_remediation("    - action: escalate\n")).await;
        let (alerts, _process) = alert_webhook(&h).await;
        let (worker, _worker_process) = h.function("validate-build-worker", &[]).await;
        let base = now_ms() - 600_000;
        let alert = |i: u64| {
            firing(
                0x4000 + i,
                &format!("alert_{i:03}"),
                "SampleApp",
                "Production",
                base + i as i64 * 1000,
            )
        };
        // The first alone, so its sequence is stored before the others end.
        let first = alert_body(vec![alert(0)]);
        let (status, answer) = post_alert(&alerts, &first).await;
        assert_eq!(status, 200, "{answer}");
        tick_until_idle(&h, &worker, &key, 10).await;
        let first_id = alert_id(0x4000, base);
        let recorded: Vec<Value> = ended_on(&h, &key)
            .await
            .into_iter()
            .filter(|s| s["problem"]["id"] == first_id.as_str())
            .collect();
        assert_eq!(recorded.len(), 1, "the first ended once");
        // 119 more in batches of at most 20: 120 problems ended on the lane, more than the
        // 100 the lane's own list keeps.
        for batch in (1..120u64).collect::<Vec<_>>().chunks(20) {
            let body = alert_body(batch.iter().map(|&i| alert(i)).collect());
            let (status, answer) = post_alert(&alerts, &body).await;
            assert_eq!(status, 200, "{answer}");
            tick_until_idle(&h, &worker, &key, 10).await;
        }

        let (status, answer) = post_alert(&alerts, &first).await;
        assert!(
            status == 200 || status == 422,
            "a replay is acknowledged or refused: {status} {answer}"
        );
        for _ in 0..2 {
            let report = tick(&worker).await;
            assert_eq!(
                report["remediation"]["ended"], 0,
                "no sequence ran again: {report}"
            );
        }
        let lane = h.store().lane(&key).await.unwrap().expect("the lane");
        assert!(
            lane.lane.active.is_none() && lane.lane.queue.is_empty(),
            "nothing started for the replay: {lane:#?}"
        );
        let again: Vec<Value> = ended_on(&h, &key)
            .await
            .into_iter()
            .filter(|s| s["problem"]["id"] == first_id.as_str())
            .collect();
        assert_eq!(again, recorded, "the first problem's record is unchanged");
    }

    /// Confirmed: a Dynatrace problem title carrying a right-to-left override and a NUL reached
    /// the timeline as is (the HTML page and the JSON), where the override reverses what a
    /// person reads after it.
    #[tokio::test(flavor = "multi_thread")]
    async fn hidden_characters_of_a_problem_title_never_reach_the_timeline() {
        let h = Harness::start().await.unwrap();
        let (events, _events_process) = h.function("push-deployment-event", &[]).await;
        deploy_build_4(&h, &events).await;
        production_on_auto_scaling(&h, 3, None).await;
        let (problems, _problems_process) = h.function("handle-problem-notification", &[]).await;
        open_problem(&h, "-930_3V2");
        {
            let mut world = h.dynatrace.world.lock().unwrap();
            let problem = world
                .problems
                .iter_mut()
                .find(|p| p["problemId"] == "-930_3V2")
                .unwrap();
            problem["title"] = json!("Response\u{202e} time\u{0} degradation");
        }
        let (status, answer) = post_problem(
            &problems,
            Some(WEBHOOK_SECRET),
            &notification("-930_3V2", "SERVICE-PRODUCTION01"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let (worker, _worker_process) = h
            .function("validate-build-worker", &fast_worker_env())
            .await;
        tick(&worker).await;
        tick(&worker).await;

        let (report, _report_process) = h.function("build-validation-report", &[]).await;
        let json_body = timeline_body(&report, true).await;
        let html = timeline_body(&report, false).await;
        let document: Value = serde_json::from_str(&json_body).unwrap();
        assert!(
            document["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["problemId"] == "-930_3V2")),
            "the problem is on the timeline: {document:#}"
        );
        let mut texts = Vec::new();
        strings(&document, &mut texts);
        for (what, text) in [("HTML", html.as_str()), ("JSON", json_body.as_str())]
            .into_iter()
            .chain(texts.iter().map(|t| ("a JSON string", t.as_str())))
        {
            assert!(
                !text.contains('\u{202e}') && !text.contains('\u{0}'),
                "{what} carries a hidden character: {text:?}"
            );
        }
    }

    /// Confirmed: the webhook's own rollback (a group without remediation.yaml) never reached
    /// the timeline: it said "No remediation has run" while Production had been rolled back.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_webhooks_own_rollback_is_on_the_timeline() {
        let h = Harness::start().await.unwrap();
        let (_, problems, _process) = production_with_build_4(&h).await;
        open_problem(&h, "-940_4V2");
        let (status, answer) = post_problem(
            &problems,
            Some(WEBHOOK_SECRET),
            &notification("-940_4V2", "SERVICE-PRODUCTION01"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["actions"][0]["action"], "rolledBack", "{answer}");
        let rollback_id = answer["actions"][0]["rollbackDeploymentId"]
            .as_str()
            .unwrap()
            .to_string();
        let (worker, _worker_process) = h.function("validate-build-worker", &[]).await;
        tick(&worker).await;
        tick(&worker).await;

        let (report, _report_process) = h.function("build-validation-report", &[]).await;
        let document: Value = serde_json::from_str(&timeline_body(&report, true).await).unwrap();
        let problem = document["problems"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["problemId"] == "-940_4V2"))
            .unwrap_or_else(|| panic!("the rollback's problem is on the timeline: {document:#}"));
        let steps = problem["steps"].as_array().cloned().unwrap_or_default();
        assert!(
            steps.iter().any(|s| {
                let why = s["why"].as_str().unwrap_or_default();
                why.contains("rolled back") && why.contains(&rollback_id)
            }),
            "a step names the rollback {rollback_id}: {problem:#}"
        );
    }

    /// Confirmed: a secret header that is not ASCII was logged as absent
    /// (`header_present=false`), hiding a misconfigured sender behind "no header".
    #[tokio::test(flavor = "multi_thread")]
    async fn a_non_ascii_secret_header_is_refused_and_logged_as_present() {
        let h = Harness::start().await.unwrap();
        let (problems, process) = h.function("handle-problem-notification", &[]).await;
        open_problem(&h, "-950_5V2");
        let (status, answer) = post_problem(
            &problems,
            Some("sécret"),
            &notification("-950_5V2", "SERVICE-PRODUCTION01"),
        )
        .await;
        assert_eq!(status, 401, "{answer}");
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let output = process.output();
            if output.contains("header_present=true") || output.contains("\"header_present\":true")
            {
                assert!(!output.contains("sécret"), "the presented value was logged");
                no_secrets(&output);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the refusal is logged with header_present true:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Confirmed: the public timeline showed a raw AWS error (`AccessDeniedException: User:
    /// arn:aws:sts::123456789012:assumed-role/...`), with the account id and role name. Now the
    /// step says the kind of failure; the whole error is in the worker's log only.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_aws_call_shows_its_kind_on_the_timeline_never_the_raw_error() {
        let h = Harness::start().await.unwrap();
        let (_build4, _problems, _problems_process) = production_with_build_4(&h).await;
        let key = sample_production();
        store_remediation(
            &h,
            &key,
            &default_remediation("    - action: rollback\n      allowUnconfirmed: true\n"),
        )
        .await;
        let raw = "User: arn:aws:sts::123456789012:assumed-role/unbreakable-worker/validate-build-worker is not authorized to perform: codedeploy:CreateDeployment";
        h.fake
            .fail_next_create_deployment("AccessDeniedException", raw);
        let starts = now_ms();
        let (alerts, _process) = alert_webhook(&h).await;
        let (status, answer) = post_alert(
            &alerts,
            &alert_body(vec![firing(
                0xd1,
                "response_time_p95",
                "SampleApp",
                "Production",
                starts,
            )]),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let (worker, worker_process) = h
            .function("validate-build-worker", &fast_worker_env())
            .await;
        let sequence = tick_until_ended(&h, &worker, &alert_id(0xd1, starts)).await;
        let text = whys(&sequence);
        assert!(
            text.contains("rollback failed: CreateDeployment failed (access denied: the function's role lacks a permission; see the function's log)"),
            "{text}"
        );
        let (report, _report_process) = h.function("build-validation-report", &[]).await;
        for json in [true, false] {
            let body = timeline_body(&report, json).await;
            assert!(body.contains("access denied"), "{body}");
            for secret in [
                "123456789012",
                "arn:aws:sts",
                "assumed-role",
                "AccessDeniedException",
            ] {
                assert!(
                    !body.contains(secret),
                    "{secret} on the public timeline: {body}"
                );
            }
        }
        assert!(
            worker_process.output().contains("123456789012"),
            "the whole error is in the worker's log"
        );
    }
}
