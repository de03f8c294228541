//! A stateful CodePipeline and CodeDeploy fake speaking AWS JSON 1.1 (`POST /`,
//! `X-Amz-Target: CodePipeline_20150709.<Op>` or `CodeDeploy_20141006.<Op>`), with the
//! shapes, validations and error types of the AWS API references for these operations. moto implements
//! neither job results nor approvals, and never fills `previousRevision`.
//!
//! Tests drive the pipeline side through methods (define a pipeline, enter a stage, start an
//! approval, create a job) and read back what the functions did (job results, every
//! PutApprovalResult call, deployments).
//!
//! Deployment groups carry the Auto Scaling groups attached to them (CreateDeploymentGroup
//! `autoScalingGroups`, GetDeploymentGroup `autoScalingGroups[].name`): moto 5.2.5 stores the
//! names but answers `"autoScalingGroups": [{}]`, so the scaling action could not learn which
//! group to resize from it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionRun {
    pub status: Option<String>,
    pub token: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageRun {
    pub execution_id: Option<String>,
    pub status: Option<String>,
    pub actions: BTreeMap<String, ActionRun>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The `pipeline` object of GetPipeline.
    pub definition: Value,
    pub stages: BTreeMap<String, StageRun>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    Pending,
    Succeeded {
        summary: Option<String>,
    },
    Failed {
        failure_type: String,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    pub execution_id: Option<String>,
    pub data: Value,
    pub status: JobStatus,
    /// Every PutJob*Result call for this job, accepted or not.
    pub result_calls: usize,
}

/// One PutApprovalResult call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalCall {
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    pub token: String,
    pub status: String,
    pub summary: String,
    /// `None` when accepted, else the error type returned.
    pub error: Option<String>,
    /// When it was received (epoch ms): how late a decision was.
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub application: String,
    pub group: String,
    pub revision: Value,
    pub previous_revision: Option<Value>,
    pub status: String,
    pub creator: String,
    pub description: String,
    pub create_time: f64,
    /// Why a deployment failed (CodeDeploy's `errorInformation.message`).
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub last_successful: Option<String>,
    pub current_revision: Option<Value>,
    /// The names of the Auto Scaling groups attached to the deployment group.
    pub auto_scaling_groups: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub pipelines: BTreeMap<String, Pipeline>,
    pub jobs: BTreeMap<String, JobRecord>,
    pub approvals: Vec<ApprovalCall>,
    pub deployments: BTreeMap<String, Deployment>,
    pub groups: BTreeMap<(String, String), Group>,
    /// Every operation received, in order.
    pub calls: Vec<String>,
    /// When set, deployments start `Created` and an agent runs them (`unbreakable local`);
    /// otherwise they succeed at once.
    pub agent_runs_deployments: bool,
    /// The next CreateDeployment calls fail with these (error type, message), first first.
    pub create_deployment_failures: Vec<(String, String)>,
    counter: u64,
}

