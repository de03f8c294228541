//! [`ValidationStore`] on one DynamoDB table.
//!
//! Key: `PipelineName` (S) + `Timestamp` (N, epoch ms), as in the original. Work is found
//! through the sparse global secondary index [`READY_INDEX`] (`Pending` + `ReadyAt`): only
//! active requests carry `Pending`, so a tick reads the due requests and nothing else, however
//! long the history grows. Rollback records share the table under `rollback#…` keys, which
//! no pipeline name can collide with (`#` is not allowed in pipeline names).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use crate::aws::sdk_error::error_parts;

use crate::ports::store::{
    CanaryGate, Decision, History, NotificationRecord, OnWarning, ReadyBatch, ReadyEntry,
    RequestKey, RequestStatus, RollbackClaim, RollbackRecord, SliProviderKind, SloGate, StoreError,
    UnreadableItem, ValidationRequest, ValidationStore,
};

pub const READY_INDEX: &str = "ReadyIndex";
pub(crate) const PENDING: &str = "1";

pub(crate) type Item = HashMap<String, AttributeValue>;

pub struct DynamoValidationStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoValidationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

pub(crate) fn store_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    err: SdkError<E>,
) -> StoreError {
    let (code, text) = error_parts(operation, &err);
    match code.as_str() {
        "ConditionalCheckFailedException" | "TransactionCanceledException" => {
            StoreError::Conflict(text)
        }
        "ValidationException" if text.contains("size") => StoreError::TooLarge(text),
        _ => StoreError::Call(text),
    }
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn get_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse::<f64>().ok())
        .map(|f| f as i64)
}

pub(crate) fn required<T>(value: Option<T>, name: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Malformed(format!("attribute {name} is missing")))
}

pub fn to_item(r: &ValidationRequest) -> Item {
    let mut item: Item = HashMap::from([
        ("PipelineName".into(), s(&r.pipeline)),
        ("Timestamp".into(), n(r.timestamp_ms)),
        ("ComparisonName".into(), s(&r.comparison)),
        // The original stored the window in minutes; keep that, and the exact value.
        (
            "Validationtimeframe".into(),
            n(r.window_ms as f64 / 60_000.0),
        ),
        ("ValidationWindowMs".into(), n(r.window_ms)),
        ("ReadyToValidateTimestamp".into(), n(r.ready_ms)),
        ("Monspec".into(), s(&r.monspec)),
        ("PipelineStage".into(), s(&r.stage)),
        ("PipelineAction".into(), s(&r.action)),
        ("ApprovalAction".into(), s(&r.approval_action)),
        ("JobId".into(), s(&r.job_id)),
        ("ExecutionId".into(), s(&r.execution_id)),
        ("Status".into(), s(r.status.as_str())),
        ("Statusmsg".into(), s(&r.status_msg)),
        ("Attempts".into(), n(r.attempts)),
        ("ExpiresAt".into(), n(r.expires_at_s)),
    ]);
    if let Some(at) = r.next_check_ms {
        item.insert("Pending".into(), s(PENDING));
        item.insert("ReadyAt".into(), n(at));
    }
    if let Some(owner) = &r.lease_owner {
        item.insert("LeaseOwner".into(), s(owner));
    }
    if let Some(json) = &r.result_json {
        item.insert("ResultJson".into(), s(json));
    }
    if let Some(filled) = &r.filled_monspec {
        item.insert("MonspecResult".into(), s(filled));
    }
    if let Some(gate) = &r.slo {
        item.insert("Gate".into(), s("slo"));
        item.insert("SloYaml".into(), s(&gate.slo));
        item.insert("SliYaml".into(), s(&gate.sli));
        item.insert("SliProvider".into(), s(gate.provider.as_str()));
        item.insert("SloService".into(), s(&gate.service));
        item.insert("OnWarning".into(), s(gate.on_warning.as_str()));
    }
    if let Some(gate) = &r.canary {
        item.insert("Gate".into(), s("canary"));
        item.insert("CanaryFile".into(), s(&gate.file));
        item.insert("SliProvider".into(), s(gate.provider.as_str()));
        item.insert("CanaryControl".into(), s(&gate.control));
        item.insert("CanaryExperiment".into(), s(&gate.experiment));
        item.insert("OnMarginal".into(), s(gate.on_marginal.as_str()));
    }
    if let Some(d) = &r.decision {
        item.insert(
            "Decision".into(),
            s(match (d.outcome, d.approve) {
                (RequestStatus::Manual, _) => "Manual",
                (_, true) => "Approved",
                (_, false) => "Rejected",
            }),
        );
        item.insert("DecisionSummary".into(), s(&d.summary));
        item.insert("DecisionOutcome".into(), s(d.outcome.as_str()));
    }
    item
}

