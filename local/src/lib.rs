//! `unbreakable local`: the whole unbreakable pipeline on one machine, closed loop.
//!
//! The real function binaries run under the Lambda Runtime API emulator; moto serves DynamoDB,
//! S3 and Secrets Manager; the CodePipeline/CodeDeploy emulator runs the pipeline read from
//! `cloudformation/unbreakable.json`; a local CodeDeploy agent installs the bundles on local
//! hosts (directories) and runs their hooks, which start the sample app and the load test; a
//! OneAgent stand-in feeds the Dynatrace simulator with the apps' real measurements and opens
//! problems on a fixed threshold, calling the problem webhook through a local API gateway.
//! Nothing here decides an outcome: the functions do, from what they measure.

pub mod agent;
pub mod balancer;
pub mod bundles;
pub mod ec2;
pub mod executor;
pub mod gateway;
pub mod oneagent;
pub mod progress;
pub mod self_healing;
pub mod setup;
pub mod summary;
pub mod template;
pub mod wake_queue;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use unbreakable_shared::time::now_ms;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use unbreakable_shared::lambda::problem::SECRET_HEADER;

use unbreakable_emulators::alertmanager::AlertmanagerServer;
use unbreakable_emulators::aws::{free_port, AwsFake, MotoServer};
use unbreakable_emulators::dynatrace::{DynatraceSimulator, Fixture, DEFAULT_TOKEN};
use unbreakable_emulators::lambda::binaries::{
    binaries_dir, workspace_root, FUNCTIONS, SAMPLE_APP_BINARY,
};
use unbreakable_emulators::lambda::{FunctionProcess, RuntimeEmulator};
use unbreakable_emulators::prometheus::{PrometheusOptions, PrometheusServer};
use unbreakable_emulators::unleash::UnleashServer;
use unbreakable_shared::ports::lanes::LaneKey;

pub use executor::ExecutionOutcome;
pub use progress::{Progress, ProgressSender};
pub use summary::LocalSummary;

pub const STACK_NAME: &str = "unbreakable-local";
pub const TABLE: &str = "unbreakable-local-BuildValidationRequests";
pub const SOURCE_BUCKET: &str = "unbreakable-local-source";
pub const ARTIFACT_BUCKET: &str = "unbreakable-local-artifacts";
pub const WAKE_QUEUE: &str = "unbreakable-local-wake";
/// Every process the run starts carries this variable (with the run's id), so that cleanup
/// can find the apps and load tests the hooks detach, and tests can check none is left.
pub const RUN_MARKER: &str = "UNBREAKABLE_LOCAL_RUN";

/// What gates the approvals of a local run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QualityGate {
    /// The tutorial's monspec comparison through the Dynatrace simulator.
    #[default]
    Monspec,
    /// Keptn-style slo.yaml/sli.yaml, measured by a real Prometheus scraping the apps.
    Slo,
    /// The statistical judge with canary.yaml: each metric's points on a control and an
    /// experiment scope, taken from the same real Prometheus.
    Canary,
}

/// The service SLO gates name as `$SERVICE`; Prometheus scrapes each stage's app as job
/// `<service>-<deployment group>`, the group being named like the pipeline stage.
pub const SLO_SERVICE: &str = "sample";
/// The artifact the pipeline's quality-gate source action reads under `--gate slo` and
/// `--gate canary`.
pub const QUALITY_GATE_ZIP: &str = "quality-gate.zip";

#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub gate: QualityGate,
    /// slo.yaml and sli.yaml released with every build under `--gate slo`.
    pub slo_dir: PathBuf,
    /// canary.yaml released with every build under `--gate canary`.
    pub canary_dir: PathBuf,
    /// The builds to release, in order.
    pub builds: Vec<u32>,
    /// Each validation's window (the template's `ValidationWindowMinutes`).
    pub window: Duration,
    /// The worker's schedule.
    pub tick: Duration,
    /// The monspec released with every build (`monspec.json` in the source bucket).
    pub monspec: PathBuf,
    /// Scales the sample app's latencies (1.0: 500 ms staging, 300 ms production).
    pub latency_scale: f64,
    /// Problem detection: production's mean response time above this…
    pub threshold_ms: f64,
    /// …for this many consecutive intervals of `problem_interval`.
    pub problem_intervals: u32,
    pub problem_interval: Duration,
    /// After the last build, how long production is watched, and longest wait for open
    /// problems to close.
    pub watch: Duration,
    pub settle_timeout: Duration,
    pub quiet: bool,
    /// `--scenario self-healing`: the Production lane heals itself (see [`self_healing`]),
    /// with the remediation.yaml, slo.yaml and sli.yaml of this folder.
    pub self_healing: Option<PathBuf>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            gate: QualityGate::Monspec,
            slo_dir: workspace_root().join("slo/local"),
            canary_dir: workspace_root().join("canary/local"),
            builds: vec![1, 2, 3, 4],
            window: Duration::from_secs(20),
            tick: Duration::from_secs(3),
            monspec: workspace_root().join("monspec/local.json"),
            latency_scale: 1.0,
            threshold_ms: 450.0,
            problem_intervals: 3,
            problem_interval: Duration::from_secs(5),
            watch: Duration::from_secs(15),
            settle_timeout: Duration::from_secs(180),
            quiet: false,
            self_healing: None,
        }
    }
}

