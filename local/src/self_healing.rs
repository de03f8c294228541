//! `unbreakable local --scenario self-healing`: the parts the closed self-healing loop needs
//! on top of the pipeline, each the real thing or a stand-in that speaks to the real thing.
//!
//! - The Production deployment group is attached to an Auto Scaling group in moto (a launch
//!   template, MinSize 1, MaxSize 2, desired 1), and the [`Reconciler`] plays EC2 Auto Scaling
//!   for it: it watches moto's DesiredCapacity and starts or stops instances of the group's
//!   last revision to match, behind the [`Balancer`] that Production traffic goes through.
//!   Instance 0 is the host CodeDeploy deploys to; the others run copies of what it installed.
//! - A real Prometheus scrapes every instance and evaluates the alerting rules
//!   `unbreakable alert-rules` writes for the lane; a real Alertmanager posts to the local
//!   gateway's `/HandleAlertmanagerAlert` with the Bearer secret kept in moto's Secrets Manager.
//! - A real Unleash on its own PostgreSQL holds the `EnablePromotion` flag; the instances read
//!   it with a backend token, the worker switches it with the admin token (in Secrets Manager).
//! - The lane's remediation.yaml, slo.yaml and sli.yaml are stored as
//!   `unbreakable remediation apply` stores them; the worker advances the sequences as in AWS,
//!   with waits of seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use unbreakable_emulators::alertmanager::AlertmanagerServer;
use unbreakable_emulators::aws::AwsFake;
use unbreakable_emulators::lambda::binaries::workspace_root;
use unbreakable_emulators::unleash::UnleashServer;
use unbreakable_shared::ports::deploy::DeploymentStatus;
use unbreakable_shared::ports::lanes::{LaneConfig, LaneConfigs, LaneKey};
use unbreakable_shared::ports::store::SliProviderKind;
use unbreakable_shared::slo::alert_rules::{alert_rules, AlertRuleOptions};
use unbreakable_shared::slo::context::SliContext;
use unbreakable_shared::slo::{parse_sli, parse_slo};

use super::agent::Host;
use super::balancer::Balancer;
use super::oneagent::AppDirs;
use super::progress::{Progress, ProgressSender};

/// The deployment group whose lane heals itself.
pub const STAGE: &str = "Production";
/// moto's Auto Scaling group attached to it, and its launch template.
pub const AUTO_SCALING_GROUP: &str = "unbreakable-local-production";
pub const LAUNCH_TEMPLATE: &str = "unbreakable-local-production-template";
/// MaxSize of the group: one instance more than at the start.
pub const MAX_SIZE: i32 = 2;
/// Keptn's carts flag: on, every 3rd `/api/cart` call fails.
pub const PROMOTION_FLAG: &str = "EnablePromotion";
/// Request slots per instance: a few concurrent loads saturate one instance, and a second
/// instance halves the queue.
pub const APP_SLOTS: usize = 2;
/// Load-test loops that saturate one instance (with Production's own load test: five
/// clients on 2 slots, about 725 ms mean response time) but not two (about 340 ms).
pub const SATURATING_WORKERS: u32 = 4;
/// Loops that saturate two instances as badly.
pub const OVERLOAD_WORKERS: u32 = 9;
/// `/api/cart` calls per round of the load that shows the promotion's failures: every 3rd
/// fails, about 10 % of all requests with Production's own load test, twice the OneAgent
/// stand-in's 5 %, and few enough that the failures of the second or two the flag takes to
/// reach the instances stay under slo.yaml's 5 % over the 15 s wait.
pub const CART_CALLS: u32 = 9;
/// Unleash's project and environment the flag lives in (the worker's defaults).
pub const UNLEASH_PROJECT: &str = "default";
pub const UNLEASH_ENVIRONMENT: &str = "production";

/// The folder with the lane's example files (`remediation/local`).
pub fn default_dir() -> PathBuf {
    workspace_root().join("remediation/local")
}

/// remediation.yaml, slo.yaml and sli.yaml of a folder, each checked as the CLI checks them.
#[derive(Debug, Clone)]
pub struct LaneFiles {
    pub remediation: String,
    pub slo: String,
    pub sli: String,
}

