//! push-deployment-event: a CodePipeline Invoke action that tells the monitoring tool about a
//! deployment (or, in a stage without CodeDeploy, annotates the environment). Retries while
//! the new entities' tags settle, but always answers the job before the function times out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::config::{ConfigError, Env, Setting};
use super::job::{run_job, Job, JobAnswer, JobError};
use super::{FunctionManifest, LambdaError, LOG_ACTIONS};
use crate::monspec::{parse_monspec, Monspec};
use crate::ports::artifacts::ArtifactStore;
use crate::ports::deploy::Deployer;
use crate::ports::monitoring::{EventKind, MonitoringEvents, PipelineEvent};
use crate::ports::pipeline::Pipeline;
use crate::settings::dynatrace::{self, DynatraceSettings};
use crate::time::now_ms;

/// Time kept back from the Lambda deadline to send the PutJob*Result.
pub const ANSWER_RESERVE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventParams {
    pub environment: String,
    pub description: String,
}

pub fn parse_event_params(text: Option<&str>) -> Result<EventParams, String> {
    const FORMS: &str = "use \"Environment,Description\" or {\"environment\": \"Staging\", \"description\": \"...\"}";
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(format!("UserParameters: missing; {FORMS}"));
    }
    let (environment, description) = if text.starts_with('{') {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("UserParameters: not valid JSON ({e}); {FORMS}"))?;
        (
            v["environment"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_string(),
            v["description"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_string(),
        )
    } else {
        let (env, desc) = text.split_once(',').unwrap_or((text, ""));
        (env.trim().to_string(), desc.trim().to_string())
    };
    if environment.is_empty() {
        return Err(format!("UserParameters: the environment is empty; {FORMS}"));
    }
    Ok(EventParams {
        environment,
        description,
    })
}

pub struct DeploymentEvents {
    pub pipeline: Arc<dyn Pipeline>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub deployer: Arc<dyn Deployer>,
    pub monitoring: Arc<dyn MonitoringEvents>,
    pub problem_handler_url: Option<String>,
    /// First wait between attempts; doubles up to 15 s.
    pub first_backoff: Duration,
}

impl DeploymentEvents {
    pub async fn handle(
        &self,
        event: Value,
        request_id: &str,
        deadline_ms: i64,
    ) -> Result<JobAnswer, LambdaError> {
        run_job(
            self.pipeline.as_ref(),
            event,
            request_id,
            |job| async move { self.push(&job, deadline_ms).await },
        )
        .await
    }

    async fn monspec(&self, job: &Job) -> Result<Monspec, JobError> {
        let text = job
            .monspec_from_artifact(
                self.artifacts.as_ref(),
                "no monspec: give the action the input artifact that holds monspec.json (its tags say which entities get the event)",
            )
            .await?;
        parse_monspec(&text).map_err(|e| {
            JobError::configuration(format!("monspec.json: {}", e.problems().join("; ")))
        })
    }

