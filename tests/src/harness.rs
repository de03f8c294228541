//! Everything the functions need, on loopback: moto (DynamoDB, S3, Secrets Manager), the
//! CodePipeline/CodeDeploy fake, and the Dynatrace simulator with steady per-second data for
//! the test monspec's environments. Used by the function tests and the worker benchmark.

use std::path::PathBuf;
use std::time::Duration;
pub use unbreakable_shared::time::now_ms;

use serde_json::{json, Value};
use unbreakable_local::wake_queue::SubscriptionStats;
use unbreakable_shared::aws::dynamodb::{create_table, DynamoValidationStore};
use unbreakable_shared::aws::sqs::SqsClient;
use unbreakable_shared::ports::store::{RequestStatus, ValidationRequest};

use unbreakable_emulators::aws::{AwsFake, MotoServer};
use unbreakable_emulators::dynatrace::model::{EntityDef, TagDef};
use unbreakable_emulators::dynatrace::{DynatraceSimulator, Fixture, DEFAULT_TOKEN};
use unbreakable_emulators::lambda::{function_binary, FunctionProcess, RuntimeEmulator};

pub const TABLE: &str = "BuildValidationRequests";
pub const BUCKET: &str = "unbreakable-artifacts";
pub const WEBHOOK_SECRET: &str = "whsec-test-0123456789";
pub const ARTIFACT_SECRET_KEY: &str = "ARTIFACT-SECRET-KEY-never-logged";
pub const REPORT_URL: &str = "https://reports.example/v1/BuildValidationResults";

pub fn monspec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/functions/monspec.json")
}

pub fn monspec_text() -> String {
    std::fs::read_to_string(monspec_path()).expect("test monspec")
}

/// Service entity with the `DeploymentGroup` tag.
pub fn service(id: &str, group: &str) -> EntityDef {
    serde_json::from_value(json!({
        "entityId": id, "displayName": "SampleNodeJsService", "type": "SERVICE",
        "tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": group}]
    }))
    .expect("entity")
}

