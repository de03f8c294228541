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
//!
//! This file holds the state, the methods tests use and the JSON 1.1 envelope (target, error
//! body); `codepipeline` and `codedeploy` serve the operations, one function each.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

mod codedeploy;
mod codepipeline;

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
        codedeploy::deploy_locked(&mut s, application, group, revision, creator, description)
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
        Some(("CodePipeline_20150709", op)) => codepipeline::operation(&mut s, op, &body),
        Some(("CodeDeploy_20141006", op)) => codedeploy::operation(&mut s, op, &body),
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
