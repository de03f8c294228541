//! Monitoring of the local hosts, as OneAgent and Dynatrace would do it:
//!
//! - every app process found in a watched app directory is an entity: its service is named
//!   by its process group (`DT_CLUSTER_ID`) and tagged from `DT_TAGS`, read from the process's
//!   environment (`/proc/<pid>/environ`), as OneAgent and the tutorial's tagging rule do.
//!   Several instances of one process group (an Auto Scaling group behind a balancer) are one
//!   service running on several process instances;
//! - each second every instance's `/metrics` are scraped and its new requests (count,
//!   failures, response time) are fed to the Dynatrace simulator, for the service and for the
//!   `/api/invoke` service method; the simulator sums the instances of a service;
//! - fixed-threshold problem detection per service, over all its instances (Keptn's first
//!   seed; the pure rules are in [`detector`](super::detector)): the mean response time
//!   above the rule's threshold for N consecutive intervals opens a "Response time
//!   degradation"; the failure rate above its threshold for N intervals a "Failure rate
//!   increase". Each calls the custom-integration webhook with the shared secret and the
//!   bare title in `ProblemTitle`; N intervals below the threshold close the problem and
//!   call the webhook again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::progress::{Progress, ProgressSender};
use unbreakable_shared::ports::monitoring::ProblemStatus;
// The detection is pure and lives in its own module; its types keep their paths here.
pub use super::detector::{
    Detector, FailureRateRule, IntervalStats, ProblemKind, ProblemRule, Transition,
};
use unbreakable_emulators::dynatrace::model::{EntityDef, TagDef, World};

/// The service method the monspec checks, measured on its own.
const KEY_REQUEST: &str = "/api/invoke";

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret_header: String,
    pub secret: String,
}

/// The app directories the agent looks into for `app.pid`, one per instance. Shared, so
/// instances can come and go while the agent runs.
#[derive(Debug, Clone, Default)]
pub struct AppDirs(Arc<Mutex<Vec<PathBuf>>>);

impl AppDirs {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        AppDirs(Arc::new(Mutex::new(dirs)))
    }

    pub fn add(&self, dir: PathBuf) {
        let mut dirs = self.0.lock().expect("app dirs");
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }

    pub fn remove(&self, dir: &Path) {
        self.0.lock().expect("app dirs").retain(|d| d != dir);
    }

    pub fn list(&self) -> Vec<PathBuf> {
        self.0.lock().expect("app dirs").clone()
    }
}

/// Counters of one process at the last scrape.
#[derive(Debug, Clone, Default)]
struct Scrape {
    /// path → (requests, failed, response time sum in s)
    by_path: BTreeMap<String, (f64, f64, f64)>,
}

/// One app process, by the app directory it runs from.
#[derive(Debug, Default)]
struct Instance {
    pid: u32,
    service: String,
    last: Scrape,
}

/// One service: its instances' requests in the current interval, its detection, its
/// open problems (problem id, display id) and the process instances it runs on.
#[derive(Debug, Default)]
struct ServiceWatch {
    interval: IntervalStats,
    detector: Detector,
    problems: BTreeMap<ProblemKind, (String, String)>,
    processes: BTreeSet<String>,
}

pub struct OneAgent {
    pub world: Arc<Mutex<World>>,
    /// The app directories of the hosts (where `app.pid` is).
    pub app_dirs: AppDirs,
    pub rule: ProblemRule,
    pub failure_rate: FailureRateRule,
    pub webhook: Webhook,
    pub progress: ProgressSender,
    pub http: reqwest::Client,
    /// Problem detection on (default) or off: a scenario that watches a service with
    /// Prometheus alone turns it off. Measurements go on either way.
    pub detection: Arc<std::sync::atomic::AtomicBool>,
    instances: HashMap<PathBuf, Instance>,
    services: BTreeMap<String, ServiceWatch>,
    problem_counter: u32,
}

fn entity_id(kind: &str, name: &str) -> String {
    // FNV-1a: a stable id per name, as Dynatrace keeps an entity's id across restarts.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{kind}-{hash:016X}")
}

/// `KEY=value` pairs of a process's environment.
fn process_environment(pid: u32) -> Option<HashMap<String, String>> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter_map(|kv| {
                let text = String::from_utf8_lossy(kv);
                let (k, v) = text.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
    )
}

