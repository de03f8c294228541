//! The pipeline gate ([`Pipeline`]): the in-memory double and the CodePipeline adapter over
//! the project's CodePipeline fake, held to the same checks. The double is read-only data
//! behind the port, so each side comes with a [`PipelineWorld`] that arranges what CodePipeline
//! would show (a pipeline, a stage run, a waiting approval, a job) and reads back what it
//! received (job results, accepted approvals).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use unbreakable_emulators::aws::fake::{ActionSpec, JobStatus};
use unbreakable_emulators::aws::AwsFake;
use unbreakable_shared::aws::codepipeline::CodePipeline;
use unbreakable_shared::aws::declared::DeclaredActions;
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::ports::memory::{JobResult, MemoryPipeline};
use unbreakable_shared::ports::pipeline::{
    ActionDefinition, ActionState, ActionStatus, JobContext, JobFailure, Pipeline,
    PipelineDefinition, PipelineError, PipelineState, StageDefinition, StageState,
};

const PIPELINE: &str = "SampleDevOpsAppPipeline";
const APPROVAL: &str = "ApproveStaging";
/// A token of the right shape that no approval is waiting with.
const STALE_TOKEN: &str = "00000000-0000-4000-8000-000000000000";
const UNKNOWN_JOB: &str = "00000000-0000-4000-8000-00000000dead";

/// What a contract arranges on either side, and what it reads back of the service.
trait PipelineWorld {
    fn pipeline(&self) -> &dyn Pipeline;
    fn define(&self, definition: &PipelineDefinition);
    /// The stage starts running `execution_id`: its actions start over.
    fn enter_stage(&self, pipeline: &str, stage: &str, execution_id: &str);
    /// A manual approval of the stage's run starts waiting; returns its token.
    fn start_approval(&self, pipeline: &str, stage: &str, action: &str) -> String;
    /// A Lambda job for the action; returns its id.
    fn new_job(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        execution_id: Option<&str>,
    ) -> String;
    /// The job's result as the service keeps it, `None` while it has none.
    fn job_result(&self, job_id: &str) -> Option<JobResult>;
    /// The approvals the service accepted, in order: (pipeline, action, approved, summary).
    fn accepted_approvals(&self) -> Vec<(String, String, bool, String)>;
}

