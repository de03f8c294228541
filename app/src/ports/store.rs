//! The validation store: one record per registered build validation, and the rollback
//! ledger of the problem handler, behind [`ValidationStore`]. The DynamoDB item layout is in
//! the README ("Table schema").

use async_trait::async_trait;

pub use unbreakable_core::model::store::{
    CanaryGate, Decision, History, NotificationRecord, OnWarning, ReadyBatch, ReadyEntry,
    RequestKey, RequestStatus, RollbackClaim, RollbackRecord, SliProviderKind, SloGate,
    UnreadableItem, ValidationRequest, CANARY_COMPARISON, SLO_COMPARISON,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: another worker holds the item, or it already exists.
    #[error("the item changed under us: {0}")]
    Conflict(String),
    #[error("the item is too large for DynamoDB ({0})")]
    TooLarge(String),
    /// A limit of the store was reached (the lanes, a lane's inbox): the reason says which.
    #[error("{0}")]
    Full(String),
    #[error("the stored item is malformed: {0}")]
    Malformed(String),
    #[error("DynamoDB call failed: {0}")]
    Call(String),
}

#[async_trait]
pub trait ValidationStore: Send + Sync {
    /// Store a new request; fails with `Conflict` if the key exists.
    async fn create(&self, request: &ValidationRequest) -> Result<(), StoreError>;
    /// Active requests whose next check is due, oldest first, from the sparse index.
    async fn ready(&self, now_ms: i64, limit: usize) -> Result<ReadyBatch, StoreError>;
    /// Take the request for `lease_ms` if it is still due and in `seen` status. Returns the
    /// claimed request, or `None` when another worker got it first.
    async fn claim(
        &self,
        entry: &ReadyEntry,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<ValidationRequest>, StoreError>;
    /// Take an unreadable item out of the ready index for good, keeping it (and why) for a
    /// person to look at. Whatever its status, it is never claimed again.
    async fn quarantine(&self, key: &RequestKey, reason: &str) -> Result<(), StoreError>;
    /// Extend `owner`'s lease to `now_ms + lease_ms` if it still holds it and the lease has
    /// not lapsed (another worker may have claimed it since); `false` otherwise.
    async fn renew(
        &self,
        key: &RequestKey,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Write back a claimed request; fails with `Conflict` unless `owner` still holds it.
    async fn save(&self, request: &ValidationRequest, owner: &str) -> Result<(), StoreError>;
    async fn get(&self, key: &RequestKey) -> Result<Option<ValidationRequest>, StoreError>;
    /// The pipeline's requests registered at or after `since_ms`, oldest first.
    async fn history(&self, pipeline: &str, since_ms: i64) -> Result<History, StoreError>;
    /// What the public report shows: at most the `limit` newest requests registered at or
    /// after `since_ms` (oldest first), with only the fields the report reads (no monspec,
    /// no SLO files), so one request cannot make the function read a year of whole items.
    async fn report_history(
        &self,
        pipeline: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<History, StoreError> {
        let mut history = self.history(pipeline, since_ms).await?;
        let excess = history.requests.len().saturating_sub(limit);
        history.requests.drain(..excess);
        history.truncated = excess > 0;
        history.requests = history
            .requests
            .iter()
            .map(ValidationRequest::report_view)
            .collect();
        Ok(history)
    }
    /// Claim a rollback before creating it: the (problem, deployment) ledger row and the
    /// group lock are written together or not at all. A claim that was never completed and
    /// is older than `stale_before_ms` (its function died) can be taken over.
    async fn claim_rollback(
        &self,
        record: &RollbackRecord,
        stale_before_ms: i64,
    ) -> Result<RollbackClaim, StoreError>;
    /// Attach the id of the deployment a claimed rollback created.
    async fn complete_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError>;
    /// Undo a claim whose deployment could not be created, so a re-sent notification
    /// tries again. Only an uncompleted claim made by `record` is removed.
    async fn release_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError>;
    /// Keep what the problem handler answered.
    async fn record_notification(&self, record: &NotificationRecord) -> Result<(), StoreError>;
}