/// `DT_TAGS="key=value key2=value2"` as OneAgent reads it.
fn tags_of(dt_tags: &str) -> Vec<TagDef> {
    dt_tags
        .split_whitespace()
        .map(|kv| {
            let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
            TagDef {
                context: "CONTEXTLESS".into(),
                key: key.to_string(),
                value: (!value.is_empty()).then(|| value.to_string()),
            }
        })
        .collect()
}

/// The request counters of a Prometheus text page, by path (the scrape itself excluded).
fn parse_metrics(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let label = |name: &str| -> Option<String> {
            let start = series.find(&format!("{name}=\""))? + name.len() + 2;
            let end = series[start..].find('"')? + start;
            Some(series[start..end].to_string())
        };
        let Some(path) = label("path").filter(|p| p != "/metrics") else {
            continue;
        };
        let entry = scrape.by_path.entry(path).or_default();
        if series.starts_with("http_requests_total{") {
            let status: u16 = label("status").and_then(|s| s.parse().ok()).unwrap_or(0);
            if status >= 500 {
                entry.1 += value;
            }
        } else if series.starts_with("http_request_duration_seconds_count{") {
            entry.0 += value;
        } else if series.starts_with("http_request_duration_seconds_sum{") {
            entry.2 += value;
        }
    }
    scrape
}

/// The requests between two scrapes of one process, for `path` or (None) all paths.
fn delta(before: &Scrape, now: &Scrape, path: Option<&str>) -> IntervalStats {
    let mut d = IntervalStats::default();
    for (p, n) in &now.by_path {
        if path.is_some_and(|x| x != p) {
            continue;
        }
        let b = before.by_path.get(p).cloned().unwrap_or_default();
        d.requests += (n.0 - b.0).max(0.0);
        d.failed += (n.1 - b.1).max(0.0);
        d.response_time_sum_us += (n.2 - b.2).max(0.0) * 1e6;
    }
    d
}

impl OneAgent {
    pub fn new(
        world: Arc<Mutex<World>>,
        app_dirs: Vec<PathBuf>,
        rule: ProblemRule,
        webhook: Webhook,
        progress: ProgressSender,
    ) -> Self {
        OneAgent {
            world,
            app_dirs: AppDirs::new(app_dirs),
            rule,
            failure_rate: FailureRateRule::default(),
            webhook,
            progress,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
            detection: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            instances: HashMap::new(),
            services: BTreeMap::new(),
            problem_counter: 0,
        }
    }

    pub fn with_failure_rate(mut self, rule: FailureRateRule) -> Self {
        self.failure_rate = rule;
        self
    }

