//! [`MonitoringEvents`] for Dynatrace API v1 and v2.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::dynatrace::v2::{entity_selector, quote};
use crate::dynatrace::{DynatraceError, DynatraceV1, DynatraceV2};
use crate::ports::metrics::TimeWindow;
use crate::ports::monitoring::{
    EventKind, MonitoringError, MonitoringEvents, PipelineEvent, RecordedDeployment,
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

    async fn deployments_on(
        &self,
        entity_id: &str,
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        let events = self
            .events(entity_id, EventKind::Deployment.as_str(), window)
            .await?;
        Ok(events
            .iter()
            .map(|e| RecordedDeployment {
                start_ms: e["startTime"].as_i64().unwrap_or(0),
                properties: string_map(&e["customProperties"]),
            })
            .collect())
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

    async fn deployments_on(
        &self,
        entity_id: &str,
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        let events = self
            .events(
                &format!("eventType({})", quote(EventKind::Deployment.as_str())),
                &format!("entityId({})", quote(entity_id)),
                window,
            )
            .await?;
        Ok(events
            .iter()
            .map(|e| RecordedDeployment {
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
