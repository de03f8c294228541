//! The CodePipeline job event, checked field by field so a malformed event still ends in a
//! PutJobFailureResult that says what is wrong.

use aws_lambda_events::event::codepipeline_job::CodePipelineJobEvent;
use serde_json::Value;

use super::config::Setting;
use crate::ports::artifacts::{
    monspec_text, ArtifactCredentials, ArtifactError, ArtifactLocation, ArtifactStore,
    MAX_ARTIFACT_BYTES,
};
use crate::ports::pipeline::{JobContext, JobFailure, Pipeline, PipelineError};

/// Local endpoints (moto) make S3 use path-style addressing (read by the adapters'
/// `aws::AwsClients::artifacts`).
pub const S3_ENDPOINTS: [Setting; 2] = [
    Setting::optional(
        "AWS_ENDPOINT_URL_S3",
        "a local S3 endpoint (tests, unbreakable local)",
    ),
    Setting::optional(
        "AWS_ENDPOINT_URL",
        "a local endpoint for every AWS service (tests, unbreakable local)",
    ),
];

/// A job the function must answer with exactly one PutJob*Result.
pub struct Job {
    pub id: String,
    pub event: CodePipelineJobEvent,
}

/// Why a job failed; becomes the PutJobFailureResult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub failure: JobFailure,
    pub message: String,
}

impl JobError {
    pub fn configuration(message: impl Into<String>) -> Self {
        Self {
            failure: JobFailure::ConfigurationError,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            failure: JobFailure::JobFailed,
            message: message.into(),
        }
    }
}

/// The job id, or why this is not a CodePipeline job event at all (then there is no job to
/// fail, and the invocation itself errors).
pub fn job_id(event: &Value) -> Result<String, String> {
    let job = event
        .get("CodePipeline.job")
        .ok_or("not a CodePipeline job event: the top-level key \"CodePipeline.job\" is missing")?;
    match job.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err("not a CodePipeline job event: \"CodePipeline.job\".id is missing".into()),
    }
}

impl Job {
    /// Parse the event; `Err((job id, error))` when the id is known but the rest is malformed.
    pub fn parse(event: Value) -> Result<Result<Job, (String, JobError)>, String> {
        let id = job_id(&event)?;
        Ok(
            match serde_json::from_value::<CodePipelineJobEvent>(event) {
                Ok(event) => Ok(Job { id, event }),
                Err(e) => Err((
                    id,
                    JobError::configuration(format!("malformed CodePipeline job event: {e}")),
                )),
            },
        )
    }

    pub fn user_parameters(&self) -> Option<&str> {
        self.event
            .code_pipeline_job
            .data
            .action_configuration
            .configuration
            .user_parameters
            .as_deref()
    }

    pub fn credentials(&self) -> Result<ArtifactCredentials, JobError> {
        let c = &self.event.code_pipeline_job.data.artifact_credentials;
        match (&c.access_key_id, &c.secret_access_key, &c.session_token) {
            (Some(a), Some(s), Some(t)) if !a.is_empty() && !s.is_empty() => {
                Ok(ArtifactCredentials {
                    access_key_id: a.clone(),
                    secret_access_key: s.clone(),
                    session_token: t.clone(),
                })
            }
            _ => Err(JobError::failed(
                "the job event carries no complete artifactCredentials (accessKeyId, secretAccessKey, sessionToken)",
            )),
        }
    }

    pub fn input_artifact(&self) -> Option<Result<ArtifactLocation, JobError>> {
        let artifact = self.event.code_pipeline_job.data.input_artifacts.first()?;
        let s3 = &artifact.location.s3_location;
        let name = artifact.name.clone().unwrap_or_else(|| "input".into());
        Some(match (&s3.bucket_name, &s3.object_key) {
            (Some(b), Some(k)) if !b.is_empty() && !k.is_empty() => Ok(ArtifactLocation {
                bucket: b.clone(),
                key: k.clone(),
            }),
            _ => Err(JobError::configuration(format!(
                "input artifact {name} has no S3 location (bucketName, objectKey)"
            ))),
        })
    }

    pub fn output_artifact(&self) -> Option<Result<ArtifactLocation, JobError>> {
        let artifact = self
            .event
            .code_pipeline_job
            .data
            .out_put_artifacts
            .first()?;
        let s3 = &artifact.location.s3_location;
        Some(match (&s3.bucket_name, &s3.object_key) {
            (Some(b), Some(k)) if !b.is_empty() && !k.is_empty() => Ok(ArtifactLocation {
                bucket: b.clone(),
                key: k.clone(),
            }),
            _ => Err(JobError::configuration(
                "the output artifact has no S3 location (bucketName, objectKey)",
            )),
        })
    }
}