    /// Scrape every second until the task is dropped.
    pub async fn run(mut self) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let per_interval = (self.rule.interval.as_secs_f64().max(1.0)) as u64;
        let mut tick: u64 = 0;
        loop {
            ticker.tick().await;
            tick += 1;
            for dir in self.app_dirs.list() {
                self.observe(&dir).await;
            }
            if tick.is_multiple_of(per_interval) {
                self.detect_problems().await;
            }
        }
    }

    async fn observe(&mut self, dir: &Path) {
        let Some(pid) = std::fs::read_to_string(dir.join("app.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            return;
        };
        let Some(env) = process_environment(pid) else {
            return;
        };
        let (true, Some(port)) = (env.contains_key("DT_CLUSTER_ID"), env.get("PORT")) else {
            return;
        };
        let Ok(page) = async {
            self.http
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await?
                .text()
                .await
        }
        .await
        else {
            return;
        };
        self.record(dir, pid, &env, parse_metrics(&page), super::now_ms());
    }

    /// Take one scrape of the process `pid` running from `dir`: its new requests count for
    /// its service (with those of the service's other instances) and go to the simulator.
    fn record(
        &mut self,
        dir: &Path,
        pid: u32,
        env: &HashMap<String, String>,
        scrape: Scrape,
        now: i64,
    ) {
        let Some(cluster) = env.get("DT_CLUSTER_ID") else {
            return;
        };
        let service = entity_id("SERVICE", cluster);
        let method = entity_id("SERVICE_METHOD", &format!("{cluster}{KEY_REQUEST}"));
        let known = self
            .instances
            .get(dir)
            .is_some_and(|i| i.pid == pid && i.service == service);
        if !known {
            // A new process counts from zero.
            self.instances.insert(
                dir.to_path_buf(),
                Instance {
                    pid,
                    service: service.clone(),
                    last: Scrape::default(),
                },
            );
            self.register_entities(dir, cluster, env, &service, &method);
        }
        let instance = self.instances.get_mut(dir).expect("instance");
        let all = delta(&instance.last, &scrape, None);
        let invoke = delta(&instance.last, &scrape, Some(KEY_REQUEST));
        instance.last = scrape;
        self.services
            .entry(service.clone())
            .or_default()
            .interval
            .add(all);
        let mut world = self.world.lock().expect("world");
        world.ingest_requests(
            &service,
            now,
            all.requests,
            all.failed,
            all.response_time_sum_us,
        );
        world.ingest_requests(
            &method,
            now,
            invoke.requests,
            invoke.failed,
            invoke.response_time_sum_us,
        );
    }

    fn register_entities(
        &mut self,
        dir: &Path,
        cluster: &str,
        env: &HashMap<String, String>,
        service: &str,
        method: &str,
    ) {
        let tags = tags_of(env.get("DT_TAGS").map(String::as_str).unwrap_or_default());
        // One process instance per app directory (a host, or an instance of a group): the
        // same host keeps its id across deployments, as in Dynatrace.
        let process = entity_id(
            "PROCESS_GROUP_INSTANCE",
            &format!("{cluster}@{}", dir.display()),
        );
        let watch = self.services.entry(service.to_string()).or_default();
        watch.processes.insert(process.clone());
        let processes: Vec<String> = watch.processes.iter().cloned().collect();
        let mut world = self.world.lock().expect("world");
        world.upsert_entity(EntityDef {
            entity_id: process.clone(),
            display_name: format!("sample-app ({cluster})"),
            entity_type: "PROCESS_GROUP_INSTANCE".into(),
            tags: tags.clone(),
            from_relationships: BTreeMap::new(),
            to_relationships: BTreeMap::new(),
        });
        // `/api/invoke` calls the app's own `/api/echo` (the sample app's default downstream),
        // so the service calls itself.
        world.upsert_entity(EntityDef {
            entity_id: service.to_string(),
            display_name: "SampleNodeJsService".into(),
            entity_type: "SERVICE".into(),
            tags,
            from_relationships: BTreeMap::from([
                ("runsOn".to_string(), processes),
                ("calls".to_string(), vec![service.to_string()]),
            ]),
            to_relationships: BTreeMap::from([("calls".to_string(), vec![service.to_string()])]),
        });
        world.upsert_entity(EntityDef {
            entity_id: method.to_string(),
            display_name: KEY_REQUEST.into(),
            entity_type: "SERVICE_METHOD".into(),
            tags: vec![],
            from_relationships: BTreeMap::from([(
                "isServiceMethodOfService".to_string(),
                vec![service.to_string()],
            )]),
            to_relationships: BTreeMap::new(),
        });
    }

    fn watched(&self, service: &str) -> bool {
        let world = self.world.lock().expect("world");
        world.entity(service).is_some_and(|e| {
            e.tags.iter().any(|t| {
                t.key == self.rule.tag.0 && t.value.as_deref() == Some(self.rule.tag.1.as_str())
            })
        })
    }

    /// Close the interval of every service: detect, open and close problems, notify.
    async fn detect_problems(&mut self) {
        let services: Vec<String> = self.services.keys().cloned().collect();
        for service in services {
            let watched = self.watched(&service);
            let watch = self.services.get_mut(&service).expect("watch");
            let stats = std::mem::take(&mut watch.interval);
            if !watched || !self.detection.load(std::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            for transition in watch
                .detector
                .interval(stats, &self.rule, &self.failure_rate)
            {
                match transition {
                    Transition::Open { kind, details } => {
                        self.problem_counter += 1;
                        let number = self.problem_counter;
                        let (pid, display) = self.open_problem(&service, number, kind, &details);
                        self.services
                            .get_mut(&service)
                            .expect("watch")
                            .problems
                            .insert(kind, (pid.clone(), display.clone()));
                        self.notify(
                            &service,
                            &pid,
                            &display,
                            kind,
                            &details,
                            ProblemStatus::Open,
                        )
                        .await;
                    }
                    Transition::Close { kind, details } => {
                        let Some((pid, display)) = self
                            .services
                            .get_mut(&service)
                            .expect("watch")
                            .problems
                            .remove(&kind)
                        else {
                            continue;
                        };
                        self.close_problem(&pid);
                        self.progress.send(Progress::ProblemClosed {
                            problem_id: pid.clone(),
                            display_id: display.clone(),
                        });
                        self.notify(
                            &service,
                            &pid,
                            &display,
                            kind,
                            &details,
                            ProblemStatus::Resolved,
                        )
                        .await;
                    }
                }
            }
        }
    }

    fn open_problem(
        &self,
        service: &str,
        number: u32,
        kind: ProblemKind,
        details: &str,
    ) -> (String, String) {
        let now = super::now_ms();
        let pid = format!("{}_{}V2", 7_000_000_000_000_000_000u64 + number as u64, now);
        let display = format!("P-{}", 26_110 + number);
        let title = kind.title();
        let mut world = self.world.lock().expect("world");
        let name = world
            .entity(service)
            .map(|e| e.display_name.clone())
            .unwrap_or_default();
        let entity = json!({"entityId": {"id": service, "type": "SERVICE"}, "name": name});
        world.problems.push(json!({
            "problemId": pid, "displayId": display, "title": title,
            "impactLevel": "SERVICES", "severityLevel": kind.severity(), "status": ProblemStatus::Open.as_str(),
            "startTime": now, "endTime": -1,
            "impactedEntities": [entity], "affectedEntities": [entity], "rootCauseEntity": entity,
            "managementZones": [], "entityTags": [], "problemFilters": [],
            "evidenceDetails": {"totalCount": 1, "details": [{
                "evidenceType": "METRIC", "displayName": details, "entity": entity,
                "rootCauseRelevant": true, "startTime": now,
            }]},
        }));
        drop(world);
        self.progress.send(Progress::ProblemOpened {
            problem_id: pid.clone(),
            display_id: display.clone(),
            title: format!("{title} ({details})"),
            entity: format!("{name} ({service})"),
        });
        (pid, display)
    }

    fn close_problem(&self, pid: &str) {
        let mut world = self.world.lock().expect("world");
        if let Some(p) = world.problems.iter_mut().find(|p| p["problemId"] == pid) {
            p["status"] = json!(ProblemStatus::Closed.as_str());
            p["endTime"] = json!(super::now_ms());
        }
    }

    /// The custom integration's default payload plus `ProblemTitle` (the bare title the
    /// remediation matches) and `ProblemDetailsText`, with the shared secret header.
    async fn notify(
        &self,
        service: &str,
        pid: &str,
        display: &str,
        kind: ProblemKind,
        details: &str,
        state: ProblemStatus,
    ) {
        let name = {
            let world = self.world.lock().expect("world");
            world
                .entity(service)
                .map(|e| e.display_name.clone())
                .unwrap_or_default()
        };
        let title = kind.title();
        let payload = json!({
            "State": state.as_str(), "PID": pid, "ProblemID": display, "ProblemTitle": title,
            "ProblemDetailsText": details,
            "ProblemImpact": "SERVICE", "ProblemSeverity": kind.severity(),
            "ProblemURL": format!("local://problems/{pid}"),
            "ImpactedEntity": format!("{title} on Web service {name}"),
            "ImpactedEntities": [{"type": "SERVICE", "name": name, "entity": service}],
            "Tags": format!("{}:{}", self.rule.tag.0, self.rule.tag.1),
        });
        let answer = match self
            .http
            .post(&self.webhook.url)
            .header(&self.webhook.secret_header, &self.webhook.secret)
            .timeout(Duration::from_secs(60))
            .json(&payload)
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                format!("{} {}", status.as_u16(), summarize_answer(&body))
            }
            Err(e) => format!("not delivered: {e}"),
        };
        self.progress.send(Progress::ProblemNotified {
            display_id: display.to_string(),
            state: state.to_string(),
            answer,
        });
    }
}

