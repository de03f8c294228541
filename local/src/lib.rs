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
pub mod detector;
pub mod ec2;
pub mod executor;
pub mod gateway;
pub mod oneagent;
pub mod progress;
pub mod self_healing;
pub mod setup;
mod startup;
pub mod summary;
pub mod template;
pub mod wake_queue;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use unbreakable_shared::time::now_ms;

use anyhow::{anyhow, Context};
use serde_json::Value;

use unbreakable_emulators::aws::{AwsFake, MotoServer};
use unbreakable_emulators::dynatrace::DynatraceSimulator;
use unbreakable_emulators::lambda::binaries::{workspace_root, SAMPLE_APP_BINARY};
use unbreakable_emulators::lambda::{FunctionProcess, RuntimeEmulator};
use unbreakable_emulators::prometheus::PrometheusServer;
use unbreakable_shared::ports::deploy::DeploymentStatus;
use unbreakable_shared::ports::monitoring::ProblemStatus;

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
    /// Starts the stack phase by phase, each phase a function of the `startup` module that
    /// returns what the next one uses.
    pub async fn start(options: LocalOptions) -> anyhow::Result<Self> {
        let run = startup::Run {
            progress: ProgressSender::new(options.quiet),
            marker: format!("{}-{}", std::process::id(), now_ms()),
            options,
        };
        let root = workspace_root();
        let files = startup::RunFiles::read(&run.options)?;
        let binaries = startup::build_binaries(&run.progress).await?;
        let unleash_start = startup::start_unleash(&run.progress, files.lane_files.as_ref());
        let emulators = startup::Emulators::start(&run.progress).await?;
        let (aws, healing) = startup::MotoResources::create(&emulators.moto, unleash_start).await?;
        let mut stack = startup::configure_stack(
            &root,
            &run.options,
            &emulators.dynatrace.base_url,
            &aws,
            healing.as_ref(),
        )?;
        let pipeline = startup::create_pipeline(&stack, &emulators.fake)?;
        let fleet =
            startup::Fleet::create(&stack, &emulators.fake, &run.marker, healing.is_some()).await?;
        let mut prometheus = startup::start_gate_prometheus(
            &run.progress,
            run.options.gate,
            &fleet.host_of,
            &mut stack,
        )
        .await?;
        let runtimes = startup::FunctionRuntimes::start().await?;
        let lane = fleet.healing_lane();
        let mut alertmanager = None;
        if let (Some(healing), Some(lane_files)) = (&healing, &files.lane_files) {
            let (am, server) = startup::start_lane_alerting(
                &run.progress,
                &lane,
                lane_files,
                &healing.alertmanager_secret,
                &fleet,
                &runtimes.gateway,
            )
            .await?;
            stack.set_parameter("PrometheusURL", server.url.clone())?;
            prometheus = Some(server);
            alertmanager = Some(am);
        }

        // The template is final: the functions start with its environment.
        let running = startup::Running {
            run: &run,
            emulators: &emulators,
            aws: &aws,
            stack: &stack,
            fleet: &fleet,
            runtimes: &runtimes,
        };
        let functions =
            running.spawn_functions(&binaries, healing.is_some(), alertmanager.as_ref())?;
        let bundles = bundles::Bundles::new(&root, &binaries.join(SAMPLE_APP_BINARY))?;
        upload_source(&aws.s3, "tests.zip", bundles.tests.clone()).await?;
        upload_source(&aws.s3, files.gate_key, files.gate_object).await?;
        let mut watchers = running.start_watchers(healing.as_ref())?;
        let mut healing_parts = None;
        if let (Some(services), Some(lane_files), Some(alertmanager), Some(balancer)) = (
            healing,
            &files.lane_files,
            alertmanager,
            fleet.balancer.clone(),
        ) {
            let lane = startup::HealingLane {
                key: &lane,
                files: lane_files,
                services,
                alertmanager,
                balancer,
            };
            healing_parts = Some(running.start_self_healing(lane, &mut watchers).await?);
        }
        run.progress.send(Progress::Setup(format!(
            "local stack up: pipeline {}, report at {}",
            pipeline.name,
            runtimes.gateway.url(&format!(
                "{}?pipelineName={}",
                unbreakable_shared::contract::REPORT_PATH,
                pipeline.name
            ))
        )));
        let executor = running.executor(&pipeline, functions.invocable);
        Ok(LocalStack {
            progress: run.progress,
            marker: run.marker,
            workdir: fleet.workdir,
            fake: emulators.fake,
            dynatrace: emulators.dynatrace,
            gateway: runtimes.gateway,
            pipeline_name: pipeline.name.clone(),
            s3: aws.s3,
            executor,
            bundles,
            tasks: watchers.tasks,
            processes: functions.processes,
            _emulators: runtimes.emulators.into_values().collect(),
            _moto: emulators.moto,
            prometheus,
            self_healing: healing_parts,
            executions: vec![],
            options: run.options,
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
            .filter(|p| p["status"].as_str().map(ProblemStatus::parse) == Some(ProblemStatus::Open))
            .count()
    }

    fn deployments_running(&self) -> bool {
        self.fake.deployments().iter().any(|d| {
            matches!(
                DeploymentStatus::parse(&d.status),
                DeploymentStatus::Created | DeploymentStatus::InProgress
            )
        })
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
            "{}?pipelineName={}",
            unbreakable_shared::contract::REPORT_PATH,
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