impl LaneFiles {
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {} (the self-healing scenario stores remediation.yaml, slo.yaml and sli.yaml from {})",
                    path.display(),
                    dir.display()
                )
            })
        };
        let files = LaneFiles {
            remediation: read("remediation.yaml")?,
            slo: read("slo.yaml")?,
            sli: read("sli.yaml")?,
        };
        let name = |file: &str| dir.join(file).display().to_string();
        unbreakable_shared::remediation::parse_remediation(
            &name("remediation.yaml"),
            &files.remediation,
        )
        .map_err(|e| anyhow!("{e}"))?;
        parse_slo(&name("slo.yaml"), &files.slo)?;
        parse_sli(&name("sli.yaml"), &files.sli)?;
        Ok(files)
    }

    /// The Prometheus alerting rules of the lane, as `unbreakable alert-rules` writes them,
    /// with a short `for` and window so a local alert fires within seconds.
    pub fn alert_rules(&self, lane: &LaneKey) -> anyhow::Result<String> {
        let rules = alert_rules(
            &parse_slo("slo.yaml", &self.slo)?,
            &parse_sli("sli.yaml", &self.sli)?,
            &AlertRuleOptions {
                for_duration: "3s".into(),
                window_ms: 10_000,
                context: SliContext {
                    service: Some(lane.service.clone()),
                    stage: Some(lane.stage.clone()),
                    ..SliContext::default()
                },
            },
        )
        .map_err(|e| anyhow!("alert rules for {lane}: {e}"))?;
        Ok(rules.yaml)
    }

    /// Store the files for `lane`, as `unbreakable remediation apply` does.
    pub async fn store(&self, configs: &dyn LaneConfigs, lane: &LaneKey) -> anyhow::Result<()> {
        configs
            .put_config(
                lane,
                &LaneConfig {
                    remediation_yaml: Some(self.remediation.clone()),
                    slo_yaml: Some(self.slo.clone()),
                    sli_yaml: Some(self.sli.clone()),
                    provider: Some(SliProviderKind::Prometheus),
                    updated_ms: super::now_ms(),
                    ..LaneConfig::default()
                },
            )
            .await
            .with_context(|| format!("storing the self-healing files of {lane}"))
    }
}

/// The launch template and the Auto Scaling group in moto (MinSize 1, MaxSize
/// [`MAX_SIZE`], desired 1).
pub async fn create_auto_scaling_group(
    moto_endpoint: &str,
    autoscaling: &aws_sdk_autoscaling::Client,
) -> anyhow::Result<()> {
    super::ec2::create_launch_template(moto_endpoint, LAUNCH_TEMPLATE)
        .await
        .map_err(|e| anyhow!("creating the launch template in moto: {e}"))?;
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(AUTO_SCALING_GROUP)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(LAUNCH_TEMPLATE)
                .version("$Latest")
                .build(),
        )
        .min_size(1)
        .max_size(MAX_SIZE)
        .desired_capacity(1)
        .availability_zones("us-east-1a")
        .send()
        .await
        .context("creating the Production Auto Scaling group in moto")?;
    Ok(())
}

/// The group's DesiredCapacity, as moto holds it.
pub async fn desired_capacity(autoscaling: &aws_sdk_autoscaling::Client) -> anyhow::Result<i32> {
    let answer = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(AUTO_SCALING_GROUP)
        .send()
        .await
        .context("DescribeAutoScalingGroups")?;
    answer
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.desired_capacity())
        .ok_or_else(|| anyhow!("moto does not know the group {AUTO_SCALING_GROUP}"))
}

/// The stand-in for EC2 Auto Scaling: instances of the group's last revision, as many as
/// moto's DesiredCapacity says.
pub struct Reconciler {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub fake: Arc<AwsFake>,
    pub application: String,
    /// Instance 0: the host CodeDeploy deploys the group's revisions to.
    pub host: Host,
    /// The ports of instances 1.. (MaxSize − 1 of them).
    pub extra_ports: Vec<u16>,
    /// Where instances 1.. live.
    pub dir: PathBuf,
    pub balancer: Arc<Balancer>,
    pub app_dirs: AppDirs,
    /// Variables every instance gets (PATH, the run marker, the app's settings).
    pub env: Vec<(String, String)>,
    pub progress: ProgressSender,
}

impl Reconciler {
    fn instance_dir(&self, slot: usize) -> PathBuf {
        self.dir.join(format!("instance-{slot}")).join("app")
    }

