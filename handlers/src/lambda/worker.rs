//! validate-build-worker: on a schedule, finds due validations through the sparse index,
//! claims each with a lease, evaluates it, stores the verdict, and applies the decision to
//! the approval of the execution that registered it — exactly once.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::config::{ConfigError, Env, Setting};
use super::remediate::{self, Clock};
use super::{FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE, WAKE_QUEUE_URL, WAKE_SEND_ACTION};
use crate::gate::{MonspecGateError, StoredGateJudge, StoredSlo};
use crate::ports::metrics::{MetricsSource, TimeWindow};
use crate::ports::pipeline::{approval_step, ApprovalStep, Pipeline, PipelineError};
use crate::ports::samples::SampleSources;
use crate::ports::sli::SliProviders;
use crate::ports::store::{
    Decision, OnWarning, ReadyEntry, RequestKey, RequestStatus, SloGate, StoreError,
    ValidationRequest, ValidationStore,
};
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::settings::dynatrace::{self, DynatraceSettings};
use crate::slo::context::SliContext;
use crate::slo::record::{file_hash, EvaluationWindow, SloRecord, RECORD_SCHEMA_VERSION, SLO_GATE};
use crate::slo::summary::approval_summary;
use crate::slo::{Outcome, PreviousEvaluation};
use crate::validation::lifecycle::{
    self, ApprovalResult, Ask, Command, End, Event, Measurement, Policy, Then, Transition,
};

mod config;
pub use config::{Config, MANIFEST, PROMETHEUS_URL};

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
    /// No claim with less than this left before the invocation's deadline (an evaluation's
    /// queries time out after 30 s); every lease also outlasts the deadline by this much, so
    /// a claim never lapses while its worker may still be applying it.
    pub deadline_margin: Duration,
    /// A decided request whose approval never starts is polled this long after its window
    /// closed, then recorded as never applied.
    pub approval_wait: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let policy = Policy::default();
        Self {
            lease: Duration::from_secs(300),
            max_attempts: policy.max_attempts,
            concurrency: 8,
            batch: 100,
            recheck: policy.recheck,
            report_url: None,
            deadline_margin: Duration::from_secs(30),
            approval_wait: policy.approval_wait,
        }
    }
}

impl WorkerSettings {
    /// What the request lifecycle takes of these settings.
    pub fn policy(&self) -> Policy {
        Policy {
            max_attempts: self.max_attempts,
            recheck: self.recheck,
            approval_wait: self.approval_wait,
        }
    }
}

pub struct Worker {
    pub store: Arc<dyn ValidationStore>,
    pub pipeline: Arc<dyn Pipeline>,
    pub source: Arc<dyn MetricsSource>,
    /// What SLO gates are measured with.
    pub sli: SliProviders,
    /// What canary gates take their points from.
    pub samples: SampleSources,
    /// Where a request saved with a later check asks to be looked at again then.
    pub wakeups: Arc<dyn Wakeups>,
    pub settings: WorkerSettings,
    /// Now, in epoch ms: `crate::time::now_ms` in production; a test may fix it.
    pub clock: Clock,
}

/// How far back an SLO gate looks for the evaluations its baselines come from.
pub const SLO_HISTORY: Duration = Duration::from_secs(30 * 86_400);

/// What an SLO result does to the approval: `(approve, final status)`. A warning follows the
/// gate's `onWarning`; `manual` sends nothing and leaves the approval to a person.
pub fn slo_decision(
    result: Outcome,
    on_warning: OnWarning,
    provider_error: bool,
) -> (bool, RequestStatus) {
    match (result, on_warning) {
        (Outcome::Pass, _) => (true, RequestStatus::Ok),
        (Outcome::Fail, _) if provider_error => (false, RequestStatus::Error),
        (Outcome::Fail, _) => (false, RequestStatus::Violation),
        (Outcome::Warning, OnWarning::Approve) => (true, RequestStatus::Ok),
        (Outcome::Warning, OnWarning::Reject) => (false, RequestStatus::Violation),
        (Outcome::Warning, OnWarning::Manual) => (false, RequestStatus::Manual),
    }
}

/// The earlier evaluations of the same pipeline, stage and service, newest first: the
/// history Keptn's `comparison` filters and takes its baselines from.
pub fn previous_evaluations(
    history: &[ValidationRequest],
    current: &ValidationRequest,
    service: &str,
) -> Vec<PreviousEvaluation> {
    let mut earlier: Vec<&ValidationRequest> = history
        .iter()
        .filter(|r| r.timestamp_ms < current.timestamp_ms && r.stage == current.stage)
        .filter(|r| r.slo.as_ref().is_some_and(|g| g.service == service))
        .collect();
    earlier.sort_by_key(|r| std::cmp::Reverse(r.timestamp_ms));
    earlier
        .into_iter()
        .filter_map(|r| r.result_json.as_deref())
        .filter(|json| SloRecord::from_result_json(json).is_some())
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
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
    /// SLO warnings left for a person (`onWarning: manual`).
    pub manual: usize,
    pub retried: usize,
    pub failed: usize,
    /// Items that could not be read, taken out of the ready index.
    pub quarantined: usize,
    /// Due items not claimed because the invocation's deadline was near: the next tick's.
    pub left_for_next_tick: usize,
    /// Decided items whose approval never started within `approval_wait`: no longer polled.
    pub expired: usize,
    /// Items claimed before their window's end plus the ingestion delay (`ready_ms`): put
    /// back unjudged until then.
    pub early: usize,
}

