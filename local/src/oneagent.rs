//! Monitoring of the local hosts, as OneAgent and Dynatrace would do it:
//!
//! - every app process found on a host is an entity: its service is named by its process
//!   group (`DT_CLUSTER_ID`) and tagged from `DT_TAGS`, read from the process's environment
//!   (`/proc/<pid>/environ`), as OneAgent and the tutorial's tagging rule do;
//! - each second its `/metrics` are scraped and the new requests (count, failures, response
//!   time) are fed to the Dynatrace simulator, for the service and for the `/api/invoke`
//!   service method;
//! - fixed-threshold problem detection (Keptn's first seed): the mean response time of a
//!   service with the rule's tag above the threshold for N consecutive intervals opens a
//!   problem and calls the custom-integration webhook with the shared secret; N intervals
//!   below it close the problem and call the webhook again.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::progress::{Progress, ProgressSender};
use unbreakable_emulators::dynatrace::model::{EntityDef, TagDef, World};

/// The service method the monspec checks, measured on its own.
const KEY_REQUEST: &str = "/api/invoke";

#[derive(Debug, Clone)]
pub struct ProblemRule {
    /// Only services with this tag (`key:value`) are watched, like a tag-filtered alerting rule.
    pub tag: (String, String),
    pub threshold_ms: f64,
    pub interval: Duration,
    /// Consecutive intervals above the threshold that open a problem (and below it that close it).
    pub intervals: u32,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret_header: String,
    pub secret: String,
}

/// Counters of one process at the last scrape.
#[derive(Debug, Clone, Default)]
struct Scrape {
    /// path → (requests, failed, response time sum in s)
    by_path: BTreeMap<String, (f64, f64, f64)>,
}

#[derive(Debug, Default)]
struct Watch {
    pid: u32,
    last: Scrape,
    /// The current interval: (requests, response time sum in µs).
    interval: (f64, f64),
    above: u32,
    below: u32,
    problem: Option<(String, String)>,
}

