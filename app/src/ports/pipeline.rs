//! The pipeline gate: CodePipeline jobs and manual approvals, behind [`Pipeline`].
//! [`approval`] decides, without I/O, whether a stored decision may be applied now.

use async_trait::async_trait;

pub use crate::validation::approval::{approval_step, ApprovalStep};
pub use crate::validation::params::{parse_registration_params, RegistrationParams};

pub use unbreakable_core::model::pipeline::{
    ActionDefinition, ActionState, ActionStatus, JobContext, JobFailure, PipelineDefinition,
    PipelineState, StageDefinition, StageState,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The approval token is stale or the approval is already decided: never retry.
    #[error("CodePipeline refused the approval: {0}")]
    ApprovalClosed(String),
    #[error("CodePipeline: {0}")]
    NotFound(String),
    #[error("CodePipeline call failed: {0}")]
    Call(String),
}

/// CodePipeline, as far as the functions use it.
#[async_trait]
pub trait Pipeline: Send + Sync {
    async fn job_context(&self, job_id: &str) -> Result<JobContext, PipelineError>;
    async fn definition(&self, pipeline: &str) -> Result<PipelineDefinition, PipelineError>;
    async fn state(&self, pipeline: &str) -> Result<PipelineState, PipelineError>;
    #[allow(clippy::too_many_arguments)]
    async fn put_approval(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        token: &str,
        approved: bool,
        summary: &str,
    ) -> Result<(), PipelineError>;
    async fn job_succeeded(&self, job_id: &str, summary: &str) -> Result<(), PipelineError>;
    async fn job_failed(
        &self,
        job_id: &str,
        failure: JobFailure,
        message: &str,
        external_id: &str,
    ) -> Result<(), PipelineError>;
}
