//! The phases of [`LocalStack::start`](super::LocalStack::start), each returning what the
//! next one uses, in the order it runs them:
//!
//! 1. [`RunFiles::read`]: the quality gate's source object and the self-healing lane's files,
//!    each checked before anything starts;
//! 2. [`build_binaries`]: the function binaries and the sample app built (and moto installed);
//! 3. [`start_unleash`] (in the background) and [`Emulators::start`]: moto, the
//!    CodePipeline/CodeDeploy emulator, the Dynatrace simulator;
//! 4. [`MotoResources::create`]: the table, buckets, secrets and wake queue in moto, and the
//!    self-healing lane's [`HealingServices`];
//! 5. [`configure_stack`] and [`create_pipeline`]: the template with the local parameters, and
//!    its pipeline in the emulator;
//! 6. [`Fleet::create`]: the local hosts and their deployment groups (and the balancer);
//! 7. [`start_gate_prometheus`], [`FunctionRuntimes::start`], [`start_lane_alerting`]: the
//!    gate's Prometheus, the functions' runtime emulators behind the gateway, the lane's
//!    Alertmanager and Prometheus;
//! 8. on [`Running`]: the function processes, the CodeDeploy agent, the OneAgent stand-in and
//!    the worker's triggers ([`Watchers`]), and the self-healing lane's parts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::json;
use unbreakable_shared::aws::sqs::SqsClient;
use unbreakable_shared::contract::{
    ALERTMANAGER_PATH, PROBLEM_PATH, REPORT_PATH, SECRET_HEADER, TIMELINE_PATH,
};
use unbreakable_shared::ports::lanes::LaneKey;

use unbreakable_emulators::alertmanager::AlertmanagerServer;
use unbreakable_emulators::aws::{free_port, AwsFake, MotoServer};
use unbreakable_emulators::dynatrace::{DynatraceSimulator, Fixture, DEFAULT_TOKEN};
use unbreakable_emulators::lambda::binaries::{binaries_dir, FUNCTIONS, SAMPLE_APP_BINARY};
use unbreakable_emulators::lambda::{FunctionProcess, RuntimeEmulator};
use unbreakable_emulators::prometheus::{PrometheusOptions, PrometheusServer};
use unbreakable_emulators::unleash::UnleashServer;

use super::template::{PipelineSpec, Template};
use super::{agent, balancer, executor, gateway, oneagent, self_healing, setup, wake_queue};
use super::{LocalOptions, Progress, ProgressSender, QualityGate};
use super::{
    ARTIFACT_BUCKET, QUALITY_GATE_ZIP, RUN_MARKER, SLO_SERVICE, SOURCE_BUCKET, STACK_NAME, TABLE,
    WAKE_QUEUE,
};

mod running;
pub(crate) use running::{HealingLane, Running};

/// What every phase reads: the run's options, where it reports, and the marker every process
/// it starts carries.
pub(crate) struct Run {
    pub(crate) options: LocalOptions,
    pub(crate) progress: ProgressSender,
    pub(crate) marker: String,
}

/// The files a run releases or reads, each read and checked before anything starts.
pub(crate) struct RunFiles {
    /// The quality gate's source object: `monspec.json`, or `quality-gate.zip` under
    /// `--gate slo` and `--gate canary`.
    pub(crate) gate_key: &'static str,
    pub(crate) gate_object: Vec<u8>,
    /// Under `--scenario self-healing`: the lane's remediation.yaml, slo.yaml and sli.yaml.
    pub(crate) lane_files: Option<self_healing::LaneFiles>,
}

impl RunFiles {
    pub(crate) fn read(options: &LocalOptions) -> anyhow::Result<Self> {
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
        Ok(RunFiles {
            gate_key,
            gate_object,
            lane_files,
        })
    }
}