pub struct Harness {
    pub moto: MotoServer,
    pub fake: AwsFake,
    pub dynatrace: DynatraceSimulator,
    pub sdk: aws_config::SdkConfig,
    pub token_secret_arn: String,
    pub webhook_secret_arn: String,
    /// The wake queue in moto: functions given [`Self::events`] send wake-ups to it, and a
    /// worker [`Self::subscribe`]d takes them as Lambda's SQS subscription does.
    pub wake_queue_url: String,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Self> {
        let moto = MotoServer::start()?;
        let fake = AwsFake::start().await?;
        let fixture = Fixture {
            entities: vec![
                service("SERVICE-STAGING00001", "Staging"),
                service("SERVICE-SLOWSTAGING1", "SlowStaging"),
                service("SERVICE-PRODUCTION01", "Production"),
            ],
            ..Default::default()
        };
        let dynatrace = DynatraceSimulator::start(fixture).await?;
        // Steady traffic from 3 h ago to 15 min ahead, one point per second, so any window
        // the tests use holds data: Staging ≈ Production, SlowStaging twice as slow.
        {
            let mut w = dynatrace.world.lock().expect("world");
            let now = now_ms();
            for (entity, rt_us, failure) in [
                ("SERVICE-STAGING00001", 500_000.0, 0.5),
                ("SERVICE-SLOWSTAGING1", 1_000_000.0, 0.5),
                ("SERVICE-PRODUCTION01", 480_000.0, 0.5),
            ] {
                for (metric, value) in [
                    ("responsetime", rt_us),
                    ("failurerate", failure),
                    ("requestspermin", 60.0),
                ] {
                    let series = w
                        .series
                        .entry((entity.to_string(), metric.to_string()))
                        .or_default();
                    let mut t = now - 3 * 3_600_000;
                    t -= t.rem_euclid(1000);
                    while t < now + 900_000 {
                        series.insert(t, value);
                        t += 1000;
                    }
                }
            }
        }
        let sdk = unbreakable_shared::aws::sdk_config_loader()
            .endpoint_url(&moto.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&dynamodb, TABLE).await?;
        let s3 = s3_client(&sdk);
        s3.create_bucket().bucket(BUCKET).send().await?;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let token_secret_arn = secrets
            .create_secret()
            .name("dynatrace-api-token")
            .secret_string(DEFAULT_TOKEN)
            .send()
            .await?
            .arn()
            .unwrap_or_default()
            .to_string();
        let webhook_secret_arn = secrets
            .create_secret()
            .name("problem-webhook-secret")
            .secret_string(WEBHOOK_SECRET)
            .send()
            .await?
            .arn()
            .unwrap_or_default()
            .to_string();
        let wake_queue_url = SqsClient::new(&sdk)
            .create_queue("wake")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Harness {
            moto,
            fake,
            dynatrace,
            sdk,
            token_secret_arn,
            webhook_secret_arn,
            wake_queue_url,
        })
    }

    pub fn store(&self) -> DynamoValidationStore {
        DynamoValidationStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), TABLE)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.sdk)
    }

    pub async fn put_object(&self, key: &str, body: Vec<u8>) {
        self.s3()
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put object");
    }

    pub async fn get_object(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3()
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// The environment every function gets: endpoints, table, secrets, fast worker timings.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
            ("AWS_ENDPOINT_URL_CODEPIPELINE", self.fake.endpoint.clone()),
            ("AWS_ENDPOINT_URL_CODEDEPLOY", self.fake.endpoint.clone()),
            ("VALIDATION_TABLE", TABLE.into()),
            ("DT_TENANT_URL", self.dynatrace.base_url.clone()),
            ("DT_API_TOKEN_SECRET_ARN", self.token_secret_arn.clone()),
            ("WEBHOOK_SECRET_ARN", self.webhook_secret_arn.clone()),
            ("REPORT_URL", REPORT_URL.into()),
            (
                "PROBLEM_HANDLER_URL",
                "https://api.example/v1/HandleDynatraceProblem".into(),
            ),
            ("WORKER_RECHECK_SECONDS", "1".into()),
            // The emulators have a window's data at once; a test of the delay sets its own.
            ("INGESTION_DELAY_DYNATRACE_SECONDS", "0".into()),
            ("INGESTION_DELAY_PROMETHEUS_SECONDS", "0".into()),
            // Likewise a remediation's wait is judged the moment it ends.
            ("REMEDIATION_EVALUATION_DELAY_SECONDS", "0".into()),
            ("WORKER_LEASE_SECONDS", "30".into()),
            ("EVENT_RETRY_SECONDS", "0.3".into()),
            ("RUST_LOG", "info".into()),
        ]
    }

    /// The override that turns wake-ups on for a function (off by default: the tests tick).
    pub fn events(&self) -> (&'static str, String) {
        ("WAKE_QUEUE_URL", self.wake_queue_url.clone())
    }

    /// Subscribe `worker` to the wake queue until the returned task is aborted, with what the
    /// subscription invoked it for.
    pub fn subscribe(
        &self,
        worker: std::sync::Arc<RuntimeEmulator>,
    ) -> (
        tokio::task::JoinHandle<()>,
        std::sync::Arc<SubscriptionStats>,
    ) {
        let stats = std::sync::Arc::new(SubscriptionStats::default());
        let subscription = unbreakable_local::wake_queue::WakeSubscription {
            sqs: std::sync::Arc::new(SqsClient::new(&self.sdk)),
            queue_url: self.wake_queue_url.clone(),
            worker,
            timeout: Duration::from_secs(60),
            stats: stats.clone(),
        };
        (tokio::spawn(subscription.run()), stats)
    }

    /// Start one function binary under its own emulator, with `overrides` on top of [`Self::env`].
    pub async fn function(
        &self,
        name: &str,
        overrides: &[(&'static str, String)],
    ) -> (RuntimeEmulator, FunctionProcess) {
        let emulator = RuntimeEmulator::start().await.expect("emulator");
        let mut env = self.env();
        for (k, v) in overrides {
            env.retain(|(key, _)| key != k);
            env.push((k, v.clone()));
        }
        env.retain(|(_, v)| !v.is_empty());
        let process = FunctionProcess::spawn(&function_binary(name), &emulator.runtime_api(), &env)
            .expect("spawn function");
        (emulator, process)
    }

    /// Job data as CodePipeline sends it to a Lambda action.
    pub fn job_data(
        &self,
        user_parameters: &str,
        input_key: Option<&str>,
        output_key: Option<&str>,
    ) -> Value {
        let artifact = |name: &str, key: &str| json!({"name": name, "revision": null, "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": key}}});
        json!({
            "actionConfiguration": {"configuration": {"FunctionName": "fn", "UserParameters": user_parameters}},
            "inputArtifacts": input_key.map(|k| vec![artifact("Monspec", k)]).unwrap_or_default(),
            "outputArtifacts": output_key.map(|k| vec![artifact("ValidationResult", k)]).unwrap_or_default(),
            "artifactCredentials": {"accessKeyId": "ASIAARTIFACTKEY", "secretAccessKey": ARTIFACT_SECRET_KEY, "sessionToken": "artifact-session-token"},
        })
    }

    /// The tutorial's pipeline shape: deploy, register in Staging, then the approval stage.
    pub fn define_pipeline(&self, name: &str) {
        self.fake.define_pipeline(
            name,
            &[
                ("Source", vec![("SourceMonspec", "Source", "S3", json!({"S3Bucket": BUCKET, "S3ObjectKey": "monspec.json"}))]),
                ("Staging", vec![
                    ("DeployToStaging", "Deploy", "CodeDeploy", json!({"ApplicationName": "SampleApp", "DeploymentGroupName": "Staging"})),
                    ("PushStagingDeploymentEvent", "Invoke", "Lambda", json!({"FunctionName": "push-deployment-event", "UserParameters": "Staging"})),
                    ("RegisterStagingValidation", "Invoke", "Lambda", json!({"FunctionName": "register-build-validation"})),
                ]),
                ("ApproveStaging", vec![("ApproveStaging", "Approval", "Manual", json!({}))]),
            ],
        );
    }

    /// A validation registered `age` ago over `window`, ready now: what register stores.
    pub fn ready_request(
        &self,
        pipeline: &str,
        comparison: &str,
        execution_id: &str,
        age: Duration,
        window: Duration,
    ) -> ValidationRequest {
        let start = now_ms() - age.as_millis() as i64;
        ValidationRequest {
            pipeline: pipeline.into(),
            timestamp_ms: start,
            comparison: comparison.into(),
            window_ms: window.as_millis() as i64,
            ready_ms: start + window.as_millis() as i64,
            monspec: monspec_text(),
            stage: "Staging".into(),
            action: "RegisterStagingValidation".into(),
            approval_action: "ApproveStaging".into(),
            job_id: "job".into(),
            execution_id: execution_id.into(),
            status: RequestStatus::Waiting,
            status_msg: "waiting".into(),
            attempts: 0,
            next_check_ms: Some(start + window.as_millis() as i64),
            lease_owner: None,
            result_json: None,
            filled_monspec: None,
            slo: None,
            canary: None,
            decision: None,
            expires_at_s: now_ms() / 1000 + 86_400,
        }
    }
}

fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// Tags as the simulator stores them.
pub fn tag(key: &str, value: &str) -> TagDef {
    serde_json::from_value(json!({"context": "CONTEXTLESS", "key": key, "value": value}))
        .expect("tag")
}