/// The problem function's JSON answer in a few words.
fn summarize_answer(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(120).collect();
    };
    if let Some(error) = v["error"].as_str() {
        return error.to_string();
    }
    let actions: Vec<String> = v["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {} ({})",
                a["action"].as_str().unwrap_or("?"),
                a["deploymentId"].as_str().unwrap_or(""),
                a["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut text = if actions.is_empty() {
        v["note"].as_str().unwrap_or("no action").to_string()
    } else {
        actions.join(", ")
    };
    if v["comment"] == true {
        text.push_str("; commented on the problem");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(intervals: u32) -> ProblemRule {
        ProblemRule {
            tag: ("DeploymentGroup".into(), "Production".into()),
            threshold_ms: 450.0,
            interval: Duration::from_secs(5),
            intervals,
        }
    }

    /// A `/metrics` page with `requests` `/api/invoke` calls, `failed` of them 500, taking
    /// `seconds` in all.
    fn page(requests: u32, failed: u32, seconds: f64) -> Scrape {
        parse_metrics(&format!(
            "http_requests_total{{path=\"/api/invoke\",status=\"200\"}} {}\n\
             http_requests_total{{path=\"/api/invoke\",status=\"500\"}} {failed}\n\
             http_request_duration_seconds_sum{{path=\"/api/invoke\"}} {seconds}\n\
             http_request_duration_seconds_count{{path=\"/api/invoke\"}} {requests}\n",
            requests - failed
        ))
    }

    fn production_env(cluster: &str) -> HashMap<String, String> {
        HashMap::from([
            ("DT_CLUSTER_ID".to_string(), cluster.to_string()),
            (
                "DT_TAGS".to_string(),
                "APPLICATION_NAME=SampleDevOpsApp DeploymentGroup=Production".to_string(),
            ),
            ("PORT".to_string(), "1".to_string()),
        ])
    }

    /// A webhook receiver: every payload it got.
    async fn webhook() -> (Webhook, Arc<Mutex<Vec<Value>>>) {
        let got = Arc::new(Mutex::new(vec![]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/HandleDynatraceProblem",
            listener.local_addr().unwrap()
        );
        let router = axum::Router::new().route(
            "/HandleDynatraceProblem",
            axum::routing::post({
                let got = got.clone();
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                    assert_eq!(headers["x-secret"], "s3cret");
                    got.lock().unwrap().push(body);
                    axum::Json(json!({"note": "recorded"}))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let hook = Webhook {
            url,
            secret_header: "x-secret".into(),
            secret: "s3cret".into(),
        };
        (hook, got)
    }

    async fn agent(intervals: u32) -> (OneAgent, Arc<Mutex<Vec<Value>>>) {
        let (hook, got) = webhook().await;
        let world = Arc::new(Mutex::new(World::default()));
        let agent = OneAgent::new(
            world,
            vec![],
            rule(intervals),
            hook,
            ProgressSender::new(true),
        );
        (agent, got)
    }

    #[tokio::test]
    async fn instances_of_one_process_group_are_one_service_measured_together() {
        let (mut agent, got) = agent(1).await;
        let cluster = "Production SampleDevOpsApp";
        let (a, b) = (Path::new("/hosts/i-1/app"), Path::new("/hosts/i-2/app"));
        let env = production_env(cluster);
        agent.record(a, 101, &env, page(0, 0, 0.0), 1_000);
        agent.record(b, 202, &env, page(0, 0, 0.0), 1_000);
        // Instance a: 10 calls of 800 ms; b: 30 of 200 ms. Together: 350 ms, below 450.
        agent.record(a, 101, &env, page(10, 0, 8.0), 2_000);
        agent.record(b, 202, &env, page(30, 0, 6.0), 2_000);
        let service = entity_id("SERVICE", cluster);
        assert_eq!(agent.services.len(), 1);
        let interval = agent.services[&service].interval;
        assert_eq!((interval.requests, interval.mean_ms()), (40.0, 350.0));
        {
            let world = agent.world.lock().unwrap();
            let entity = world.entity(&service).unwrap();
            assert_eq!(entity.from_relationships["runsOn"].len(), 2, "{entity:?}");
            let bucket = world.live_requests[&(service.clone(), 2_000)];
            assert_eq!(bucket.count, 40.0);
        }
        agent.detect_problems().await;
        assert!(
            got.lock().unwrap().is_empty(),
            "350 ms over both instances is fine"
        );

        // A restarted instance (new pid) counts from zero, not from the old process's totals.
        agent.record(a, 103, &env, page(4, 0, 4.0), 3_000);
        agent.record(b, 202, &env, page(32, 0, 8.0), 3_000);
        let interval = agent.services[&service].interval;
        assert_eq!((interval.requests, interval.mean_ms()), (6.0, 1000.0));
    }

    #[tokio::test]
    async fn problems_reach_the_webhook_with_their_bare_titles() {
        let (mut agent, got) = agent(1).await;
        let cluster = "Production SampleDevOpsApp";
        let dir = Path::new("/hosts/i-1/app");
        let env = production_env(cluster);
        agent.record(dir, 7, &env, page(0, 0, 0.0), 0);
        // 10 calls, 2 failed, 600 ms each: slow and failing.
        agent.record(dir, 7, &env, page(10, 2, 6.0), 1_000);
        agent.detect_problems().await;
        // Then 10 fast, healthy calls.
        agent.record(dir, 7, &env, page(20, 2, 8.0), 2_000);
        agent.detect_problems().await;

        let got = got.lock().unwrap().clone();
        let summary: Vec<(String, String, String)> = got
            .iter()
            .map(|p| {
                (
                    p["State"].as_str().unwrap().to_string(),
                    p["ProblemTitle"].as_str().unwrap().to_string(),
                    p["ProblemSeverity"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            summary,
            vec![
                s("OPEN", "Response time degradation", "PERFORMANCE"),
                s("OPEN", "Failure rate increase", "ERROR"),
                s("RESOLVED", "Response time degradation", "PERFORMANCE"),
                s("RESOLVED", "Failure rate increase", "ERROR"),
            ]
        );
        assert_eq!(
            got[1]["ProblemDetailsText"],
            "failure rate 20.0 % > 5 % for 1 intervals of 5 s"
        );
        assert_eq!(
            got[0]["ImpactedEntity"],
            "Response time degradation on Web service SampleNodeJsService"
        );
        assert_eq!(got[0]["PID"], got[2]["PID"], "the same problem resolves");
        let world = agent.world.lock().unwrap();
        let titles: Vec<(&str, &str)> = world
            .problems
            .iter()
            .map(|p| (p["title"].as_str().unwrap(), p["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            titles,
            vec![
                ("Response time degradation", "CLOSED"),
                ("Failure rate increase", "CLOSED")
            ]
        );
    }

    #[tokio::test]
    async fn services_without_the_rules_tag_are_not_watched() {
        let (mut agent, got) = agent(1).await;
        let mut env = production_env("Staging SampleDevOpsApp");
        env.insert("DT_TAGS".into(), "DeploymentGroup=Staging".into());
        let dir = Path::new("/hosts/staging/app");
        agent.record(dir, 9, &env, page(0, 0, 0.0), 0);
        agent.record(dir, 9, &env, page(10, 5, 9.0), 1_000);
        agent.detect_problems().await;
        assert!(got.lock().unwrap().is_empty());
        assert!(agent.world.lock().unwrap().problems.is_empty());
    }

    #[test]
    fn app_dirs_change_while_the_agent_runs() {
        let dirs = AppDirs::new(vec![PathBuf::from("/a")]);
        let handle = dirs.clone();
        handle.add(PathBuf::from("/b"));
        handle.add(PathBuf::from("/b"));
        assert_eq!(dirs.list(), vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        handle.remove(Path::new("/a"));
        assert_eq!(dirs.list(), vec![PathBuf::from("/b")]);
    }

    #[test]
    fn reads_the_sample_apps_metrics_page() {
        let page = "# TYPE http_requests_total counter\nhttp_requests_total{path=\"/api/invoke\",status=\"200\"} 3\nhttp_requests_total{path=\"/api/invoke\",status=\"500\"} 2\nhttp_requests_total{path=\"/metrics\",status=\"200\"} 9\nhttp_request_duration_seconds_bucket{path=\"/api/invoke\",le=\"0.5\"} 1\nhttp_request_duration_seconds_sum{path=\"/api/invoke\"} 2.5\nhttp_request_duration_seconds_count{path=\"/api/invoke\"} 5\nhttp_request_duration_seconds_count{path=\"/metrics\"} 9\n";
        let s = parse_metrics(page);
        assert_eq!(s.by_path.len(), 1, "the scrape itself is not traffic");
        assert_eq!(s.by_path["/api/invoke"], (5.0, 2.0, 2.5));
    }

    #[test]
    fn tags_come_from_dt_tags() {
        let tags = tags_of("APPLICATION_NAME= DeploymentGroup=Production");
        assert_eq!(
            tags[1].string_representation(),
            "DeploymentGroup:Production"
        );
        assert_eq!(tags[0].value, None);
        assert_eq!(entity_id("SERVICE", "a"), entity_id("SERVICE", "a"));
        assert_ne!(entity_id("SERVICE", "a"), entity_id("SERVICE", "b"));
    }
}
