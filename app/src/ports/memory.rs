//! In-memory doubles of the ports, with the same contracts as the real adapters (conditional
//! claims and saves, the once-only rollback ledger, approvals only with the waiting token),
//! so handler logic gets fast unit tests. The wire-level scenarios through the real binaries
//! (tests/tests/functions.rs) stay the end-to-end layer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::deploy::{DeployError, Deployer, DeploymentInfo, DeploymentStatus, S3Revision};
use super::metrics::TimeWindow;
use super::monitoring::{
    MonitoringError, MonitoringEvents, PipelineEvent, ProblemDetails, RecordedDeployment,
};
use super::pipeline::{
    ActionStatus, JobContext, JobFailure, Pipeline, PipelineDefinition, PipelineError,
    PipelineState,
};
use super::secrets::{SecretError, SecretSource};
use super::sli::{SliError, SliProvider};
use crate::text::truncate_chars;

use super::store::{
    History, NotificationRecord, ReadyBatch, ReadyEntry, RequestKey, RequestStatus, RollbackClaim,
    RollbackRecord, StoreError, UnreadableItem, ValidationRequest, ValidationStore,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The validation table: requests by key, `next_check_ms` as the sparse ready index, and the
/// rollback ledger.
#[derive(Default)]
pub struct MemoryStore {
    requests: Mutex<BTreeMap<(String, i64), ValidationRequest>>,
    rollbacks: Mutex<RollbackLedger>,
    notifications: Mutex<Vec<NotificationRecord>>,
    /// Items that cannot be read (what the DynamoDB adapter reports for an unknown
    /// `Status`), by key.
    unreadable: Mutex<BTreeMap<(String, i64), Unreadable>>,
    quarantined: Mutex<Vec<(RequestKey, String)>>,
    /// When set, history reads fail with this call error (a table that cannot be read).
    history_failure: Mutex<Option<String>>,
}

/// An item that cannot be read, as the table keeps one: due at its registration time (in
/// the ready index until quarantined), and kept after quarantine for a person to look at.
struct Unreadable {
    reason: String,
    quarantined: bool,
}

/// DynamoDB's item size limit, which the table answers with `TooLarge`.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// About what a request weighs as an item: its texts, which are all that can grow.
fn item_bytes(r: &ValidationRequest) -> usize {
    let files = r.slo.as_ref().map_or(0, |g| g.slo.len() + g.sli.len())
        + r.canary.as_ref().map_or(0, |g| g.file.len());
    r.monspec.len()
        + files
        + r.status_msg.len()
        + r.result_json.as_ref().map_or(0, String::len)
        + r.filled_monspec.as_ref().map_or(0, String::len)
}

fn too_large(r: &ValidationRequest) -> Result<(), StoreError> {
    let bytes = item_bytes(r);
    if bytes > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge(format!(
            "item size {bytes} bytes has exceeded the maximum allowed size of {MAX_ITEM_BYTES}"
        )));
    }
    Ok(())
}

/// The rollback rows by (problem, deployment) and the group locks by (application, group).
#[derive(Default)]
struct RollbackLedger {
    ledger: BTreeMap<(String, String), RollbackRecord>,
    locks: BTreeMap<(String, String), RollbackRecord>,
}

impl MemoryStore {
    /// Remove every request (test setup).
    pub fn clear(&self) {
        lock(&self.requests).clear();
    }

    pub fn requests(&self) -> Vec<ValidationRequest> {
        lock(&self.requests).values().cloned().collect()
    }

    /// Replace a stored request as it is, without the lease check (test setup).
    pub fn put(&self, request: ValidationRequest) {
        lock(&self.requests).insert(key_of(&request.key()), request);
    }

    /// Plant an item that cannot be read (test setup), due at its key's time: `ready`
    /// reports it once due and until it is quarantined, `get` says it is malformed, and
    /// `history` lists it as skipped, quarantined or not.
    pub fn plant_unreadable(&self, key: RequestKey, reason: &str) {
        lock(&self.unreadable).insert(
            key_of(&key),
            Unreadable {
                reason: reason.to_string(),
                quarantined: false,
            },
        );
    }