fn status_of(item: &Item) -> Result<RequestStatus, StoreError> {
    let status_text = required(get_s(item, "Status"), "Status")?;
    RequestStatus::parse(&status_text).ok_or_else(|| {
        StoreError::Malformed(format!(
            "unknown Status \"{status_text}\" (known: {})",
            RequestStatus::ALL.map(RequestStatus::as_str).join(", ")
        ))
    })
}

pub fn from_item(item: &Item) -> Result<ValidationRequest, StoreError> {
    let status = status_of(item)?;
    let decision = get_s(item, "Decision").map(|d| Decision {
        approve: d == "Approved",
        summary: get_s(item, "DecisionSummary").unwrap_or_default(),
        outcome: get_s(item, "DecisionOutcome")
            .as_deref()
            .and_then(RequestStatus::parse)
            .unwrap_or(RequestStatus::Error),
    });
    let window_ms = get_n(item, "ValidationWindowMs")
        .or_else(|| {
            item.get("Validationtimeframe")
                .and_then(|v| v.as_n().ok())
                .and_then(|t| t.parse::<f64>().ok())
                .map(|m| (m * 60_000.0) as i64)
        })
        .unwrap_or(0);
    let provider = || -> Result<SliProviderKind, StoreError> {
        let provider = required(get_s(item, "SliProvider"), "SliProvider")?;
        SliProviderKind::parse(&provider)
            .ok_or_else(|| StoreError::Malformed(format!("unknown SliProvider \"{provider}\"")))
    };
    // A missing policy is `manual`: the one that never decides for a person.
    let policy = |name: &str| -> Result<OnWarning, StoreError> {
        let text = get_s(item, name).unwrap_or_else(|| "manual".into());
        OnWarning::parse(&text)
            .ok_or_else(|| StoreError::Malformed(format!("unknown {name} \"{text}\"")))
    };
    let (slo, canary) = match get_s(item, "Gate").as_deref() {
        None | Some("monspec") => (None, None),
        Some("slo") => (
            Some(SloGate {
                slo: required(get_s(item, "SloYaml"), "SloYaml")?,
                sli: required(get_s(item, "SliYaml"), "SliYaml")?,
                provider: provider()?,
                service: get_s(item, "SloService").unwrap_or_default(),
                on_warning: policy("OnWarning")?,
            }),
            None,
        ),
        Some("canary") => (
            None,
            Some(CanaryGate {
                file: required(get_s(item, "CanaryFile"), "CanaryFile")?,
                provider: provider()?,
                control: required(get_s(item, "CanaryControl"), "CanaryControl")?,
                experiment: required(get_s(item, "CanaryExperiment"), "CanaryExperiment")?,
                on_marginal: policy("OnMarginal")?,
            }),
        ),
        Some(other) => {
            return Err(StoreError::Malformed(format!("unknown Gate \"{other}\"")));
        }
    };
    let timestamp_ms = required(get_n(item, "Timestamp"), "Timestamp")?;
    Ok(ValidationRequest {
        slo,
        canary,
        pipeline: required(get_s(item, "PipelineName"), "PipelineName")?,
        timestamp_ms,
        comparison: get_s(item, "ComparisonName").unwrap_or_default(),
        window_ms,
        // An item without its ready time (edited by hand, or older than the field) is
        // judged no earlier than the longest ingestion delay allows, never at once.
        ready_ms: get_n(item, "ReadyToValidateTimestamp").unwrap_or_else(|| {
            (timestamp_ms + window_ms)
                .saturating_add(crate::validation::params::MAX_INGESTION_DELAY.as_millis() as i64)
        }),
        monspec: get_s(item, "Monspec").unwrap_or_default(),
        stage: get_s(item, "PipelineStage").unwrap_or_default(),
        action: get_s(item, "PipelineAction").unwrap_or_default(),
        approval_action: get_s(item, "ApprovalAction").unwrap_or_default(),
        job_id: get_s(item, "JobId").unwrap_or_default(),
        execution_id: get_s(item, "ExecutionId").unwrap_or_default(),
        status,
        status_msg: get_s(item, "Statusmsg").unwrap_or_default(),
        attempts: get_n(item, "Attempts").unwrap_or(0).max(0) as u32,
        next_check_ms: get_s(item, "Pending").and_then(|_| get_n(item, "ReadyAt")),
        lease_owner: get_s(item, "LeaseOwner"),
        result_json: get_s(item, "ResultJson"),
        filled_monspec: get_s(item, "MonspecResult"),
        decision,
        expires_at_s: get_n(item, "ExpiresAt").unwrap_or(0),
    })
}