/// quality-gate.zip: the slo.yaml and sli.yaml of `dir`, each checked first, so a broken
/// file is named here rather than by a failed pipeline job; and the monspec, whose
/// environment tags the deployment events still attach to.
fn quality_gate_zip(dir: &Path, monspec: &[u8]) -> anyhow::Result<Vec<u8>> {
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
fn canary_zip(dir: &Path, monspec: &[u8]) -> anyhow::Result<Vec<u8>> {
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

/// The build and, on the first run, moto's installation into .venv, at the same time: both
/// finish (or fail, each with its message) before anything starts. Returns the directory of
/// the function binaries and the sample app, each checked to be there.
pub(crate) async fn build_binaries(progress: &ProgressSender) -> anyhow::Result<PathBuf> {
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
    Ok(binaries)
}

/// Unleash and its PostgreSQL, still starting.
pub(crate) type UnleashStart = tokio::task::JoinHandle<anyhow::Result<UnleashServer>>;

/// Under `--scenario self-healing` (when there are lane files), Unleash on its own
/// PostgreSQL: its migrations take seconds, so they run while the rest starts.
pub(crate) fn start_unleash(
    progress: &ProgressSender,
    lane_files: Option<&self_healing::LaneFiles>,
) -> Option<UnleashStart> {
    lane_files.map(|_| {
        progress.send(Progress::Setup(
            "starting Unleash on its own PostgreSQL (self-healing)".into(),
        ));
        tokio::task::spawn_blocking(UnleashServer::start)
    })
}

/// The servers every run has.
pub(crate) struct Emulators {
    pub(crate) moto: MotoServer,
    /// The CodePipeline/CodeDeploy emulator.
    pub(crate) fake: Arc<AwsFake>,
    pub(crate) dynatrace: DynatraceSimulator,
}

impl Emulators {
    pub(crate) async fn start(progress: &ProgressSender) -> anyhow::Result<Self> {
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
        Ok(Emulators {
            moto,
            fake,
            dynatrace,
        })
    }
}

/// The stack's resources in moto, and the clients that reach them.
pub(crate) struct MotoResources {
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) s3: aws_sdk_s3::Client,
    /// The ARNs of the Dynatrace API token's, the problem webhook's, Alertmanager's and
    /// Unleash's secrets, in this order.
    pub(crate) secret_arns: Vec<String>,
    /// The problem webhook's shared secret, which the OneAgent stand-in sends.
    pub(crate) webhook_secret: String,
    /// Wake-ups travel through moto's SQS; the worker is subscribed to them
    /// ([`Running::start_worker_triggers`]).
    pub(crate) sqs: Arc<SqsClient>,
    pub(crate) wake_queue_url: String,
}

/// Under `--scenario self-healing`: Unleash with the promotion flag, and the Production Auto
/// Scaling group in moto.
pub(crate) struct HealingServices {
    pub(crate) unleash: UnleashServer,
    /// The Bearer secret Alertmanager sends (also in moto's Secrets Manager).
    pub(crate) alertmanager_secret: String,
    pub(crate) autoscaling: aws_sdk_autoscaling::Client,
}

impl MotoResources {
    /// The validation table, the buckets, the secrets (once Unleash, when it starts, gives
    /// its admin token) and the wake queue; then the self-healing lane's flag and group.
    pub(crate) async fn create(
        moto: &MotoServer,
        unleash_start: Option<UnleashStart>,
    ) -> anyhow::Result<(Self, Option<HealingServices>)> {
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
        let secret_arns = create_secrets(
            &secrets,
            &[
                ("dynatrace-api-token", DEFAULT_TOKEN),
                ("problem-webhook-secret", webhook_secret.as_str()),
                ("alertmanager-webhook-secret", alertmanager_secret.as_str()),
                ("unleash-admin-token", unleash_token.as_str()),
            ],
        )
        .await?;
        let sqs = Arc::new(SqsClient::new(&sdk));
        let wake_queue_url = sqs
            .create_queue(WAKE_QUEUE)
            .await
            .map_err(|e| anyhow!("creating the wake queue in moto: {e}"))?;
        let healing = match unleash {
            None => None,
            Some(unleash) => Some(
                HealingServices::prepare(unleash, alertmanager_secret, &sdk, &moto.endpoint)
                    .await?,
            ),
        };
        let resources = MotoResources {
            sdk,
            s3,
            secret_arns,
            webhook_secret,
            sqs,
            wake_queue_url,
        };
        Ok((resources, healing))
    }
}

/// Each `(name, value)` as the secret `<stack>/<name>`; their ARNs, in the same order.
async fn create_secrets(
    secrets: &aws_sdk_secretsmanager::Client,
    values: &[(&str, &str)],
) -> anyhow::Result<Vec<String>> {
    let mut secret_arns = vec![];
    for &(name, value) in values {
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
    Ok(secret_arns)
}

impl HealingServices {
    async fn prepare(
        unleash: UnleashServer,
        alertmanager_secret: String,
        sdk: &aws_config::SdkConfig,
        moto_endpoint: &str,
    ) -> anyhow::Result<Self> {
        self_healing::create_promotion_flag(&unleash).await?;
        let autoscaling = aws_sdk_autoscaling::Client::new(sdk);
        self_healing::create_auto_scaling_group(moto_endpoint, &autoscaling).await?;
        Ok(HealingServices {
            unleash,
            alertmanager_secret,
            autoscaling,
        })
    }
}

/// The stack, as the template defines it: the local run's parameters, moto's resources as
/// the physical IDs, and the quality gate's settings.
pub(crate) fn configure_stack(
    root: &Path,
    options: &LocalOptions,
    dynatrace_url: &str,
    aws: &MotoResources,
    healing: Option<&HealingServices>,
) -> anyhow::Result<Template> {
    let mut stack = Template::read(&root.join("cloudformation/unbreakable.json"), STACK_NAME)?;
    let minutes = options.window.as_secs_f64() / 60.0;
    stack.set_parameter("ValidationWindowMinutes", minutes.to_string())?;
    stack.set_parameter("YourS3BucketName", SOURCE_BUCKET)?;
    stack.set_parameter("DynatraceTenantURL", dynatrace_url)?;
    stack.set_physical("ValidationTable", TABLE);
    stack.set_physical("DynatraceApiTokenSecret", aws.secret_arns[0].clone());
    stack.set_physical("WebhookSharedSecret", aws.secret_arns[1].clone());
    stack.set_physical("AlertmanagerWebhookSecret", aws.secret_arns[2].clone());
    stack.set_physical("UnleashAdminTokenSecret", aws.secret_arns[3].clone());
    stack.set_physical("PipelineArtifactStore", ARTIFACT_BUCKET);
    stack.set_physical("BuildValidationApi", "local");
    stack.set_physical("WakeQueue", aws.wake_queue_url.clone());
    if let Some(healing) = healing {
        stack.set_parameter("UnleashUrl", healing.unleash.url.clone())?;
        stack.set_parameter("ProductionMaxSize", self_healing::MAX_SIZE.to_string())?;
        stack.set_physical(
            "ProductionAutoScalingGroup",
            self_healing::AUTO_SCALING_GROUP,
        );
    }
    set_gate_parameters(&mut stack, options)?;
    Ok(stack)
}

/// The parameters of `--gate slo` and `--gate canary` (the monspec gate is the template's
/// default).
fn set_gate_parameters(stack: &mut Template, options: &LocalOptions) -> anyhow::Result<()> {
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
    Ok(())
}

/// The pipeline the template defines, created in the CodePipeline emulator.
pub(crate) fn create_pipeline(stack: &Template, fake: &AwsFake) -> anyhow::Result<PipelineSpec> {
    let pipeline = stack.pipeline()?;
    fake.set_pipeline(pipeline.definition(ARTIFACT_BUCKET));
    Ok(pipeline)
}

/// The local hosts (directories under the run's working directory) and the deployment groups
/// that select them, created in the CodeDeploy emulator.
pub(crate) struct Fleet {
    /// The CodeDeploy application.
    pub(crate) application: String,
    pub(crate) workdir: PathBuf,
    /// Deployment group → its host.
    pub(crate) host_of: BTreeMap<String, agent::Host>,
    /// Host name → host (several groups may share one).
    pub(crate) hosts: BTreeMap<String, agent::Host>,
    /// Under self-healing: the ports of the Production group's instances after the first
    /// (the host CodeDeploy deploys to)…
    pub(crate) extra_ports: Vec<u16>,
    /// …and the balancer in front of them all.
    pub(crate) balancer: Option<Arc<balancer::Balancer>>,
}

impl Fleet {
    pub(crate) async fn create(
        stack: &Template,
        fake: &AwsFake,
        marker: &str,
        healing: bool,
    ) -> anyhow::Result<Self> {
        let (application, groups) = stack.deployment_groups()?;
        let workdir = std::env::temp_dir().join(format!("unbreakable-local-{marker}"));
        std::fs::create_dir_all(&workdir)?;
        let mut host_of: BTreeMap<String, agent::Host> = BTreeMap::new();
        let mut hosts: BTreeMap<String, agent::Host> = BTreeMap::new();
        for (group, host_name) in &groups {
            if healing && group == self_healing::STAGE {
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
        if healing {
            for _ in 1..self_healing::MAX_SIZE {
                extra_ports.push(free_port().context("no free loopback port for an instance")?);
            }
            balancer = Some(Arc::new(balancer::Balancer::start().await?));
        }
        Ok(Fleet {
            application,
            workdir,
            host_of,
            hosts,
            extra_ports,
            balancer,
        })
    }

    /// The lane that heals itself under `--scenario self-healing`: the application's
    /// Production stage.
    pub(crate) fn healing_lane(&self) -> LaneKey {
        LaneKey {
            service: self.application.clone(),
            stage: self_healing::STAGE.to_string(),
        }
    }
}

/// Under `--gate slo` and `--gate canary`: a real Prometheus scraping each stage's sample
/// app, its URL the stack's `PrometheusURL`.
pub(crate) async fn start_gate_prometheus(
    progress: &ProgressSender,
    gate: QualityGate,
    host_of: &BTreeMap<String, agent::Host>,
    stack: &mut Template,
) -> anyhow::Result<Option<PrometheusServer>> {
    match gate {
        QualityGate::Monspec => Ok(None),
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
            Ok(Some(server))
        }
    }
}

/// The functions' runtime emulators, one each, and the gateway in front of report and
/// problem.
pub(crate) struct FunctionRuntimes {
    /// Function name → its emulator.
    pub(crate) emulators: BTreeMap<String, Arc<RuntimeEmulator>>,
    pub(crate) gateway: gateway::Gateway,
}

impl FunctionRuntimes {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let mut emulators: BTreeMap<String, Arc<RuntimeEmulator>> = BTreeMap::new();
        for f in FUNCTIONS {
            emulators.insert(f.to_string(), Arc::new(RuntimeEmulator::start().await?));
        }
        let routes: gateway::Routes = BTreeMap::from([
            (
                ("GET".to_string(), REPORT_PATH.to_string()),
                emulators["build-validation-report"].clone(),
            ),
            (
                ("POST".to_string(), PROBLEM_PATH.to_string()),
                emulators["handle-problem-notification"].clone(),
            ),
            (
                ("POST".to_string(), ALERTMANAGER_PATH.to_string()),
                emulators["handle-problem-notification"].clone(),
            ),
            (
                ("GET".to_string(), TIMELINE_PATH.to_string()),
                emulators["build-validation-report"].clone(),
            ),
        ]);
        let gateway = gateway::Gateway::start(routes).await?;
        Ok(FunctionRuntimes { emulators, gateway })
    }
}

/// Under `--scenario self-healing`: Alertmanager, calling the problem handler through the
/// gateway, and a Prometheus with the lane's alert rules scraping every instance of the lane.
pub(crate) async fn start_lane_alerting(
    progress: &ProgressSender,
    lane: &LaneKey,
    files: &self_healing::LaneFiles,
    secret: &str,
    fleet: &Fleet,
    gateway: &gateway::Gateway,
) -> anyhow::Result<(AlertmanagerServer, PrometheusServer)> {
    progress.send(Progress::Setup(
        "starting Alertmanager and Prometheus (the lane's alert rules, every instance scraped)"
            .into(),
    ));
    let webhook = gateway.url(ALERTMANAGER_PATH);
    let secret = secret.to_string();
    let rules = files.alert_rules(lane)?;
    let job = format!("{}-{}", lane.service, lane.stage);
    let mut targets = vec![(
        job.clone(),
        format!("127.0.0.1:{}", fleet.host_of[self_healing::STAGE].app_port),
    )];
    targets.extend(
        fleet
            .extra_ports
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
    Ok((am, server))
}
