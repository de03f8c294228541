//! Events and problem comments on the monitoring tool, behind [`MonitoringEvents`].
//! The Dynatrace adapter speaks API v1 (`/api/v1/events`, problem details) or v2
//! (`/api/v2/events/ingest`, `/api/v2/problems`).

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::monspec::{EntityType, Tag};
use crate::ports::metrics::TimeWindow;

pub use unbreakable_core::model::monitoring::ProblemStatus;

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
    /// The entity the event is attached to.
    pub entity_id: String,
    pub start_ms: i64,
    pub properties: BTreeMap<String, String>,
}

/// A problem as the monitoring tool itself reports it (not as a notification claims it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemDetails {
    pub id: String,
    pub display_id: Option<String>,
    /// `OPEN` or `CLOSED` as the tool says; anything else is treated as not open.
    pub status: ProblemStatus,
    /// The problem's title (`Response time degradation`): it selects the remediation.
    pub title: Option<String>,
    pub start_ms: i64,
    /// Root cause first, then affected, then impacted entities, each once.
    pub entities: Vec<String>,
}

impl ProblemDetails {
    pub fn is_open(&self) -> bool {
        self.status == ProblemStatus::Open
    }
}

#[async_trait]
pub trait MonitoringEvents: Send + Sync {
    /// Send the event; returns how many entities it was attached to (0: none matched yet).
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError>;
    /// Deployment events on any of the entities in the window, newest first. API v2 asks
    /// once for all of them; callers bound the list.
    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError>;
    /// The problem as the tool knows it; `None` when it does not know the id.
    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError>;
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