/// One item of a history read: a request, or, when it cannot be read, a skipped key, so one
/// bad item does not hide the rest.
fn history_item(history: &mut History, item: &Item) {
    match from_item(item) {
        Ok(request) => history.requests.push(request),
        Err(e) => history.skipped.push(UnreadableItem {
            key: RequestKey {
                pipeline: get_s(item, "PipelineName").unwrap_or_default(),
                timestamp_ms: get_n(item, "Timestamp").unwrap_or(0),
            },
            reason: e.to_string(),
        }),
    }
}

/// The attributes the report reads (the key first): not the monspec, the filled-in monspec
/// or the SLO files, which are most of an item's size. Without `Gate` the reader sees a
/// monspec request; the report tells the gates apart by the result JSON.
const REPORT_ATTRIBUTES: [&str; 18] = [
    "PipelineName",
    "Timestamp",
    "ComparisonName",
    "ValidationWindowMs",
    "Validationtimeframe",
    "ReadyToValidateTimestamp",
    "PipelineStage",
    "PipelineAction",
    "ApprovalAction",
    "ExecutionId",
    "Status",
    "Statusmsg",
    "Attempts",
    "ResultJson",
    "Decision",
    "DecisionSummary",
    "DecisionOutcome",
    "ExpiresAt",
];

fn key_item(key: &RequestKey) -> Item {
    HashMap::from([
        ("PipelineName".into(), s(&key.pipeline)),
        ("Timestamp".into(), n(key.timestamp_ms)),
    ])
}

fn rollback_key(problem_id: &str, deployment_id: &str) -> String {
    format!("rollback#{problem_id}#{deployment_id}")
}

fn group_key(application: &str, group: &str) -> String {
    format!("rollbackgroup#{application}#{group}")
}

/// A ledger row or a group lock: both have sort key 0, one item per key.
fn rollback_item(partition: String, r: &RollbackRecord) -> Item {
    let mut item: Item = HashMap::from([
        ("PipelineName".into(), s(partition)),
        ("Timestamp".into(), n(0)),
        ("ProblemId".into(), s(&r.problem_id)),
        ("DeploymentId".into(), s(&r.deployment_id)),
        ("Application".into(), s(&r.application)),
        ("DeploymentGroup".into(), s(&r.deployment_group)),
        ("RolledBackAt".into(), n(r.at_ms)),
        ("LockedUntil".into(), n(r.locked_until_ms)),
        // Rollback records are an audit trail for 90 days.
        ("ExpiresAt".into(), n(r.at_ms / 1000 + 90 * 86_400)),
    ]);
    if let Some(id) = &r.rollback_deployment_id {
        item.insert("RollbackDeploymentId".into(), s(id));
    }
    item
}