    /// What was quarantined, with the reason given.
    pub fn quarantined(&self) -> Vec<(RequestKey, String)> {
        lock(&self.quarantined).clone()
    }

    /// Make every history read fail with `message`, as a call error.
    pub fn fail_history_reads(&self, message: &str) {
        *lock(&self.history_failure) = Some(message.to_string());
    }

    pub fn rollbacks(&self) -> Vec<RollbackRecord> {
        lock(&self.rollbacks).ledger.values().cloned().collect()
    }

    pub fn notifications(&self) -> Vec<NotificationRecord> {
        lock(&self.notifications).clone()
    }
}

fn key_of(key: &RequestKey) -> (String, i64) {
    (key.pipeline.clone(), key.timestamp_ms)
}

#[async_trait]
impl ValidationStore for MemoryStore {
    async fn create(&self, request: &ValidationRequest) -> Result<(), StoreError> {
        let mut requests = lock(&self.requests);
        let key = key_of(&request.key());
        if requests.contains_key(&key) {
            return Err(StoreError::Conflict(format!("{key:?} exists")));
        }
        too_large(request)?;
        requests.insert(key, request.clone());
        Ok(())
    }

    async fn ready(&self, now_ms: i64, limit: usize) -> Result<ReadyBatch, StoreError> {
        let requests = lock(&self.requests);
        let mut due: Vec<&ValidationRequest> = requests
            .values()
            .filter(|r| r.next_check_ms.is_some_and(|at| at <= now_ms))
            .collect();
        due.sort_by_key(|r| r.next_check_ms);
        let entries: Vec<ReadyEntry> = due
            .into_iter()
            .take(limit)
            .map(|r| ReadyEntry {
                key: r.key(),
                status: r.status,
            })
            .collect();
        let unreadable: Vec<UnreadableItem> = lock(&self.unreadable)
            .iter()
            .filter(|((_, due_ms), item)| !item.quarantined && *due_ms <= now_ms)
            .map(|((pipeline, timestamp_ms), item)| UnreadableItem {
                key: RequestKey {
                    pipeline: pipeline.clone(),
                    timestamp_ms: *timestamp_ms,
                },
                reason: item.reason.clone(),
            })
            .collect();
        Ok(ReadyBatch {
            items_read: entries.len() + unreadable.len(),
            entries,
            unreadable,
        })
    }