impl FakeState {
    fn fresh(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A UUID-shaped id (tokens and job ids must match CodePipeline's UUID pattern).
    pub fn uuid(&mut self) -> String {
        let n = self.fresh();
        let r = fastrand_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            n & 0xfff,
            (r >> 4) & 0xfff,
            n
        )
    }

    fn deployment_id(&mut self) -> String {
        let n = self.fresh();
        format!("d-FAKE{n:05}")
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

type Shared = Arc<Mutex<FakeState>>;

pub struct AwsFake {
    pub endpoint: String,
    pub state: Shared,
    /// Dropping it stops the server (the graceful shutdown waits on its receiver).
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// An action of a pipeline definition: (name, category, provider, configuration).
pub type ActionSpec<'a> = (&'a str, &'a str, &'a str, Value);

impl AwsFake {
    pub async fn start() -> std::io::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let (address, tx) = crate::serve::serve(crate::serve::loopback(), app).await?;
        Ok(AwsFake {
            endpoint: format!("http://{address}"),
            state,
            _shutdown: tx,
        })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state")
    }

    /// Declare a pipeline: stages of actions.
    pub fn define_pipeline(&self, name: &str, stages: &[(&str, Vec<ActionSpec<'_>>)]) {
        let definition = json!({
            "name": name,
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "version": 1,
            "stages": stages.iter().map(|(stage, actions)| json!({
                "name": stage,
                "actions": actions.iter().enumerate().map(|(i, (action, category, provider, config))| json!({
                    "name": action,
                    "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
                    "runOrder": i + 1,
                    "configuration": config,
                    "inputArtifacts": [], "outputArtifacts": [],
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        self.lock().pipelines.insert(
            name.to_string(),
            Pipeline {
                definition,
                stages: BTreeMap::new(),
            },
        );
    }

    /// The stage starts running `execution_id`: its actions start over.
    pub fn enter_stage(&self, pipeline: &str, stage: &str, execution_id: &str) {
        let mut s = self.lock();
        let p = s.pipelines.get_mut(pipeline).expect("pipeline defined");
        p.stages.insert(
            stage.to_string(),
            StageRun {
                execution_id: Some(execution_id.to_string()),
                status: Some("InProgress".into()),
                actions: BTreeMap::new(),
            },
        );
    }

    /// A manual approval of the stage's current execution starts waiting. Returns its token.
    pub fn start_approval(&self, pipeline: &str, stage: &str, action: &str) -> String {
        let mut s = self.lock();
        let token = s.uuid();
        let p = s.pipelines.get_mut(pipeline).expect("pipeline defined");
        let run = p.stages.get_mut(stage).expect("stage entered");
        run.actions.insert(
            action.to_string(),
            ActionRun {
                status: Some("InProgress".into()),
                token: Some(token.clone()),
                summary: None,
            },
        );
        token
    }

    pub fn action_run(&self, pipeline: &str, stage: &str, action: &str) -> Option<ActionRun> {
        self.lock()
            .pipelines
            .get(pipeline)?
            .stages
            .get(stage)?
            .actions
            .get(action)
            .cloned()
    }

    /// A Lambda job for an action; returns the job id and the Lambda event.
    pub fn new_job(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        execution_id: Option<&str>,
        data: Value,
    ) -> (String, Value) {
        let mut s = self.lock();
        let id = s.uuid();
        s.jobs.insert(
            id.clone(),
            JobRecord {
                id: id.clone(),
                pipeline: pipeline.to_string(),
                stage: stage.to_string(),
                action: action.to_string(),
                execution_id: execution_id.map(str::to_string),
                data: data.clone(),
                status: JobStatus::Pending,
                result_calls: 0,
            },
        );
        let event =
            json!({"CodePipeline.job": {"id": id, "accountId": "123456789012", "data": data}});
        (id, event)
    }

    pub fn job(&self, id: &str) -> Option<JobRecord> {
        self.lock().jobs.get(id).cloned()
    }

    pub fn approvals(&self) -> Vec<ApprovalCall> {
        self.lock().approvals.clone()
    }

    pub fn create_group(&self, application: &str, group: &str) {
        self.lock()
            .groups
            .entry((application.to_string(), group.to_string()))
            .or_default();
    }

    /// A deployment group with these Auto Scaling groups attached (as CreateDeploymentGroup
    /// with `autoScalingGroups` makes it); replaces the attachments of an existing one.
    pub fn create_group_with_auto_scaling(
        &self,
        application: &str,
        group: &str,
        auto_scaling_groups: &[&str],
    ) {
        self.lock()
            .groups
            .entry((application.to_string(), group.to_string()))
            .or_default()
            .auto_scaling_groups = auto_scaling_groups.iter().map(|n| n.to_string()).collect();
    }

    /// A deployment that succeeded: the group's revision moves on, the old one becomes
    /// `previousRevision`, as CodeDeploy records it.
    pub fn deploy(
        &self,
        application: &str,
        group: &str,
        revision: Value,
        creator: &str,
        description: &str,
    ) -> String {
        let mut s = self.lock();
        deploy_locked(&mut s, application, group, revision, creator, description)
    }

    pub fn deployments(&self) -> Vec<Deployment> {
        self.lock().deployments.values().cloned().collect()
    }

    pub fn deployment(&self, id: &str) -> Option<Deployment> {
        self.lock().deployments.get(id).cloned()
    }

    /// The next CreateDeployment fails with `kind` (e.g. `ThrottlingException`) and `message`.
    pub fn fail_next_create_deployment(&self, kind: &str, message: &str) {
        self.lock()
            .create_deployment_failures
            .push((kind.to_string(), message.to_string()));
    }

    /// From now on deployments wait for an agent ([`Self::claim_deployment`]).
    pub fn run_deployments_by_agent(&self) {
        self.lock().agent_runs_deployments = true;
    }

    /// The oldest `Created` deployment, now `InProgress`: what a CodeDeploy agent polls for.
    pub fn claim_deployment(&self) -> Option<Deployment> {
        let mut s = self.lock();
        let d = s
            .deployments
            .values_mut()
            .filter(|d| d.status == "Created")
            .min_by(|a, b| {
                a.create_time
                    .total_cmp(&b.create_time)
                    .then(a.id.cmp(&b.id))
            })?;
        d.status = "InProgress".into();
        Some(d.clone())
    }

    /// The agent's report: success moves the group to the revision.
    pub fn finish_deployment(&self, id: &str, outcome: Result<(), String>) {
        let mut s = self.lock();
        let Some(d) = s.deployments.get_mut(id) else {
            return;
        };
        match outcome {
            Ok(()) => {
                d.status = "Succeeded".into();
                let (key, revision) =
                    ((d.application.clone(), d.group.clone()), d.revision.clone());
                let g = s.groups.entry(key).or_default();
                g.current_revision = Some(revision);
                g.last_successful = Some(id.to_string());
            }
            Err(message) => {
                d.status = "Failed".into();
                d.error_message = Some(message);
            }
        }
    }

    /// Declare a pipeline from its GetPipeline `pipeline` object.
    pub fn set_pipeline(&self, definition: Value) {
        let name = definition["name"].as_str().unwrap_or_default().to_string();
        self.lock().pipelines.insert(
            name,
            Pipeline {
                definition,
                stages: BTreeMap::new(),
            },
        );
    }

    /// Record an action's state in its stage's current run, as GetPipelineState shows it.
    pub fn set_action_status(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        status: &str,
        summary: Option<String>,
    ) {
        let mut s = self.lock();
        if let Some(run) = s
            .pipelines
            .get_mut(pipeline)
            .and_then(|p| p.stages.get_mut(stage))
        {
            run.actions.insert(
                action.to_string(),
                ActionRun {
                    status: Some(status.to_string()),
                    token: None,
                    summary,
                },
            );
        }
    }

    /// The stage's run ends.
    pub fn set_stage_status(&self, pipeline: &str, stage: &str, status: &str) {
        let mut s = self.lock();
        if let Some(run) = s
            .pipelines
            .get_mut(pipeline)
            .and_then(|p| p.stages.get_mut(stage))
        {
            run.status = Some(status.to_string());
        }
    }
}

fn deploy_locked(
    s: &mut FakeState,
    application: &str,
    group: &str,
    revision: Value,
    creator: &str,
    description: &str,
) -> String {
    let id = s.deployment_id();
    let by_agent = s.agent_runs_deployments;
    let g = s
        .groups
        .entry((application.to_string(), group.to_string()))
        .or_default();
    // previousRevision is the group's last successfully deployed revision when this one starts.
    let previous = g.current_revision.clone();
    if !by_agent {
        g.current_revision = Some(revision.clone());
        g.last_successful = Some(id.clone());
    }
    s.deployments.insert(
        id.clone(),
        Deployment {
            id: id.clone(),
            application: application.to_string(),
            group: group.to_string(),
            revision,
            previous_revision: previous,
            status: if by_agent { "Created" } else { "Succeeded" }.into(),
            creator: creator.to_string(),
            description: description.to_string(),
            create_time: now_secs(),
            error_message: None,
        },
    );
    id
}

struct AwsError {
    kind: String,
    message: String,
}

fn err(kind: &str, message: impl Into<String>) -> AwsError {
    AwsError {
        kind: kind.to_string(),
        message: message.into(),
    }
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, AwsError> {
    body[name]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("ValidationException", format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null")))
}

async fn handle(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let mut s = state.lock().expect("fake state");
    s.calls.push(target.clone());
    let result = match target.split_once('.') {
        Some(("CodePipeline_20150709", op)) => codepipeline(&mut s, op, &body),
        Some(("CodeDeploy_20141006", op)) => codedeploy(&mut s, op, &body),
        _ => Err(err(
            "UnknownOperationException",
            format!("unknown target {target}"),
        )),
    };
    drop(s);
    match result {
        Ok(value) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            value.to_string(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            json!({"__type": e.kind, "message": e.message}).to_string(),
        )
            .into_response(),
    }
}

fn codepipeline(s: &mut FakeState, op: &str, body: &Value) -> Result<Value, AwsError> {
    match op {
        "GetJobDetails" => {
            let id = field(body, "jobId")?;
            let job = s
                .jobs
                .get(id)
                .ok_or_else(|| err("JobNotFoundException", format!("Job {id} not found")))?;
            let pipeline = s.pipelines.get(&job.pipeline);
            let action = pipeline.and_then(|p| {
                p.definition["stages"]
                    .as_array()?
                    .iter()
                    .find(|st| st["name"] == job.stage.as_str())?["actions"]
                    .as_array()?
                    .iter()
                    .find(|a| a["name"] == job.action.as_str())
                    .cloned()
            });
            let mut data = job.data.clone();
            let object = data
                .as_object_mut()
                .ok_or_else(|| err("ValidationException", "job data"))?;
            object.insert("actionTypeId".into(), action.map(|a| a["actionTypeId"].clone()).unwrap_or(json!({"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"})));
            let mut context = json!({
                "pipelineName": job.pipeline,
                "stage": {"name": job.stage},
                "action": {"name": job.action, "actionExecutionId": format!("ae-{}", job.id)},
                "pipelineArn": format!("arn:aws:codepipeline:us-east-1:123456789012:{}", job.pipeline),
            });
            if let Some(exec) = &job.execution_id {
                context["pipelineExecutionId"] = json!(exec);
            }
            object.insert("pipelineContext".into(), context);
            Ok(json!({"jobDetails": {"id": job.id, "accountId": "123456789012", "data": data}}))
        }
        "PutJobSuccessResult" | "PutJobFailureResult" => {
            let id = field(body, "jobId")?.to_string();
            let job = s
                .jobs
                .get_mut(&id)
                .ok_or_else(|| err("JobNotFoundException", format!("Job {id} not found")))?;
            job.result_calls += 1;
            if job.status != JobStatus::Pending {
                return Err(err(
                    "InvalidJobStateException",
                    format!("Job {id} is already completed"),
                ));
            }
            if op == "PutJobSuccessResult" {
                let summary = body["executionDetails"]["summary"]
                    .as_str()
                    .map(str::to_string);
                if summary.as_ref().is_some_and(|t| t.chars().count() > 2048) {
                    return Err(err("ValidationException", "executionDetails.summary: Member must have length less than or equal to 2048"));
                }
                job.status = JobStatus::Succeeded { summary };
            } else {
                let details = &body["failureDetails"];
                let failure_type = details["type"].as_str().unwrap_or_default().to_string();
                let known = [
                    "JobFailed",
                    "ConfigurationError",
                    "PermissionError",
                    "RevisionOutOfSync",
                    "RevisionUnavailable",
                    "SystemUnavailable",
                ];
                if !known.contains(&failure_type.as_str()) {
                    return Err(err(
                        "ValidationException",
                        format!("failureDetails.type: '{failure_type}' is not one of {known:?}"),
                    ));
                }
                let message = details["message"].as_str().unwrap_or_default().to_string();
                if message.is_empty() || message.chars().count() > 5000 {
                    return Err(err(
                        "ValidationException",
                        "failureDetails.message: Member must have length between 1 and 5000",
                    ));
                }
                job.status = JobStatus::Failed {
                    failure_type,
                    message,
                };
            }
            Ok(json!({}))
        }
        "GetPipeline" => {
            let name = field(body, "name")?;
            let p = s.pipelines.get(name).ok_or_else(|| {
                err(
                    "PipelineNotFoundException",
                    format!("Pipeline {name} not found"),
                )
            })?;
            Ok(
                json!({"pipeline": p.definition, "metadata": {"pipelineArn": format!("arn:aws:codepipeline:us-east-1:123456789012:{name}"), "created": now_secs(), "updated": now_secs()}}),
            )
        }
        "GetPipelineState" => {
            let name = field(body, "name")?;
            let p = s.pipelines.get(name).ok_or_else(|| {
                err(
                    "PipelineNotFoundException",
                    format!("Pipeline {name} not found"),
                )
            })?;
            let stages: Vec<Value> = p.definition["stages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|st| {
                    let stage = st["name"].as_str().unwrap_or_default();
                    let run = p.stages.get(stage);
                    let actions: Vec<Value> = st["actions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let action = a["name"].as_str().unwrap_or_default();
                            let mut state = json!({"actionName": action});
                            if let Some(ar) = run.and_then(|r| r.actions.get(action)) {
                                let mut latest =
                                    json!({"status": ar.status, "lastStatusChange": now_secs()});
                                if let Some(t) = &ar.token {
                                    latest["token"] = json!(t);
                                }
                                if let Some(sm) = &ar.summary {
                                    latest["summary"] = json!(sm);
                                }
                                state["latestExecution"] = latest;
                            }
                            state
                        })
                        .collect();
                    let mut state = json!({"stageName": stage, "actionStates": actions});
                    if let Some(r) = run {
                        state["latestExecution"] =
                            json!({"pipelineExecutionId": r.execution_id, "status": r.status});
                    }
                    state
                })
                .collect();
            Ok(
                json!({"pipelineName": name, "pipelineVersion": 1, "stageStates": stages, "created": now_secs(), "updated": now_secs()}),
            )
        }
        "PutApprovalResult" => {
            let pipeline = field(body, "pipelineName")?.to_string();
            let stage = field(body, "stageName")?.to_string();
            let action = field(body, "actionName")?.to_string();
            let token = field(body, "token")?.to_string();
            let status = body["result"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let summary = body["result"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let outcome = (|| {
                if summary.chars().count() > 512 {
                    return Err(err(
                        "ValidationException",
                        "result.summary: Member must have length less than or equal to 512",
                    ));
                }
                if status != "Approved" && status != "Rejected" {
                    return Err(err(
                        "ValidationException",
                        format!("result.status: '{status}' is not one of [Approved, Rejected]"),
                    ));
                }
                let p = s.pipelines.get_mut(&pipeline).ok_or_else(|| {
                    err(
                        "PipelineNotFoundException",
                        format!("Pipeline {pipeline} not found"),
                    )
                })?;
                let run = p.stages.get_mut(&stage).ok_or_else(|| {
                    err("StageNotFoundException", format!("Stage {stage} not found"))
                })?;
                let ar = run.actions.get_mut(&action).ok_or_else(|| {
                    err(
                        "ActionNotFoundException",
                        format!("Action {action} not found"),
                    )
                })?;
                if ar.status.as_deref() != Some("InProgress") {
                    return Err(err(
                        "ApprovalAlreadyCompletedException",
                        format!("Approval for {action} is already completed"),
                    ));
                }
                if ar.token.as_deref() != Some(token.as_str()) {
                    return Err(err(
                        "InvalidApprovalTokenException",
                        format!("The token {token} is not valid for {action}"),
                    ));
                }
                ar.status = Some(
                    if status == "Approved" {
                        "Succeeded"
                    } else {
                        "Failed"
                    }
                    .into(),
                );
                ar.token = None;
                ar.summary = Some(summary.clone());
                run.status = Some(
                    if status == "Approved" {
                        "Succeeded"
                    } else {
                        "Failed"
                    }
                    .into(),
                );
                Ok(())
            })();
            s.approvals.push(ApprovalCall {
                pipeline,
                stage,
                action,
                token,
                status,
                summary,
                error: outcome.as_ref().err().map(|e| e.kind.to_string()),
                at_ms: (now_secs() * 1000.0) as i64,
            });
            outcome.map(|()| json!({"approvedAt": now_secs()}))
        }
        other => Err(err(
            "UnknownOperationException",
            format!("CodePipeline operation {other} is not faked"),
        )),
    }
}

fn deployment_json(d: &Deployment) -> Value {
    let mut info = json!({
        "deploymentId": d.id, "applicationName": d.application, "deploymentGroupName": d.group,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime", "revision": d.revision,
        "status": d.status, "creator": d.creator, "description": d.description,
        "createTime": d.create_time, "completeTime": d.create_time, "fileExistsBehavior": "OVERWRITE",
    });
    if let Some(p) = &d.previous_revision {
        info["previousRevision"] = p.clone();
    }
    if let Some(message) = &d.error_message {
        info["errorInformation"] = json!({"code": "SCRIPT_FAILED", "message": message});
    }
    info
}

fn codedeploy(s: &mut FakeState, op: &str, body: &Value) -> Result<Value, AwsError> {
    match op {
        "GetDeployment" => {
            let id = field(body, "deploymentId")?;
            let d = s.deployments.get(id).ok_or_else(|| {
                err(
                    "DeploymentDoesNotExistException",
                    format!("The deployment {id} could not be found"),
                )
            })?;
            Ok(json!({"deploymentInfo": deployment_json(d)}))
        }
        "GetDeploymentGroup" => {
            let app = field(body, "applicationName")?.to_string();
            let group = field(body, "deploymentGroupName")?.to_string();
            // The fake knows an application by its deployment groups.
            if !s.groups.keys().any(|(a, _)| *a == app) {
                return Err(err(
                    "ApplicationDoesNotExistException",
                    format!("The application {app} does not exist with the user or AWS account."),
                ));
            }
            let g = s.groups.get(&(app.clone(), group.clone())).ok_or_else(|| {
                err(
                    "DeploymentGroupDoesNotExistException",
                    format!("No deployment group {group} in {app}"),
                )
            })?;
            // CodeDeploy names the lifecycle hook it adds to each attached group.
            let auto_scaling_groups: Vec<Value> = g
                .auto_scaling_groups
                .iter()
                .map(|name| json!({"name": name, "hook": format!("CodeDeploy-managed-automatic-launch-deployment-hook-{group}-{name}")}))
                .collect();
            let mut info = json!({"applicationName": app, "deploymentGroupName": group, "deploymentGroupId": format!("dg-{app}-{group}"), "computePlatform": "Server", "autoScalingGroups": auto_scaling_groups});
            if let Some(id) = &g.last_successful {
                let d = &s.deployments[id];
                info["lastSuccessfulDeployment"] = json!({"deploymentId": id, "status": "Succeeded", "createTime": d.create_time, "endTime": d.create_time});
                info["targetRevision"] = d.revision.clone();
            }
            Ok(json!({"deploymentGroupInfo": info}))
        }
        "CreateDeploymentGroup" => {
            let app = field(body, "applicationName")?.to_string();
            let group = field(body, "deploymentGroupName")?.to_string();
            field(body, "serviceRoleArn")?;
            let key = (app.clone(), group.clone());
            if s.groups.contains_key(&key) {
                return Err(err(
                    "DeploymentGroupAlreadyExistsException",
                    format!("Deployment group {group} already exists."),
                ));
            }
            let mut auto_scaling_groups = Vec::new();
            for name in body["autoScalingGroups"].as_array().into_iter().flatten() {
                match name.as_str() {
                    Some(name) if !name.is_empty() => auto_scaling_groups.push(name.to_string()),
                    _ => {
                        return Err(err(
                            "InvalidAutoScalingGroupException",
                            format!("autoScalingGroups: {name} is not an Auto Scaling group name"),
                        ))
                    }
                }
            }
            s.groups.insert(
                key,
                Group {
                    auto_scaling_groups,
                    ..Group::default()
                },
            );
            Ok(json!({"deploymentGroupId": format!("dg-{app}-{group}")}))
        }
        "CreateDeployment" => {
            if !s.create_deployment_failures.is_empty() {
                let (kind, message) = s.create_deployment_failures.remove(0);
                return Err(err(&kind, message));
            }
            let app = field(body, "applicationName")?.to_string();
            let group = field(body, "deploymentGroupName")?.to_string();
            if !s.groups.contains_key(&(app.clone(), group.clone())) {
                return Err(err(
                    "DeploymentGroupDoesNotExistException",
                    format!("No deployment group {group} in {app}"),
                ));
            }
            let revision = body["revision"].clone();
            let s3 = &revision["s3Location"];
            if revision["revisionType"] != "S3"
                || s3["bucket"].as_str().is_none()
                || s3["key"].as_str().is_none()
            {
                return Err(err(
                    "InvalidRevisionException",
                    "revision must be an S3 location with bucket and key",
                ));
            }
            let description = body["description"].as_str().unwrap_or_default().to_string();
            if description.chars().count() > 100_000 {
                return Err(err("DescriptionTooLongException", "description too long"));
            }
            let id = deploy_locked(s, &app, &group, revision, "user", &description);
            Ok(json!({"deploymentId": id}))
        }
        other => Err(err(
            "UnknownOperationException",
            format!("CodeDeploy operation {other} is not faked"),
        )),
    }
}