    async fn push(&self, job: &Job, deadline_ms: i64) -> Result<String, JobError> {
        let params = parse_event_params(job.user_parameters()).map_err(JobError::configuration)?;
        let monspec = self.monspec(job).await?;
        let attach: Vec<_> = monspec
            .configurations
            .iter()
            .filter_map(|c| {
                c.environment(&params.environment)
                    .map(|e| (c.etype, e.tags.clone()))
            })
            .collect();
        if attach.is_empty() {
            return Err(JobError::configuration(format!(
                "monspec.json defines no environment \"{}\" in any configuration (defined: {})",
                params.environment,
                monspec
                    .configurations
                    .iter()
                    .flat_map(|c| c.environments.iter().map(|e| e.name.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let context = job.context(self.pipeline.as_ref()).await?;
        let definition = self
            .pipeline
            .definition(&context.pipeline)
            .await
            .map_err(|e| JobError::failed(e.to_string()))?;
        let deploy_action = definition.stage(&context.stage).and_then(|s| {
            s.actions
                .iter()
                .find(|a| a.category == "Deploy" && a.provider == "CodeDeploy")
        });
        let mut properties = BTreeMap::from([
            ("PipelineName".to_string(), context.pipeline.clone()),
            ("PipelineStage".to_string(), context.stage.clone()),
            ("PipelineAction".to_string(), context.action.clone()),
        ]);
        if let Some(id) = &context.execution_id {
            properties.insert("PipelineExecutionId".into(), id.clone());
        }
        let (kind, version) = match deploy_action {
            Some(action) => {
                let application = action
                    .setting("ApplicationName")
                    .unwrap_or_default()
                    .to_string();
                let group = action
                    .setting("DeploymentGroupName")
                    .unwrap_or_default()
                    .to_string();
                let deployment_id = self
                    .deployer
                    .last_successful(&application, &group)
                    .await
                    .map_err(|e| JobError::failed(e.to_string()))?
                    .ok_or_else(|| JobError::failed(format!("deployment group {application}/{group} has no successful deployment yet; put this action after the deploy action")))?;
                properties.insert("CodeDeploy.DeploymentId".into(), deployment_id.clone());
                properties.insert("CodeDeploy.Application".into(), application);
                properties.insert("CodeDeploy.DeploymentGroup".into(), group);
                (EventKind::Deployment, deployment_id)
            }
            None => (
                EventKind::Annotation,
                context.execution_id.clone().unwrap_or_default(),
            ),
        };
        let event = PipelineEvent {
            kind,
            attach: attach.clone(),
            title: format!(
                "{} {} in {}",
                context.pipeline, context.stage, params.environment
            ),
            description: if params.description.is_empty() {
                format!("{} deployed by {}", params.environment, context.pipeline)
            } else {
                params.description.clone()
            },
            name: context.action.clone(),
            version: version.clone(),
            project: context.pipeline.clone(),
            source: "Unbreakable (AWS CodePipeline)".into(),
            remediation_url: self.problem_handler_url.clone(),
            properties,
            start_ms: now_ms(),
        };
        let give_up_at = deadline_ms - ANSWER_RESERVE.as_millis() as i64;
        let mut backoff = self.first_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.monitoring.push(&event).await;
            match outcome {
                Ok(n) if n > 0 => {
                    return Ok(format!(
                        "{} sent for {version}, attached to {n} entit{}",
                        kind.as_str(),
                        if n == 1 { "y" } else { "ies" }
                    ))
                }
                Ok(_) => {}
                Err(e) if e.refused => {
                    return Err(JobError::failed(format!(
                        "the monitoring tool refused the event: {e}"
                    )))
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempts, "sending the event failed; retrying")
                }
            }
            let wait = backoff.as_millis() as i64;
            if now_ms() + wait >= give_up_at {
                let tags: Vec<String> = attach
                    .iter()
                    .map(|(etype, tags)| {
                        format!(
                            "{} with {}",
                            etype.as_str(),
                            tags.iter()
                                .map(|t| t.to_string())
                                .collect::<Vec<_>>()
                                .join(" AND ")
                        )
                    })
                    .collect();
                return Err(JobError::failed(format!(
                    "no entity matched the tags of environment {} after {attempts} attempt(s): {}. Check that the deployed app carries these tags",
                    params.environment,
                    tags.join("; ")
                )));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(15));
        }
    }
}

const PROBLEM_HANDLER_URL: Setting = Setting::optional(
    "PROBLEM_HANDLER_URL",
    "the URL of the problem webhook, sent as the event's remediation action",
);
const RETRY_SECONDS: Setting = Setting::optional(
    "EVENT_RETRY_SECONDS",
    "the first wait before re-sending an event that matched no entity",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "push-deployment-event",
    settings: &[
        dynatrace::TENANT_URL,
        dynatrace::API_VERSION,
        dynatrace::TOKEN_SECRET,
        PROBLEM_HANDLER_URL,
        RETRY_SECONDS,
        super::job::S3_ENDPOINTS[0],
        super::job::S3_ENDPOINTS[1],
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "codedeploy:GetDeploymentGroup",
        "codepipeline:GetJobDetails",
        "codepipeline:GetPipeline",
        "codepipeline:GetPipelineState",
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
        "secretsmanager:GetSecretValue",
    ],
};

/// What push-deployment-event reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub dynatrace: DynatraceSettings,
    pub problem_handler_url: Option<String>,
    pub first_backoff: Duration,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Config {
            dynatrace: DynatraceSettings::from_env(env)?,
            problem_handler_url: env.optional_url(&PROBLEM_HANDLER_URL)?,
            first_backoff: env.seconds(&RETRY_SECONDS, 2.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parameter_forms_parse() {
        assert_eq!(
            parse_event_params(Some("Staging,Deployed build 2")).unwrap(),
            EventParams {
                environment: "Staging".into(),
                description: "Deployed build 2".into()
            }
        );
        assert_eq!(
            parse_event_params(Some(r#"{"environment":"Production"}"#))
                .unwrap()
                .environment,
            "Production"
        );
        assert!(parse_event_params(None)
            .unwrap_err()
            .contains("UserParameters: missing"));
        assert!(parse_event_params(Some(",x"))
            .unwrap_err()
            .contains("the environment is empty"));
        assert!(parse_event_params(Some("{oops"))
            .unwrap_err()
            .contains("not valid JSON"));
    }
}