/// Parse the event, do `work`, and send the one PutJob*Result for its outcome.
pub async fn run_job<F, Fut>(
    pipeline: &dyn Pipeline,
    event: Value,
    request_id: &str,
    work: F,
) -> Result<JobAnswer, super::LambdaError>
where
    F: FnOnce(Job) -> Fut,
    Fut: std::future::Future<Output = Result<String, JobError>>,
{
    let (job_id, outcome) = match Job::parse(event)? {
        Ok(job) => {
            let id = job.id.clone();
            (id, work(job).await)
        }
        Err((id, error)) => (id, Err(error)),
    };
    Ok(finish_job(pipeline, &job_id, request_id, outcome).await?)
}

impl Job {
    /// The monspec text from the job's first input artifact; `missing` says what to do
    /// when the action has none.
    pub async fn monspec_from_artifact(
        &self,
        artifacts: &dyn ArtifactStore,
        missing: &str,
    ) -> Result<String, JobError> {
        let (location, body) = self.input_artifact_body(artifacts, missing).await?;
        monspec_text(&location, &body).map_err(|e| JobError::configuration(e.to_string()))
    }

    /// The input artifact's object, read with the job's credentials.
    pub async fn input_artifact_body(
        &self,
        artifacts: &dyn ArtifactStore,
        missing: &str,
    ) -> Result<(ArtifactLocation, Vec<u8>), JobError> {
        let location = self
            .input_artifact()
            .ok_or_else(|| JobError::configuration(missing))??;
        let credentials = self.credentials()?;
        let body = artifacts
            .get(&location, &credentials, MAX_ARTIFACT_BYTES)
            .await
            .map_err(|e| match e {
                ArtifactError::TooLarge { .. } => {
                    JobError::configuration(format!("the input artifact is too large: {e}"))
                }
                e => JobError::failed(format!("cannot read the input artifact {e}")),
            })?;
        Ok((location, body))
    }

    /// Where the job runs (GetJobDetails).
    pub async fn context(&self, pipeline: &dyn Pipeline) -> Result<JobContext, JobError> {
        pipeline
            .job_context(&self.id)
            .await
            .map_err(|e| JobError::failed(format!("cannot read the job's pipeline context: {e}")))
    }
}

/// The execution the job belongs to: from the job's context, else the execution its stage
/// shows now (GetPipelineState; our action is running in it).
pub async fn execution_id(
    pipeline: &dyn Pipeline,
    context: &JobContext,
) -> Result<String, JobError> {
    if let Some(id) = &context.execution_id {
        return Ok(id.clone());
    }
    let state = pipeline
        .state(&context.pipeline)
        .await
        .map_err(|e| JobError::failed(e.to_string()))?;
    state
        .stages
        .iter()
        .find(|s| s.name == context.stage)
        .and_then(|s| s.execution_id.clone())
        .ok_or_else(|| {
            JobError::failed(format!(
                "cannot tell which execution of {} runs this job: stage {} shows none. Pass #{{codepipeline.PipelineExecutionId}} in UserParameters",
                context.pipeline, context.stage
            ))
        })
}

/// How a job ended, as CodePipeline's job result calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum JobStatus {
    Succeeded,
    Failed,
}

/// What a job handler returns to the runtime.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobAnswer {
    pub job_id: String,
    pub status: JobStatus,
    pub message: String,
}

/// Send the one PutJob*Result for `outcome`. If CodePipeline cannot be told, the invocation
/// fails (Lambda then retries or the job times out; both are visible in the pipeline).
pub async fn finish_job(
    pipeline: &dyn Pipeline,
    job_id: &str,
    request_id: &str,
    outcome: Result<String, JobError>,
) -> Result<JobAnswer, PipelineError> {
    match outcome {
        Ok(summary) => {
            tracing::info!(job_id, summary = %summary, "job succeeded");
            pipeline.job_succeeded(job_id, &summary).await?;
            Ok(JobAnswer {
                job_id: job_id.to_string(),
                status: JobStatus::Succeeded,
                message: summary,
            })
        }
        Err(e) => {
            tracing::warn!(job_id, failure = e.failure.as_str(), message = %e.message, "job failed");
            pipeline
                .job_failed(job_id, e.failure, &e.message, request_id)
                .await?;
            Ok(JobAnswer {
                job_id: job_id.to_string(),
                status: JobStatus::Failed,
                message: e.message,
            })
        }
    }
}
