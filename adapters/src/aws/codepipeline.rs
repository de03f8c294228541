//! [`Pipeline`] over the AWS SDK for CodePipeline.

use async_trait::async_trait;
use aws_sdk_codepipeline::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codepipeline::types::{
    ApprovalResult, ApprovalStatus, ExecutionDetails, FailureDetails, FailureType,
};
use aws_sdk_codepipeline::Client;

use crate::aws::sdk_error::error_parts;

use crate::ports::pipeline::{
    ActionDefinition, ActionState, ActionStatus, JobContext, JobFailure, Pipeline,
    PipelineDefinition, PipelineError, PipelineState, StageDefinition, StageState,
};
use crate::text::truncate_chars;

pub struct CodePipeline {
    client: Client,
}

impl CodePipeline {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn pipeline_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    err: SdkError<E>,
) -> PipelineError {
    let (code, message) = error_parts(operation, &err);
    match code.as_str() {
        "InvalidApprovalTokenException" | "ApprovalAlreadyCompletedException" => {
            PipelineError::ApprovalClosed(message)
        }
        "JobNotFoundException"
        | "PipelineNotFoundException"
        | "StageNotFoundException"
        | "ActionNotFoundException" => PipelineError::NotFound(message),
        _ => PipelineError::Call(message),
    }
}

#[async_trait]
impl Pipeline for CodePipeline {
    async fn job_context(&self, job_id: &str) -> Result<JobContext, PipelineError> {
        let out = self
            .client
            .get_job_details()
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| pipeline_error("GetJobDetails", e))?;
        let context = out
            .job_details()
            .and_then(|d| d.data())
            .and_then(|d| d.pipeline_context());
        let Some(context) = context else {
            return Err(PipelineError::Call(format!(
                "GetJobDetails: job {job_id} has no pipelineContext"
            )));
        };
        Ok(JobContext {
            pipeline: context.pipeline_name().unwrap_or_default().to_string(),
            stage: context
                .stage()
                .and_then(|s| s.name())
                .unwrap_or_default()
                .to_string(),
            action: context
                .action()
                .and_then(|a| a.name())
                .unwrap_or_default()
                .to_string(),
            execution_id: context
                .pipeline_execution_id()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    async fn definition(&self, pipeline: &str) -> Result<PipelineDefinition, PipelineError> {
        let out = self
            .client
            .get_pipeline()
            .name(pipeline)
            .send()
            .await
            .map_err(|e| pipeline_error("GetPipeline", e))?;
        let declaration = out.pipeline().ok_or_else(|| {
            PipelineError::NotFound(format!("GetPipeline: {pipeline} has no body"))
        })?;
        Ok(PipelineDefinition {
            name: declaration.name().to_string(),
            stages: declaration
                .stages()
                .iter()
                .map(|s| StageDefinition {
                    name: s.name().to_string(),
                    actions: s
                        .actions()
                        .iter()
                        .map(|a| {
                            let type_id = a.action_type_id();
                            let mut configuration: Vec<(String, String)> = a
                                .configuration()
                                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                                .unwrap_or_default();
                            configuration.sort();
                            ActionDefinition {
                                name: a.name().to_string(),
                                category: type_id
                                    .map(|t| t.category().as_str().to_string())
                                    .unwrap_or_default(),
                                provider: type_id
                                    .map(|t| t.provider().to_string())
                                    .unwrap_or_default(),
                                configuration,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    async fn state(&self, pipeline: &str) -> Result<PipelineState, PipelineError> {
        let out = self
            .client
            .get_pipeline_state()
            .name(pipeline)
            .send()
            .await
            .map_err(|e| pipeline_error("GetPipelineState", e))?;
        Ok(PipelineState {
            stages: out
                .stage_states()
                .iter()
                .map(|s| StageState {
                    name: s.stage_name().unwrap_or_default().to_string(),
                    execution_id: s
                        .latest_execution()
                        .map(|e| e.pipeline_execution_id().to_string()),
                    status: s
                        .latest_execution()
                        .map(|e| ActionStatus::parse(e.status().as_str())),
                    actions: s
                        .action_states()
                        .iter()
                        .map(|a| ActionState {
                            name: a.action_name().unwrap_or_default().to_string(),
                            status: a
                                .latest_execution()
                                .and_then(|e| e.status())
                                .map(|s| ActionStatus::parse(s.as_str())),
                            token: a
                                .latest_execution()
                                .and_then(|e| e.token())
                                .map(str::to_string),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    async fn put_approval(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        token: &str,
        approved: bool,
        summary: &str,
    ) -> Result<(), PipelineError> {
        let result = ApprovalResult::builder()
            .summary(summary)
            .status(if approved {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            })
            .build()
            .map_err(|e| PipelineError::Call(format!("PutApprovalResult: {e}")))?;
        self.client
            .put_approval_result()
            .pipeline_name(pipeline)
            .stage_name(stage)
            .action_name(action)
            .token(token)
            .result(result)
            .send()
            .await
            .map_err(|e| pipeline_error("PutApprovalResult", e))?;
        Ok(())
    }

    async fn job_succeeded(&self, job_id: &str, summary: &str) -> Result<(), PipelineError> {
        self.client
            .put_job_success_result()
            .job_id(job_id)
            .execution_details(
                ExecutionDetails::builder()
                    .summary(truncate_chars(summary, 2048))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| pipeline_error("PutJobSuccessResult", e))?;
        Ok(())
    }

    async fn job_failed(
        &self,
        job_id: &str,
        failure: JobFailure,
        message: &str,
        external_id: &str,
    ) -> Result<(), PipelineError> {
        let details = FailureDetails::builder()
            .r#type(FailureType::from(failure.as_str()))
            .message(truncate_chars(message, 5000))
            .external_execution_id(truncate_chars(external_id, 1500))
            .build()
            .map_err(|e| PipelineError::Call(format!("PutJobFailureResult: {e}")))?;
        self.client
            .put_job_failure_result()
            .job_id(job_id)
            .failure_details(details)
            .send()
            .await
            .map_err(|e| pipeline_error("PutJobFailureResult", e))?;
        Ok(())
    }
}
