//! Events and problem comments on the monitoring tool, behind [`MonitoringEvents`].
//! The Dynatrace adapter speaks API v1 (`/api/v1/events`, problem details) or v2
//! (`/api/v2/events/ingest`, `/api/v2/problems`).

pub mod dynatrace;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::dynatrace::DynatraceError;
use crate::metrics::TimeWindow;
use crate::monspec::{EntityType, Tag};

/// `CUSTOM_DEPLOYMENT` when the stage deploys with CodeDeploy, else `CUSTOM_ANNOTATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Deployment,
    Annotation,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Deployment => "CUSTOM_DEPLOYMENT",
            EventKind::Annotation => "CUSTOM_ANNOTATION",
        }
    }
}

/// What a pipeline tells the monitoring tool about a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineEvent {
    pub kind: EventKind,
    /// Entities to attach to: every rule is (entity type, tags that must all match).
    pub attach: Vec<(EntityType, Vec<Tag>)>,
    pub title: String,
    pub description: String,
    /// Deployment name (the action) and version (the CodeDeploy deployment id or execution).
    pub name: String,
    pub version: String,
    pub project: String,
    pub source: String,
    pub remediation_url: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub start_ms: i64,
}

/// A deployment event found on an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDeployment {
    pub start_ms: i64,
    pub properties: BTreeMap<String, String>,
}

#[async_trait]
pub trait MonitoringEvents: Send + Sync {
    /// Send the event; returns how many entities it was attached to (0: none matched yet).
    async fn push(&self, event: &PipelineEvent) -> Result<usize, DynatraceError>;
    /// Deployment events on one entity in the window, newest first.
    async fn deployments_on(
        &self,
        entity_id: &str,
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, DynatraceError>;
    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), DynatraceError>;
}