/// The running local stack.
pub struct LocalStack {
    pub options: LocalOptions,
    pub progress: ProgressSender,
    pub marker: String,
    pub workdir: PathBuf,
    pub fake: Arc<AwsFake>,
    pub dynatrace: DynatraceSimulator,
    pub gateway: gateway::Gateway,
    pub pipeline_name: String,
    s3: aws_sdk_s3::Client,
    executor: executor::Executor,
    bundles: bundles::Bundles,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    processes: Vec<FunctionProcess>,
    _emulators: Vec<Arc<RuntimeEmulator>>,
    _moto: MotoServer,
    /// The SLI provider of `--gate slo`, and the sample source of `--gate canary`.
    pub prometheus: Option<PrometheusServer>,
    /// The self-healing parts, under `--scenario self-healing`.
    pub self_healing: Option<self_healing::SelfHealing>,
    executions: Vec<ExecutionOutcome>,
}

/// quality-gate.zip: the slo.yaml and sli.yaml of `dir`, each checked first, so a broken
/// file is named here rather than by a failed pipeline job; and the monspec, whose
/// environment tags the deployment events still attach to.
fn quality_gate_zip(dir: &std::path::Path, monspec: &[u8]) -> anyhow::Result<Vec<u8>> {
    use unbreakable_shared::ports::artifacts::{zip_files, MONSPEC_FILE, SLI_FILE, SLO_FILE};
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (--gate slo releases {SLO_FILE} and {SLI_FILE} from {})",
                path.display(),
                dir.display()
            )
        })
    };
    let (slo, sli) = (read(SLO_FILE)?, read(SLI_FILE)?);
    unbreakable_shared::slo::parse_slo(&dir.join(SLO_FILE).display().to_string(), &slo)?;
    unbreakable_shared::slo::parse_sli(&dir.join(SLI_FILE).display().to_string(), &sli)?;
    Ok(zip_files(&[
        (SLO_FILE, slo.as_bytes()),
        (SLI_FILE, sli.as_bytes()),
        (MONSPEC_FILE, monspec),
    ]))
}

/// quality-gate.zip under `--gate canary`: the canary.yaml of `dir`, checked first as the
/// register function will, and the monspec (for the deployment events' tags).
fn canary_zip(dir: &std::path::Path, monspec: &[u8]) -> anyhow::Result<Vec<u8>> {
    use unbreakable_shared::ports::artifacts::{zip_files, CANARY_FILE, MONSPEC_FILE};
    let path = dir.join(CANARY_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (--gate canary releases {CANARY_FILE} from {})",
            path.display(),
            dir.display()
        )
    })?;
    unbreakable_shared::compare::canary_file::parse_canary_file(&text)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(zip_files(&[
        (CANARY_FILE, text.as_bytes()),
        (MONSPEC_FILE, monspec),
    ]))
}

