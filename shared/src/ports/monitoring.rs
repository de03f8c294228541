//! Events and problem comments on the monitoring tool, behind [`MonitoringEvents`].
//! The Dynatrace adapter speaks API v1 (`/api/v1/events`, problem details) or v2
//! (`/api/v2/events/ingest`, `/api/v2/problems`).

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::monspec::{EntityType, Tag};
use crate::ports::metrics::TimeWindow;

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
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError>;
    /// Deployment events on one entity in the window, newest first.
    async fn deployments_on(
        &self,
        entity_id: &str,
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError>;
    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), MonitoringError>;
}

/// A monitoring call failed; the message says which call and why (the adapter's own error,
/// rendered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MonitoringError {
    pub message: String,
    /// The tool refused the request itself (bad request, no permission): sending it again
    /// will not help. Otherwise (unreachable, throttled, server error) a retry may.
    pub refused: bool,
}