impl TickReport {
    /// Count what one request's step came to.
    fn count(&mut self, result: Result<Step, StoreError>) {
        let step = match result {
            Ok(Step::Lost) => return self.lost += 1,
            Ok(Step::Quarantined) => return self.quarantined += 1,
            Ok(Step::NotClaimed) => return self.left_for_next_tick += 1,
            Ok(Step::Early) => return self.early += 1,
            Ok(step) => step,
            Err(e) => {
                tracing::error!(error = %e, "validation step failed");
                return self.failed += 1;
            }
        };
        self.claimed += 1;
        match step {
            Step::Applied {
                approved,
                evaluated,
            } => {
                self.evaluated += evaluated as usize;
                if approved {
                    self.approved += 1
                } else {
                    self.rejected += 1
                }
            }
            Step::Deferred { evaluated } => {
                self.evaluated += evaluated as usize;
                self.deferred += 1
            }
            Step::Superseded { evaluated } => {
                self.evaluated += evaluated as usize;
                self.superseded += 1
            }
            Step::LeftForPerson { evaluated } => {
                self.evaluated += evaluated as usize;
                self.manual += 1
            }
            Step::Retried => self.retried += 1,
            Step::Expired => self.expired += 1,
            Step::Lost | Step::Quarantined | Step::NotClaimed | Step::Early => {}
        }
    }
}

enum Step {
    Lost,
    Early,
    Quarantined,
    NotClaimed,
    Expired,
    Applied { approved: bool, evaluated: bool },
    LeftForPerson { evaluated: bool },
    Deferred { evaluated: bool },
    Superseded { evaluated: bool },
    Retried,
}

