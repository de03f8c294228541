//! [`MonitoringEvents`] for Dynatrace API v1 and v2.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::dynatrace::v2::{entity_selector, quote};
use crate::dynatrace::{DynatraceError, DynatraceV1, DynatraceV2};
use crate::ports::metrics::TimeWindow;
use crate::ports::monitoring::{
    EventKind, MonitoringError, MonitoringEvents, PipelineEvent, ProblemDetails, ProblemStatus,
    RecordedDeployment,
};

/// Comments are signed with this user (v1 needs one) and context.
pub const COMMENT_USER: &str = "unbreakable";
pub const COMMENT_CONTEXT: &str = "Unbreakable";

fn v1_event(e: &PipelineEvent) -> Value {
    let rules: Vec<Value> = e
        .attach
        .iter()
        .map(|(etype, tags)| {
            json!({
                "meTypes": [etype.as_str()],
                "tags": tags.iter().map(|t| json!({"context": t.context, "key": t.key, "value": t.value})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut body = json!({
        "eventType": e.kind.as_str(),
        "attachRules": {"tagRule": rules},
        "start": e.start_ms,
        "end": e.start_ms,
        "source": e.source,
        "description": e.description,
        "title": e.title,
        "customProperties": e.properties,
    });
    let object = body.as_object_mut().expect("object");
    match e.kind {
        EventKind::Deployment => {
            object.insert("deploymentName".into(), json!(e.name));
            object.insert("deploymentVersion".into(), json!(e.version));
            object.insert("deploymentProject".into(), json!(e.project));
            if let Some(url) = &e.remediation_url {
                object.insert("remediationAction".into(), json!(url));
            }
        }
        EventKind::Annotation => {
            object.insert("annotationType".into(), json!(e.title));
            object.insert("annotationDescription".into(), json!(e.description));
        }
    }
    body
}

fn v2_event(e: &PipelineEvent, selector: &str) -> Value {
    let mut properties: Map<String, Value> = e
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    properties.insert("dt.event.source".into(), json!(e.source));
    properties.insert("dt.event.description".into(), json!(e.description));
    if e.kind == EventKind::Deployment {
        properties.insert("dt.event.deployment.name".into(), json!(e.name));
        properties.insert("dt.event.deployment.version".into(), json!(e.version));
        properties.insert("dt.event.deployment.project".into(), json!(e.project));
        if let Some(url) = &e.remediation_url {
            properties.insert(
                "dt.event.deployment.remediation_action_link".into(),
                json!(url),
            );
        }
    }
    json!({
        "eventType": e.kind.as_str(),
        "title": e.title,
        "startTime": e.start_ms,
        "endTime": e.start_ms,
        "entitySelector": selector,
        "properties": properties,
    })
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

#[async_trait]
impl MonitoringEvents for DynatraceV1 {
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError> {
        match self.post_event(&v1_event(event)).await {
            Ok(ids) => Ok(ids.len()),
            // v1 answers 400 when the attach rules match no entity yet (tags still settling).
            Err(e) if e.status() == Some(400) && e.to_string().contains("No MEIdentifier") => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The v1 feed takes one entity per request: one request each (v1 is deprecated; the
    /// caller bounds the list and the time).
    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        let mut found = Vec::new();
        for entity_id in entity_ids {
            let events = self
                .events(entity_id, EventKind::Deployment.as_str(), window)
                .await?;
            found.extend(events.iter().map(|e| RecordedDeployment {
                entity_id: e["entityId"].as_str().unwrap_or(entity_id).to_string(),
                start_ms: e["startTime"].as_i64().unwrap_or(0),
                properties: string_map(&e["customProperties"]),
            }));
        }
        found.sort_by_key(|d| std::cmp::Reverse(d.start_ms));
        Ok(found)
    }

    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError> {
        match DynatraceV1::problem(self, problem_id).await {
            Ok(result) => Ok(Some(v1_problem(problem_id, &result))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), MonitoringError> {
        Ok(self
            .comment_problem(problem_id, text, COMMENT_USER, COMMENT_CONTEXT)
            .await?)
    }
}

#[async_trait]
impl MonitoringEvents for DynatraceV2 {
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError> {
        // One ingest per attach rule: a v2 event takes a single entity selector.
        let mut attached = 0;
        for (etype, tags) in &event.attach {
            let selector = entity_selector(*etype, tags);
            attached += self.ingest_event(&v2_event(event, &selector)).await?.len();
        }
        Ok(attached)
    }

    /// One request for all the entities: `entityId("a","b",…)`.
    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        if entity_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = entity_ids.iter().map(|id| quote(id)).collect();
        let events = self
            .events(
                &format!("eventType({})", quote(EventKind::Deployment.as_str())),
                &format!("entityId({})", ids.join(",")),
                window,
            )
            .await?;
        Ok(events
            .iter()
            .map(|e| RecordedDeployment {
                entity_id: e["entityId"]["entityId"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                start_ms: e["startTime"].as_i64().unwrap_or(0),
                properties: e["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        Some((
                            p["key"].as_str()?.to_string(),
                            p["value"].as_str()?.to_string(),
                        ))
                    })
                    .collect(),
            })
            .collect())
    }

    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), MonitoringError> {
        Ok(self
            .comment_problem(problem_id, text, COMMENT_CONTEXT)
            .await?)
    }

    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError> {
        match DynatraceV2::problem(self, problem_id).await {
            Ok(body) => Ok(Some(v2_problem(problem_id, &body))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Entity ids in order, each once.
fn unique(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

/// `GET /api/v2/problems/{id}`: `rootCauseEntity`, `affectedEntities`, `impactedEntities` are
/// entity stubs (`{"entityId": {"id", "type"}, "name"}`).
fn v2_problem(problem_id: &str, body: &Value) -> ProblemDetails {
    let stub_id = |stub: &Value| stub["entityId"]["id"].as_str().map(str::to_string);
    let list = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(stub_id)
            .collect()
    };
    ProblemDetails {
        id: body["problemId"].as_str().unwrap_or(problem_id).to_string(),
        display_id: body["displayId"].as_str().map(str::to_string),
        status: ProblemStatus::parse(body["status"].as_str().unwrap_or_default()),
        title: body["title"].as_str().map(str::to_string),
        start_ms: body["startTime"].as_i64().unwrap_or(0),
        entities: unique(
            stub_id(&body["rootCauseEntity"])
                .into_iter()
                .chain(list("affectedEntities"))
                .chain(list("impactedEntities")),
        ),
    }
}

/// `GET /api/v1/problem/details/{id}` (`result`): the entities are in `rankedEvents` (where
/// the events happened) and `rankedImpacts`.
fn v1_problem(problem_id: &str, result: &Value) -> ProblemDetails {
    let ids = |key: &str| -> Vec<String> {
        result[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["entityId"].as_str().map(str::to_string))
            .collect()
    };
    ProblemDetails {
        id: result["id"].as_str().unwrap_or(problem_id).to_string(),
        display_id: result["displayName"].as_str().map(str::to_string),
        status: ProblemStatus::parse(result["status"].as_str().unwrap_or_default()),
        title: result["title"].as_str().map(str::to_string),
        start_ms: result["startTime"].as_i64().unwrap_or(0),
        entities: unique(ids("rankedEvents").into_iter().chain(ids("rankedImpacts"))),
    }
}

impl From<DynatraceError> for MonitoringError {
    fn from(e: DynatraceError) -> Self {
        MonitoringError {
            refused: e
                .status()
                .is_some_and(|s| (400..500).contains(&s) && s != 429),
            message: e.to_string(),
        }
    }
}