/// Put a release file into the source bucket, as a user copies it to S3.
async fn upload_source(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
    s3.put_object()
        .bucket(SOURCE_BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .with_context(|| format!("uploading {key} to s3://{SOURCE_BUCKET}"))?;
    Ok(())
}

impl LocalStack {
    pub async fn start(options: LocalOptions) -> anyhow::Result<Self> {
        let progress = ProgressSender::new(options.quiet);
        let marker = format!("{}-{}", std::process::id(), now_ms());
        let root = workspace_root();

        // The quality gate's source object: monspec.json, or quality-gate.zip under --gate slo
        // and --gate canary.
        let monspec = std::fs::read(&options.monspec)
            .with_context(|| format!("cannot read the monspec {}", options.monspec.display()))?;
        let (gate_key, gate_object) = match options.gate {
            QualityGate::Monspec => ("monspec.json", monspec),
            QualityGate::Slo => (
                QUALITY_GATE_ZIP,
                quality_gate_zip(&options.slo_dir, &monspec)?,
            ),
            QualityGate::Canary => (QUALITY_GATE_ZIP, canary_zip(&options.canary_dir, &monspec)?),
        };
        let lane_files = match &options.self_healing {
            None => None,
            Some(dir) => {
                if options.gate != QualityGate::Monspec {
                    let gate = if options.gate == QualityGate::Slo {
                        "slo"
                    } else {
                        "canary"
                    };
                    bail!("--scenario self-healing gates its build with the monspec and judges remediations with the lane's slo.yaml; drop --gate {gate}");
                }
                Some(self_healing::LaneFiles::read(dir)?)
            }
        };
        // The build and, on the first run, moto's installation into .venv, at the same time:
        // both finish (or fail, each with its message) before anything starts.
        let install_moto = setup::moto_missing();
        progress.send(Progress::Setup(if install_moto {
            "building the function binaries and the sample app (cargo build --workspace --bins, in this program's profile) while installing moto into .venv (first run: python3 -m venv, pip)".into()
        } else {
            "building the function binaries and the sample app (cargo build --workspace --bins, in this program's profile)".into()
        }));
        let (built, installed) = (progress.clone(), progress.clone());
        let (binaries, ()) = setup::at_once(
            move || {
                let dir = binaries_dir().map_err(|e| anyhow!("{e}. Build them with `cargo build --release --workspace --bins`, or set UNBREAKABLE_FUNCTIONS_DIR to a directory holding them"))?;
                if install_moto {
                    built.send(Progress::Setup(
                        "function binaries and sample app built".into(),
                    ));
                }
                Ok(dir)
            },
            move || {
                if install_moto {
                    setup::install_moto()?;
                    installed.send(Progress::Setup("moto installed into .venv".into()));
                }
                Ok(())
            },
        )
        .await?;
        for binary in FUNCTIONS.iter().copied().chain([SAMPLE_APP_BINARY]) {
            if !binaries.join(binary).exists() {
                bail!("{} is missing: build it with `cargo build --release --workspace --bins` (or point UNBREAKABLE_FUNCTIONS_DIR at the binaries)", binaries.join(binary).display());
            }
        }

        // Unleash's migrations take seconds: they run while the rest starts.
        let unleash_start = lane_files.as_ref().map(|_| {
            progress.send(Progress::Setup(
                "starting Unleash on its own PostgreSQL (self-healing)".into(),
            ));
            tokio::task::spawn_blocking(UnleashServer::start)
        });
        progress.send(Progress::Setup(
            "starting moto, the CodePipeline/CodeDeploy emulator and the Dynatrace simulator"
                .into(),
        ));
        let moto = MotoServer::start().context("starting moto server")?;
        let fake = Arc::new(
            AwsFake::start()
                .await
                .context("starting the CodePipeline/CodeDeploy emulator")?,
        );
        fake.run_deployments_by_agent();
        let dynatrace = DynatraceSimulator::start(Fixture::default())
            .await
            .context("starting the Dynatrace simulator")?;
        dynatrace.world.lock().expect("world").live_bucket_ms = 1000;

        let sdk = unbreakable_shared::aws::sdk_config_loader()
            .endpoint_url(&moto.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ))
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        unbreakable_shared::aws::dynamodb::create_table(
            &aws_sdk_dynamodb::Client::new(&sdk),
            TABLE,
        )
        .await
        .context("creating the validation table in moto")?;
        for bucket in [SOURCE_BUCKET, ARTIFACT_BUCKET] {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .context("creating buckets in moto")?;
        }
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let webhook_secret = uuid::Uuid::new_v4().simple().to_string();
        // The template's Alertmanager secret is generated; its Unleash secret holds the admin
        // token when there is an Unleash, and is generated otherwise (the worker reads it
        // only with UNLEASH_URL).
        let alertmanager_secret = uuid::Uuid::new_v4().simple().to_string();
        let unleash = match unleash_start {
            None => None,
            Some(start) => Some(
                start
                    .await?
                    .context("starting Unleash and PostgreSQL for the self-healing scenario")?,
            ),
        };
        let unleash_token = match &unleash {
            Some(server) => server.admin_token().to_string(),
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut secret_arns = vec![];
        for (name, value) in [
            ("dynatrace-api-token", DEFAULT_TOKEN),
            ("problem-webhook-secret", webhook_secret.as_str()),
            ("alertmanager-webhook-secret", alertmanager_secret.as_str()),
            ("unleash-admin-token", unleash_token.as_str()),
        ] {
            let arn = secrets
                .create_secret()
                .name(format!("{STACK_NAME}/{name}"))
                .secret_string(value)
                .send()
                .await
                .context("creating secrets in moto")?
                .arn()
                .unwrap_or_default()
                .to_string();
            secret_arns.push(arn);
        }

        // The stack, as the template defines it.
        let mut stack =
            template::Template::read(&root.join("cloudformation/unbreakable.json"), STACK_NAME)?;
        let minutes = options.window.as_secs_f64() / 60.0;
        stack.set_parameter("ValidationWindowMinutes", minutes.to_string())?;
        stack.set_parameter("YourS3BucketName", SOURCE_BUCKET)?;
        stack.set_parameter("DynatraceTenantURL", dynatrace.base_url.clone())?;
        stack.set_physical("ValidationTable", TABLE);
        stack.set_physical("DynatraceApiTokenSecret", secret_arns[0].clone());
        stack.set_physical("WebhookSharedSecret", secret_arns[1].clone());
        stack.set_physical("AlertmanagerWebhookSecret", secret_arns[2].clone());
        stack.set_physical("UnleashAdminTokenSecret", secret_arns[3].clone());
        stack.set_physical("PipelineArtifactStore", ARTIFACT_BUCKET);
        stack.set_physical("BuildValidationApi", "local");
        // Wake-ups travel through moto's SQS, and the worker is subscribed to them below.
        let sqs = Arc::new(unbreakable_shared::aws::sqs::SqsClient::new(&sdk));
        let wake_queue_url = sqs
            .create_queue(WAKE_QUEUE)
            .await
            .map_err(|e| anyhow!("creating the wake queue in moto: {e}"))?;
        stack.set_physical("WakeQueue", wake_queue_url.clone());
        let mut healing: Option<(UnleashServer, String, aws_sdk_autoscaling::Client)> = None;
        if let Some(unleash) = unleash {
            self_healing::create_promotion_flag(&unleash).await?;
            stack.set_parameter("UnleashUrl", unleash.url.clone())?;
            stack.set_parameter("ProductionMaxSize", self_healing::MAX_SIZE.to_string())?;
            stack.set_physical(
                "ProductionAutoScalingGroup",
                self_healing::AUTO_SCALING_GROUP,
            );
            let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
            self_healing::create_auto_scaling_group(&moto.endpoint, &autoscaling).await?;
            healing = Some((unleash, alertmanager_secret, autoscaling));
        }
        if options.gate == QualityGate::Slo {
            stack.set_parameter("QualityGate", "slo")?;
            stack.set_parameter("SloService", SLO_SERVICE)?;
            stack.set_parameter("SliProvider", "prometheus")?;
            // A warning goes on (build 4 is caught in production by its problem, as in the
            // tutorial); `manual` would leave the run waiting for a person.
            stack.set_parameter("OnSloWarning", "approve")?;
        }
        if options.gate == QualityGate::Canary {
            stack.set_parameter("QualityGate", "canary")?;
            stack.set_parameter("SliProvider", "prometheus")?;
            // Each stage against itself one window earlier: the previous build, still
            // serving (with its load test) until this deployment replaced it. Staging is not
            // judged against production, which answers faster by design.
            let earlier = options.window.as_secs_f64().ceil() as u64;
            stack.set_parameter(
                "CanaryStagingControl",
                format!("{SLO_SERVICE}-Staging@-{earlier}s"),
            )?;
            stack.set_parameter("CanaryStagingExperiment", format!("{SLO_SERVICE}-Staging"))?;
            stack.set_parameter(
                "CanaryProductionControl",
                format!("{SLO_SERVICE}-Production@-{earlier}s"),
            )?;
            stack.set_parameter(
                "CanaryProductionExperiment",
                format!("{SLO_SERVICE}-Production"),
            )?;
            // No control at all (build 1: nothing ran there before) is judged marginal and
            // goes on, as the other gates approve a first build with a note; `manual` would
            // leave the run waiting for a person.
            stack.set_parameter("OnCanaryMarginal", "approve")?;
        }
        let pipeline = stack.pipeline()?;
        fake.set_pipeline(pipeline.definition(ARTIFACT_BUCKET));
        let (application, groups) = stack.deployment_groups()?;

        let workdir = std::env::temp_dir().join(format!("unbreakable-local-{marker}"));
        std::fs::create_dir_all(&workdir)?;
        let mut host_of: BTreeMap<String, agent::Host> = BTreeMap::new();
        let mut hosts: BTreeMap<String, agent::Host> = BTreeMap::new();
        for (group, host_name) in &groups {
            if healing.is_some() && group == self_healing::STAGE {
                fake.create_group_with_auto_scaling(
                    &application,
                    group,
                    &[self_healing::AUTO_SCALING_GROUP],
                );
            } else {
                fake.create_group(&application, group);
            }
            let host = match hosts.get(host_name) {
                Some(h) => h.clone(),
                None => {
                    let port =
                        free_port().context("no free loopback port for a local host's app")?;
                    let h = agent::Host {
                        name: host_name.clone(),
                        root: workdir.join("hosts").join(host_name),
                        app_port: port,
                    };
                    std::fs::create_dir_all(&h.root)?;
                    hosts.insert(host_name.clone(), h.clone());
                    h
                }
            };
            host_of.insert(group.clone(), host);
        }
        // The Production group's instances after the first (the host CodeDeploy deploys to),
        // and the balancer in front of them all.
        let mut extra_ports = vec![];
        let mut balancer = None;
        if healing.is_some() {
            for _ in 1..self_healing::MAX_SIZE {
                extra_ports.push(free_port().context("no free loopback port for an instance")?);
            }
            balancer = Some(Arc::new(balancer::Balancer::start().await?));
        }
        let mut prometheus = match options.gate {
            QualityGate::Monspec => None,
            QualityGate::Slo | QualityGate::Canary => {
                progress.send(Progress::Setup(
                    "starting Prometheus, scraping each stage's sample app (--gate slo or canary)"
                        .into(),
                ));
                let targets: Vec<(String, String)> = host_of
                    .iter()
                    .filter(|(group, _)| !group.ends_with("Tests"))
                    .map(|(group, host)| {
                        (
                            format!("{SLO_SERVICE}-{group}"),
                            format!("127.0.0.1:{}", host.app_port),
                        )
                    })
                    .collect();
                let server = tokio::task::spawn_blocking(move || {
                    let targets: Vec<(&str, String)> = targets
                        .iter()
                        .map(|(j, t)| (j.as_str(), t.clone()))
                        .collect();
                    PrometheusServer::start(&targets)
                })
                .await?
                .context("starting Prometheus for --gate slo or canary")?;
                stack.set_parameter("PrometheusURL", server.url.clone())?;
                Some(server)
            }
        };

        // The functions: one emulator each, the gateway in front of report and problem.
        let mut emulators: BTreeMap<String, Arc<RuntimeEmulator>> = BTreeMap::new();
        for f in FUNCTIONS {
            emulators.insert(f.to_string(), Arc::new(RuntimeEmulator::start().await?));
        }
        let routes: gateway::Routes = BTreeMap::from([
            (
                ("GET".to_string(), "/BuildValidationResults".to_string()),
                emulators["build-validation-report"].clone(),
            ),
            (
                ("POST".to_string(), "/HandleDynatraceProblem".to_string()),
                emulators["handle-problem-notification"].clone(),
            ),
            (
                (
                    "POST".to_string(),
                    unbreakable_shared::lambda::alerts::ALERTMANAGER_PATH.to_string(),
                ),
                emulators["handle-problem-notification"].clone(),
            ),
            (
                (
                    "GET".to_string(),
                    unbreakable_shared::lambda::report::TIMELINE_PATH.to_string(),
                ),
                emulators["build-validation-report"].clone(),
            ),
        ]);
        let gateway = gateway::Gateway::start(routes).await?;
        let lane = LaneKey {
            service: application.clone(),
            stage: self_healing::STAGE.to_string(),
        };
        let mut alertmanager = None;
        if let (Some((_, secret, _)), Some(files)) = (&healing, &lane_files) {
            progress.send(Progress::Setup(
                "starting Alertmanager and Prometheus (the lane's alert rules, every instance scraped)".into(),
            ));
            let webhook = gateway.url(unbreakable_shared::lambda::alerts::ALERTMANAGER_PATH);
            let secret = secret.clone();
            let rules = files.alert_rules(&lane)?;
            let job = format!("{}-{}", lane.service, lane.stage);
            let mut targets = vec![(
                job.clone(),
                format!("127.0.0.1:{}", host_of[self_healing::STAGE].app_port),
            )];
            targets.extend(
                extra_ports
                    .iter()
                    .map(|p| (job.clone(), format!("127.0.0.1:{p}"))),
            );
            let (am, server) = tokio::task::spawn_blocking(move || {
                let am = AlertmanagerServer::start(&webhook, &secret)?;
                let server = PrometheusServer::start_with(&PrometheusOptions {
                    targets,
                    rule_files: vec![rules],
                    alertmanager_url: Some(am.url.clone()),
                })?;
                anyhow::Ok((am, server))
            })
            .await?
            .context("starting Alertmanager and Prometheus for the self-healing scenario")?;
            stack.set_parameter("PrometheusURL", server.url.clone())?;
            prometheus = Some(server);
            alertmanager = Some(am);
        }
        let mut processes = vec![];
        let mut functions = BTreeMap::new();
        for f in FUNCTIONS {
            let mut env: Vec<(String, String)> = stack.function_environment(f)?;
            // Where the local stack differs from AWS: endpoints, URLs, compressed time.
            let mut overrides = vec![
                ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
                ("AWS_ENDPOINT_URL_CODEPIPELINE", fake.endpoint.clone()),
                ("AWS_ENDPOINT_URL_CODEDEPLOY", fake.endpoint.clone()),
                ("RUST_LOG", "warn".into()),
                (RUN_MARKER, marker.clone()),
            ];
            let has = |key: &str| env.iter().any(|(k, _)| k == key);
            if has("REPORT_URL") {
                overrides.push(("REPORT_URL", gateway.url("/BuildValidationResults")));
            }
            if has("PROBLEM_HANDLER_URL") {
                overrides.push((
                    "PROBLEM_HANDLER_URL",
                    gateway.url("/HandleDynatraceProblem"),
                ));
            }
            if f == "validate-build-worker" {
                overrides.push(("WORKER_RECHECK_SECONDS", "1".into()));
                overrides.push(("WORKER_LEASE_SECONDS", "60".into()));
                // The wait's window is judged after the ingestion delay, compressed like the
                // validations' (the self-healing lane is judged by the local Prometheus, which
                // scrapes every second: one scrape and one more).
                overrides.push(("REMEDIATION_EVALUATION_DELAY_SECONDS", "2".into()));
                if healing.is_some() {
                    // Seconds where AWS has minutes; the same code path.
                    overrides.push(("REMEDIATION_POLL_SECONDS", "1".into()));
                    overrides.push(("REMEDIATION_COOLDOWN_SECONDS", "1".into()));
                    overrides.push(("REMEDIATION_MAX_ACTIONS_PER_HOUR", "30".into()));
                    overrides.push(("REMEDIATION_ACTION_TIMEOUT_SECONDS", "60".into()));
                }
                // Alerts are confirmed with the local Alertmanager before their actions run,
                // as in AWS with ALERTMANAGER_URL set.
                if let Some(am) = &alertmanager {
                    overrides.push(("ALERTMANAGER_URL", am.url.clone()));
                }
            }
            if f == "push-deployment-event" {
                overrides.push(("EVENT_RETRY_SECONDS", "0.5".into()));
            }
            if f == "register-build-validation" {
                // Compressed like the windows: the simulator has a second's data at once,
                // the local Prometheus scrapes every second (one scrape and one more).
                overrides.push(("INGESTION_DELAY_DYNATRACE_SECONDS", "1".into()));
                overrides.push(("INGESTION_DELAY_PROMETHEUS_SECONDS", "2".into()));
            }
            for (k, v) in overrides {
                env.retain(|(key, _)| key != k);
                env.push((k.to_string(), v));
            }
            let env_refs: Vec<(&str, String)> =
                env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let process =
                FunctionProcess::spawn(&binaries.join(f), &emulators[f].runtime_api(), &env_refs)
                    .with_context(|| format!("cannot start {f}"))?;
            processes.push(process);
            functions.insert(
                f.to_string(),
                executor::LocalFunction {
                    emulator: emulators[f].clone(),
                    timeout: stack.function_timeout(f)?,
                },
            );
        }

        let bundles = bundles::Bundles::new(&root, &binaries.join(SAMPLE_APP_BINARY))?;
        upload_source(&s3, "tests.zip", bundles.tests.clone()).await?;
        upload_source(&s3, gate_key, gate_object).await?;

        let mut tasks = vec![];
        let mut base_env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            (
                "HOME".to_string(),
                std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            ),
            (RUN_MARKER.to_string(), marker.clone()),
            (
                "LATENCY_SCALE".to_string(),
                options.latency_scale.to_string(),
            ),
        ];
        if let Some((unleash, _, _)) = &healing {
            base_env.push(("APP_SLOTS".to_string(), self_healing::APP_SLOTS.to_string()));
            base_env.push(("UNLEASH_URL".to_string(), unleash.url.clone()));
            base_env.push((
                "UNLEASH_CLIENT_TOKEN".to_string(),
                unleash.backend_token().to_string(),
            ));
        }
        let mut agent = agent::Agent::new(
            fake.clone(),
            s3.clone(),
            host_of.clone(),
            base_env.clone(),
            progress.clone(),
        );
        if let Some(balancer) = &balancer {
            // Production traffic (the load test deployed beside the app) goes through the
            // balancer to every instance.
            let production = &host_of[self_healing::STAGE].name;
            for (group, host) in &host_of {
                if &host.name == production {
                    agent.group_env.insert(
                        group.clone(),
                        vec![("TARGET_URL".to_string(), balancer.url())],
                    );
                }
            }
        }
        tasks.push(tokio::spawn(agent.run()));
        let app_dirs: Vec<PathBuf> = hosts.values().map(|h| h.app_dir()).collect();
        let oneagent = oneagent::OneAgent::new(
            dynatrace.world.clone(),
            app_dirs,
            oneagent::ProblemRule {
                tag: ("DeploymentGroup".into(), "Production".into()),
                threshold_ms: options.threshold_ms,
                interval: options.problem_interval,
                intervals: options.problem_intervals,
            },
            oneagent::Webhook {
                url: gateway.url("/HandleDynatraceProblem"),
                secret_header: SECRET_HEADER.into(),
                secret: webhook_secret,
            },
            progress.clone(),
        );
        let (agent_dirs, detection) = (oneagent.app_dirs.clone(), oneagent.detection.clone());
        tasks.push(tokio::spawn(oneagent.run()));
        let worker = emulators["validate-build-worker"].clone();
        let tick = options.tick;
        let worker_timeout = stack.function_timeout("validate-build-worker")?;
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(tick);
            loop {
                ticker.tick().await;
                let event = json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "time": "2026-11-21T00:00:00Z", "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/unbreakable-local-worker"], "detail": {}});
                let _ = worker.invoke(event, worker_timeout).await;
            }
        }));
        let subscription = wake_queue::WakeSubscription {
            sqs,
            queue_url: wake_queue_url,
            worker: emulators["validate-build-worker"].clone(),
            timeout: worker_timeout,
            stats: Default::default(),
        };
        tasks.push(tokio::spawn(subscription.run()));

        let mut healing_parts = None;
        if let (
            Some((unleash, alertmanager_secret, autoscaling)),
            Some(files),
            Some(alertmanager),
            Some(balancer),
        ) = (healing, &lane_files, alertmanager, balancer)
        {
            let store = unbreakable_shared::aws::dynamodb::DynamoValidationStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                TABLE,
            );
            files.store(&store, &lane).await?;
            tasks.push(tokio::spawn(
                self_healing::Reconciler {
                    autoscaling: autoscaling.clone(),
                    fake: fake.clone(),
                    application: application.clone(),
                    host: host_of[self_healing::STAGE].clone(),
                    extra_ports,
                    dir: workdir.join("fleet"),
                    balancer: balancer.clone(),
                    app_dirs: agent_dirs,
                    env: base_env.clone(),
                    progress: progress.clone(),
                }
                .run(),
            ));
            let timeline_url = gateway.url(&format!(
                "{}?json=true",
                unbreakable_shared::lambda::report::TIMELINE_PATH
            ));
            tasks.push(tokio::spawn(self_healing::print_timeline(
                timeline_url.clone(),
                progress.clone(),
            )));
            progress.send(Progress::Setup(format!(
                "self-healing: lane {lane} with {}, group {} (MaxSize {}), balancer {}, Unleash {}, timeline at {}",
                options.self_healing.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                self_healing::AUTO_SCALING_GROUP,
                self_healing::MAX_SIZE,
                balancer.url(),
                unleash.url,
                gateway.url(unbreakable_shared::lambda::report::TIMELINE_PATH)
            )));
            healing_parts = Some(self_healing::SelfHealing {
                lane: lane.clone(),
                unleash,
                alertmanager,
                alertmanager_secret,
                balancer,
                autoscaling,
                detection,
                timeline_url,
                alertmanager_webhook_url: gateway
                    .url(unbreakable_shared::lambda::alerts::ALERTMANAGER_PATH),
                marker: marker.clone(),
                http: reqwest::Client::new(),
            });
        }
        progress.send(Progress::Setup(format!(
            "local stack up: pipeline {}, report at {}",
            pipeline.name,
            gateway.url(&format!(
                "/BuildValidationResults?pipelineName={}",
                pipeline.name
            ))
        )));
        let executor = executor::Executor {
            fake: fake.clone(),
            s3: s3.clone(),
            pipeline: pipeline.clone(),
            artifact_bucket: ARTIFACT_BUCKET.into(),
            functions,
            progress: progress.clone(),
            approval_timeout: options.window * 4 + Duration::from_secs(120),
        };
        Ok(LocalStack {
            progress,
            marker,
            workdir,
            fake,
            dynatrace,
            gateway,
            pipeline_name: pipeline.name.clone(),
            s3,
            executor,
            bundles,
            tasks,
            processes,
            _emulators: emulators.into_values().collect(),
            _moto: moto,
            prometheus,
            self_healing: healing_parts,
            executions: vec![],
            options,
        })
    }

    /// Release one build: its bundle becomes `app.zip` and a pipeline execution starts.
    pub async fn release(&mut self, build: u32) -> anyhow::Result<ExecutionOutcome> {
        upload_source(&self.s3, "app.zip", self.bundles.app(build)?).await?;
        let outcome = self.executor.run(build).await;
        self.executions.push(outcome.clone());
        Ok(outcome)
    }

    fn open_problems(&self) -> usize {
        let world = self.dynatrace.world.lock().expect("world");
        world
            .problems
            .iter()
            .filter(|p| p["status"] == "OPEN")
            .count()
    }

    fn deployments_running(&self) -> bool {
        self.fake
            .deployments()
            .iter()
            .any(|d| d.status == "Created" || d.status == "InProgress")
    }

    /// Watch production after the last release, until nothing is open or running.
    pub async fn settle(&self) {
        let started = Instant::now();
        self.progress.send(Progress::Setup(format!(
            "watching production for {} s, and until open problems close",
            self.options.watch.as_secs()
        )));
        loop {
            let quiet = self.open_problems() == 0 && !self.deployments_running();
            if (quiet && started.elapsed() >= self.options.watch)
                || started.elapsed() > self.options.settle_timeout
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn report_url(&self) -> String {
        self.gateway.url(&format!(
            "/BuildValidationResults?pipelineName={}",
            self.pipeline_name
        ))
    }

    /// Everything that happened, read back from the emulators, the simulator and the report.
    pub async fn summary(&self) -> LocalSummary {
        let report_json = async {
            reqwest::get(format!("{}&json=true&timespan=600", self.report_url()))
                .await?
                .json::<Value>()
                .await
        }
        .await
        .unwrap_or(Value::Null);
        let world = self.dynatrace.world.lock().expect("world");
        LocalSummary {
            pipeline: self.pipeline_name.clone(),
            report_url: self.report_url(),
            executions: self.executions.clone(),
            approvals: self.fake.approvals(),
            deployments: self.fake.deployments(),
            problems: world.problems.clone(),
            comments: world.comments.clone(),
            report: report_json,
            events: self.progress.events(),
        }
    }

    /// Stop everything: the functions, the apps and load tests the hooks started (found by
    /// the run marker), the servers. Returns how many detached processes had to be killed.
    pub async fn shutdown(mut self) -> usize {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for p in self.processes.iter_mut() {
            p.kill();
        }
        let killed = kill_marked(&self.marker);
        let _ = std::fs::remove_dir_all(&self.workdir);
        killed
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        kill_marked(&self.marker);
    }
}

/// Processes (other than this one) whose environment carries `RUN_MARKER=marker`.
pub fn marked_processes(marker: &str) -> Vec<u32> {
    let needle = format!("{RUN_MARKER}={marker}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. Calling it directly
    // keeps cleanup working on machines without procps' `kill` binary.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// SIGTERM, then SIGKILL after a grace period, every marked process.
pub fn kill_marked(marker: &str) -> usize {
    let pids = marked_processes(marker);
    for pid in &pids {
        signal(*pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !marked_processes(marker).is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in marked_processes(marker) {
        signal(pid, libc::SIGKILL);
    }
    pids.len()
}

/// The scenario names `--scenario` takes, with their builds.
pub const SCENARIOS: [(&str, &[u32], &str); 4] = [
    (
        "tutorial",
        &[1, 2, 3, 4],
        "builds 1-4: released, rejected in staging, released, rolled back in production",
    ),
    (
        "regression",
        &[3, 4],
        "builds 3 and 4: a healthy release, then a production regression and its rollback",
    ),
    (
        "rejection",
        &[1, 2],
        "builds 1 and 2: a healthy release, then a build rejected in staging",
    ),
    (
        SELF_HEALING_SCENARIO,
        &[1],
        "build 1 in production, then a saturating load healed by one more instance and a feature flag's failures healed by switching it off in Unleash",
    ),
];

/// The scenario whose Production lane heals itself (see [`self_healing`]).
pub const SELF_HEALING_SCENARIO: &str = "self-healing";

pub fn scenario_builds(name: &str) -> anyhow::Result<Vec<u32>> {
    SCENARIOS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, builds, _)| builds.to_vec())
        .ok_or_else(|| {
            anyhow!(
                "unknown scenario \"{name}\"; scenarios: {}",
                SCENARIOS
                    .iter()
                    .map(|(n, _, d)| format!("{n} ({d})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Ports a host app uses, for a test to check nothing is left listening.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        .is_ok()
}
