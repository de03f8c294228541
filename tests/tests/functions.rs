//! The six Lambda functions through their real binaries, under the Runtime API emulator,
//! against moto, the CodePipeline/CodeDeploy fake and the Dynatrace simulator.

use std::time::Duration;

use serde_json::{json, Value};
use unbreakable::store::{RequestKey, RequestStatus, ValidationStore};
use unbreakable_tests::aws::fake::JobStatus;
use unbreakable_tests::harness::{monspec_text, now_ms, Harness, ARTIFACT_SECRET_KEY, WEBHOOK_SECRET};
use unbreakable_tests::lambda::apigw::{http_event, rest_event};
use unbreakable_tests::lambda::Invocation;
use unbreakable_tests::dynatrace::DEFAULT_TOKEN;

const INVOKE: Duration = Duration::from_secs(60);

fn no_secrets(output: &str) {
    for secret in [DEFAULT_TOKEN, ARTIFACT_SECRET_KEY, "artifact-session-token", WEBHOOK_SECRET] {
        assert!(!output.contains(secret), "a secret was logged: {secret}\n{output}");
    }
}

fn failure(h: &Harness, job: &str) -> (String, String) {
    match h.fake.job(job).expect("job").status {
        JobStatus::Failed { failure_type, message } => (failure_type, message),
        other => panic!("job {job} did not fail: {other:?}"),
    }
}

async fn tick(emulator: &unbreakable_tests::lambda::RuntimeEmulator) -> Value {
    emulator.invoke(json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}), INVOKE).await.expect("tick").response()
}

/// The tutorial's happy path: register (monspec from a raw S3 artifact) → the window closes
/// → the worker approves exactly the waiting approval of that execution.
#[tokio::test(flavor = "multi_thread")]
async fn registered_build_is_approved_by_the_worker() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object("Sample/Monspec/AbC1234", monspec_text().into_bytes()).await;
    let (register, register_process) = h.function("register-build-validation", &[]).await;
    let (worker, worker_process) = h.function("validate-build-worker", &[]).await;

    let data = h.job_data(r#"{"comparison": "StagingToProduction", "window": "10s", "approvalAction": "ApproveStaging", "executionId": "exec-1"}"#, Some("Sample/Monspec/AbC1234"), None);
    let (job, event) = h.fake.new_job("Sample", "Staging", "RegisterStagingValidation", None, data);
    let answer = register.invoke(event, INVOKE).await.unwrap().response();
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert!(matches!(h.fake.job(&job).unwrap().status, JobStatus::Succeeded { .. }));

    // Before the window closes the worker finds nothing to do.
    let early = tick(&worker).await;
    assert_eq!(early["ready"], 0, "{early}");

    h.fake.enter_stage("Sample", "ApproveStaging", "exec-1");
    let token = h.fake.start_approval("Sample", "ApproveStaging", "ApproveStaging");
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let report = tick(&worker).await;
    assert_eq!(report["approved"], 1, "{report}");

    let approvals = h.fake.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0].token, token);
    assert_eq!(approvals[0].status, "Approved");
    assert!(approvals[0].summary.starts_with("APPROVED StagingToProduction: all 2 signatures passed"), "{}", approvals[0].summary);
    assert!(approvals[0].summary.ends_with(unbreakable_tests::harness::REPORT_URL), "{}", approvals[0].summary);

    let stored = h.store().history("Sample", 0).await.unwrap().requests;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, RequestStatus::Ok);
    assert_eq!(stored[0].execution_id, "exec-1");
    assert!(stored[0].next_check_ms.is_none(), "a finished request leaves the ready index");
    let result: Value = serde_json::from_str(stored[0].result_json.as_deref().unwrap()).unwrap();
    assert_eq!(result["status"], "approved");
    no_secrets(&register_process.output());
    no_secrets(&worker_process.output());
    assert!(register_process.output().contains("\"requestId\""), "logs carry the request id:\n{}", register_process.output());
}

/// Bad input to register ends in one PutJobFailureResult that says what to fix; nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn register_rejects_bad_input_with_a_message_and_stores_nothing() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Sample");
    h.fake.enter_stage("Sample", "Staging", "exec-1");
    h.put_object("monspec.zip", unbreakable::artifacts::zip_files(&[("readme.md", b"no monspec here")])).await;
    let (register, _process) = h.function("register-build-validation", &[]).await;

    let cases: Vec<(Value, &str, &str)> = vec![
        // Malformed event: no artifactCredentials.
        ({
            let mut data = h.job_data("StagingToProduction,5,ApproveStaging", Some("missing"), None);
            data.as_object_mut().unwrap().remove("artifactCredentials");
            data
        }, "ConfigurationError", "malformed CodePipeline job event: missing field `artifactCredentials`"),
        (h.job_data("StagingToProduction,5,ApproveStaging", Some("Sample/Monspec/missing"), None), "JobFailed", "s3://unbreakable-artifacts/Sample/Monspec/missing: no such object"),
        (h.job_data("StagingToProduction,5,ApproveStaging", Some("monspec.zip"), None), "ConfigurationError", "the ZIP has no monspec.json (it holds: readme.md)"),
        (h.job_data("StagingToProduction,5", Some("monspec.zip"), None), "ConfigurationError", "expected 3 or 4 comma-separated fields, got 2"),
        (h.job_data("StagingToProduction,5,ApproveStaging", None, None), "ConfigurationError", "no monspec: the action has no input artifact"),
        (h.job_data("StagingToProduction,5,ApproveProduction", Some("good"), None), "ConfigurationError", "pipeline Sample has no manual approval action named ApproveProduction"),
        (h.job_data("StagingToProdction,5,ApproveStaging", Some("good"), None), "ConfigurationError", "unknown comparison \"StagingToProdction\""),
    ];
    h.put_object("good", monspec_text().into_bytes()).await;
    for (data, failure_type, message) in cases {
        let (job, event) = h.fake.new_job("Sample", "Staging", "RegisterStagingValidation", Some("exec-1"), data);
        let answer = register.invoke(event, INVOKE).await.unwrap().response();
        assert_eq!(answer["status"], "Failed");
        let (t, m) = failure(&h, &job);
        assert_eq!(t, failure_type, "{m}");
        assert!(m.contains(message), "expected \"{message}\" in: {m}");
        assert_eq!(h.fake.job(&job).unwrap().result_calls, 1, "exactly one PutJob*Result");
    }
    assert!(h.store().history("Sample", 0).await.unwrap().requests.is_empty(), "nothing stored");

    // Not a CodePipeline event at all: the invocation fails, naming what is missing.
    match register.invoke(json!({"hello": "world"}), INVOKE).await.unwrap() {
        Invocation::Error(e) => assert!(e["errorMessage"].as_str().unwrap().contains("\"CodePipeline.job\" is missing"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
