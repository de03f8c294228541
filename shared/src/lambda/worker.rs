//! validate-build-worker: on a schedule, finds due validations through the sparse index,
//! claims each with a lease, evaluates it, stores the verdict, and applies the decision to
//! the approval of the execution that registered it — exactly once.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::config::{ConfigError, Env, Setting};
use super::{FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
use crate::dynatrace::connection::{self as dynatrace, DynatraceSettings};
use crate::evaluation::verdict::SUMMARY_LIMIT;
use crate::evaluation::{plan, Timeframe};
use crate::monspec::parse_monspec;
use crate::ports::metrics::MetricsSource;
use crate::ports::pipeline::{approval_step, ApprovalStep, Pipeline, PipelineError};
use crate::ports::store::{
    Decision, ReadyEntry, RequestStatus, StoreError, ValidationRequest, ValidationStore,
};
use crate::quality_gate::run_validation;
use crate::text::truncate_chars;
use crate::time::now_ms;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claim holds a request. Longer than one evaluation; a crashed worker's
    /// request comes back after it.
    pub lease: Duration,
    /// Evaluation attempts before the request ends as `error` (rejected).
    pub max_attempts: u32,
    /// Validations evaluated at once.
    pub concurrency: usize,
    /// Most validations taken per tick.
    pub batch: usize,
    /// When to look again at an approval that has not started, or after a failed attempt.
    pub recheck: Duration,
    pub report_url: Option<String>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(300),
            max_attempts: 3,
            concurrency: 8,
            batch: 100,
            recheck: Duration::from_secs(60),
            report_url: None,
        }
    }
}

pub struct Worker {
    pub store: Arc<dyn ValidationStore>,
    pub pipeline: Arc<dyn Pipeline>,
    pub source: Arc<dyn MetricsSource>,
    pub settings: WorkerSettings,
}

/// What one tick did (the invocation's answer, and the benchmark's figures).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    pub ready: usize,
    pub items_read: usize,
    pub claimed: usize,
    pub lost: usize,
    pub evaluated: usize,
    pub approved: usize,
    pub rejected: usize,
    pub deferred: usize,
    pub superseded: usize,
    pub retried: usize,
    pub failed: usize,
}

enum Step {
    Lost,
    Applied { approved: bool, evaluated: bool },
    Deferred { evaluated: bool },
    Superseded { evaluated: bool },
    Retried,
}

