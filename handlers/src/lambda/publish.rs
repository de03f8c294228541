//! publish-validation-result: a CodePipeline Invoke action that writes the stored result JSON
//! and the filled monspec of this execution's validation as the action's output artifact.

use std::sync::Arc;

use serde_json::Value;

use super::job::{execution_id, run_job, Job, JobAnswer, JobError};
use super::{FunctionManifest, LambdaError, LOG_ACTIONS, VALIDATION_TABLE};
use crate::ports::artifacts::{zip_files, ArtifactStore};
use crate::ports::pipeline::Pipeline;
use crate::ports::store::ValidationStore;
use crate::time::now_ms;

/// Validations older than this are not looked at (a manual approval expires after 7 days).
const LOOKBACK_MS: i64 = 8 * 86_400_000;

pub struct Publish {
    pub pipeline: Arc<dyn Pipeline>,
    pub store: Arc<dyn ValidationStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
}

impl Publish {
    pub async fn handle(&self, event: Value, request_id: &str) -> Result<JobAnswer, LambdaError> {
        run_job(
            self.pipeline.as_ref(),
            event,
            request_id,
            |job| async move { self.publish(&job).await },
        )
        .await
    }

    async fn publish(&self, job: &Job) -> Result<String, JobError> {
        // Optional: the comparison to publish, when a stage registers several.
        let comparison = job
            .user_parameters()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let output = job.output_artifact().ok_or_else(|| {
            JobError::configuration("the action has no output artifact; declare one to receive result.json and monspec.json")
        })??;
        let credentials = job.credentials()?;
        let context = job.context(self.pipeline.as_ref()).await?;
        let execution_id = execution_id(self.pipeline.as_ref(), &context).await?;
        let history = self
            .store
            .history(&context.pipeline, now_ms() - LOOKBACK_MS)
            .await
            .map_err(|e| JobError::failed(e.to_string()))?;
        let validation = history
            .requests
            .iter()
            .rev()
            .filter(|r| r.execution_id == execution_id)
            .find(|r| comparison.as_ref().is_none_or(|c| &r.comparison == c))
            .ok_or_else(|| {
                JobError::failed(format!(
                    "no validation{} was registered by execution {execution_id} of {}",
                    comparison
                        .as_ref()
                        .map(|c| format!(" for {c}"))
                        .unwrap_or_default(),
                    context.pipeline
                ))
            })?;
        let (Some(result), Some(filled)) = (&validation.result_json, &validation.filled_monspec)
        else {
            return Err(JobError::failed(format!(
                "the {} validation of execution {execution_id} has no result yet (status {}: {}); put this action after the approval it decides",
                validation.comparison,
                validation.status.as_str(),
                validation.status_msg
            )));
        };
        let pretty = |text: &str| {
            serde_json::from_str::<Value>(text)
                .and_then(|v| serde_json::to_vec_pretty(&v))
                .unwrap_or_else(|_| text.as_bytes().to_vec())
        };
        let body = zip_files(&[
            ("result.json", &pretty(result)),
            ("monspec.json", &pretty(filled)),
        ]);
        self.artifacts
            .put(&output, &credentials, body)
            .await
            .map_err(|e| JobError::failed(format!("cannot write the output artifact {e}")))?;
        Ok(format!(
            "Published the {} result of execution {execution_id} ({})",
            validation.comparison,
            validation.status.as_str()
        ))
    }
}

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "publish-validation-result",
    settings: &[
        VALIDATION_TABLE,
        super::job::S3_ENDPOINTS[0],
        super::job::S3_ENDPOINTS[1],
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:Query",
        "codepipeline:GetJobDetails",
        "codepipeline:GetPipelineState",
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
    ],
};

/// What publish-validation-result reads at cold start: the table only.
pub use super::TableConfig as Config;
