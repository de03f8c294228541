//! publish-validation-result: a CodePipeline Invoke action that writes the stored result JSON
//! and the filled monspec of this execution's validation as the action's output artifact.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use super::job::{finish_job, Job, JobAnswer, JobError};
use super::{
    aws_config, exit_on_config_error, init_logging, now_ms, s3_path_style, Env, LambdaError,
};
use crate::artifacts::s3::S3ArtifactStore;
use crate::artifacts::{zip_files, ArtifactStore};
use crate::pipeline::codepipeline::CodePipelineGate;
use crate::pipeline::PipelineGate;
use crate::store::dynamodb::DynamoValidationStore;
use crate::store::ValidationStore;

/// Validations older than this are not looked at (a manual approval expires after 7 days).
const LOOKBACK_MS: i64 = 8 * 86_400_000;

pub struct Publish {
    pub gate: Arc<dyn PipelineGate>,
    pub store: Arc<dyn ValidationStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
}

impl Publish {
    pub async fn handle(&self, event: Value, request_id: &str) -> Result<JobAnswer, LambdaError> {
        let (job_id, outcome) = match Job::parse(event)? {
            Ok(job) => {
                let outcome = self.publish(&job).await;
                (job.id, outcome)
            }
            Err((id, error)) => (id, Err(error)),
        };
        Ok(finish_job(self.gate.as_ref(), &job_id, request_id, outcome).await?)
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
        let context = self.gate.job_context(&job.id).await.map_err(|e| {
            JobError::failed(format!("cannot read the job's pipeline context: {e}"))
        })?;
        let execution_id = match context.execution_id.clone() {
            Some(id) => id,
            None => self
                .gate
                .state(&context.pipeline)
                .await
                .map_err(|e| JobError::failed(e.to_string()))?
                .stages
                .iter()
                .find(|s| s.name == context.stage)
                .and_then(|s| s.execution_id.clone())
                .ok_or_else(|| {
                    JobError::failed(format!(
                        "cannot tell the execution id of stage {}",
                        context.stage
                    ))
                })?,
        };
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

pub async fn main() -> Result<(), LambdaError> {
    init_logging();
    let env = Env::process();
    let table = exit_on_config_error(env.required(
        "VALIDATION_TABLE",
        "the name of the DynamoDB table of build validations",
    ));
    let config = aws_config().await;
    let handler = Arc::new(Publish {
        gate: Arc::new(CodePipelineGate::new(aws_sdk_codepipeline::Client::new(
            &config,
        ))),
        store: Arc::new(DynamoValidationStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
        )),
        artifacts: Arc::new(S3ArtifactStore::new(config.clone(), s3_path_style(&env))),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            handler
                .handle(event.payload, &event.context.request_id)
                .await
        }
    }))
    .await
}