#[async_trait]
impl ValidationStore for DynamoValidationStore {
    async fn create(&self, request: &ValidationRequest) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(request)))
            .condition_expression("attribute_not_exists(PipelineName)")
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn ready(&self, now_ms: i64, limit: usize) -> Result<ReadyBatch, StoreError> {
        let mut batch = ReadyBatch::default();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(READY_INDEX)
                .key_condition_expression("Pending = :p AND ReadyAt <= :now")
                .expression_attribute_values(":p", s(PENDING))
                .expression_attribute_values(":now", n(now_ms))
                .set_exclusive_start_key(start.take())
                .limit((limit - batch.entries.len()).clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            batch.items_read += out.scanned_count().max(0) as usize;
            for item in out.items() {
                // The table's keys are in every index entry; the status may be anything a
                // person or an older version wrote.
                let key = RequestKey {
                    pipeline: required(get_s(item, "PipelineName"), "PipelineName")?,
                    timestamp_ms: required(get_n(item, "Timestamp"), "Timestamp")?,
                };
                match status_of(item) {
                    Ok(status) => batch.entries.push(ReadyEntry { key, status }),
                    Err(e) => batch.unreadable.push(UnreadableItem {
                        key,
                        reason: e.to_string(),
                    }),
                }
            }
            match out.last_evaluated_key() {
                Some(key) if batch.entries.len() < limit => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(batch)
    }

    async fn claim(
        &self,
        entry: &ReadyEntry,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<ValidationRequest>, StoreError> {
        let evaluating = matches!(
            entry.status,
            RequestStatus::Waiting | RequestStatus::Evaluating
        );
        let next = if evaluating {
            RequestStatus::Evaluating
        } else {
            entry.status
        };
        let update = if evaluating {
            "SET LeaseOwner = :owner, ReadyAt = :until, #s = :next, Attempts = if_not_exists(Attempts, :zero) + :one"
        } else {
            "SET LeaseOwner = :owner, ReadyAt = :until, #s = :next"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&entry.key)))
            .update_expression(update)
            .condition_expression("attribute_exists(Pending) AND ReadyAt <= :now AND #s = :seen")
            .expression_attribute_names("#s", "Status")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(now_ms + lease_ms))
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":seen", s(entry.status.as_str()))
            .return_values(ReturnValue::AllNew);
        if evaluating {
            request = request
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1));
        }
        match request.send().await {
            Ok(out) => out
                .attributes()
                .map(from_item)
                .transpose()?
                .ok_or_else(|| StoreError::Malformed("UpdateItem returned no item".into()))
                .map(Some),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn quarantine(&self, key: &RequestKey, reason: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("SET Quarantined = :why REMOVE Pending, ReadyAt, LeaseOwner")
            .condition_expression("attribute_exists(PipelineName)")
            .expression_attribute_values(":why", s(reason))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    async fn renew(
        &self,
        key: &RequestKey,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("SET ReadyAt = :until")
            .condition_expression("LeaseOwner = :owner AND ReadyAt > :now")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":until", n(now_ms + lease_ms))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn save(&self, request: &ValidationRequest, owner: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(request)))
            .condition_expression("LeaseOwner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, key: &RequestKey) -> Result<Option<ValidationRequest>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        out.item().map(from_item).transpose()
    }

    async fn history(&self, pipeline: &str, since_ms: i64) -> Result<History, StoreError> {
        let mut history = History::default();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PipelineName = :p AND #t >= :since")
                .expression_attribute_names("#t", "Timestamp")
                .expression_attribute_values(":p", s(pipeline))
                .expression_attribute_values(":since", n(since_ms))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            history.pages += 1;
            for item in out.items() {
                history_item(&mut history, item);
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        Ok(history)
    }

    async fn report_history(
        &self,
        pipeline: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<History, StoreError> {
        // Newest first, so the limit keeps the latest builds; aliases for every attribute
        // because Status and Timestamp are reserved words.
        let projection: Vec<String> = (0..REPORT_ATTRIBUTES.len())
            .map(|i| format!("#a{i}"))
            .collect();
        let mut history = History::default();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#a0 = :p AND #a1 >= :since")
                .projection_expression(projection.join(", "))
                .scan_index_forward(false)
                .limit((limit - history.requests.len()).clamp(1, 1000) as i32)
                .expression_attribute_values(":p", s(pipeline))
                .expression_attribute_values(":since", n(since_ms))
                .set_exclusive_start_key(start.take());
            for (i, name) in REPORT_ATTRIBUTES.iter().enumerate() {
                query = query.expression_attribute_names(format!("#a{i}"), *name);
            }
            let out = query.send().await.map_err(|e| store_error("Query", e))?;
            history.pages += 1;
            for item in out.items() {
                history_item(&mut history, item);
            }
            match out.last_evaluated_key() {
                Some(_) if history.requests.len() >= limit => {
                    history.truncated = true;
                    break;
                }
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        history.requests.reverse();
        Ok(history)
    }

    async fn claim_rollback(
        &self,
        record: &RollbackRecord,
        stale_before_ms: i64,
    ) -> Result<RollbackClaim, StoreError> {
        let ledger_key = rollback_key(&record.problem_id, &record.deployment_id);
        let lock_key = group_key(&record.application, &record.deployment_group);
        // One transaction, so two problems at once cannot both pass a cooldown read, and a
        // ledger row never exists without its lock. An uncompleted claim older than
        // `stale_before_ms` belonged to a function that died before CreateDeployment.
        let ledger = Put::builder()
            .table_name(&self.table)
            .set_item(Some(rollback_item(ledger_key.clone(), record)))
            .condition_expression(
                "attribute_not_exists(PipelineName) OR (attribute_not_exists(RollbackDeploymentId) AND RolledBackAt < :stale)",
            )
            .expression_attribute_values(":stale", n(stale_before_ms))
            .build()
            .map_err(|e| StoreError::Call(format!("TransactWriteItems: {e}")))?;
        let lock = Put::builder()
            .table_name(&self.table)
            .set_item(Some(rollback_item(lock_key.clone(), record)))
            .condition_expression(
                "attribute_not_exists(PipelineName) OR LockedUntil <= :now OR (ProblemId = :p AND DeploymentId = :d AND attribute_not_exists(RollbackDeploymentId) AND RolledBackAt < :stale)",
            )
            .expression_attribute_values(":now", n(record.at_ms))
            .expression_attribute_values(":p", s(&record.problem_id))
            .expression_attribute_values(":d", s(&record.deployment_id))
            .expression_attribute_values(":stale", n(stale_before_ms))
            .build()
            .map_err(|e| StoreError::Call(format!("TransactWriteItems: {e}")))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(ledger).build())
            .transact_items(TransactWriteItem::builder().put(lock).build())
            .send()
            .await;
        match sent.map_err(|e| store_error("TransactWriteItems", e)) {
            Ok(_) => return Ok(RollbackClaim::Claimed),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        // Which condition failed: read both (consistently) to say who holds what.
        if let Some(item) = self.rollback_row(&ledger_key).await? {
            return Ok(RollbackClaim::AlreadyRecorded(rollback_record(&item)));
        }
        if let Some(item) = self.rollback_row(&lock_key).await? {
            return Ok(RollbackClaim::GroupLocked(rollback_record(&item)));
        }
        Err(StoreError::Conflict(format!(
            "the rollback claim for {ledger_key} lost a race that has cleared since; re-send the notification"
        )))
    }

    async fn complete_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError> {
        for partition in [
            rollback_key(&record.problem_id, &record.deployment_id),
            group_key(&record.application, &record.deployment_group),
        ] {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(rollback_item(partition, record)))
                .condition_expression("ProblemId = :p AND DeploymentId = :d AND RolledBackAt = :at")
                .expression_attribute_values(":p", s(&record.problem_id))
                .expression_attribute_values(":d", s(&record.deployment_id))
                .expression_attribute_values(":at", n(record.at_ms))
                .send()
                .await
                .map_err(|e| store_error("PutItem", e))?;
        }
        Ok(())
    }

    async fn release_rollback(&self, record: &RollbackRecord) -> Result<(), StoreError> {
        let delete = |partition: String| {
            Delete::builder()
                .table_name(&self.table)
                .key("PipelineName", s(partition))
                .key("Timestamp", n(0))
                .condition_expression(
                    "ProblemId = :p AND DeploymentId = :d AND RolledBackAt = :at AND attribute_not_exists(RollbackDeploymentId)",
                )
                .expression_attribute_values(":p", s(&record.problem_id))
                .expression_attribute_values(":d", s(&record.deployment_id))
                .expression_attribute_values(":at", n(record.at_ms))
                .build()
                .map_err(|e| StoreError::Call(format!("TransactWriteItems: {e}")))
        };
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .delete(delete(rollback_key(
                        &record.problem_id,
                        &record.deployment_id,
                    ))?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(delete(group_key(
                        &record.application,
                        &record.deployment_group,
                    ))?)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error("TransactWriteItems", e))?;
        Ok(())
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (
                    "PipelineName".into(),
                    s(format!("problem#{}", record.problem_id)),
                ),
                ("Timestamp".into(), n(record.received_ms)),
                ("ProblemId".into(), s(&record.problem_id)),
                ("State".into(), s(&record.state)),
                ("AnswerStatus".into(), n(record.status)),
                ("Answer".into(), s(&record.answer)),
                (
                    "ExpiresAt".into(),
                    n(record.received_ms / 1000 + 90 * 86_400),
                ),
            ])))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }
}