fn action(
    name: &str,
    category: &str,
    provider: &str,
    configuration: &[(&str, &str)],
) -> ActionDefinition {
    ActionDefinition {
        name: name.into(),
        category: category.into(),
        provider: provider.into(),
        configuration: configuration
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// The tutorial's pipeline; each action's configuration sorted by key, as the adapter
/// reads it.
fn tutorial() -> PipelineDefinition {
    PipelineDefinition {
        name: PIPELINE.into(),
        stages: vec![
            StageDefinition {
                name: "Source".into(),
                actions: vec![action(
                    "SourceMonspec",
                    "Source",
                    "S3",
                    &[
                        ("S3Bucket", "unbreakable-artifacts"),
                        ("S3ObjectKey", "monspec.json"),
                    ],
                )],
            },
            StageDefinition {
                name: "Staging".into(),
                actions: vec![
                    action(
                        "DeployToStaging",
                        "Deploy",
                        "CodeDeploy",
                        &[
                            ("ApplicationName", "SampleDevOpsApp"),
                            ("DeploymentGroupName", "Staging"),
                        ],
                    ),
                    action(
                        "RegisterStagingValidation",
                        "Invoke",
                        "Lambda",
                        &[
                            ("FunctionName", "register-build-validation"),
                            ("UserParameters", "StagingToProduction,5"),
                        ],
                    ),
                ],
            },
            StageDefinition {
                name: APPROVAL.into(),
                actions: vec![action(APPROVAL, "Approval", "Manual", &[])],
            },
        ],
    }
}

/// What GetPipelineState shows of a pipeline nothing has run in: every stage and action, in
/// order, none with a run.
fn idle(definition: &PipelineDefinition) -> PipelineState {
    PipelineState {
        stages: definition
            .stages
            .iter()
            .map(|s| StageState {
                name: s.name.clone(),
                execution_id: None,
                status: None,
                actions: s
                    .actions
                    .iter()
                    .map(|a| ActionState {
                        name: a.name.clone(),
                        status: None,
                        token: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn approval_stage(state: &PipelineState) -> &StageState {
    state
        .stages
        .iter()
        .find(|s| s.name == APPROVAL)
        .expect("the approval stage")
}

fn approval_action(state: &PipelineState) -> &ActionState {
    &approval_stage(state).actions[0]
}

fn waiting(token: &str) -> ActionState {
    ActionState {
        name: APPROVAL.into(),
        status: Some(ActionStatus::InProgress),
        token: Some(token.into()),
    }
}

fn closed(status: ActionStatus) -> ActionState {
    ActionState {
        name: APPROVAL.into(),
        status: Some(status),
        token: None,
    }
}

fn assert_approval_closed(result: Result<(), PipelineError>, what: &str) {
    match result {
        Err(PipelineError::ApprovalClosed(_)) => {}
        other => panic!("{what}: expected ApprovalClosed, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, PipelineError>, name: &str) {
    match result {
        Err(PipelineError::NotFound(why)) => assert!(why.contains(name), "{why}"),
        other => panic!("{name}: expected NotFound, got {other:?}"),
    }
}

/// A job says which pipeline, stage, action and execution it belongs to.
async fn a_job_tells_where_it_runs(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    let job = world.new_job(
        PIPELINE,
        "Staging",
        "RegisterStagingValidation",
        Some("exec-1"),
    );
    assert_eq!(
        world.pipeline().job_context(&job).await.unwrap(),
        JobContext {
            pipeline: PIPELINE.into(),
            stage: "Staging".into(),
            action: "RegisterStagingValidation".into(),
            execution_id: Some("exec-1".into()),
        }
    );
    let bare = world.new_job(PIPELINE, "Staging", "RegisterStagingValidation", None);
    assert_eq!(
        world
            .pipeline()
            .job_context(&bare)
            .await
            .unwrap()
            .execution_id,
        None,
        "an execution id the job leaves out is none"
    );
    assert_not_found(world.pipeline().job_context(UNKNOWN_JOB).await, UNKNOWN_JOB);
}

/// The definition is the pipeline as declared: stages and actions in order, each action's
/// category, provider and settings.
async fn the_definition_is_the_pipeline_as_declared(world: &dyn PipelineWorld) {
    let declared = tutorial();
    world.define(&declared);
    let definition = world.pipeline().definition(PIPELINE).await.unwrap();
    assert_eq!(definition, declared);
    assert_eq!(
        definition.stage("Staging").expect("stage").actions[0].setting("DeploymentGroupName"),
        Some("Staging")
    );
    assert_not_found(
        world.pipeline().definition("NoSuchPipeline").await,
        "NoSuchPipeline",
    );
}

/// The state shows what runs now: every stage and action in order, the stage's execution,
/// and the waiting approval with its token; a new run of the stage starts its approval over.
async fn the_state_shows_what_runs_now(world: &dyn PipelineWorld) {
    let definition = tutorial();
    world.define(&definition);
    let nothing_run = idle(&definition);
    assert_eq!(world.pipeline().state(PIPELINE).await.unwrap(), nothing_run);

    world.enter_stage(PIPELINE, APPROVAL, "exec-1");
    let token = world.start_approval(PIPELINE, APPROVAL, APPROVAL);
    let state = world.pipeline().state(PIPELINE).await.unwrap();
    assert_eq!(
        approval_stage(&state),
        &StageState {
            name: APPROVAL.into(),
            execution_id: Some("exec-1".into()),
            status: Some(ActionStatus::InProgress),
            actions: vec![waiting(&token)],
        }
    );
    assert_eq!(
        state.stages[..2],
        nothing_run.stages[..2],
        "the other stages are as they were"
    );

    world.enter_stage(PIPELINE, APPROVAL, "exec-2");
    let state = world.pipeline().state(PIPELINE).await.unwrap();
    assert_eq!(
        approval_stage(&state).execution_id.as_deref(),
        Some("exec-2")
    );
    assert_eq!(
        approval_action(&state),
        &ActionState {
            name: APPROVAL.into(),
            status: None,
            token: None,
        },
        "the new run's approval has not started"
    );
    let next = world.start_approval(PIPELINE, APPROVAL, APPROVAL);
    assert_ne!(next, token, "each approval has its own token");
    assert_eq!(
        approval_action(&world.pipeline().state(PIPELINE).await.unwrap()),
        &waiting(&next)
    );
    assert_not_found(
        world.pipeline().state("NoSuchPipeline").await,
        "NoSuchPipeline",
    );
}

/// An approval is answered once, with the token it waits with: a stale token or a second
/// answer is ApprovalClosed (never retried), and changes nothing.
async fn an_approval_is_answered_once_with_its_token(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    world.enter_stage(PIPELINE, APPROVAL, "exec-1");
    let token = world.start_approval(PIPELINE, APPROVAL, APPROVAL);
    let p = world.pipeline();

    assert_approval_closed(
        p.put_approval(PIPELINE, APPROVAL, APPROVAL, STALE_TOKEN, true, "approve")
            .await,
        "a token the approval does not wait with",
    );
    assert_eq!(
        approval_action(&p.state(PIPELINE).await.unwrap()),
        &waiting(&token),
        "still waiting"
    );
    assert!(world.accepted_approvals().is_empty());

    let pass = "p90 response time 480 ms <= limit 650 ms";
    p.put_approval(PIPELINE, APPROVAL, APPROVAL, &token, true, pass)
        .await
        .unwrap();
    assert_eq!(
        world.accepted_approvals(),
        [(
            PIPELINE.to_string(),
            APPROVAL.to_string(),
            true,
            pass.to_string()
        )],
        "sent as given"
    );
    assert_eq!(
        approval_action(&p.state(PIPELINE).await.unwrap()),
        &closed(ActionStatus::Succeeded),
        "approved: closed, without a token"
    );
    assert_approval_closed(
        p.put_approval(PIPELINE, APPROVAL, APPROVAL, &token, false, "reject")
            .await,
        "a second answer",
    );
    assert_eq!(world.accepted_approvals().len(), 1);

    // The next run's approval: the previous token does not answer it; its own rejects it.
    world.enter_stage(PIPELINE, APPROVAL, "exec-2");
    let next = world.start_approval(PIPELINE, APPROVAL, APPROVAL);
    assert_approval_closed(
        p.put_approval(PIPELINE, APPROVAL, APPROVAL, &token, true, "approve")
            .await,
        "the previous run's token",
    );
    let fail = "p90 response time 812 ms > limit 650 ms";
    p.put_approval(PIPELINE, APPROVAL, APPROVAL, &next, false, fail)
        .await
        .unwrap();
    assert_eq!(
        approval_action(&p.state(PIPELINE).await.unwrap()),
        &closed(ActionStatus::Failed),
        "rejected: closed, failed"
    );
    assert_eq!(
        world.accepted_approvals().last(),
        Some(&(
            PIPELINE.to_string(),
            APPROVAL.to_string(),
            false,
            fail.to_string()
        ))
    );
}

/// A job's success or failure reaches the job as sent: the summary, or the failure's type
/// and message.
async fn a_job_result_reaches_the_job(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    let p = world.pipeline();
    let new_job = || world.new_job(PIPELINE, "Staging", "RegisterStagingValidation", Some("e"));

    let registered = new_job();
    assert_eq!(world.job_result(&registered), None, "no result yet");
    p.job_succeeded(&registered, "validation registered; ready at 10:05")
        .await
        .unwrap();
    assert_eq!(
        world.job_result(&registered),
        Some(Ok("validation registered; ready at 10:05".to_string()))
    );

    let misconfigured = new_job();
    let why = "monspec.json: SampleJSonService.comparisons[1].source: environment \"Stagin\" is not defined";
    p.job_failed(&misconfigured, JobFailure::ConfigurationError, why, "e")
        .await
        .unwrap();
    assert_eq!(
        world.job_result(&misconfigured),
        Some(Err((JobFailure::ConfigurationError, why.to_string())))
    );

    let failed = new_job();
    p.job_failed(
        &failed,
        JobFailure::JobFailed,
        "Dynatrace did not answer",
        "e",
    )
    .await
    .unwrap();
    assert_eq!(
        world.job_result(&failed),
        Some(Err((
            JobFailure::JobFailed,
            "Dynatrace did not answer".to_string()
        )))
    );
    assert_eq!(
        world.job_result(&registered),
        Some(Ok("validation registered; ready at 10:05".to_string())),
        "each job keeps its own result"
    );
}

/// A result for a job CodePipeline does not know is NotFound; a second result for a job is
/// refused (InvalidJobStateException) and the first stays.
async fn a_result_for_an_unknown_or_finished_job_is_refused(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    let p = world.pipeline();
    assert_not_found(p.job_succeeded(UNKNOWN_JOB, "done").await, UNKNOWN_JOB);
    let job = world.new_job(PIPELINE, "Staging", "RegisterStagingValidation", None);
    p.job_succeeded(&job, "done").await.unwrap();
    match p
        .job_failed(&job, JobFailure::JobFailed, "failed after all", "e")
        .await
    {
        Err(PipelineError::Call(why)) => {
            assert!(why.contains("InvalidJobStateException"), "{why}")
        }
        other => panic!("expected a refused call, got {other:?}"),
    }
    assert_eq!(world.job_result(&job), Some(Ok("done".to_string())));
}

/// The adapter cuts a job's summary to CodePipeline's 2,048 characters and a failure's
/// message to 5,000, marking the cut with "…"; an empty failure message is refused.
async fn job_texts_are_fitted_to_codepipelines_limits(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    let p = world.pipeline();
    let job = || world.new_job(PIPELINE, "Staging", "RegisterStagingValidation", None);

    let long_summary = "s".repeat(3_000);
    let succeeded = job();
    p.job_succeeded(&succeeded, &long_summary).await.unwrap();
    assert_eq!(
        world.job_result(&succeeded),
        Some(Ok(format!("{}…", "s".repeat(2_047))))
    );

    let long_message = "m".repeat(6_000);
    let failed = job();
    p.job_failed(&failed, JobFailure::JobFailed, &long_message, "e")
        .await
        .unwrap();
    assert_eq!(
        world.job_result(&failed),
        Some(Err((
            JobFailure::JobFailed,
            format!("{}…", "m".repeat(4_999))
        )))
    );

    let silent = job();
    match p.job_failed(&silent, JobFailure::JobFailed, "", "e").await {
        Err(PipelineError::Call(why)) => assert!(why.contains("failureDetails.message"), "{why}"),
        other => panic!("expected a refused call, got {other:?}"),
    }
    assert_eq!(world.job_result(&silent), None);
}

/// An approval summary over CodePipeline's 512 characters is refused (the caller keeps the
/// decision's summary within it), and the approval still waits.
async fn an_approval_summary_over_512_characters_is_refused(world: &dyn PipelineWorld) {
    world.define(&tutorial());
    world.enter_stage(PIPELINE, APPROVAL, "exec-1");
    let token = world.start_approval(PIPELINE, APPROVAL, APPROVAL);
    let p = world.pipeline();
    match p
        .put_approval(PIPELINE, APPROVAL, APPROVAL, &token, true, &"x".repeat(513))
        .await
    {
        Err(PipelineError::Call(why)) => assert!(why.contains("512"), "{why}"),
        other => panic!("expected a refused call, got {other:?}"),
    }
    assert_eq!(
        approval_action(&p.state(PIPELINE).await.unwrap()),
        &waiting(&token)
    );
    assert!(world.accepted_approvals().is_empty());
    p.put_approval(PIPELINE, APPROVAL, APPROVAL, &token, true, &"x".repeat(512))
        .await
        .unwrap();
}

/// An approval answered in a pipeline that does not exist is NotFound.
async fn an_approval_in_a_pipeline_that_does_not_exist_is_not_found(world: &dyn PipelineWorld) {
    assert_not_found(
        world
            .pipeline()
            .put_approval(
                "NoSuchPipeline",
                APPROVAL,
                APPROVAL,
                STALE_TOKEN,
                true,
                "ok",
            )
            .await,
        "NoSuchPipeline",
    );
}

/// The double, with CodePipeline's state arranged as the fake shows it.
#[derive(Default)]
struct MemoryWorld {
    double: MemoryPipeline,
    ids: AtomicU64,
}

impl MemoryWorld {
    fn fresh(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Change the stage's run in the double's state.
    fn with_stage(&self, pipeline: &str, stage: &str, change: impl FnOnce(&mut StageState)) {
        let mut pipelines = self.double.pipelines.lock().unwrap();
        let (_, state) = pipelines.get_mut(pipeline).expect("pipeline defined");
        change(
            state
                .stages
                .iter_mut()
                .find(|s| s.name == stage)
                .expect("stage defined"),
        );
    }
}

impl PipelineWorld for MemoryWorld {
    fn pipeline(&self) -> &dyn Pipeline {
        &self.double
    }

    fn define(&self, definition: &PipelineDefinition) {
        self.double.pipelines.lock().unwrap().insert(
            definition.name.clone(),
            (definition.clone(), idle(definition)),
        );
    }

    fn enter_stage(&self, pipeline: &str, stage: &str, execution_id: &str) {
        self.with_stage(pipeline, stage, |run| {
            run.execution_id = Some(execution_id.into());
            run.status = Some(ActionStatus::InProgress);
            for a in &mut run.actions {
                a.status = None;
                a.token = None;
            }
        });
    }

    fn start_approval(&self, pipeline: &str, stage: &str, action: &str) -> String {
        let token = format!("token-{}", self.fresh());
        self.with_stage(pipeline, stage, |run| {
            let a = run
                .actions
                .iter_mut()
                .find(|a| a.name == action)
                .expect("action defined");
            a.status = Some(ActionStatus::InProgress);
            a.token = Some(token.clone());
        });
        token
    }

    fn new_job(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        execution_id: Option<&str>,
    ) -> String {
        let id = format!("job-{}", self.fresh());
        self.double.jobs.lock().unwrap().insert(
            id.clone(),
            JobContext {
                pipeline: pipeline.into(),
                stage: stage.into(),
                action: action.into(),
                execution_id: execution_id.map(str::to_string),
            },
        );
        id
    }

    fn job_result(&self, job_id: &str) -> Option<JobResult> {
        // The first result, as CodePipeline keeps it.
        self.double
            .job_results
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| id == job_id)
            .map(|(_, result)| result.clone())
    }

    fn accepted_approvals(&self) -> Vec<(String, String, bool, String)> {
        self.double
            .approvals
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a.pipeline.clone(),
                    a.action.clone(),
                    a.approved,
                    a.summary.clone(),
                )
            })
            .collect()
    }
}

/// What the adapter calls, declared as a function declares them: a call beyond it fails.
const PIPELINE_ACTIONS: [&str; 6] = [
    "codepipeline:GetJobDetails",
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineState",
    "codepipeline:PutApprovalResult",
    "codepipeline:PutJobFailureResult",
    "codepipeline:PutJobSuccessResult",
];

/// The CodePipeline adapter over the fake, arranged through the fake's own methods.
struct FakeWorld {
    fake: AwsFake,
    adapter: CodePipeline,
}

impl FakeWorld {
    async fn start() -> Self {
        let fake = AwsFake::start().await.expect("CodePipeline fake");
        let clients = AwsClients {
            sdk: crate::sdk(&fake.endpoint).await,
            declared: DeclaredActions {
                actions: &PIPELINE_ACTIONS,
            },
        };
        FakeWorld {
            adapter: clients.pipeline(),
            fake,
        }
    }
}

fn failure_of(failure_type: &str) -> JobFailure {
    match failure_type {
        "ConfigurationError" => JobFailure::ConfigurationError,
        "JobFailed" => JobFailure::JobFailed,
        other => panic!("the adapter sent failure type {other}"),
    }
}

impl PipelineWorld for FakeWorld {
    fn pipeline(&self) -> &dyn Pipeline {
        &self.adapter
    }

    fn define(&self, definition: &PipelineDefinition) {
        let stages: Vec<(&str, Vec<ActionSpec<'_>>)> = definition
            .stages
            .iter()
            .map(|s| {
                let actions: Vec<ActionSpec<'_>> = s
                    .actions
                    .iter()
                    .map(|a| {
                        let configuration: serde_json::Map<String, Value> = a
                            .configuration
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect();
                        (
                            a.name.as_str(),
                            a.category.as_str(),
                            a.provider.as_str(),
                            Value::Object(configuration),
                        )
                    })
                    .collect();
                (s.name.as_str(), actions)
            })
            .collect();
        self.fake.define_pipeline(&definition.name, &stages);
    }

    fn enter_stage(&self, pipeline: &str, stage: &str, execution_id: &str) {
        self.fake.enter_stage(pipeline, stage, execution_id);
    }

    fn start_approval(&self, pipeline: &str, stage: &str, action: &str) -> String {
        self.fake.start_approval(pipeline, stage, action)
    }

    fn new_job(
        &self,
        pipeline: &str,
        stage: &str,
        action: &str,
        execution_id: Option<&str>,
    ) -> String {
        self.fake
            .new_job(pipeline, stage, action, execution_id, json!({}))
            .0
    }

    fn job_result(&self, job_id: &str) -> Option<JobResult> {
        match self.fake.job(job_id)?.status {
            JobStatus::Pending => None,
            JobStatus::Succeeded { summary } => Some(Ok(summary.unwrap_or_default())),
            JobStatus::Failed {
                failure_type,
                message,
            } => Some(Err((failure_of(&failure_type), message))),
        }
    }

    fn accepted_approvals(&self) -> Vec<(String, String, bool, String)> {
        self.fake
            .approvals()
            .into_iter()
            .filter(|call| call.error.is_none())
            .map(|call| {
                let approved = call.status == "Approved";
                (call.pipeline, call.action, approved, call.summary)
            })
            .collect()
    }
}

#[tokio::test]
async fn the_in_memory_pipeline_keeps_the_contract() {
    a_job_tells_where_it_runs(&MemoryWorld::default()).await;
    the_definition_is_the_pipeline_as_declared(&MemoryWorld::default()).await;
    the_state_shows_what_runs_now(&MemoryWorld::default()).await;
    an_approval_is_answered_once_with_its_token(&MemoryWorld::default()).await;
    a_job_result_reaches_the_job(&MemoryWorld::default()).await;
    a_result_for_an_unknown_or_finished_job_is_refused(&MemoryWorld::default()).await;
    job_texts_are_fitted_to_codepipelines_limits(&MemoryWorld::default()).await;
    an_approval_summary_over_512_characters_is_refused(&MemoryWorld::default()).await;
    an_approval_in_a_pipeline_that_does_not_exist_is_not_found(&MemoryWorld::default()).await;
}

#[tokio::test]
async fn the_codepipeline_adapter_keeps_the_contract() {
    a_job_tells_where_it_runs(&FakeWorld::start().await).await;
    the_definition_is_the_pipeline_as_declared(&FakeWorld::start().await).await;
    the_state_shows_what_runs_now(&FakeWorld::start().await).await;
    an_approval_is_answered_once_with_its_token(&FakeWorld::start().await).await;
    a_job_result_reaches_the_job(&FakeWorld::start().await).await;
    a_result_for_an_unknown_or_finished_job_is_refused(&FakeWorld::start().await).await;
    job_texts_are_fitted_to_codepipelines_limits(&FakeWorld::start().await).await;
    an_approval_summary_over_512_characters_is_refused(&FakeWorld::start().await).await;
    an_approval_in_a_pipeline_that_does_not_exist_is_not_found(&FakeWorld::start().await).await;
}