pub struct OneAgent {
    pub world: Arc<Mutex<World>>,
    /// The app directories of the hosts (where `app.pid` is).
    pub app_dirs: Vec<PathBuf>,
    pub rule: ProblemRule,
    pub webhook: Webhook,
    pub progress: ProgressSender,
    pub http: reqwest::Client,
    watches: HashMap<String, Watch>,
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
            app_dirs,
            rule,
            webhook,
            progress,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
            watches: HashMap::new(),
            problem_counter: 0,
        }
    }

    /// Scrape every second until the task is dropped.
    pub async fn run(mut self) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let per_interval = (self.rule.interval.as_secs_f64().max(1.0)) as u64;
        let mut tick: u64 = 0;
        loop {
            ticker.tick().await;
            tick += 1;
            for dir in self.app_dirs.clone() {
                self.observe(&dir).await;
            }
            if tick.is_multiple_of(per_interval) {
                self.detect_problems().await;
            }
        }
    }

    async fn observe(&mut self, dir: &std::path::Path) {
        let Some(pid) = std::fs::read_to_string(dir.join("app.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            return;
        };
        let Some(env) = process_environment(pid) else {
            return;
        };
        let (Some(cluster), Some(port)) = (env.get("DT_CLUSTER_ID"), env.get("PORT")) else {
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
        let scrape = parse_metrics(&page);
        let service = entity_id("SERVICE", cluster);
        let method = entity_id("SERVICE_METHOD", &format!("{cluster}{KEY_REQUEST}"));
        let now = super::now_ms();
        let new_process = self.watches.get(&service).map(|w| w.pid) != Some(pid);
        if new_process {
            self.register_entities(cluster, &env, &service, &method);
        }
        let watch = self.watches.entry(service.clone()).or_default();
        if new_process {
            // A new process counts from zero.
            watch.pid = pid;
            watch.last = Scrape::default();
        }
        let delta = |path: Option<&str>| -> (f64, f64, f64) {
            let mut d = (0.0, 0.0, 0.0);
            for (p, now) in &scrape.by_path {
                if path.is_some_and(|x| x != p) {
                    continue;
                }
                let before = watch.last.by_path.get(p).cloned().unwrap_or_default();
                d.0 += (now.0 - before.0).max(0.0);
                d.1 += (now.1 - before.1).max(0.0);
                d.2 += (now.2 - before.2).max(0.0);
            }
            d
        };
        let all = delta(None);
        let invoke = delta(Some(KEY_REQUEST));
        watch.last = scrape;
        watch.interval.0 += all.0;
        watch.interval.1 += all.2 * 1e6;
        let mut world = self.world.lock().expect("world");
        world.ingest_requests(&service, now, all.0, all.1, all.2 * 1e6);
        world.ingest_requests(&method, now, invoke.0, invoke.1, invoke.2 * 1e6);
    }

    fn register_entities(
        &self,
        cluster: &str,
        env: &HashMap<String, String>,
        service: &str,
        method: &str,
    ) {
        let tags = tags_of(env.get("DT_TAGS").map(String::as_str).unwrap_or_default());
        let process = entity_id("PROCESS_GROUP_INSTANCE", cluster);
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
                ("runsOn".to_string(), vec![process]),
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

    async fn detect_problems(&mut self) {
        let services: Vec<String> = self.watches.keys().cloned().collect();
        for service in services {
            let watched = self.watched(&service);
            let watch = self.watches.get_mut(&service).expect("watch");
            let (count, sum_us) = std::mem::take(&mut watch.interval);
            if !watched || count == 0.0 {
                continue; // no traffic: neither healthy nor degraded
            }
            let mean_ms = sum_us / count / 1000.0;
            if mean_ms > self.rule.threshold_ms {
                watch.above += 1;
                watch.below = 0;
            } else {
                watch.below += 1;
                watch.above = 0;
            }
            let open = watch.problem.is_none() && watch.above >= self.rule.intervals;
            let close = watch.problem.is_some() && watch.below >= self.rule.intervals;
            if open {
                self.problem_counter += 1;
                let number = self.problem_counter;
                let opened = self.open_problem(&service, number, mean_ms);
                self.watches.get_mut(&service).expect("watch").problem = Some(opened.clone());
                self.notify(&service, &opened.0, &opened.1, "OPEN").await;
            } else if close {
                let (pid, display) = watch.problem.take().expect("problem");
                self.close_problem(&pid);
                self.progress.send(Progress::ProblemClosed {
                    problem_id: pid.clone(),
                    display_id: display.clone(),
                });
                self.notify(&service, &pid, &display, "RESOLVED").await;
            }
        }
    }

    fn open_problem(&self, service: &str, number: u32, mean_ms: f64) -> (String, String) {
        let now = super::now_ms();
        let pid = format!("{}_{}V2", 7_000_000_000_000_000_000u64 + number as u64, now);
        let display = format!("P-{}", 26_110 + number);
        let title = format!(
            "Response time degradation ({mean_ms:.0} ms > {:.0} ms for {} intervals of {} s)",
            self.rule.threshold_ms,
            self.rule.intervals,
            self.rule.interval.as_secs()
        );
        let mut world = self.world.lock().expect("world");
        let name = world
            .entity(service)
            .map(|e| e.display_name.clone())
            .unwrap_or_default();
        world.problems.push(json!({
            "problemId": pid, "displayId": display, "title": title,
            "impactLevel": "SERVICES", "severityLevel": "PERFORMANCE", "status": "OPEN",
            "startTime": now, "endTime": -1,
            "impactedEntities": [{"entityId": {"id": service, "type": "SERVICE"}, "name": name}],
            "affectedEntities": [{"entityId": {"id": service, "type": "SERVICE"}, "name": name}],
            "rootCauseEntity": {"entityId": {"id": service, "type": "SERVICE"}, "name": name},
            "managementZones": [], "entityTags": [], "problemFilters": [], "evidenceDetails": {"totalCount": 0, "details": []},
        }));
        drop(world);
        self.progress.send(Progress::ProblemOpened {
            problem_id: pid.clone(),
            display_id: display.clone(),
            title,
            entity: format!("{name} ({service})"),
        });
        (pid, display)
    }

    fn close_problem(&self, pid: &str) {
        let mut world = self.world.lock().expect("world");
        if let Some(p) = world.problems.iter_mut().find(|p| p["problemId"] == pid) {
            p["status"] = json!("CLOSED");
            p["endTime"] = json!(super::now_ms());
        }
    }

    /// The custom integration's default payload, with the shared secret header.
    async fn notify(&self, service: &str, pid: &str, display: &str, state: &str) {
        let (title, name) = {
            let world = self.world.lock().expect("world");
            let p = world
                .problems
                .iter()
                .find(|p| p["problemId"] == pid)
                .cloned()
                .unwrap_or(Value::Null);
            (
                p["title"].as_str().unwrap_or_default().to_string(),
                world
                    .entity(service)
                    .map(|e| e.display_name.clone())
                    .unwrap_or_default(),
            )
        };
        let payload = json!({
            "State": state, "PID": pid, "ProblemID": display, "ProblemTitle": title,
            "ProblemImpact": "SERVICE", "ProblemSeverity": "PERFORMANCE",
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