    /// Reconcile every half second until the task is dropped.
    pub async fn run(self) {
        let mut running: BTreeMap<usize, String> = BTreeMap::new();
        let mut last_desired = None;
        let mut last_error = String::new();
        loop {
            match self.reconcile(&mut running, &mut last_desired).await {
                Ok(()) => last_error.clear(),
                Err(e) => {
                    let text = format!("{e:#}");
                    if text != last_error {
                        self.progress
                            .send(Progress::Setup(format!("Auto Scaling stand-in: {text}")));
                        last_error = text;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn reconcile(
        &self,
        running: &mut BTreeMap<usize, String>,
        last_desired: &mut Option<i32>,
    ) -> anyhow::Result<()> {
        let desired = desired_capacity(&self.autoscaling).await?;
        // The group's last revision: what its last successful deployment installed.
        let last = self
            .fake
            .deployments()
            .into_iter()
            .filter(|d| {
                d.application == self.application
                    && d.group == STAGE
                    && DeploymentStatus::parse(&d.status) == DeploymentStatus::Succeeded
            })
            .max_by(|a, b| a.create_time.total_cmp(&b.create_time));
        if let Some(last) = &last {
            for slot in 1..=self.extra_ports.len() {
                let wanted = (slot as i32) < desired;
                let current = running.get(&slot).cloned();
                if wanted && current.as_deref() != Some(last.id.as_str()) {
                    if current.is_some() {
                        self.stop(slot).await;
                    }
                    self.start(slot, last).await?;
                    running.insert(slot, last.id.clone());
                } else if !wanted && current.is_some() {
                    self.stop(slot).await;
                    running.remove(&slot);
                }
            }
        }
        let mut backends = vec![SocketAddr::from(([127, 0, 0, 1], self.host.app_port))];
        backends.extend(
            running
                .keys()
                .map(|slot| SocketAddr::from(([127, 0, 0, 1], self.extra_ports[slot - 1]))),
        );
        self.balancer.set_backends(backends);
        if *last_desired != Some(desired) {
            if last_desired.is_some() {
                self.progress.send(Progress::Setup(format!(
                    "Auto Scaling group {AUTO_SCALING_GROUP}: desired capacity {desired}, {} instance(s) behind the balancer",
                    running.len() + 1
                )));
            }
            *last_desired = Some(desired);
        }
        Ok(())
    }

    /// Start instance `slot` with the revision `deployment` installed on instance 0, by the
    /// revision's own ApplicationStart script.
    async fn start(
        &self,
        slot: usize,
        deployment: &unbreakable_emulators::aws::fake::Deployment,
    ) -> anyhow::Result<()> {
        let dir = self.instance_dir(slot);
        std::fs::create_dir_all(&dir)?;
        for file in ["sample-app", "build.env"] {
            let from = self.host.app_dir().join(file);
            std::fs::copy(&from, dir.join(file)).with_context(|| {
                format!(
                    "instance {slot}: cannot copy {} of the group's last revision",
                    from.display()
                )
            })?;
        }
        let archive = self
            .host
            .root
            .join("deployment-root")
            .join(&deployment.id)
            .join("deployment-archive");
        let script = archive.join("scripts/start_server.sh");
        let port = self.extra_ports[slot - 1];
        let output = tokio::process::Command::new("bash")
            .arg(&script)
            .current_dir(&archive)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DEPLOYMENT_ID", &deployment.id)
            .env("APPLICATION_NAME", &deployment.application)
            .env("DEPLOYMENT_GROUP_NAME", &deployment.group)
            .env("UNBREAKABLE_APP_DIR", &dir)
            .env("APP_PORT", port.to_string())
            .env("APP_BIND", "127.0.0.1")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .with_context(|| format!("instance {slot}: cannot run {}", script.display()))?;
        if !output.status.success() {
            bail!(
                "instance {slot}: {} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        self.app_dirs.add(dir);
        self.progress.send(Progress::Setup(format!(
            "Auto Scaling stand-in: instance {slot} started on port {port} ({}, deployment {})",
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .unwrap_or("started")
                .split(':')
                .next()
                .unwrap_or_default(),
            deployment.id
        )));
        Ok(())
    }

    async fn stop(&self, slot: usize) {
        let dir = self.instance_dir(slot);
        self.app_dirs.remove(&dir);
        let script = workspace_root().join("appbuilds/bundle/scripts/stop_server.sh");
        let _ = tokio::process::Command::new("bash")
            .arg(&script)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("UNBREAKABLE_APP_DIR", &dir)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        self.progress.send(Progress::Setup(format!(
            "Auto Scaling stand-in: instance {slot} stopped"
        )));
    }
}

/// Prints each new step of the timeline (`GET /RemediationSequences?json=true`) as it
/// appears, in the timeline's own words.
pub async fn print_timeline(url: String, progress: ProgressSender) {
    let http = reqwest::Client::new();
    let mut seen: BTreeSet<(String, u64)> = BTreeSet::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(timeline) = fetch_json(&http, &url).await else {
            continue;
        };
        let problems = timeline["problems"].as_array().cloned().unwrap_or_default();
        // The page is newest first; the lines go oldest first.
        for problem in problems.iter().rev() {
            let id = problem["problemId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for step in problem["steps"].as_array().into_iter().flatten() {
                let number = step["number"].as_u64().unwrap_or_default();
                if seen.insert((id.clone(), number)) {
                    progress.send(Progress::Remediation(timeline_line(problem, step)));
                }
            }
        }
    }
}

/// One step as the timeline shows it: `"<title>" on <service>/<stage>, +<after>: <label> —
/// <why>`.
pub fn timeline_line(problem: &Value, step: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let why = text(&step["why"]);
    format!(
        "\"{}\" on {}/{} +{}: {}{}",
        text(&problem["title"]),
        text(&problem["service"]),
        text(&problem["stage"]),
        text(&step["after"]),
        text(&step["label"]),
        if why.is_empty() {
            String::new()
        } else {
            format!(" — {why}")
        }
    )
}

async fn fetch_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = http.get(url).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// The running self-healing parts, and the handles a scenario turns.
pub struct SelfHealing {
    pub lane: LaneKey,
    pub unleash: UnleashServer,
    pub alertmanager: AlertmanagerServer,
    /// The Bearer secret Alertmanager sends (also in moto's Secrets Manager). Kept for tests
    /// that replay a notification; never printed.
    pub alertmanager_secret: String,
    pub balancer: Arc<Balancer>,
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// The OneAgent stand-in's problem detection (off: Prometheus alone watches the lane).
    pub detection: Arc<AtomicBool>,
    /// `…/RemediationSequences?json=true` on the local gateway.
    pub timeline_url: String,
    /// `…/HandleAlertmanagerAlert` on the local gateway.
    pub alertmanager_webhook_url: String,
    pub marker: String,
    pub http: reqwest::Client,
}

/// Unleash's admin API with the admin token.
async fn unleash_admin(
    http: &reqwest::Client,
    unleash: &UnleashServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http
        .request(method.clone(), format!("{}{path}", unleash.url))
        .header("Authorization", unleash.admin_token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("Unleash {method} {path}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("Unleash {method} {path}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Create the promotion flag (off) through Unleash's admin API.
pub async fn create_promotion_flag(unleash: &UnleashServer) -> anyhow::Result<()> {
    unleash_admin(
        &reqwest::Client::new(),
        unleash,
        reqwest::Method::POST,
        &format!("/api/admin/projects/{UNLEASH_PROJECT}/features"),
        Some(json!({"name": PROMOTION_FLAG, "description": "Keptn's carts promotion: on, every 3rd cart call fails"})),
    )
    .await
    .map(|_| ())
}

/// A load of `load.sh` (the load test's own script) against the balancer; stopped on drop.
pub struct Load {
    child: std::process::Child,
    stop_file: PathBuf,
}

impl Load {
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = std::fs::write(&self.stop_file, "");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stop_file);
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.halt();
    }
}

impl SelfHealing {
    /// DesiredCapacity of the group in moto.
    pub async fn desired_capacity(&self) -> anyhow::Result<i32> {
        desired_capacity(&self.autoscaling).await
    }

    /// Set DesiredCapacity in moto, as an operator scaling in would.
    pub async fn set_desired_capacity(&self, desired: i32) -> anyhow::Result<()> {
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(AUTO_SCALING_GROUP)
            .desired_capacity(desired)
            .send()
            .await
            .context("SetDesiredCapacity")?;
        Ok(())
    }

    /// How many instances the balancer sends traffic to.
    pub fn instances(&self) -> usize {
        self.balancer.backends().len()
    }

    /// Switch the promotion flag in Unleash's production environment.
    pub async fn set_promotion(&self, on: bool) -> anyhow::Result<()> {
        unleash_admin(
            &self.http,
            &self.unleash,
            reqwest::Method::POST,
            &format!(
                "/api/admin/projects/{UNLEASH_PROJECT}/features/{PROMOTION_FLAG}/environments/{UNLEASH_ENVIRONMENT}/{}",
                if on { "on" } else { "off" }
            ),
            None,
        )
        .await
        .map(|_| ())
    }

    /// Whether the promotion flag is on in production, read from Unleash.
    pub async fn promotion_on(&self) -> anyhow::Result<bool> {
        let feature = unleash_admin(
            &self.http,
            &self.unleash,
            reqwest::Method::GET,
            &format!("/api/admin/projects/{UNLEASH_PROJECT}/features/{PROMOTION_FLAG}"),
            None,
        )
        .await?;
        Ok(feature["environments"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["name"] == UNLEASH_ENVIRONMENT && e["enabled"] == true))
    }

    /// The promotion flag's on/off events in Unleash's event log, oldest first:
    /// `(type, createdBy, createdAt)`.
    pub async fn promotion_switches(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let answer = unleash_admin(
            &self.http,
            &self.unleash,
            reqwest::Method::GET,
            &format!("/api/admin/search/events?feature=IS:{PROMOTION_FLAG}&limit=100"),
            None,
        )
        .await?;
        let mut switches: Vec<(String, String, String)> = answer["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                let kind = e["type"].as_str().unwrap_or_default();
                kind == "feature-environment-enabled" || kind == "feature-environment-disabled"
            })
            .map(|e| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (
                    text(&e["type"]),
                    text(&e["createdBy"]),
                    text(&e["createdAt"]),
                )
            })
            .collect();
        switches.sort_by(|a, b| a.2.cmp(&b.2));
        Ok(switches)
    }

    /// Silence the lane's alerts in Alertmanager (while Dynatrace alone watches the lane);
    /// returns the silence's id.
    pub async fn silence_alerts(&self) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now();
        let time = |t: std::time::SystemTime| humantime::format_rfc3339_millis(t).to_string();
        let response = self
            .http
            .post(format!("{}/api/v2/silences", self.alertmanager.url))
            .json(&json!({
                "matchers": [{"name": "service", "value": self.lane.service, "isRegex": false, "isEqual": true}],
                "startsAt": time(now),
                "endsAt": time(now + Duration::from_secs(3600)),
                "createdBy": "unbreakable local",
                "comment": "the OneAgent stand-in watches the lane in this part of the scenario",
            }))
            .send()
            .await
            .context("creating an Alertmanager silence")?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["silenceID"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_string()),
            _ => bail!("Alertmanager refused the silence: HTTP {status}: {body}"),
        }
    }

    pub async fn expire_silence(&self, id: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .delete(format!("{}/api/v2/silence/{id}", self.alertmanager.url))
            .send()
            .await
            .context("expiring an Alertmanager silence")?;
        if !response.status().is_success() {
            bail!(
                "Alertmanager did not expire silence {id}: HTTP {}",
                response.status()
            );
        }
        Ok(())
    }

    /// The OneAgent stand-in's problem detection on or off.
    pub fn set_detection(&self, on: bool) {
        self.detection.store(on, Ordering::SeqCst);
    }

    /// Start `workers` loops of the load test against the balancer, each adding `cart_calls`
    /// `/api/cart` calls to its round.
    pub fn start_load(&self, workers: u32, cart_calls: u32) -> anyhow::Result<Load> {
        let stop_file = std::env::temp_dir().join(format!(
            "unbreakable-load-{}-{}",
            self.marker,
            uuid::Uuid::new_v4().simple()
        ));
        let script = workspace_root().join("appbuilds/loadtest/scripts/load.sh");
        let child = std::process::Command::new("bash")
            .arg(&script)
            .arg(&stop_file)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(super::RUN_MARKER, &self.marker)
            .env("TARGET_URL", self.balancer.url())
            .env("DEPLOYMENT_GROUP_NAME", STAGE)
            .env("LOAD_WORKERS", workers.to_string())
            .env("LOAD_CART_CALLS", cart_calls.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {}", script.display()))?;
        Ok(Load { child, stop_file })
    }

    /// The timeline as the report function serves it.
    pub async fn timeline(&self) -> anyhow::Result<Value> {
        fetch_json(&self.http, &self.timeline_url).await
    }

    /// Wait for the sequence of the problem titled `title` opened at or after `since_ms` to
    /// end; the problem's timeline entry.
    pub async fn wait_for_end(
        &self,
        title: &str,
        since_ms: i64,
        within: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let timeline = self.timeline().await.unwrap_or(Value::Null);
            let found = timeline["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| {
                    p["title"] == title
                        && p["openedMs"].as_i64().unwrap_or_default() >= since_ms
                        && p["phase"] == "ended"
                })
                .cloned();
            if let Some(problem) = found {
                return Ok(problem);
            }
            if Instant::now() > deadline {
                bail!(
                    "no sequence for \"{title}\" ended within {within:?}; the timeline: {timeline:#}"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Wait until the balancer sends traffic to `count` instances.
    pub async fn wait_for_instances(&self, count: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.instances() != count {
            if Instant::now() > deadline {
                bail!(
                    "the balancer has {} instance(s), not {count}, after {within:?}",
                    self.instances()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }
}

/// Every distinct `kind` of the steps of a timeline entry, in order.
pub fn step_kinds(problem: &Value) -> Vec<String> {
    problem["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// What `unbreakable local --scenario self-healing` shows after its build is in Production:
/// a saturating load healed by one more instance, then the promotion flag's failures healed
/// by switching it off. Each part waits for its sequence to end and prints how it ended.
pub async fn demonstrate(healing: &SelfHealing, progress: &ProgressSender) -> anyhow::Result<()> {
    let say = |text: String| progress.send(Progress::Setup(text));
    // The OneAgent stand-in watches the lane here; the alert rules stay quiet meanwhile.
    let silence = healing.silence_alerts().await?;
    say("self-healing 1/2: a saturating load on Production (one instance, 2 request slots)".into());
    let since = super::now_ms();
    let load = healing.start_load(SATURATING_WORKERS, 0)?;
    let ended = healing
        .wait_for_end("Response time degradation", since, Duration::from_secs(240))
        .await;
    load.stop();
    let ended = ended?;
    say(format!(
        "self-healing 1/2 ended {}: desired capacity {}",
        ended["end"].as_str().unwrap_or("?"),
        healing.desired_capacity().await?
    ));
    say("self-healing 2/2: EnablePromotion on in Unleash, cart calls in the load".into());
    let since = super::now_ms();
    healing.set_promotion(true).await?;
    let load = healing.start_load(1, CART_CALLS)?;
    let ended = healing
        .wait_for_end("Failure rate increase", since, Duration::from_secs(240))
        .await;
    load.stop();
    let ended = ended?;
    say(format!(
        "self-healing 2/2 ended {}: EnablePromotion is {} in Unleash",
        ended["end"].as_str().unwrap_or("?"),
        if healing.promotion_on().await? {
            "on"
        } else {
            "off"
        }
    ));
    healing.expire_silence(&silence).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane() -> LaneKey {
        LaneKey {
            service: "unbreakable-local-SampleDevOpsApp".into(),
            stage: STAGE.into(),
        }
    }

    #[test]
    fn the_example_files_read_and_make_one_rule_per_objective() {
        let files = LaneFiles::read(&default_dir()).unwrap();
        let rules = files.alert_rules(&lane()).unwrap();
        for alert in ["alert: \"response_time\"", "alert: \"error_rate\""] {
            assert!(rules.contains(alert), "{rules}");
        }
        assert!(
            rules.contains(r#"job=\"unbreakable-local-SampleDevOpsApp-Production\""#),
            "{rules}"
        );
    }

    #[test]
    fn a_missing_or_broken_file_is_named_with_the_folder() {
        let dir =
            std::env::temp_dir().join(format!("unbreakable-lane-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = LaneFiles::read(&dir).unwrap_err().to_string();
        assert_eq!(
            missing,
            format!(
                "cannot read {0}/remediation.yaml (the self-healing scenario stores remediation.yaml, slo.yaml and sli.yaml from {0})",
                dir.display()
            )
        );
        for name in ["remediation.yaml", "slo.yaml", "sli.yaml"] {
            std::fs::copy(default_dir().join(name), dir.join(name)).unwrap();
        }
        std::fs::write(
            dir.join("remediation.yaml"),
            "remediations:\n- name: Response time degradation\n  actions:\n  - action: scaling\n    value: 0\n",
        )
        .unwrap();
        let broken = format!("{:#}", LaneFiles::read(&dir).unwrap_err());
        assert!(
            broken.contains(&format!("{}/remediation.yaml", dir.display())),
            "{broken}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_timeline_step_reads_as_one_line() {
        let problem =
            json!({"title": "Response time degradation", "service": "app", "stage": "Production"});
        let step = json!({"after": "3s", "label": "Action 1 finished", "why": "desired 1 → 2"});
        assert_eq!(
            timeline_line(&problem, &step),
            "\"Response time degradation\" on app/Production +3s: Action 1 finished — desired 1 → 2"
        );
        let bare = json!({"after": "0s", "label": "Problem opened", "why": ""});
        assert_eq!(
            timeline_line(&problem, &bare),
            "\"Response time degradation\" on app/Production +0s: Problem opened"
        );
    }
}
