//! The CodePipeline side of the local stack: it runs executions of the pipeline read from the
//! template, stage by stage and run order by run order, the way CodePipeline does. S3 source
//! actions copy their object into the artifact store; CodeDeploy actions create deployments
//! (run by the local agent) from the input artifact; Lambda actions create a job and invoke
//! the function with a real `CodePipeline.job` event; manual approvals wait with a token
//! until someone (the worker) answers PutApprovalResult.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::progress::{Progress, ProgressSender};
use super::template::{ActionSpec, PipelineSpec};
use unbreakable_emulators::aws::fake::JobStatus;
use unbreakable_emulators::aws::AwsFake;
use unbreakable_emulators::lambda::{Invocation, RuntimeEmulator};
use unbreakable_shared::ports::deploy::DeploymentStatus;
use unbreakable_shared::ports::pipeline::ActionStatus;

/// A function the pipeline can invoke, with its deadline.
pub struct LocalFunction {
    pub emulator: Arc<RuntimeEmulator>,
    pub timeout: Duration,
}

pub struct Executor {
    pub fake: Arc<AwsFake>,
    pub s3: aws_sdk_s3::Client,
    pub pipeline: PipelineSpec,
    pub artifact_bucket: String,
    pub functions: BTreeMap<String, LocalFunction>,
    pub progress: ProgressSender,
    /// How long an approval may wait before the run gives up on it (CodePipeline waits 7 days).
    pub approval_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalOutcome {
    pub stage: String,
    pub action: String,
    pub approved: bool,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOutcome {
    pub build: u32,
    pub execution_id: String,
    pub succeeded: bool,
    /// Where it stopped: (stage, action, message).
    pub stopped_at: Option<(String, String, String)>,
    pub approvals: Vec<ApprovalOutcome>,
    /// (deployment group, deployment id) of the CodeDeploy actions.
    pub deployments: Vec<(String, String)>,
}

type Location = (String, String);

enum ActionResult {
    Done {
        detail: String,
        outputs: Vec<(String, Location)>,
        deployment: Option<(String, String)>,
    },
    Approval(ApprovalOutcome),
}

impl Executor {
    pub async fn run(&self, build: u32) -> ExecutionOutcome {
        let execution_id = uuid::Uuid::new_v4().to_string();
        self.progress.send(Progress::ExecutionStarted {
            build,
            execution_id: execution_id.clone(),
        });
        let mut outcome = ExecutionOutcome {
            build,
            execution_id: execution_id.clone(),
            succeeded: false,
            stopped_at: None,
            approvals: vec![],
            deployments: vec![],
        };
        let mut artifacts: BTreeMap<String, Location> = BTreeMap::new();
        let name = self.pipeline.name.clone();
        for stage in &self.pipeline.stages {
            self.fake.enter_stage(&name, &stage.name, &execution_id);
            let mut orders: BTreeMap<u32, Vec<&ActionSpec>> = BTreeMap::new();
            for action in &stage.actions {
                orders.entry(action.run_order).or_default().push(action);
            }
            for actions in orders.values() {
                let runs = actions.iter().map(|action| {
                    self.run_action(build, &stage.name, action, &execution_id, &artifacts)
                });
                let results = futures::future::join_all(runs).await;
                let mut failed = None;
                for (action, result) in actions.iter().zip(results) {
                    match result {
                        Ok(ActionResult::Done {
                            outputs,
                            deployment,
                            ..
                        }) => {
                            artifacts.extend(outputs);
                            outcome.deployments.extend(deployment);
                        }
                        Ok(ActionResult::Approval(a)) => {
                            if !a.approved {
                                failed = failed.or(Some((
                                    stage.name.clone(),
                                    action.name.clone(),
                                    a.summary.clone(),
                                )));
                            }
                            outcome.approvals.push(a);
                        }
                        Err(message) => {
                            failed =
                                failed.or(Some((stage.name.clone(), action.name.clone(), message)))
                        }
                    }
                }
                if let Some(stop) = failed {
                    self.fake
                        .set_stage_status(&name, &stage.name, ActionStatus::Failed.as_str());
                    self.progress.send(Progress::ExecutionFinished {
                        build,
                        succeeded: false,
                        detail: format!("{} / {} did not succeed", stop.0, stop.1),
                    });
                    outcome.stopped_at = Some(stop);
                    return outcome;
                }
            }
            self.fake
                .set_stage_status(&name, &stage.name, ActionStatus::Succeeded.as_str());
        }
        self.progress.send(Progress::ExecutionFinished {
            build,
            succeeded: true,
            detail: "every stage succeeded".into(),
        });
        outcome.succeeded = true;
        outcome
    }

    async fn run_action(
        &self,
        build: u32,
        stage: &str,
        action: &ActionSpec,
        execution_id: &str,
        artifacts: &BTreeMap<String, Location>,
    ) -> Result<ActionResult, String> {
        let started = Instant::now();
        let pipeline = &self.pipeline.name;
        if action.category != "Approval" {
            self.fake.set_action_status(
                pipeline,
                stage,
                &action.name,
                ActionStatus::InProgress.as_str(),
                None,
            );
        }
        let result = match (action.category.as_str(), action.provider.as_str()) {
            ("Source", "S3") => self.source(action, execution_id).await,
            ("Deploy", "CodeDeploy") => self.deploy(action, artifacts).await,
            ("Invoke", "Lambda") => self.invoke(stage, action, execution_id, artifacts).await,
            ("Approval", "Manual") => self.approve(build, stage, action).await,
            (category, provider) => Err(format!(
                "the local pipeline cannot run {category}/{provider} actions"
            )),
        };
        match &result {
            Ok(ActionResult::Done { detail, .. }) => {
                self.fake.set_action_status(
                    pipeline,
                    stage,
                    &action.name,
                    ActionStatus::Succeeded.as_str(),
                    Some(detail.clone()),
                );
                self.progress.send(Progress::ActionDone {
                    build,
                    stage: stage.to_string(),
                    action: action.name.clone(),
                    detail: detail.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            Ok(ActionResult::Approval(_)) => {}
            Err(message) => {
                self.fake.set_action_status(
                    pipeline,
                    stage,
                    &action.name,
                    ActionStatus::Failed.as_str(),
                    Some(message.clone()),
                );
                self.progress.send(Progress::ActionFailed {
                    build,
                    stage: stage.to_string(),
                    action: action.name.clone(),
                    message: message.clone(),
                });
            }
        }
        result
    }

    fn config<'a>(action: &'a ActionSpec, key: &str) -> Result<&'a str, String> {
        action
            .configuration
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("action {} has no {key} in its configuration", action.name))
    }

    /// An S3 source: the object, copied into the artifact store under this execution.
    async fn source(
        &self,
        action: &ActionSpec,
        execution_id: &str,
    ) -> Result<ActionResult, String> {
        let bucket = Self::config(action, "S3Bucket")?;
        let key = Self::config(action, "S3ObjectKey")?;
        let mut outputs = vec![];
        for artifact in &action.output_artifacts {
            let target = format!(
                "{}/{}/{}",
                self.pipeline.name,
                artifact.chars().take(20).collect::<String>(),
                &execution_id[..8]
            );
            self.s3
                .copy_object()
                .copy_source(format!("{bucket}/{key}"))
                .bucket(&self.artifact_bucket)
                .key(&target)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot read s3://{bucket}/{key}: {}",
                        unbreakable_shared::aws::sdk_error::error_parts("CopyObject", &e).1
                    )
                })?;
            outputs.push((artifact.clone(), (self.artifact_bucket.clone(), target)));
        }
        Ok(ActionResult::Done {
            detail: format!("s3://{bucket}/{key}"),
            outputs,
            deployment: None,
        })
    }

    fn input<'a>(
        action: &ActionSpec,
        artifacts: &'a BTreeMap<String, Location>,
    ) -> Result<Vec<(&'a String, &'a Location)>, String> {
        action
            .input_artifacts
            .iter()
            .map(|name| {
                artifacts
                    .get_key_value(name)
                    .ok_or_else(|| format!("input artifact {name} was not produced"))
            })
            .collect()
    }

    async fn deploy(
        &self,
        action: &ActionSpec,
        artifacts: &BTreeMap<String, Location>,
    ) -> Result<ActionResult, String> {
        let application = Self::config(action, "ApplicationName")?;
        let group = Self::config(action, "DeploymentGroupName")?;
        let (_, (bucket, key)) = Self::input(action, artifacts)?
            .into_iter()
            .next()
            .ok_or("a CodeDeploy action needs an input artifact")?;
        let revision = json!({"revisionType": "S3", "s3Location": {"bucket": bucket, "key": key, "bundleType": "zip"}});
        let id = self.fake.deploy(
            application,
            group,
            revision,
            "user",
            &format!("CodePipeline {}", self.pipeline.name),
        );
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let d = self
                .fake
                .deployment(&id)
                .ok_or_else(|| format!("deployment {id} vanished"))?;
            match DeploymentStatus::parse(&d.status) {
                DeploymentStatus::Succeeded => {
                    return Ok(ActionResult::Done {
                        detail: format!("{id} to {group}"),
                        outputs: vec![],
                        deployment: Some((group.to_string(), id)),
                    })
                }
                DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                    return Err(format!(
                        "deployment {id} to {group} failed: {}",
                        d.error_message.unwrap_or_default()
                    ))
                }
                _ if Instant::now() > deadline => {
                    return Err(format!("deployment {id} to {group} took over 5 minutes"))
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    async fn invoke(
        &self,
        stage: &str,
        action: &ActionSpec,
        execution_id: &str,
        artifacts: &BTreeMap<String, Location>,
    ) -> Result<ActionResult, String> {
        let function_name = Self::config(action, "FunctionName")?;
        let function = self
            .functions
            .get(function_name)
            .ok_or_else(|| format!("function {function_name} is not running locally"))?;
        // CodePipeline resolves variables in the action configuration before the job starts.
        let mut configuration = action.configuration.clone();
        for value in configuration.values_mut() {
            *value = value.replace("#{codepipeline.PipelineExecutionId}", execution_id);
        }
        let location = |name: &str, (bucket, key): &Location| json!({"name": name, "revision": null, "location": {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": key}}});
        let inputs: Vec<Value> = Self::input(action, artifacts)?
            .into_iter()
            .map(|(n, l)| location(n, l))
            .collect();
        let outputs: Vec<(String, Location)> = action
            .output_artifacts
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    (
                        self.artifact_bucket.clone(),
                        format!("{}/{n}/{}", self.pipeline.name, &execution_id[..8]),
                    ),
                )
            })
            .collect();
        let data = json!({
            "actionConfiguration": {"configuration": configuration},
            "inputArtifacts": inputs,
            "outputArtifacts": outputs.iter().map(|(n, l)| location(n, l)).collect::<Vec<_>>(),
            // Short-lived credentials for the artifact store, as CodePipeline hands them out.
            "artifactCredentials": {"accessKeyId": "ASIALOCALARTIFACTS", "secretAccessKey": uuid::Uuid::new_v4().to_string(), "sessionToken": uuid::Uuid::new_v4().to_string()},
        });
        let (job_id, event) = self.fake.new_job(
            &self.pipeline.name,
            stage,
            &action.name,
            Some(execution_id),
            data,
        );
        match function.emulator.invoke(event, function.timeout).await {
            Ok(Invocation::Response(_)) => {}
            Ok(Invocation::Error(e)) => {
                return Err(format!(
                    "{function_name} failed: {}",
                    e["errorMessage"].as_str().unwrap_or("unknown error")
                ))
            }
            Err(e) => return Err(format!("{function_name}: {e}")),
        }
        match self.fake.job(&job_id).map(|j| j.status) {
            Some(JobStatus::Succeeded { summary }) => Ok(ActionResult::Done {
                detail: summary
                    .map(|s| super::progress::first_sentence(&s))
                    .unwrap_or_default(),
                outputs,
                deployment: None,
            }),
            Some(JobStatus::Failed {
                failure_type,
                message,
            }) => Err(format!("{failure_type}: {message}")),
            _ => Err(format!(
                "{function_name} returned without reporting the job's result"
            )),
        }
    }

    async fn approve(
        &self,
        build: u32,
        stage: &str,
        action: &ActionSpec,
    ) -> Result<ActionResult, String> {
        let pipeline = &self.pipeline.name;
        self.fake.start_approval(pipeline, stage, &action.name);
        self.progress.send(Progress::ApprovalWaiting {
            build,
            stage: stage.to_string(),
            action: action.name.clone(),
        });
        let deadline = Instant::now() + self.approval_timeout;
        loop {
            let run = self.fake.action_run(pipeline, stage, &action.name);
            let status = run
                .as_ref()
                .and_then(|r| r.status.as_deref())
                .map(ActionStatus::parse);
            if let Some(status @ (ActionStatus::Succeeded | ActionStatus::Failed)) = status {
                let approved = status == ActionStatus::Succeeded;
                let summary = run.and_then(|r| r.summary).unwrap_or_default();
                self.progress.send(Progress::ApprovalDecided {
                    build,
                    stage: stage.to_string(),
                    action: action.name.clone(),
                    approved,
                    summary: summary.clone(),
                });
                return Ok(ActionResult::Approval(ApprovalOutcome {
                    stage: stage.to_string(),
                    action: action.name.clone(),
                    approved,
                    summary,
                }));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no decision within {} s; is the worker running?",
                    self.approval_timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