impl Worker {
    /// One tick: decide what is due. `deadline_ms` is the invocation's deadline (epoch ms):
    /// nothing is claimed too close to it.
    pub async fn tick(
        &self,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> Result<TickReport, StoreError> {
        let now = self.now();
        let batch = self.store.ready(now, self.settings.batch).await?;
        let mut report = TickReport {
            ready: batch.entries.len(),
            items_read: batch.items_read,
            ..Default::default()
        };
        for item in &batch.unreadable {
            match self.quarantine(&item.key, &item.reason).await {
                Ok(()) => report.quarantined += 1,
                Err(_) => report.failed += 1,
            }
        }
        let results: Vec<Result<Step, StoreError>> = stream::iter(batch.entries)
            .map(|entry| async move { self.process(&entry, owner, deadline_ms).await })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for result in results {
            report.count(result);
        }
        Ok(report)
    }

    /// A wake-up for one request: the same claim, lease and deadline rules as a tick, for
    /// that request only. Not due yet, held by another worker or finished: nothing happens
    /// (its claim fails), so a duplicate or a race with a sweep is harmless.
    pub async fn serve(
        &self,
        key: &RequestKey,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> Result<TickReport, StoreError> {
        let mut report = TickReport::default();
        let Some(request) = self.store.get(key).await? else {
            return Ok(report);
        };
        if request.next_check_ms.is_none() {
            // Finished (or quarantined): out of the ready index.
            return Ok(report);
        }
        report.ready = 1;
        let entry = ReadyEntry {
            key: key.clone(),
            status: request.status,
        };
        report.count(self.process(&entry, owner, deadline_ms).await);
        Ok(report)
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    async fn process(
        &self,
        entry: &ReadyEntry,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> Result<Step, StoreError> {
        let now = self.now();
        let Some(lease_ms) = claim_lease(&self.settings, now, deadline_ms) else {
            return Ok(Step::NotClaimed);
        };
        let claimed = match self.store.claim(entry, owner, now, lease_ms).await {
            Err(StoreError::Malformed(reason)) => {
                // Claimed, but the rest of the item cannot be read: it would come back
                // after every lease and fail again.
                self.quarantine(&entry.key, &reason).await?;
                return Ok(Step::Quarantined);
            }
            other => other?,
        };
        let Some(request) = claimed else {
            return Ok(Step::Lost);
        };
        let claim = Event::Claimed { seen: entry.status };
        let first = lifecycle::advance(&request, claim, now, &self.settings.policy());
        if matches!(first.then, Then::End(End::Early)) {
            return Ok(step_of(self.run(first, owner, lease_ms).await?, false));
        }
        let span = tracing::info_span!("validation", pipeline = %request.pipeline, timestamp = request.timestamp_ms);
        let _guard = span.enter();
        // The stack's approval-overdue alarm reads late_seconds from this line (a metric
        // filter): how long after its data was complete a validation is looked at.
        tracing::info!(
            late_seconds = (now - request.ready_ms).max(0) / 1000,
            "validation due"
        );
        let evaluated = request.status == RequestStatus::Evaluating;
        Ok(step_of(self.run(first, owner, lease_ms).await?, evaluated))
    }

    /// Take a claimed request through its lifecycle: perform each transition's commands,
    /// then its ask, and advance with the answer at the time it came, until the step ends.
    async fn run(&self, first: Transition, owner: &str, lease_ms: i64) -> Result<End, StoreError> {
        let policy = self.settings.policy();
        let mut transition = first;
        loop {
            let Transition {
                mut request,
                commands,
                then,
            } = transition;
            self.perform(&request, &commands, owner).await?;
            let ask = match then {
                Then::End(end) => return Ok(end),
                Then::Ask(ask) => ask,
            };
            let event = self.answer(&mut request, ask, owner, lease_ms).await?;
            transition = lifecycle::advance(&request, event, self.now(), &policy);
        }
    }

    /// The commands of a transition, in order.
    async fn perform(
        &self,
        request: &ValidationRequest,
        commands: &[Command],
        owner: &str,
    ) -> Result<(), StoreError> {
        for command in commands {
            match command {
                Command::Save => self.store.save(request, owner).await?,
                // Due again later (a retry, an approval that has not started, a claim before
                // the data was complete): be woken then, not a sweep later.
                Command::WakeAt { due_ms } => {
                    let wake = WakeUp::new(WakeTarget::validation(&request.key()), *due_ms);
                    send_or_log(self.wakeups.as_ref(), wake, self.now()).await;
                }
            }
        }
        Ok(())
    }

    /// What the lifecycle asked for, as the event that answers it.
    async fn answer(
        &self,
        request: &mut ValidationRequest,
        ask: Ask,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Event, StoreError> {
        Ok(match ask {
            Ask::Measure { may_retry } => Event::Measured(self.evaluate(request, may_retry).await),
            Ask::StoreDecision => {
                self.save_decided(request, owner).await?;
                Event::DecisionStored
            }
            Ask::LocateApproval => match self.locate(request).await {
                Ok(step) => Event::ApprovalFound(step),
                Err(e) => Event::PipelineUnreadable {
                    error: e.to_string(),
                },
            },
            Ask::PutApproval(result) => self.put_approval(request, owner, lease_ms, result).await?,
        })
    }

    /// Renew the lease, then send the decision: what CodePipeline answered.
    async fn put_approval(
        &self,
        request: &ValidationRequest,
        owner: &str,
        lease_ms: i64,
        result: ApprovalResult,
    ) -> Result<Event, StoreError> {
        // The lease may have lapsed while evaluating (a slow tick) and another worker
        // claimed the request: only the holder of a live lease sends the approval.
        if !self
            .store
            .renew(&request.key(), owner, self.now(), lease_ms)
            .await?
        {
            tracing::warn!("lease lost before applying the approval; left to its holder");
            return Ok(Event::LeaseLost);
        }
        let sent = self
            .pipeline
            .put_approval(
                &request.pipeline,
                &result.stage,
                &request.approval_action,
                &result.token,
                result.approve,
                &result.summary,
            )
            .await;
        Ok(match sent {
            Ok(()) => {
                tracing::info!(approved = result.approve, "approval resolved");
                Event::ApprovalPut
            }
            Err(PipelineError::ApprovalClosed(message)) => Event::ApprovalClosed {
                found: self.locate(request).await.ok(),
                message,
            },
            Err(e) => Event::PutFailed {
                error: e.to_string(),
            },
        })
    }

    /// Measure and judge the request's gate. With `may_retry` (attempts are left), a
    /// transient failure is [`Measurement::Incomplete`]: try again later.
    async fn evaluate(&self, request: &ValidationRequest, may_retry: bool) -> Measurement {
        if let Some(gate) = &request.slo {
            return self.evaluate_slo(request, gate, may_retry).await;
        }
        if let Some(gate) = &request.canary {
            return self.evaluate_canary(request, gate, may_retry).await;
        }
        let judged = self
            .judge()
            .monspec(
                &request.monspec,
                &request.comparison,
                registered_window(request),
            )
            .await;
        let verdict = match judged {
            Ok(v) => v,
            Err(MonspecGateError::Invalid(e)) => {
                return Measurement::failed(format!(
                    "the stored monspec is invalid: {}",
                    e.problems().join("; ")
                ))
            }
            Err(MonspecGateError::Plan(e)) => {
                return Measurement::failed(format!("cannot plan the validation: {e}"))
            }
            // Not reached: the worker always has its metrics source.
            Err(e @ MonspecGateError::NoMetricsSource) => {
                return Measurement::failed(e.to_string())
            }
        };
        let summary = verdict.summary_line(self.settings.report_url.as_deref());
        if verdict.has_errors() && may_retry {
            tracing::warn!(attempt = request.attempts, summary = %summary, "evaluation had errors; will retry");
            return Measurement::Incomplete {
                failure: "could not measure everything".into(),
                summary: Some(summary),
            };
        }
        let document: Value = serde_json::from_str(&request.monspec).unwrap_or(Value::Null);
        let approve = verdict.is_approved();
        tracing::info!(approve, summary = %summary, "verdict");
        Measurement::Judged {
            decision: Decision {
                approve,
                summary,
                outcome: if approve {
                    RequestStatus::Ok
                } else if verdict.has_errors() {
                    RequestStatus::Error
                } else {
                    RequestStatus::Violation
                },
            },
            result_json: Some(verdict.to_json().to_string()),
            filled_monspec: Some(verdict.fill_monspec(&document).to_string()),
        }
    }

    /// An SLO gate: measure the SLIs over the window, score them against the earlier
    /// evaluations of this pipeline, stage and service, store the evaluation, decide.
    async fn evaluate_slo(
        &self,
        request: &ValidationRequest,
        gate: &SloGate,
        may_retry: bool,
    ) -> Measurement {
        let stored = StoredSlo {
            slo: &gate.slo,
            sli: &gate.sli,
            provider: gate.provider,
        };
        // The files and the provider first: a gate that cannot be measured is rejected
        // before the earlier evaluations are read.
        let ready = match self.judge().prepare_slo(stored) {
            Ok(r) => r,
            Err(e) => return Measurement::failed(e.to_string()),
        };
        let since = request.timestamp_ms - SLO_HISTORY.as_millis() as i64;
        let history = match self.store.history(&request.pipeline, since).await {
            Ok(h) => {
                for item in &h.skipped {
                    tracing::warn!(timestamp = item.key.timestamp_ms, reason = %item.reason, "an earlier evaluation cannot be read; left out of the baselines");
                }
                h.requests
            }
            Err(e) if may_retry => {
                return Measurement::Incomplete {
                    failure: format!("could not read the earlier evaluations ({e})"),
                    summary: None,
                }
            }
            Err(e) => {
                return Measurement::failed(format!("cannot read the earlier evaluations: {e}"))
            }
        };
        let previous = previous_evaluations(&history, request, &gate.service);
        let window = registered_window(request);
        let context = SliContext {
            project: Some(request.pipeline.clone()),
            stage: Some(request.stage.clone()),
            service: Some(gate.service.clone()),
            // The pipeline has no deployment name; $DEPLOYMENT is refused with the reason
            // (Prometheus fills prometheus-service's "primary" and says so).
            deployment: None,
            context: Some(request.execution_id.clone()),
            env: Some(|name| std::env::var(name).ok()),
            origin: crate::slo::context::ContextOrigin::Pipeline,
            labels: [
                ("executionId".to_string(), request.execution_id.clone()),
                ("pipeline".to_string(), request.pipeline.clone()),
            ]
            .into(),
        };
        let outcome = ready.judge(&context, window, &previous).await;
        let mut evaluation = outcome.evaluation;
        evaluation.id = Some(request.execution_id.clone());
        let summary = approval_summary(&evaluation, self.settings.report_url.as_deref());
        let provider_error = !outcome.provider_errors.is_empty();
        // Files that cannot be measured stay so: no retry, the build is rejected as an error.
        let configuration_error = !outcome.configuration_errors.is_empty();
        if provider_error && may_retry {
            tracing::warn!(attempt = request.attempts, summary = %summary, "SLI provider errors; will retry");
            return Measurement::Incomplete {
                failure: "could not measure every SLI".into(),
                summary: Some(summary),
            };
        }
        let (approve, outcome_status) = slo_decision(
            evaluation.result,
            gate.on_warning,
            provider_error || configuration_error,
        );
        let record = SloRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            gate: SLO_GATE.into(),
            evaluation,
            window: EvaluationWindow {
                start_ms: window.from_ms,
                end_ms: window.to_ms,
            },
            slo_hash: file_hash(&gate.slo),
            service: gate.service.clone(),
            stage: request.stage.clone(),
            provider: gate.provider.as_str().into(),
        };
        tracing::info!(approve, outcome = outcome_status.as_str(), summary = %summary, "SLO evaluation");
        Measurement::Judged {
            decision: Decision {
                approve,
                summary,
                outcome: outcome_status,
            },
            result_json: Some(serde_json::to_string(&record).expect("JSON serialises")),
            filled_monspec: None,
        }
    }

    /// The stored gates are measured through the worker's metrics source and SLI providers.
    fn judge(&self) -> StoredGateJudge<'_> {
        StoredGateJudge {
            metrics: Some(self.source.as_ref()),
            sli: &self.sli,
        }
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

    /// Take an item that cannot be read out of the ready index, so it stops failing every
    /// tick; it stays in the table, marked, for a person.
    async fn quarantine(&self, key: &RequestKey, reason: &str) -> Result<(), StoreError> {
        tracing::error!(
            pipeline = %key.pipeline,
            timestamp = key.timestamp_ms,
            reason,
            "quarantining an item that cannot be read; fix or delete it by hand"
        );
        self.store.quarantine(key, reason).await.inspect_err(|e| {
            tracing::error!(pipeline = %key.pipeline, timestamp = key.timestamp_ms, error = %e, "quarantine failed")
        })
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

/// The lease of a claim made at `now_ms`, or `None` when too little is left before the
/// deadline to evaluate and apply it. The lease outlives the deadline by the margin, so a
/// claim never lapses while its worker may still be working on it, whatever the lease
/// setting and the function's timeout are.
pub fn claim_lease(
    settings: &WorkerSettings,
    now_ms: i64,
    deadline_ms: Option<i64>,
) -> Option<i64> {
    let lease = settings.lease.as_millis() as i64;
    let margin = settings.deadline_margin.as_millis() as i64;
    match deadline_ms {
        None => Some(lease),
        Some(deadline) if deadline - now_ms < margin => None,
        Some(deadline) => Some(lease.max(deadline - now_ms + margin)),
    }
}

/// What a step of the worker's report is, from how the lifecycle ended it.
fn step_of(end: End, evaluated: bool) -> Step {
    match end {
        End::Early => Step::Early,
        End::Retried => Step::Retried,
        End::Applied { approved } => Step::Applied {
            approved,
            evaluated,
        },
        End::LeftForPerson => Step::LeftForPerson { evaluated },
        End::Deferred => Step::Deferred { evaluated },
        End::Superseded => Step::Superseded { evaluated },
        End::Expired => Step::Expired,
        End::LeaseLost => Step::Lost,
    }
}

/// The window a request registered: from its timestamp, `window_ms` long.
fn registered_window(request: &ValidationRequest) -> TimeWindow {
    TimeWindow {
        from_ms: request.timestamp_ms,
        to_ms: request.timestamp_ms + request.window_ms,
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! The worker's logic on the in-memory doubles: fast, no moto, no binaries. The fixtures
    //! are shared with the canary gate's tests (`worker_canary`).

    use super::*;
    use crate::ports::memory::{MemoryPipeline, MemoryStore};
    use crate::ports::metrics::{EnvironmentQuery, Observation};
    use crate::ports::pipeline::{
        ActionDefinition, ActionState, ActionStatus, PipelineDefinition, PipelineState,
        StageDefinition, StageState,
    };
    use crate::time::now_ms;

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
            status: Some(ActionStatus::InProgress),
            actions,
        };
        let mut stages = vec![stage("Staging", vec![])];
        if approval_waiting {
            stages.push(stage(
                "ApproveStaging",
                vec![ActionState {
                    name: "ApproveStaging".into(),
                    status: Some(ActionStatus::InProgress),
                    token: Some("T1".into()),
                }],
            ));
        }
        PipelineState { stages }
    }

    pub(crate) fn request(monspec: &str) -> ValidationRequest {
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
            slo: None,
            canary: None,
            decision: None,
            expires_at_s: 0,
        }
    }

    pub(crate) async fn worker_with(
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
            sli: SliProviders::default(),
            samples: SampleSources::default(),
            wakeups: Arc::new(crate::ports::wakeups::SweepOnly),
            settings: WorkerSettings {
                // The fixtures' windows closed in 1970: keep waiting for their approvals.
                approval_wait: Duration::from_secs(100 * 365 * 86_400),
                ..WorkerSettings::default()
            },
            clock: Arc::new(now_ms),
        };
        (worker, store, pipeline)
    }

    fn set_approval(pipeline: &MemoryPipeline, status: ActionStatus) {
        let mut pipelines = pipeline.pipelines.lock().unwrap();
        let state = &mut pipelines.get_mut("Sample").unwrap().1;
        let action = &mut state.stages[1].actions[0];
        action.status = Some(status);
        action.token = None;
    }

    #[test]
    fn a_lease_outlives_the_deadline_and_nothing_is_claimed_too_close_to_it() {
        let settings = WorkerSettings {
            lease: Duration::from_secs(300),
            deadline_margin: Duration::from_secs(30),
            ..WorkerSettings::default()
        };
        let cases = [
            (None, Some(300_000)),
            (Some(60_000), Some(300_000)),
            (Some(900_000), Some(930_000)),
            (Some(30_000), Some(300_000)),
            (Some(29_999), None),
            (Some(-5), None),
        ];
        for (deadline_in, lease) in cases {
            let now = 1_000_000;
            assert_eq!(
                claim_lease(&settings, now, deadline_in.map(|d| now + d)),
                lease,
                "{deadline_in:?}"
            );
        }
    }

    #[tokio::test]
    async fn no_window_is_judged_before_its_end_plus_the_ingestion_delay() {
        // Due now (next check 0: a targeted invocation, an early schedule, an edited item),
        // but the provider has the window only at ready_ms: put back, never measured (the
        // source panics if asked), the attempt not counted.
        let (worker, store, pipeline) = worker_with(true).await;
        let mut early = request("{not a monspec");
        early.timestamp_ms = 2_000;
        early.ready_ms = now_ms() + 60_000;
        store.create(&early).await.unwrap();
        let mut report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(report.early, 1, "{report:?}");
        let stored = store
            .requests()
            .into_iter()
            .find(|r| r.timestamp_ms == 2_000)
            .unwrap();
        assert_eq!(stored.status, RequestStatus::Waiting);
        assert_eq!(stored.attempts, 0);
        assert_eq!(stored.next_check_ms, Some(early.ready_ms));
        assert_eq!(stored.lease_owner, None);
        assert_eq!(stored.decision, None);
        // The other request (ready in 1970) was judged as usual.
        report.early = 0;
        assert_eq!(report.evaluated, 1, "{report:?}");
        assert_eq!(pipeline.approvals.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_wake_up_serves_its_request_alone_and_never_before_the_data_is_complete() {
        use crate::ports::wakeups::{MemoryWakeups, WakeTarget};
        let (mut worker, store, pipeline) = worker_with(true).await;
        let wakeups = Arc::new(MemoryWakeups::default());
        worker.wakeups = wakeups.clone();
        let mut early = request("{not a monspec");
        early.timestamp_ms = 2_000;
        early.ready_ms = now_ms() + 60_000;
        store.create(&early).await.unwrap();

        // Woken for the early one: put back, and asks to be woken when its data is complete.
        let report = worker.serve(&early.key(), "owner-1", None).await.unwrap();
        assert_eq!((report.early, report.evaluated), (1, 0), "{report:?}");
        let sent = wakeups.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0.target, WakeTarget::validation(&early.key()));
        assert_eq!(sent[0].0.due_ms, early.ready_ms);
        assert!(pipeline.approvals.lock().unwrap().is_empty());

        // Woken for the due one: judged and applied; the early one is untouched.
        let due = request("{not a monspec").key();
        let report = worker.serve(&due, "owner-1", None).await.unwrap();
        assert_eq!((report.evaluated, report.rejected), (1, 1), "{report:?}");
        assert_eq!(pipeline.approvals.lock().unwrap().len(), 1);
        // Again (a duplicate): finished, nothing happens.
        let again = worker.serve(&due, "owner-2", None).await.unwrap();
        assert_eq!((again.ready, again.claimed), (0, 0), "{again:?}");
        assert_eq!(pipeline.approvals.lock().unwrap().len(), 1);
        // A key nobody stored: nothing.
        let missing = RequestKey {
            pipeline: "Nope".into(),
            timestamp_ms: 1,
        };
        assert_eq!(worker.serve(&missing, "o", None).await.unwrap().ready, 0);
    }

    #[tokio::test]
    async fn nothing_is_claimed_near_the_deadline() {
        let (worker, store, pipeline) = worker_with(true).await;
        let report = worker
            .tick("owner-1", Some(now_ms() + 1_000))
            .await
            .unwrap();
        assert_eq!(
            (report.ready, report.left_for_next_tick, report.claimed),
            (1, 1, 0)
        );
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        assert_eq!(store.requests()[0].lease_owner, None, "not claimed");
    }

    #[tokio::test]
    async fn a_claim_whose_lease_lapsed_before_applying_sends_no_approval() {
        let (mut worker, store, pipeline) = worker_with(true).await;
        // A zero lease has lapsed by the time the verdict is ready.
        worker.settings.lease = Duration::ZERO;
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!((report.lost, report.rejected), (1, 0), "{report:?}");
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        assert_eq!(
            store.requests()[0].status,
            RequestStatus::Decided,
            "the decision is kept for the next claim"
        );
    }

    #[tokio::test]
    async fn an_approval_already_applied_by_another_worker_counts_as_applied() {
        let (worker, store, pipeline) = worker_with(true).await;
        // The stored monspec is invalid: the verdict rejects, as the approval already shows.
        set_approval(&pipeline, ActionStatus::Failed);
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!((report.rejected, report.superseded), (1, 0), "{report:?}");
        assert!(
            pipeline.approvals.lock().unwrap().is_empty(),
            "not sent twice"
        );
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Error);
        assert!(
            stored.status_msg.starts_with("rejected ApproveStaging (found already applied: ApproveStaging of execution E1 is already Failed)"),
            "{}",
            stored.status_msg
        );
        assert_eq!(stored.next_check_ms, None);
    }

    #[tokio::test]
    async fn an_approval_decided_the_other_way_by_someone_else_is_superseded() {
        let (worker, store, pipeline) = worker_with(true).await;
        set_approval(&pipeline, ActionStatus::Succeeded);
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(report.superseded, 1, "{report:?}");
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Superseded);
        assert_eq!(
            stored.status_msg,
            "not applied: ApproveStaging of execution E1 is already Succeeded, but the verdict rejected it"
        );
    }

    #[tokio::test]
    async fn a_decided_item_whose_approval_never_starts_stops_being_polled() {
        let (mut worker, store, pipeline) = worker_with(false).await;
        worker.settings.approval_wait = Duration::from_secs(3_600);
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!((report.expired, report.deferred), (1, 0), "{report:?}");
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Superseded);
        assert_eq!(stored.next_check_ms, None, "no longer polled");
        assert!(
            stored.status_msg.starts_with(
                "not applied: the approval never started within 1h after the window closed"
            ),
            "{}",
            stored.status_msg
        );
    }

    #[tokio::test]
    async fn an_unreadable_stored_monspec_rejects_the_build_with_the_reason() {
        let (worker, store, pipeline) = worker_with(true).await;
        let report = worker.tick("owner-1", None).await.unwrap();
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

    /// Confirmed: one item with `Status: "bogus"` failed the whole tick and left a valid
    /// request waiting forever.
    #[tokio::test]
    async fn an_item_whose_status_does_not_parse_is_quarantined_and_the_rest_is_decided() {
        let (worker, store, pipeline) = worker_with(true).await;
        let poison = RequestKey {
            pipeline: "Sample".into(),
            timestamp_ms: 500,
        };
        store.plant_unreadable(poison.clone(), "unknown Status \"bogus\"");
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(
            (report.quarantined, report.rejected, report.failed),
            (1, 1, 0),
            "{report:?}"
        );
        assert_eq!(pipeline.approvals.lock().unwrap().len(), 1);
        assert_eq!(
            store.quarantined(),
            vec![(poison, "unknown Status \"bogus\"".to_string())]
        );
        let next = worker.tick("owner-2", None).await.unwrap();
        assert_eq!(
            (next.ready, next.quarantined),
            (0, 0),
            "out of the ready index"
        );
    }

    #[tokio::test]
    async fn a_decision_waits_for_its_approval_then_is_applied_once() {
        let (worker, store, pipeline) = worker_with(false).await;
        let first = worker.tick("owner-1", None).await.unwrap();
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
        let second = worker.tick("owner-2", None).await.unwrap();
        assert_eq!(
            (second.evaluated, second.rejected),
            (0, 1),
            "not evaluated again"
        );
        let third = worker.tick("owner-3", None).await.unwrap();
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
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(
            report.ready, 0,
            "a claimed request is not due again until its lease ends"
        );
        assert!(pipeline.approvals.lock().unwrap().is_empty());
    }

    // SLO gates.

    const SLO: &str = r#"
spec_version: "1.0"
comparison: {compare_with: single_result, include_result_with_score: pass}
objectives:
  - sli: response_time
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: error_rate
    key_sli: true
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "50%"}
"#;
    const SLI: &str = "indicators:\n  response_time: rt{service=\"$SERVICE\",stage=\"$STAGE\"}\n  error_rate: errors{service=\"$SERVICE\"}\n";
    const RT: &str = "rt{service=\"sample\",stage=\"Staging\"}";
    const ERRORS: &str = "errors{service=\"sample\"}";

    fn slo_request(timestamp_ms: i64, execution: &str, on_warning: OnWarning) -> ValidationRequest {
        ValidationRequest {
            timestamp_ms,
            comparison: crate::ports::store::SLO_COMPARISON.into(),
            execution_id: execution.into(),
            monspec: String::new(),
            slo: Some(SloGate {
                slo: SLO.into(),
                sli: SLI.into(),
                provider: crate::ports::store::SliProviderKind::Prometheus,
                service: "sample".into(),
                on_warning,
            }),
            ..request("")
        }
    }

    async fn slo_worker(
        provider: Option<Arc<crate::ports::memory::MemorySliProvider>>,
    ) -> (Worker, Arc<MemoryStore>, Arc<MemoryPipeline>) {
        let (mut worker, store, pipeline) = worker_with(true).await;
        // Only SLO requests here: drop the monspec one worker_with stored.
        store.clear();
        worker.sli = SliProviders {
            prometheus: provider.map(|p| p as Arc<dyn crate::ports::sli::SliProvider>),
            dynatrace: None,
        };
        (worker, store, pipeline)
    }

    #[tokio::test]
    async fn an_slo_gate_measures_its_window_scores_and_approves_with_the_score() {
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        provider.answer(RT, Ok(400.0));
        provider.answer(ERRORS, Ok(0.0));
        let (worker, store, pipeline) = slo_worker(Some(provider.clone())).await;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Manual))
            .await
            .unwrap();
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!((report.evaluated, report.approved), (1, 1));
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(approval.approved);
        assert!(
            approval.summary.starts_with("SLO PASS, score 100/100"),
            "{}",
            approval.summary
        );
        let asked = provider.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2);
        assert!(
            asked
                .iter()
                .all(|(_, w)| w.from_ms == 1_000 && w.to_ms == 61_000),
            "the registered window: {asked:?}"
        );
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Ok);
        let record = SloRecord::from_result_json(stored.result_json.as_deref().unwrap()).unwrap();
        assert_eq!(
            (record.service.as_str(), record.stage.as_str()),
            ("sample", "Staging")
        );
        assert_eq!(
            record.window,
            EvaluationWindow {
                start_ms: 1_000,
                end_ms: 61_000
            }
        );
        assert_eq!(record.slo_hash, file_hash(SLO));
        assert_eq!(record.evaluation.id.as_deref(), Some("E1"));
    }

    #[tokio::test]
    async fn the_next_build_is_compared_with_the_last_passing_one_and_a_warning_waits_for_a_person()
    {
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        provider.answer(RT, Ok(400.0));
        provider.answer(ERRORS, Ok(0.0));
        let (worker, store, pipeline) = slo_worker(Some(provider.clone())).await;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Manual))
            .await
            .unwrap();
        worker.tick("owner-1", None).await.unwrap();

        // 20 % slower than build E1: "<=+10%" is violated, "<=800" holds: a warning.
        provider.answer(RT, Ok(480.0));
        store
            .create(&slo_request(2_000, "E2", OnWarning::Manual))
            .await
            .unwrap();
        let report = worker.tick("owner-2", None).await.unwrap();
        assert_eq!((report.manual, report.approved, report.rejected), (1, 0, 0));
        assert_eq!(
            pipeline.approvals.lock().unwrap().len(),
            1,
            "nothing sent for the warning"
        );
        let second = store
            .requests()
            .into_iter()
            .find(|r| r.execution_id == "E2")
            .unwrap();
        assert_eq!(second.status, RequestStatus::Manual);
        assert_eq!(
            second.next_check_ms, None,
            "left for a person, off the ready index"
        );
        assert!(
            second
                .status_msg
                .starts_with("left for a person: approve or reject ApproveStaging"),
            "{}",
            second.status_msg
        );
        let record = SloRecord::from_result_json(second.result_json.as_deref().unwrap()).unwrap();
        assert_eq!(
            record.evaluation.compared_evaluations,
            vec!["E1".to_string()]
        );
        let rt = &record.evaluation.indicator_results[0];
        assert_eq!(rt.value.as_ref().unwrap().compared_value, 400.0);
        assert_eq!(rt.pass_targets[0].target_value, 440.0);
        assert!(
            second.status_msg.contains("baseline 400"),
            "{}",
            second.status_msg
        );
    }

    #[tokio::test]
    async fn on_warning_approve_and_reject_send_their_decision() {
        for (policy, approved) in [(OnWarning::Approve, true), (OnWarning::Reject, false)] {
            let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
            provider.answer(RT, Ok(700.0));
            provider.answer(ERRORS, Ok(0.0));
            let (worker, _store, pipeline) = slo_worker(Some(provider)).await;
            _store
                .create(&slo_request(1_000, "E1", policy))
                .await
                .unwrap();
            worker.tick("owner", None).await.unwrap();
            let approval = pipeline.approvals.lock().unwrap()[0].clone();
            assert_eq!(approval.approved, approved, "{policy:?}");
            assert!(
                approval.summary.starts_with("SLO WARNING, score 75/100"),
                "{}",
                approval.summary
            );
        }
    }

    #[tokio::test]
    async fn a_provider_error_is_retried_then_rejects_the_build_as_an_error() {
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        provider.answer(
            RT,
            Err(crate::ports::sli::SliError::Unavailable(
                "connection refused".into(),
            )),
        );
        provider.answer(ERRORS, Ok(0.0));
        let (mut worker, store, pipeline) = slo_worker(Some(provider)).await;
        worker.settings.max_attempts = 2;
        worker.settings.recheck = Duration::ZERO;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Approve))
            .await
            .unwrap();
        let first = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(first.retried, 1);
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        worker.tick("owner-2", None).await.unwrap();
        let approvals = pipeline.approvals.lock().unwrap().clone();
        assert_eq!(approvals.len(), 1);
        assert!(!approvals[0].approved);
        assert!(
            approvals[0]
                .summary
                .contains("SLI provider error: response_time: connection refused"),
            "{}",
            approvals[0].summary
        );
        assert_eq!(store.requests()[0].status, RequestStatus::Error);
    }

    #[tokio::test]
    async fn a_retry_is_due_one_recheck_after_the_injected_clock() {
        const NOW: i64 = 1_800_000_000_000;
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        provider.answer(
            RT,
            Err(crate::ports::sli::SliError::Unavailable(
                "connection refused".into(),
            )),
        );
        provider.answer(ERRORS, Ok(0.0));
        let (mut worker, store, pipeline) = slo_worker(Some(provider)).await;
        let fixed: Clock = Arc::new(|| NOW);
        worker.clock = fixed;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Approve))
            .await
            .unwrap();
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(report.retried, 1, "{report:?}");
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Waiting);
        assert_eq!(stored.next_check_ms, Some(NOW + 60_000));
        assert_eq!(stored.lease_owner, None);
        assert!(
            stored
                .status_msg
                .starts_with("attempt 1 of 3 could not measure every SLI, retrying: "),
            "{}",
            stored.status_msg
        );
    }

    #[tokio::test]
    async fn an_ambiguous_query_fails_its_sli_only_and_is_not_retried() {
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        provider.answer(RT, Ok(400.0));
        provider.answer(
            ERRORS,
            Err(crate::ports::sli::SliError::Ambiguous(
                "the query returned 2 series, not one".into(),
            )),
        );
        let (worker, store, pipeline) = slo_worker(Some(provider)).await;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Approve))
            .await
            .unwrap();
        let report = worker.tick("owner", None).await.unwrap();
        assert_eq!(report.retried, 0, "the provider answered: nothing to retry");
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval
                .summary
                .contains("key SLI error_rate has no value: the query returned 2 series, not one"),
            "{}",
            approval.summary
        );
        assert_eq!(
            store.requests()[0].status,
            RequestStatus::Violation,
            "judged, not an error"
        );
    }

    #[tokio::test]
    async fn an_objective_without_a_query_rejects_the_build_as_an_error_without_asking() {
        let provider = Arc::new(crate::ports::memory::MemorySliProvider::default());
        let (worker, store, pipeline) = slo_worker(Some(provider.clone())).await;
        let mut request = slo_request(1_000, "E1", OnWarning::Approve);
        request.slo.as_mut().unwrap().sli =
            "indicators:\n  error_rate: errors{service=\"$SERVICE\"}\n  response_time_p95: rt\n"
                .into();
        request.slo.as_mut().unwrap().slo = SLO.replace("sli: response_time\n", "sli: latency\n");
        store.create(&request).await.unwrap();
        let report = worker.tick("owner", None).await.unwrap();
        assert_eq!(report.retried, 0, "only a change of the files helps");
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval.summary.contains("nothing was measured: sli.yaml has no indicator \"latency\": add its query under indicators"),
            "{}",
            approval.summary
        );
        assert!(provider.asked.lock().unwrap().is_empty(), "no request sent");
        assert_eq!(store.requests()[0].status, RequestStatus::Error);
    }

    #[tokio::test]
    async fn an_slo_gate_without_its_provider_is_rejected_with_what_to_configure() {
        let (worker, store, pipeline) = slo_worker(None).await;
        store
            .create(&slo_request(1_000, "E1", OnWarning::Approve))
            .await
            .unwrap();
        worker.tick("owner", None).await.unwrap();
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval.summary.contains("set PROMETHEUS_URL"),
            "{}",
            approval.summary
        );
    }

    #[test]
    fn slo_results_become_decisions() {
        use OnWarning::*;
        use RequestStatus as S;
        let cases = [
            (Outcome::Pass, Manual, false, (true, S::Ok)),
            (Outcome::Fail, Approve, false, (false, S::Violation)),
            (Outcome::Fail, Approve, true, (false, S::Error)),
            (Outcome::Warning, Manual, false, (false, S::Manual)),
            (Outcome::Warning, Approve, false, (true, S::Ok)),
            (Outcome::Warning, Reject, false, (false, S::Violation)),
        ];
        for (result, policy, error, expected) in cases {
            assert_eq!(
                slo_decision(result, policy, error),
                expected,
                "{result:?} {policy:?} {error}"
            );
        }
    }

    #[test]
    fn baselines_come_from_earlier_evaluations_of_the_same_stage_and_service_newest_first() {
        let evaluated = |ts: i64, id: &str, stage: &str, service: &str| {
            let mut r = slo_request(ts, id, OnWarning::Manual);
            r.stage = stage.into();
            r.slo.as_mut().unwrap().service = service.into();
            let mut e = crate::slo::score::failed("x");
            e.id = Some(id.into());
            r.result_json = Some(
                serde_json::to_string(&SloRecord {
                    schema_version: RECORD_SCHEMA_VERSION,
                    gate: SLO_GATE.into(),
                    evaluation: e,
                    window: EvaluationWindow {
                        start_ms: ts,
                        end_ms: ts,
                    },
                    slo_hash: String::new(),
                    service: service.into(),
                    stage: stage.into(),
                    provider: "prometheus".into(),
                })
                .unwrap(),
            );
            r
        };
        let mut monspec = request("{}");
        monspec.timestamp_ms = 500;
        monspec.result_json = Some("{\"configurations\": []}".into());
        let history = vec![
            evaluated(100, "old", "Staging", "sample"),
            evaluated(200, "newer", "Staging", "sample"),
            evaluated(300, "production", "Production", "sample"),
            evaluated(400, "other-service", "Staging", "carts"),
            monspec,
            evaluated(9_000, "later", "Staging", "sample"),
        ];
        let current = slo_request(5_000, "now", OnWarning::Manual);
        let ids: Vec<Option<String>> = previous_evaluations(&history, &current, "sample")
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(
            ids,
            vec![Some("newer".to_string()), Some("old".to_string())]
        );
    }
}