impl Worker {
    pub async fn tick(&self, owner: &str) -> Result<TickReport, StoreError> {
        let now = now_ms();
        let batch = self.store.ready(now, self.settings.batch).await?;
        let mut report = TickReport {
            ready: batch.entries.len(),
            items_read: batch.items_read,
            ..Default::default()
        };
        let results: Vec<Result<Step, StoreError>> = stream::iter(batch.entries)
            .map(|entry| async move { self.process(&entry, owner).await })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for result in results {
            match result {
                Ok(Step::Lost) => report.lost += 1,
                Ok(step) => {
                    report.claimed += 1;
                    match step {
                        Step::Applied {
                            approved,
                            evaluated,
                        } => {
                            report.evaluated += evaluated as usize;
                            if approved {
                                report.approved += 1
                            } else {
                                report.rejected += 1
                            }
                        }
                        Step::Deferred { evaluated } => {
                            report.evaluated += evaluated as usize;
                            report.deferred += 1
                        }
                        Step::Superseded { evaluated } => {
                            report.evaluated += evaluated as usize;
                            report.superseded += 1
                        }
                        Step::Retried => report.retried += 1,
                        Step::Lost => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "validation step failed");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    async fn process(&self, entry: &ReadyEntry, owner: &str) -> Result<Step, StoreError> {
        let lease_ms = self.settings.lease.as_millis() as i64;
        let Some(mut request) = self.store.claim(entry, owner, now_ms(), lease_ms).await? else {
            return Ok(Step::Lost);
        };
        let span = tracing::info_span!("validation", pipeline = %request.pipeline, timestamp = request.timestamp_ms);
        let _guard = span.enter();
        let mut evaluated = false;
        if request.status == RequestStatus::Evaluating {
            evaluated = true;
            match self.evaluate(&mut request).await {
                Some(decision) => {
                    request.status = RequestStatus::Decided;
                    request.status_msg = format!("decided: {}", decision.summary);
                    request.decision = Some(decision);
                    self.save_decided(&mut request, owner).await?;
                }
                None => {
                    request.status = RequestStatus::Waiting;
                    request.next_check_ms =
                        Some(now_ms() + self.settings.recheck.as_millis() as i64);
                    request.lease_owner = None;
                    self.store.save(&request, owner).await?;
                    return Ok(Step::Retried);
                }
            }
        }
        self.apply(request, owner, evaluated).await
    }

    /// Evaluate; `None` means "try again later" (a transient failure with attempts left).
    async fn evaluate(&self, request: &mut ValidationRequest) -> Option<Decision> {
        let max = self.settings.max_attempts;
        if request.attempts > max {
            return Some(error_decision(format!(
                "gave up after {max} attempt(s): {}",
                request.status_msg
            )));
        }
        let monspec = match parse_monspec(&request.monspec) {
            Ok(m) => m,
            Err(e) => {
                return Some(error_decision(format!(
                    "the stored monspec is invalid: {}",
                    e.problems().join("; ")
                )))
            }
        };
        let timeframe = Timeframe {
            start_ms: request.timestamp_ms,
            window_ms: request.window_ms,
        };
        let plan = match plan(&monspec, &request.comparison, timeframe) {
            Ok(p) => p,
            Err(e) => return Some(error_decision(format!("cannot plan the validation: {e}"))),
        };
        let verdict = run_validation(self.source.as_ref(), &plan).await;
        let summary = verdict.summary_line(self.settings.report_url.as_deref());
        if verdict.has_errors() && request.attempts < max {
            request.status_msg = format!(
                "attempt {} of {max} could not measure everything, retrying: {summary}",
                request.attempts
            );
            tracing::warn!(attempt = request.attempts, summary = %summary, "evaluation had errors; will retry");
            return None;
        }
        let document: Value = serde_json::from_str(&request.monspec).unwrap_or(Value::Null);
        request.result_json = Some(verdict.to_json().to_string());
        request.filled_monspec = Some(verdict.fill_monspec(&document).to_string());
        let approve = verdict.is_approved();
        tracing::info!(approve, summary = %summary, "verdict");
        Some(Decision {
            approve,
            summary,
            outcome: if approve {
                RequestStatus::Ok
            } else if verdict.has_errors() {
                RequestStatus::Error
            } else {
                RequestStatus::Violation
            },
        })
    }

    /// Store the decision before touching the approval: a crash after this point re-applies
    /// the same decision instead of evaluating again.
    async fn save_decided(
        &self,
        request: &mut ValidationRequest,
        owner: &str,
    ) -> Result<(), StoreError> {
        match self.store.save(request, owner).await {
            Err(StoreError::TooLarge(_)) => {
                // Keep the decision; drop the bodies that made the item too large.
                request.filled_monspec = None;
                request.result_json = Some(
                    serde_json::json!({"note": "the result was too large to store (DynamoDB 400 KB item limit)"}).to_string(),
                );
                self.store.save(request, owner).await
            }
            other => other,
        }
    }

    async fn apply(
        &self,
        mut request: ValidationRequest,
        owner: &str,
        evaluated: bool,
    ) -> Result<Step, StoreError> {
        let decision = request
            .decision
            .clone()
            .unwrap_or_else(|| error_decision("no decision was stored".into()));
        let recheck = now_ms() + self.settings.recheck.as_millis() as i64;
        let step = match self.locate(&request).await {
            Err(e) => {
                request.status_msg =
                    format!("decided, but cannot read the pipeline ({e}); will retry");
                request.next_check_ms = Some(recheck);
                Step::Deferred { evaluated }
            }
            Ok(ApprovalStep::NotYet { reason }) => {
                request.status_msg =
                    format!("decided ({}); waiting: {reason}", verb(decision.approve));
                request.next_check_ms = Some(recheck);
                Step::Deferred { evaluated }
            }
            Ok(ApprovalStep::Superseded { reason }) | Ok(ApprovalStep::Missing { reason }) => {
                request.status = RequestStatus::Superseded;
                request.status_msg = format!("not applied: {reason}");
                request.next_check_ms = None;
                Step::Superseded { evaluated }
            }
            Ok(ApprovalStep::Apply { stage, token }) => {
                let summary = truncate_chars(&decision.summary, SUMMARY_LIMIT);
                match self
                    .pipeline
                    .put_approval(
                        &request.pipeline,
                        &stage,
                        &request.approval_action,
                        &token,
                        decision.approve,
                        &summary,
                    )
                    .await
                {
                    Ok(()) => {
                        tracing::info!(approved = decision.approve, "approval resolved");
                        request.status = decision.outcome;
                        request.status_msg = format!(
                            "{} {}: {}",
                            verb(decision.approve),
                            request.approval_action,
                            decision.summary
                        );
                        request.next_check_ms = None;
                        Step::Applied {
                            approved: decision.approve,
                            evaluated,
                        }
                    }
                    Err(PipelineError::ApprovalClosed(m)) => {
                        request.status = RequestStatus::Superseded;
                        request.status_msg = format!("not applied: {m}");
                        request.next_check_ms = None;
                        Step::Superseded { evaluated }
                    }
                    Err(e) => {
                        request.status_msg =
                            format!("decided, but PutApprovalResult failed ({e}); will retry");
                        request.next_check_ms = Some(recheck);
                        Step::Deferred { evaluated }
                    }
                }
            }
        };
        request.lease_owner = None;
        self.store.save(&request, owner).await?;
        Ok(step)
    }

    async fn locate(&self, request: &ValidationRequest) -> Result<ApprovalStep, PipelineError> {
        let definition = self.pipeline.definition(&request.pipeline).await?;
        let state = self.pipeline.state(&request.pipeline).await?;
        Ok(approval_step(
            &definition,
            &state,
            &request.approval_action,
            &request.execution_id,
            &request.stage,
        ))
    }
}

fn verb(approve: bool) -> &'static str {
    if approve {
        "approved"
    } else {
        "rejected"
    }
}

/// Fail closed: anything that prevents a verdict rejects the build, with the reason.
fn error_decision(reason: String) -> Decision {
    Decision {
        approve: false,
        summary: truncate_chars(
            &format!("Rejected: the validation could not be completed: {reason}"),
            SUMMARY_LIMIT,
        ),
        outcome: RequestStatus::Error,
    }
}

const LEASE: Setting = Setting::optional(
    "WORKER_LEASE_SECONDS",
    "how long a worker holds a claimed validation",
);
const MAX_ATTEMPTS: Setting = Setting::optional(
    "WORKER_MAX_ATTEMPTS",
    "evaluation attempts before a validation is rejected as an error",
);
const CONCURRENCY: Setting =
    Setting::optional("WORKER_CONCURRENCY", "validations evaluated at once");
const BATCH: Setting = Setting::optional("WORKER_BATCH", "most validations taken per tick");
const RECHECK: Setting = Setting::optional(
    "WORKER_RECHECK_SECONDS",
    "delay before looking again at a waiting approval or a failed attempt",
);
const REPORT_URL: Setting = Setting::optional(
    "REPORT_URL",
    "the URL of the build validation report, linked from approval summaries",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "validate-build-worker",
    settings: &[
        VALIDATION_TABLE,
        dynatrace::TENANT_URL,
        dynatrace::API_VERSION,
        dynatrace::TOKEN_SECRET,
        LEASE,
        MAX_ATTEMPTS,
        CONCURRENCY,
        BATCH,
        RECHECK,
        REPORT_URL,
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "codepipeline:GetPipeline",
        "codepipeline:GetPipelineState",
        "codepipeline:PutApprovalResult",
        "secretsmanager:GetSecretValue",
    ],
};

/// What validate-build-worker reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub dynatrace: DynatraceSettings,
    pub worker: WorkerSettings,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let defaults = WorkerSettings::default();
        Ok(Config {
            table: env.required(&VALIDATION_TABLE)?,
            dynatrace: DynatraceSettings::from_env(env)?,
            worker: WorkerSettings {
                lease: env.seconds(&LEASE, defaults.lease.as_secs_f64())?,
                max_attempts: env.number(&MAX_ATTEMPTS, defaults.max_attempts as f64)? as u32,
                concurrency: env.number(&CONCURRENCY, defaults.concurrency as f64)? as usize,
                batch: env.number(&BATCH, defaults.batch as f64)? as usize,
                recheck: env.seconds(&RECHECK, defaults.recheck.as_secs_f64())?,
                report_url: env.optional_url(&REPORT_URL)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    //! The worker's logic on the in-memory doubles: fast, no moto, no binaries.

    use super::*;
    use crate::ports::memory::{MemoryPipeline, MemoryStore};
    use crate::ports::metrics::{EnvironmentQuery, Observation};
    use crate::ports::pipeline::{
        ActionDefinition, ActionState, PipelineDefinition, PipelineState, StageDefinition,
        StageState,
    };

    /// A metrics source that must not be asked: the cases here decide without measuring.
    struct Unreachable;

    #[async_trait::async_trait]
    impl MetricsSource for Unreachable {
        async fn observe(&self, _query: &EnvironmentQuery) -> Observation {
            panic!("the worker measured although the validation could not be planned")
        }
    }

    fn definition() -> PipelineDefinition {
        let action = |name: &str, category: &str| ActionDefinition {
            name: name.into(),
            category: category.into(),
            provider: "Manual".into(),
            configuration: vec![],
        };
        PipelineDefinition {
            name: "Sample".into(),
            stages: vec![
                StageDefinition {
                    name: "Staging".into(),
                    actions: vec![action("Register", "Invoke")],
                },
                StageDefinition {
                    name: "ApproveStaging".into(),
                    actions: vec![action("ApproveStaging", "Approval")],
                },
            ],
        }
    }

    fn state(approval_waiting: bool) -> PipelineState {
        let stage = |name: &str, actions: Vec<ActionState>| StageState {
            name: name.into(),
            execution_id: Some("E1".into()),
            status: Some("InProgress".into()),
            actions,
        };
        let mut stages = vec![stage("Staging", vec![])];
        if approval_waiting {
            stages.push(stage(
                "ApproveStaging",
                vec![ActionState {
                    name: "ApproveStaging".into(),
                    status: Some("InProgress".into()),
                    token: Some("T1".into()),
                }],
            ));
        }
        PipelineState { stages }
    }

    fn request(monspec: &str) -> ValidationRequest {
        ValidationRequest {
            pipeline: "Sample".into(),
            timestamp_ms: 1_000,
            comparison: "StagingToProduction".into(),
            window_ms: 60_000,
            ready_ms: 61_000,
            monspec: monspec.into(),
            stage: "Staging".into(),
            action: "Register".into(),
            approval_action: "ApproveStaging".into(),
            job_id: "job-1".into(),
            execution_id: "E1".into(),
            status: RequestStatus::Waiting,
            status_msg: String::new(),
            attempts: 0,
            next_check_ms: Some(0),
            lease_owner: None,
            result_json: None,
            filled_monspec: None,
            decision: None,
            expires_at_s: 0,
        }
    }

    async fn worker_with(
        approval_waiting: bool,
    ) -> (Worker, Arc<MemoryStore>, Arc<MemoryPipeline>) {
        let store = Arc::new(MemoryStore::default());
        store.create(&request("{not a monspec")).await.unwrap();
        let pipeline = Arc::new(MemoryPipeline::default());
        pipeline
            .pipelines
            .lock()
            .unwrap()
            .insert("Sample".into(), (definition(), state(approval_waiting)));
        let worker = Worker {
            store: store.clone(),
            pipeline: pipeline.clone(),
            source: Arc::new(Unreachable),
            settings: WorkerSettings::default(),
        };
        (worker, store, pipeline)
    }

    #[tokio::test]
    async fn an_unreadable_stored_monspec_rejects_the_build_with_the_reason() {
        let (worker, store, pipeline) = worker_with(true).await;
        let report = worker.tick("owner-1").await.unwrap();
        assert_eq!(
            (report.claimed, report.rejected, report.approved),
            (1, 1, 0)
        );
        let approvals = pipeline.approvals.lock().unwrap().clone();
        assert_eq!(approvals.len(), 1);
        assert!(!approvals[0].approved);
        assert!(
            approvals[0]
                .summary
                .contains("the stored monspec is invalid"),
            "{}",
            approvals[0].summary
        );
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Error);
        assert_eq!(
            stored.next_check_ms, None,
            "a decided request leaves the ready index"
        );
        assert_eq!(stored.lease_owner, None);
    }

    #[tokio::test]
    async fn a_decision_waits_for_its_approval_then_is_applied_once() {
        let (worker, store, pipeline) = worker_with(false).await;
        let first = worker.tick("owner-1").await.unwrap();
        assert_eq!((first.deferred, first.rejected), (1, 0));
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        let stored = store.requests()[0].clone();
        assert_eq!(stored.status, RequestStatus::Decided);
        assert!(
            stored.decision.is_some(),
            "the decision is stored before the approval"
        );

        // The approval starts; the recheck comes due.
        pipeline
            .pipelines
            .lock()
            .unwrap()
            .get_mut("Sample")
            .unwrap()
            .1 = state(true);
        let mut due = stored;
        due.next_check_ms = Some(0);
        store.put(due);
        let second = worker.tick("owner-2").await.unwrap();
        assert_eq!(
            (second.evaluated, second.rejected),
            (0, 1),
            "not evaluated again"
        );
        let third = worker.tick("owner-3").await.unwrap();
        assert_eq!(third.ready, 0, "nothing is left to do");
        assert_eq!(pipeline.approvals.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_claim_lost_to_another_worker_does_nothing() {
        let (worker, store, pipeline) = worker_with(true).await;
        let entry = store.ready(now_ms(), 10).await.unwrap().entries[0].clone();
        store
            .claim(&entry, "someone-else", now_ms(), 300_000)
            .await
            .unwrap()
            .expect("claimed");
        let report = worker.tick("owner-1").await.unwrap();
        assert_eq!(
            report.ready, 0,
            "a claimed request is not due again until its lease ends"
        );
        assert!(pipeline.approvals.lock().unwrap().is_empty());
    }
}
