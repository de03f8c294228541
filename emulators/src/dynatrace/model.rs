//! The simulator's world: entities, per-minute datapoints, events, problems and comments,
//! loaded from a JSON fixture (format documented in emulators/README.md).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const MINUTE_MS: i64 = 60_000;

/// Every scope the simulator knows; the default token has all of them.
pub const ALL_SCOPES: [&str; 7] = [
    "DataExport",
    "metrics.read",
    "entities.read",
    "events.ingest",
    "events.read",
    "problems.read",
    "problems.write",
];
pub const DEFAULT_TOKEN: &str = "dt0c01.SIMULATOR.TOKEN";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TagDef {
    #[serde(default = "contextless")]
    pub context: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

fn contextless() -> String {
    "CONTEXTLESS".into()
}

impl TagDef {
    pub fn string_representation(&self) -> String {
        let mut s = String::new();
        if !self.context.eq_ignore_ascii_case("CONTEXTLESS") {
            s.push_str(&format!("[{}]", self.context));
        }
        s.push_str(&self.key);
        if let Some(v) = &self.value {
            s.push(':');
            s.push_str(v);
        }
        s
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityDef {
    pub entity_id: String,
    pub display_name: String,
    /// SERVICE, SERVICE_METHOD, HOST, PROCESS_GROUP, PROCESS_GROUP_INSTANCE, APPLICATION…
    #[serde(rename = "type")]
    pub entity_type: String,
    #[serde(default)]
    pub tags: Vec<TagDef>,
    #[serde(default)]
    pub from_relationships: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub to_relationships: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesDef {
    pub entity_id: String,
    /// responsetime (µs, per-minute mean), failurerate (%), requestspermin (requests that minute).
    pub metric: String,
    /// Start of the first minute, epoch ms.
    pub start_ms: i64,
    /// One value per minute; `null` is a gap.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TokenDef {
    pub token: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    #[serde(default)]
    pub tokens: Vec<TokenDef>,
    #[serde(default)]
    pub entities: Vec<EntityDef>,
    #[serde(default)]
    pub series: Vec<SeriesDef>,
    /// Problems in the v2 shape (`problemId`, `displayId`, `title`, `status`, `startTime`,
    /// `impactedEntities`…); served in v1 shape too.
    #[serde(default)]
    pub problems: Vec<Value>,
}

/// One HTTP request as received, for tests to read back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Whether an `Authorization` header was present (the token itself is never recorded).
    pub authorized_header: bool,
    pub status: u16,
}

impl RecordedRequest {
    /// Whether the path or a query value holds `text` (e.g. a metric key).
    pub fn path_or_query_mentions(&self, text: &str) -> bool {
        self.path.contains(text) || self.query.iter().any(|(_, v)| v.contains(text))
    }
}

/// Faults injected on the API endpoints (not on `/sim/*`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    /// Added to every API response.
    #[serde(default)]
    pub latency_ms: u64,
    /// Answer the next `count` API requests with `status` (429 carries Retry-After).
    #[serde(default)]
    pub fail_next: Option<FailNext>,
    /// Answer every API request with this status (e.g. 500) until cleared.
    #[serde(default)]
    pub fail_always: Option<u16>,
    /// Faults for chosen requests only, e.g. one metric query of a validation. The first rule
    /// that matches a request and has answers left applies; it wins over `failAlways` and
    /// `failNext`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FaultRule>,
}

/// A fault for the requests that match: same path, and every `contains` text found in the
/// request's decoded query string (`key=value&…`) or JSON body.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// The request path, exactly (e.g. `/api/v2/metrics/query`).
    pub path: String,
    /// Texts that must all occur in the decoded query string or the body.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Answer with this status. Without `status` and `body` the rule only adds latency and
    /// the request is answered as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Answer with this JSON instead of the API's (status 200 unless `status` is set), e.g. a
    /// paged or multi-point metrics answer. Without it a failure status gets the error envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Added before answering.
    #[serde(default)]
    pub latency_ms: u64,
    /// How many matching requests the rule answers; every one when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl FaultRule {
    pub fn matches(&self, path: &str, query_text: &str, body_text: &str) -> bool {
        self.count != Some(0)
            && self.path == path
            && self
                .contains
                .iter()
                .all(|t| query_text.contains(t.as_str()) || body_text.contains(t.as_str()))
    }
}

impl Faults {
    /// The rule that applies to this request, its count taken down by one.
    pub fn take_rule(
        &mut self,
        path: &str,
        query_text: &str,
        body_text: &str,
    ) -> Option<FaultRule> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.matches(path, query_text, body_text))?;
        if let Some(n) = &mut rule.count {
            *n -= 1;
        }
        Some(rule.clone())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailNext {
    pub status: u16,
    pub count: u32,
    #[serde(default)]
    pub retry_after_secs: Option<u32>,
}

/// Per-bucket request accumulator for live ingest.
#[derive(Debug, Clone, Copy, Default)]
pub struct MinuteRequests {
    pub count: f64,
    pub failed: f64,
    pub response_time_sum_us: f64,
}

#[derive(Debug, Default)]
pub struct World {
    pub tokens: HashMap<String, Vec<String>>,
    pub entities: Vec<EntityDef>,
    /// (entity id, metric) → minute start → value.
    pub series: HashMap<(String, String), BTreeMap<i64, f64>>,
    pub live_requests: HashMap<(String, i64), MinuteRequests>,
    /// Events in the v1 feed shape.
    pub events: Vec<Value>,
    pub problems: Vec<Value>,
    /// (problem id, comment as stored).
    pub comments: Vec<(String, Value)>,
    pub requests: Vec<RecordedRequest>,
    pub faults: Faults,
    pub next_id: i64,
    /// v2 entity paging: key → (matching ids, offset, fields).
    pub pages: HashMap<String, (Vec<String>, usize, String)>,
    /// Bucket width of live measurements (ms). A minute, as Dynatrace stores data; `unbreakable
    /// local` narrows it to a second so validation windows of tens of seconds hold data.
    pub live_bucket_ms: i64,
}

impl World {
    pub fn from_fixture(fixture: Fixture) -> Self {
        let mut world = World {
            next_id: 4_166_694_657_638_834_567,
            live_bucket_ms: MINUTE_MS,
            ..Default::default()
        };
        world.tokens = if fixture.tokens.is_empty() {
            HashMap::from([(
                DEFAULT_TOKEN.to_string(),
                ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            )])
        } else {
            fixture
                .tokens
                .into_iter()
                .map(|t| (t.token, t.scopes))
                .collect()
        };
        for entity in fixture.entities {
            world.upsert_entity(entity);
        }
        for s in fixture.series {
            let points = world.series.entry((s.entity_id, s.metric)).or_default();
            for (i, v) in s.values.into_iter().enumerate() {
                if let Some(v) = v {
                    points.insert(s.start_ms + i as i64 * MINUTE_MS, v);
                }
            }
        }
        world.problems = fixture.problems;
        world
    }

    /// Add or replace an entity, keeping relationships symmetric: A fromRelationships.calls B
    /// shows up as B toRelationships.calls A, as Dynatrace's topology does.
    pub fn upsert_entity(&mut self, entity: EntityDef) {
        self.entities.retain(|e| e.entity_id != entity.entity_id);
        let id = entity.entity_id.clone();
        for (rel, targets) in &entity.from_relationships {
            for t in targets {
                if let Some(target) = self.entities.iter_mut().find(|e| &e.entity_id == t) {
                    push_unique(target.to_relationships.entry(rel.clone()).or_default(), &id);
                }
            }
        }
        for (rel, targets) in &entity.to_relationships {
            for t in targets {
                if let Some(target) = self.entities.iter_mut().find(|e| &e.entity_id == t) {
                    push_unique(
                        target.from_relationships.entry(rel.clone()).or_default(),
                        &id,
                    );
                }
            }
        }
        let mut entity = entity;
        for other in &self.entities {
            for (rel, targets) in &other.from_relationships {
                if targets.contains(&id) {
                    push_unique(
                        entity.to_relationships.entry(rel.clone()).or_default(),
                        &other.entity_id,
                    );
                }
            }
            for (rel, targets) in &other.to_relationships {
                if targets.contains(&id) {
                    push_unique(
                        entity.from_relationships.entry(rel.clone()).or_default(),
                        &other.entity_id,
                    );
                }
            }
        }
        self.entities.push(entity);
    }

    pub fn entity(&self, id: &str) -> Option<&EntityDef> {
        self.entities.iter().find(|e| e.entity_id == id)
    }

    pub fn fresh_id(&mut self) -> i64 {
        self.next_id = self
            .next_id
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.next_id
    }

    /// Record one live request measurement into its bucket.
    pub fn ingest_request(
        &mut self,
        entity_id: &str,
        timestamp_ms: i64,
        response_time_us: f64,
        failed: bool,
    ) {
        let failed = if failed { 1.0 } else { 0.0 };
        self.ingest_requests(entity_id, timestamp_ms, 1.0, failed, response_time_us);
    }

    /// Record `count` requests seen at `timestamp_ms` (`failed` of them failed, their response
    /// times summing to `response_time_sum_us`) into the live bucket, updating the bucket's
    /// request count, failure rate and mean response time.
    pub fn ingest_requests(
        &mut self,
        entity_id: &str,
        timestamp_ms: i64,
        count: f64,
        failed: f64,
        response_time_sum_us: f64,
    ) {
        if count <= 0.0 {
            return;
        }
        let bucket = timestamp_ms - timestamp_ms.rem_euclid(self.live_bucket_ms.max(1));
        let acc = self
            .live_requests
            .entry((entity_id.to_string(), bucket))
            .or_default();
        acc.count += count;
        acc.failed += failed;
        acc.response_time_sum_us += response_time_sum_us;
        let acc = *acc;
        for (metric, value) in [
            ("requestspermin", acc.count),
            ("failurerate", acc.failed / acc.count * 100.0),
            ("responsetime", acc.response_time_sum_us / acc.count),
        ] {
            self.series
                .entry((entity_id.to_string(), metric.to_string()))
                .or_default()
                .insert(bucket, value);
        }
    }
}

fn push_unique(list: &mut Vec<String>, id: &str) {
    if !list.iter().any(|x| x == id) {
        list.push(id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: Value) -> FaultRule {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_rule_matches_its_path_and_every_text_in_the_query_or_body() {
        let r = rule(
            serde_json::json!({"path": "/api/v2/metrics/query", "contains": ["keyRequest.count.total", "type(SERVICE_METHOD)"]}),
        );
        let query = "metricSelector=builtin:service.keyRequest.count.total:value&entitySelector=type(SERVICE_METHOD),x";
        assert!(r.matches("/api/v2/metrics/query", query, ""));
        assert!(!r.matches("/api/v2/entities", query, ""), "other path");
        assert!(
            !r.matches(
                "/api/v2/metrics/query",
                "metricSelector=builtin:service.keyRequest.count.total:value",
                ""
            ),
            "one text missing"
        );
        let v1 = rule(
            serde_json::json!({"path": "/api/v1/timeseries", "contains": ["servicemethod.requestspermin"]}),
        );
        assert!(v1.matches(
            "/api/v1/timeseries",
            "",
            r#"{"timeseriesId":"com.dynatrace.builtin:servicemethod.requestspermin"}"#
        ));
    }

    #[test]
    fn a_rule_with_a_count_answers_that_many_requests_then_lets_them_through() {
        let mut faults = Faults {
            rules: vec![rule(
                serde_json::json!({"path": "/a", "status": 500, "count": 2}),
            )],
            ..Faults::default()
        };
        assert_eq!(faults.take_rule("/a", "", "").unwrap().status, Some(500));
        assert!(faults.take_rule("/b", "", "").is_none());
        assert!(faults.take_rule("/a", "", "").is_some());
        assert!(faults.take_rule("/a", "", "").is_none(), "count used up");
    }

    #[test]
    fn a_rule_without_a_count_answers_every_matching_request() {
        let mut faults = Faults {
            rules: vec![rule(serde_json::json!({"path": "/a", "latencyMs": 5}))],
            ..Faults::default()
        };
        for _ in 0..10 {
            assert_eq!(faults.take_rule("/a", "", "").unwrap().latency_ms, 5);
        }
    }

    #[test]
    fn unknown_rule_fields_are_refused_so_a_typo_does_not_silently_match_everything() {
        let e = serde_json::from_value::<FaultRule>(
            serde_json::json!({"path": "/a", "contain": ["x"]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `contain`"), "{e}");
    }

    #[test]
    fn the_existing_faults_form_still_reads() {
        let f: Faults = serde_json::from_value(
            serde_json::json!({"latencyMs": 50, "failNext": {"status": 429, "count": 2}}),
        )
        .unwrap();
        assert_eq!((f.latency_ms, f.rules.len()), (50, 0));
    }
}