impl DynamoValidationStore {
    async fn rollback_row(&self, partition: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PipelineName", s(partition))
            .key("Timestamp", n(0))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item().cloned())
    }
}

fn rollback_record(item: &Item) -> RollbackRecord {
    RollbackRecord {
        problem_id: get_s(item, "ProblemId").unwrap_or_default(),
        deployment_id: get_s(item, "DeploymentId").unwrap_or_default(),
        application: get_s(item, "Application").unwrap_or_default(),
        deployment_group: get_s(item, "DeploymentGroup").unwrap_or_default(),
        rollback_deployment_id: get_s(item, "RollbackDeploymentId"),
        at_ms: get_n(item, "RolledBackAt").unwrap_or(0),
        locked_until_ms: get_n(item, "LockedUntil").unwrap_or(0),
    }
}

/// The table definition the functions rely on (used by tests and `unbreakable local`; the
/// CloudFormation template declares the same).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let attr = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .expect("key element")
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("PipelineName", ScalarAttributeType::S))
        .attribute_definitions(attr("Timestamp", ScalarAttributeType::N))
        .attribute_definitions(attr("Pending", ScalarAttributeType::S))
        .attribute_definitions(attr("ReadyAt", ScalarAttributeType::N))
        .key_schema(key("PipelineName", KeyType::Hash))
        .key_schema(key("Timestamp", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(READY_INDEX)
                .key_schema(key("Pending", KeyType::Hash))
                .key_schema(key("ReadyAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("Status")
                        .build(),
                )
                .build()
                .expect("index"),
        )
        .send()
        .await
        .map_err(|e| store_error("CreateTable", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(slo: Option<SloGate>) -> ValidationRequest {
        ValidationRequest {
            pipeline: "Sample".into(),
            timestamp_ms: 1_700_000_000_000,
            comparison: "SLO".into(),
            window_ms: 300_000,
            ready_ms: 1_700_000_300_000,
            monspec: String::new(),
            slo,
            canary: None,
            stage: "Staging".into(),
            action: "Register".into(),
            approval_action: "ApproveStaging".into(),
            job_id: "job".into(),
            execution_id: "e-1".into(),
            status: RequestStatus::Manual,
            status_msg: "left for a person".into(),
            attempts: 1,
            next_check_ms: None,
            lease_owner: None,
            result_json: Some("{}".into()),
            filled_monspec: None,
            decision: Some(Decision {
                approve: false,
                summary: "SLO warning, score 80".into(),
                outcome: RequestStatus::Manual,
            }),
            expires_at_s: 1,
        }
    }

    #[test]
    fn an_slo_gate_and_a_manual_decision_survive_the_item_round_trip() {
        let gate = SloGate {
            slo: "spec_version: \"1.0\"".into(),
            sli: "indicators: {}".into(),
            provider: SliProviderKind::Prometheus,
            service: "sample".into(),
            on_warning: OnWarning::Approve,
        };
        let original = request(Some(gate));
        let item = to_item(&original);
        assert_eq!(item["Decision"], s("Manual"));
        assert_eq!(from_item(&item).unwrap(), original);
        let monspec = request(None);
        assert_eq!(from_item(&to_item(&monspec)).unwrap(), monspec);
    }

    #[test]
    fn a_canary_gate_survives_the_item_round_trip() {
        let original = ValidationRequest {
            comparison: "Canary".into(),
            canary: Some(CanaryGate {
                file: "metrics:\n  - name: latency\n    query: q\n".into(),
                provider: SliProviderKind::Dynatrace,
                control: "sample-Production@-1h".into(),
                experiment: "sample-Production".into(),
                on_marginal: OnWarning::Reject,
            }),
            ..request(None)
        };
        let item = to_item(&original);
        assert_eq!(item["Gate"], s("canary"));
        assert_eq!(item["OnMarginal"], s("reject"));
        assert_eq!(from_item(&item).unwrap(), original);
        // An item written without a policy waits for a person.
        let mut without = item.clone();
        without.remove("OnMarginal");
        assert_eq!(
            from_item(&without).unwrap().canary.unwrap().on_marginal,
            OnWarning::Manual
        );
        let mut broken = item;
        broken.remove("CanaryControl");
        let e = from_item(&broken).unwrap_err().to_string();
        assert!(e.contains("attribute CanaryControl is missing"), "{e}");
    }

    #[test]
    fn an_unknown_gate_or_provider_is_malformed_with_its_name() {
        let mut item = to_item(&request(None));
        item.insert("Gate".into(), s("kayenta"));
        let e = from_item(&item).unwrap_err().to_string();
        assert!(e.contains("unknown Gate \"kayenta\""), "{e}");
        item.insert("Gate".into(), s("slo"));
        item.insert("SloYaml".into(), s(""));
        item.insert("SliYaml".into(), s(""));
        item.insert("SliProvider".into(), s("datadog"));
        let e = from_item(&item).unwrap_err().to_string();
        assert!(e.contains("unknown SliProvider \"datadog\""), "{e}");
    }
}