    async fn claim(
        &self,
        entry: &ReadyEntry,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<ValidationRequest>, StoreError> {
        let mut requests = lock(&self.requests);
        let Some(request) = requests.get_mut(&key_of(&entry.key)) else {
            return Ok(None);
        };
        let due = request.next_check_ms.is_some_and(|at| at <= now_ms);
        if !due || request.status != entry.status {
            return Ok(None);
        }
        if matches!(
            entry.status,
            RequestStatus::Waiting | RequestStatus::Evaluating
        ) {
            request.status = RequestStatus::Evaluating;
            request.attempts += 1;
        }
        request.lease_owner = Some(owner.to_string());
        request.next_check_ms = Some(now_ms + lease_ms);
        Ok(Some(request.clone()))
    }

    async fn quarantine(&self, key: &RequestKey, reason: &str) -> Result<(), StoreError> {
        let k = key_of(key);
        let planted = match lock(&self.unreadable).get_mut(&k) {
            Some(item) => {
                item.quarantined = true;
                true
            }
            None => false,
        };
        let stored = match lock(&self.requests).get_mut(&k) {
            Some(request) => {
                request.next_check_ms = None;
                request.lease_owner = None;
                true
            }
            None => false,
        };
        if !planted && !stored {
            return Err(StoreError::Conflict(format!("{k:?} does not exist")));
        }
        lock(&self.quarantined).push((key.clone(), reason.to_string()));
        Ok(())
    }

    async fn renew(
        &self,
        key: &RequestKey,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut requests = lock(&self.requests);
        match requests.get_mut(&key_of(key)) {
            Some(r)
                if r.lease_owner.as_deref() == Some(owner)
                    && r.next_check_ms.is_some_and(|at| at > now_ms) =>
            {
                r.next_check_ms = Some(now_ms + lease_ms);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn save(&self, request: &ValidationRequest, owner: &str) -> Result<(), StoreError> {
        let mut requests = lock(&self.requests);
        let key = key_of(&request.key());
        match requests.get(&key) {
            Some(stored) if stored.lease_owner.as_deref() == Some(owner) => {
                too_large(request)?;
                requests.insert(key, request.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict(format!(
                "{owner} does not hold {key:?}"
            ))),
        }
    }

    async fn get(&self, key: &RequestKey) -> Result<Option<ValidationRequest>, StoreError> {
        if let Some(item) = lock(&self.unreadable).get(&key_of(key)) {
            return Err(StoreError::Malformed(item.reason.clone()));
        }
        Ok(lock(&self.requests).get(&key_of(key)).cloned())
    }

    async fn history(&self, pipeline: &str, since_ms: i64) -> Result<History, StoreError> {
        if let Some(message) = lock(&self.history_failure).clone() {
            return Err(StoreError::Call(message));
        }
        Ok(History {
            requests: lock(&self.requests)
                .values()
                .filter(|r| r.pipeline == pipeline && r.timestamp_ms >= since_ms)
                .cloned()
                .collect(),
            pages: 1,
            truncated: false,
            skipped: lock(&self.unreadable)
                .iter()
                .filter(|((p, ts), _)| p == pipeline && *ts >= since_ms)
                .map(|((p, ts), item)| UnreadableItem {
                    key: RequestKey {
                        pipeline: p.clone(),
                        timestamp_ms: *ts,
                    },
                    reason: item.reason.clone(),
                })
                .collect(),
        })
    }

    async fn claim_rollback(
        &self,
        record: &RollbackRecord,
        stale_before_ms: i64,
    ) -> Result<RollbackClaim, StoreError> {
        let mut ledger = lock(&self.rollbacks);
        let stale =
            |r: &RollbackRecord| r.rollback_deployment_id.is_none() && r.at_ms < stale_before_ms;
        let row = ledger
            .ledger
            .get(&(record.problem_id.clone(), record.deployment_id.clone()));
        if let Some(row) = row.filter(|r| !stale(r)) {
            return Ok(RollbackClaim::AlreadyRecorded(row.clone()));
        }
        let group = (record.application.clone(), record.deployment_group.clone());
        if let Some(held) = ledger.locks.get(&group) {
            let ours_and_stale = held.problem_id == record.problem_id
                && held.deployment_id == record.deployment_id
                && stale(held);
            if held.locked_until_ms > record.at_ms && !ours_and_stale {
                return Ok(RollbackClaim::GroupLocked(held.clone()));
            }
        }
        ledger.ledger.insert(
            (record.problem_id.clone(), record.deployment_id.clone()),
            record.clone(),
        );
        ledger.locks.insert(group, record.clone());
        Ok(RollbackClaim::Claimed)
    }

    async fn complete_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError> {
        let mut ledger = lock(&self.rollbacks);
        let same = |r: &RollbackRecord| {
            r.problem_id == record.problem_id
                && r.deployment_id == record.deployment_id
                && r.at_ms == record.at_ms
        };
        let key = (record.problem_id.clone(), record.deployment_id.clone());
        if !ledger.ledger.get(&key).is_some_and(same) {
            return Err(StoreError::Conflict("no such rollback claim".into()));
        }
        // The ledger row takes the id first, then the group lock; a lock that passed on to a
        // newer rollback is refused, as the table's conditional write refuses it.
        ledger.ledger.insert(key, record.clone());
        let group = (record.application.clone(), record.deployment_group.clone());
        if !ledger.locks.get(&group).is_some_and(same) {
            return Err(StoreError::Conflict(
                "the group's lock is another rollback's".into(),
            ));
        }
        ledger.locks.insert(group, record.clone());
        Ok(())
    }

    async fn release_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError> {
        let mut ledger = lock(&self.rollbacks);
        let ours = |r: &RollbackRecord| {
            r.problem_id == record.problem_id
                && r.deployment_id == record.deployment_id
                && r.at_ms == record.at_ms
                && r.rollback_deployment_id.is_none()
        };
        let key = (record.problem_id.clone(), record.deployment_id.clone());
        let group = (record.application.clone(), record.deployment_group.clone());
        if !ledger.ledger.get(&key).is_some_and(ours) || !ledger.locks.get(&group).is_some_and(ours)
        {
            return Err(StoreError::Conflict(
                "the claim is not ours to release".into(),
            ));
        }
        ledger.ledger.remove(&key);
        ledger.locks.remove(&group);
        Ok(())
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<(), StoreError> {
        lock(&self.notifications).push(record.clone());
        Ok(())
    }
}

/// One PutApprovalResult the double accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedApproval {
    pub pipeline: String,
    pub action: String,
    pub approved: bool,
    pub summary: String,
}

/// A job's answer: `Ok(summary)` or `Err((failure, message))`.
pub type JobResult = Result<String, (JobFailure, String)>;

/// Pipelines as GetPipeline / GetPipelineState show them; approvals are accepted only with the
/// token the state shows waiting, and close once answered.
#[derive(Default)]
pub struct MemoryPipeline {
    pub pipelines: Mutex<HashMap<String, (PipelineDefinition, PipelineState)>>,
    pub jobs: Mutex<HashMap<String, JobContext>>,
    pub approvals: Mutex<Vec<AppliedApproval>>,
    pub job_results: Mutex<Vec<(String, JobResult)>>,
}

#[async_trait]
impl Pipeline for MemoryPipeline {
    async fn job_context(&self, job_id: &str) -> Result<JobContext, PipelineError> {
        lock(&self.jobs)
            .get(job_id)
            .cloned()
            .ok_or_else(|| PipelineError::NotFound(format!("job {job_id}")))
    }

    async fn definition(&self, pipeline: &str) -> Result<PipelineDefinition, PipelineError> {
        lock(&self.pipelines)
            .get(pipeline)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| PipelineError::NotFound(format!("pipeline {pipeline}")))
    }

    async fn state(&self, pipeline: &str) -> Result<PipelineState, PipelineError> {
        lock(&self.pipelines)
            .get(pipeline)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| PipelineError::NotFound(format!("pipeline {pipeline}")))
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
        let mut pipelines = lock(&self.pipelines);
        if !pipelines.contains_key(pipeline) {
            return Err(PipelineError::NotFound(format!(
                "PutApprovalResult: PipelineNotFoundException: pipeline {pipeline} does not exist"
            )));
        }
        if summary.chars().count() > MAX_APPROVAL_SUMMARY_CHARS {
            return Err(PipelineError::Call(format!(
                "PutApprovalResult: ValidationException: the summary is longer than {MAX_APPROVAL_SUMMARY_CHARS} characters"
            )));
        }
        let waiting = pipelines
            .get_mut(pipeline)
            .and_then(|(_, state)| state.stages.iter_mut().find(|s| s.name == stage))
            .and_then(|s| s.actions.iter_mut().find(|a| a.name == action))
            .filter(|a| {
                a.status == Some(ActionStatus::InProgress) && a.token.as_deref() == Some(token)
            });
        let Some(waiting) = waiting else {
            return Err(PipelineError::ApprovalClosed(format!(
                "{pipeline}/{stage}/{action} is not waiting with that token"
            )));
        };
        waiting.status = Some(if approved {
            ActionStatus::Succeeded
        } else {
            ActionStatus::Failed
        });
        waiting.token = None;
        lock(&self.approvals).push(AppliedApproval {
            pipeline: pipeline.into(),
            action: action.into(),
            approved,
            summary: summary.into(),
        });
        Ok(())
    }

    async fn job_succeeded(&self, job_id: &str, summary: &str) -> Result<(), PipelineError> {
        self.finish_job(
            "PutJobSuccessResult",
            job_id,
            Ok(truncate_chars(summary, MAX_JOB_SUMMARY_CHARS)),
        )
    }

    async fn job_failed(
        &self,
        job_id: &str,
        failure: JobFailure,
        message: &str,
        _external_id: &str,
    ) -> Result<(), PipelineError> {
        if message.is_empty() {
            return Err(PipelineError::Call(
                "PutJobFailureResult: ValidationException: failureDetails.message must not be empty".into(),
            ));
        }
        self.finish_job(
            "PutJobFailureResult",
            job_id,
            Err((failure, truncate_chars(message, MAX_JOB_MESSAGE_CHARS))),
        )
    }
}

/// CodePipeline's limits, as the adapter keeps to them: a job's summary and failure message
/// are cut (marked with "…"); an approval's summary over its limit is refused.
const MAX_JOB_SUMMARY_CHARS: usize = 2048;
const MAX_JOB_MESSAGE_CHARS: usize = 5000;
const MAX_APPROVAL_SUMMARY_CHARS: usize = 512;

impl MemoryPipeline {
    /// A job's one result: a job CodePipeline does not know is NotFound, and a job that has
    /// its result refuses another (InvalidJobStateException).
    fn finish_job(&self, call: &str, job_id: &str, result: JobResult) -> Result<(), PipelineError> {
        if !lock(&self.jobs).contains_key(job_id) {
            return Err(PipelineError::NotFound(format!(
                "{call}: JobNotFoundException: job {job_id} does not exist"
            )));
        }
        let mut results = lock(&self.job_results);
        if results.iter().any(|(id, _)| id == job_id) {
            return Err(PipelineError::Call(format!(
                "{call}: InvalidJobStateException: job {job_id} has its result"
            )));
        }
        results.push((job_id.into(), result));
        Ok(())
    }
}

/// CodeDeploy deployments by id. A group is known by its deployments or by `groups`; a
/// redeploy is a deployment like the others, with id `d-ROLLBACK<n>`, and is recorded.
#[derive(Default)]
pub struct MemoryDeployer {
    pub deployments: Mutex<HashMap<String, DeploymentInfo>>,
    /// (application, group) of groups that have no deployment yet.
    pub groups: Mutex<HashSet<(String, String)>>,
    /// (application, group, revision, description) of each redeploy.
    pub redeploys: Mutex<Vec<(String, String, S3Revision, String)>>,
    /// Errors the next redeploys fail with, first first (nothing is recorded for them).
    pub redeploy_failures: Mutex<Vec<DeployError>>,
}

#[async_trait]
impl Deployer for MemoryDeployer {
    async fn deployment(&self, id: &str) -> Result<DeploymentInfo, DeployError> {
        lock(&self.deployments)
            .get(id)
            .cloned()
            .ok_or_else(|| DeployError::NotFound(format!("deployment {id} does not exist")))
    }

    async fn last_successful(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Option<String>, DeployError> {
        self.known_group(application, group)?;
        // Ids sort in creation order here (tests name them so).
        Ok(lock(&self.deployments)
            .values()
            .filter(|d| d.application == application && d.group == group)
            .filter(|d| d.status == DeploymentStatus::Succeeded)
            .map(|d| d.id.clone())
            .max())
    }

    async fn redeploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
    ) -> Result<String, DeployError> {
        {
            let mut failures = lock(&self.redeploy_failures);
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        self.known_group(application, group)?;
        let previous_revision = self
            .last_successful(application, group)
            .await?
            .and_then(|id| lock(&self.deployments).get(&id)?.revision.clone());
        let mut redeploys = lock(&self.redeploys);
        redeploys.push((
            application.into(),
            group.into(),
            revision.clone(),
            description.into(),
        ));
        let id = format!("d-ROLLBACK{}", redeploys.len());
        lock(&self.deployments).insert(
            id.clone(),
            DeploymentInfo {
                id: id.clone(),
                application: application.into(),
                group: group.into(),
                status: DeploymentStatus::Created,
                created_ms: None,
                creator: Some("user".into()),
                description: Some(description.into()),
                revision: Some(revision.clone()),
                previous_revision,
                rollback_of: None,
            },
        );
        Ok(id)
    }
}

impl MemoryDeployer {
    /// CodeDeploy's DeploymentGroupDoesNotExistException, for a group with no deployment
    /// that `groups` does not name either.
    fn known_group(&self, application: &str, group: &str) -> Result<(), DeployError> {
        let named = lock(&self.groups).contains(&(application.to_string(), group.to_string()));
        let deployed = lock(&self.deployments)
            .values()
            .any(|d| d.application == application && d.group == group);
        if named || deployed {
            Ok(())
        } else {
            Err(DeployError::NotFound(format!(
                "DeploymentGroupDoesNotExistException: {application}/{group} does not exist"
            )))
        }
    }
}

/// Deployment events per entity (newest first, as the APIs answer), problems by id, pushed
/// events and problem comments; every events query is recorded.
#[derive(Default)]
pub struct MemoryMonitoring {
    pub deployments: Mutex<HashMap<String, Vec<RecordedDeployment>>>,
    pub problems: Mutex<HashMap<String, ProblemDetails>>,
    pub pushed: Mutex<Vec<PipelineEvent>>,
    pub comments: Mutex<Vec<(String, String)>>,
    /// The entity list and window of each `deployments_on` call.
    pub queries: Mutex<Vec<(Vec<String>, TimeWindow)>>,
}

#[async_trait]
impl MonitoringEvents for MemoryMonitoring {
    async fn push(&self, event: &PipelineEvent) -> Result<usize, MonitoringError> {
        lock(&self.pushed).push(event.clone());
        Ok(1)
    }

    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        lock(&self.queries).push((entity_ids.to_vec(), window));
        let deployments = lock(&self.deployments);
        let mut found: Vec<RecordedDeployment> = entity_ids
            .iter()
            .flat_map(|id| deployments.get(id).cloned().unwrap_or_default())
            .filter(|d| d.start_ms >= window.from_ms && d.start_ms <= window.to_ms)
            .collect();
        found.sort_by_key(|d| std::cmp::Reverse(d.start_ms));
        Ok(found)
    }

    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError> {
        Ok(lock(&self.problems).get(problem_id).cloned())
    }

    async fn comment(&self, problem_id: &str, text: &str) -> Result<(), MonitoringError> {
        lock(&self.comments).push((problem_id.into(), text.into()));
        Ok(())
    }
}

/// Secrets by id; an unknown id fails as a missing secret does.
#[derive(Default)]
pub struct MemorySecrets {
    pub values: HashMap<String, String>,
}

#[async_trait]
impl SecretSource for MemorySecrets {
    async fn secret(&self, id: &str) -> Result<String, SecretError> {
        self.values.get(id).cloned().ok_or_else(|| SecretError {
            id: id.to_string(),
            message: "the secret does not exist".into(),
        })
    }
}

/// An SLI provider answering each query (as sent, placeholders filled) with a set value or
/// error; a query it does not know matched nothing. Every query asked is recorded.
#[derive(Default)]
pub struct MemorySliProvider {
    pub answers: Mutex<HashMap<String, Result<f64, SliError>>>,
    pub asked: Mutex<Vec<(String, TimeWindow)>>,
}

impl MemorySliProvider {
    pub fn answer(&self, query: &str, answer: Result<f64, SliError>) {
        lock(&self.answers).insert(query.to_string(), answer);
    }
}

#[async_trait]
impl SliProvider for MemorySliProvider {
    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError> {
        lock(&self.asked).push((query.to_string(), window));
        lock(&self.answers)
            .get(query)
            .cloned()
            .unwrap_or_else(|| Err(SliError::NoData(format!("no series matched {query}"))))
    }
}
