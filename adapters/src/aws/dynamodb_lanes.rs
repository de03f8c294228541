//! [`LaneStore`] on the validation table.
//!
//! - A lane is the item `lane#<service>#<stage>` (sort key 0): the state machine's lane as
//!   JSON (`LaneJson`), the webhooks' `Inbox` (a list of JSON notices, appended to), the
//!   actions in flight, and the lease (`LeaseOwner`, `LeaseUntil`).
//! - A due lane is on the sparse ready index under its own partition value
//!   ([`LANE_PENDING`]), so the validations' query never reads a lane and vice versa.
//! - Ended sequences are items `sequence#<service>#<stage>`, sorted by when they opened, kept
//!   90 days.
//! - `lanes` (sort key 0) lists every lane key (`LaneKeys`, at most [`MAX_LANES`]) and, per
//!   lane, when it last heard of a problem (`Seen#<lane partition>`), so the timeline reads
//!   the newest lanes without a scan.
//! - `ended#<service>#<stage>#<problem id>` remembers that a problem's sequence ended, kept as
//!   long as the sequence (TTL), so a replayed notification starts nothing however many
//!   problems ended since.
//!
//! `#` cannot appear in a service or stage (the webhooks refuse it), so the keys never collide.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::dynamodb::{get_n, get_s, n, required, s, store_error, DynamoValidationStore, Item};
use crate::ports::lanes::{
    full_inbox, full_of_lanes, InFlight, LaneConfig, LaneConfigs, LaneHistory, LaneKey, LanePage,
    LaneRecord, LaneStore, Notice, StoreError, ENDED_PROBLEM_TTL_S, MAX_INBOX, MAX_LANES,
};
use crate::ports::store::SliProviderKind;
use crate::remediation::sequence::{Lane, Sequence};

/// The ready index's partition value for lanes (validations use "1").
pub const LANE_PENDING: &str = "lane";
const REGISTRY: &str = "lanes";
/// How long an ended sequence is kept for the timeline.
const SEQUENCE_TTL_S: i64 = ENDED_PROBLEM_TTL_S;

fn lane_partition(key: &LaneKey) -> String {
    format!("lane#{}#{}", key.service, key.stage)
}

fn sequence_partition(key: &LaneKey) -> String {
    format!("sequence#{}#{}", key.service, key.stage)
}

fn ended_partition(key: &LaneKey, problem_id: &str) -> String {
    format!("ended#{}#{}#{problem_id}", key.service, key.stage)
}

/// The registry's attribute holding when a lane last heard of a problem.
fn seen_attribute(key: &LaneKey) -> String {
    format!("Seen#{}", lane_partition(key))
}

fn item_key(partition: String, sort: i64) -> Item {
    HashMap::from([
        ("PipelineName".to_string(), s(partition)),
        ("Timestamp".to_string(), n(sort)),
    ])
}

fn lane_key_of(partition: &str) -> Option<LaneKey> {
    let rest = partition.strip_prefix("lane#")?;
    let (service, stage) = rest.split_once('#')?;
    Some(LaneKey {
        service: service.into(),
        stage: stage.into(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("lane state serializes")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Malformed(format!("{what}: {e}")))
}

fn record_of(key: &LaneKey, item: &Item) -> Result<LaneRecord, StoreError> {
    let lane: Lane = match get_s(item, "LaneJson") {
        Some(text) => from_json(&text, "LaneJson")?,
        None => Lane::new(&key.service, &key.stage),
    };
    let inbox = match item.get("Inbox").and_then(|v| v.as_l().ok()) {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .map(|v| {
                let text = v
                    .as_s()
                    .map_err(|_| StoreError::Malformed("Inbox holds a non-string".into()))?;
                from_json::<Notice>(text, "an Inbox notice")
            })
            .collect::<Result<_, _>>()?,
    };
    let in_flight: Vec<InFlight> = match get_s(item, "InFlightJson") {
        Some(text) => from_json(&text, "InFlightJson")?,
        None => Vec::new(),
    };
    Ok(LaneRecord {
        key: key.clone(),
        lane,
        inbox,
        in_flight,
    })
}

/// A sort key that orders sequences by when they ended and keeps two problems that ended in
/// the same millisecond apart (so a later run never overwrites an earlier record).
fn sequence_sort_key(sequence: &Sequence) -> i64 {
    let mut hash: u32 = 2_166_136_261;
    for b in sequence.problem.id.bytes() {
        hash = (hash ^ b as u32).wrapping_mul(16_777_619);
    }
    let ended_ms = sequence
        .steps
        .last()
        .map_or(sequence.problem.opened_ms, |s| s.at_ms);
    ended_ms * 1_000_000 + (hash % 1_000_000) as i64
}

/// Ended sequences written in the lane's own transaction (DynamoDB takes 100 items in one);
/// the rest are written right after it.
const SEQUENCES_IN_TRANSACTION: usize = 60;

fn sequence_item(key: &LaneKey, sequence: &Sequence) -> Item {
    let mut item = item_key(sequence_partition(key), sequence_sort_key(sequence));
    item.insert("SequenceJson".into(), s(to_json(sequence)));
    item.insert(
        "ExpiresAt".into(),
        n(sequence.problem.opened_ms / 1000 + SEQUENCE_TTL_S),
    );
    item
}

impl DynamoValidationStore {
    /// Add the lane to the registry (refused beyond [`MAX_LANES`]) and note when it heard last.
    async fn register_lane(&self, key: &LaneKey, now_ms: i64) -> Result<(), StoreError> {
        let partition = lane_partition(key);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(REGISTRY.into(), 0)))
            .update_expression("ADD LaneKeys :k SET #seen = :now")
            .condition_expression(
                "attribute_not_exists(LaneKeys) OR contains(LaneKeys, :ks) OR size(LaneKeys) < :max",
            )
            .expression_attribute_names("#seen", seen_attribute(key))
            .expression_attribute_values(":k", AttributeValue::Ss(vec![partition.clone()]))
            .expression_attribute_values(":ks", s(partition))
            .expression_attribute_values(":max", n(MAX_LANES))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict(_) => Err(full_of_lanes(key)),
                other => Err(other),
            },
        }
    }

    /// Remember the problems of these sequences as ended (one write each; a failure is
    /// logged: the lane's own list of the last ended ids still covers them).
    async fn remember_ended(&self, key: &LaneKey, ended: &[Sequence]) {
        for sequence in ended {
            let mut item = item_key(ended_partition(key, &sequence.problem.id), 0);
            item.insert(
                "ExpiresAt".into(),
                n(sequence.problem.opened_ms / 1000 + ENDED_PROBLEM_TTL_S),
            );
            if let Err(e) = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
            {
                tracing::warn!(lane = %key, problem = %sequence.problem.id, error = %store_error("PutItem", e), "remembering an ended problem failed");
            }
        }
    }
}

#[async_trait]
impl LaneStore for DynamoValidationStore {
    async fn notify_all(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if notices.len() > MAX_INBOX {
            return Err(full_inbox(key, 0, notices.len()));
        }
        self.register_lane(key, now_ms).await?;
        let list = notices.iter().map(|notice| s(to_json(notice))).collect();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(lane_partition(key), 0)))
            .update_expression(
                "SET Inbox = list_append(if_not_exists(Inbox, :empty), :notices), Pending = :p, ReadyAt = :now",
            )
            .condition_expression("attribute_not_exists(Inbox) OR size(Inbox) <= :room")
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":notices", AttributeValue::L(list))
            .expression_attribute_values(":p", s(LANE_PENDING))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":room", n(MAX_INBOX - notices.len()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict(_) => {
                    let waiting = self.lane(key).await?.map_or(0, |r| r.inbox.len());
                    Err(full_inbox(key, waiting, notices.len()))
                }
                other => Err(other),
            },
        }
    }

    async fn hand_over(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        owner: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let list = notices.iter().map(|notice| s(to_json(notice))).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(lane_partition(key), 0)))
            .update_expression(
                "SET Inbox = list_append(if_not_exists(Inbox, :empty), :notices), Pending = :p, ReadyAt = :now REMOVE LeaseOwner, LeaseUntil",
            )
            .condition_expression("LeaseOwner = :owner")
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":notices", AttributeValue::L(list))
            .expression_attribute_values(":p", s(LANE_PENDING))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    async fn ended_problems(
        &self,
        key: &LaneKey,
        problem_ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let mut ended = std::collections::BTreeSet::new();
        for id in problem_ids {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(item_key(ended_partition(key, id), 0)))
                .projection_expression("PipelineName")
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| store_error("GetItem", e))?;
            if out.item().is_some() {
                ended.insert(id.clone());
            }
        }
        Ok(ended)
    }

    async fn record_ended(&self, key: &LaneKey, sequence: &Sequence) -> Result<(), StoreError> {
        let now = sequence.steps.last().map_or(0, |s| s.at_ms);
        self.register_lane(key, now).await?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(sequence_item(key, sequence)))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        self.remember_ended(key, std::slice::from_ref(sequence))
            .await;
        Ok(())
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<LaneKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(super::dynamodb::READY_INDEX)
                .key_condition_expression("Pending = :p AND ReadyAt <= :now")
                .expression_attribute_values(":p", s(LANE_PENDING))
                .expression_attribute_values(":now", n(now_ms))
                .set_exclusive_start_key(start.take())
                .limit((limit - keys.len()).clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            for item in out.items() {
                let partition = required(get_s(item, "PipelineName"), "PipelineName")?;
                match lane_key_of(&partition) {
                    Some(key) => keys.push(key),
                    None => {
                        tracing::warn!(%partition, "a lane entry with a malformed key is left alone")
                    }
                }
            }
            match out.last_evaluated_key() {
                Some(key) if keys.len() < limit => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(keys)
    }

    async fn claim(
        &self,
        key: &LaneKey,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<LaneRecord>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(lane_partition(key), 0)))
            .update_expression("SET LeaseOwner = :owner, LeaseUntil = :until")
            .condition_expression(
                "Pending = :p AND ReadyAt <= :now AND (attribute_not_exists(LeaseUntil) OR LeaseUntil <= :now)",
            )
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":p", s(LANE_PENDING))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => out
                .attributes()
                .map(|item| record_of(key, item))
                .transpose(),
            Err(e) => match store_error("UpdateItem", e) {
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn save(
        &self,
        record: &LaneRecord,
        inbox_read: usize,
        ended: &[Sequence],
        owner: &str,
        keep_lease: bool,
    ) -> Result<(), StoreError> {
        let mut set = vec!["LaneJson = :lane", "InFlightJson = :flight"];
        let mut remove = vec!["Inbox"];
        let mut lane_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item_key(lane_partition(&record.key), 0)))
            .expression_attribute_values(":lane", s(to_json(&record.lane)))
            .expression_attribute_values(":flight", s(to_json(&record.in_flight)))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":n", n(inbox_read));
        match record.index_ready_at() {
            Some(at) => {
                set.push("ReadyAt = :ready");
                lane_update = lane_update.expression_attribute_values(":ready", n(at));
            }
            // Nothing to look at until a notice comes: off the index.
            None => remove.extend(["Pending", "ReadyAt"]),
        }
        if !keep_lease {
            remove.extend(["LeaseOwner", "LeaseUntil"]);
        }
        let condition = if inbox_read == 0 {
            "LeaseOwner = :owner AND (attribute_not_exists(Inbox) OR size(Inbox) = :n)"
        } else {
            "LeaseOwner = :owner AND size(Inbox) = :n"
        };
        let lane_update = lane_update
            .update_expression(format!(
                "SET {} REMOVE {}",
                set.join(", "),
                remove.join(", ")
            ))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Call(format!("TransactWriteItems: {e}")))?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(lane_update).build());
        let (in_transaction, after) = ended.split_at(ended.len().min(SEQUENCES_IN_TRANSACTION));
        for sequence in in_transaction {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(sequence_item(&record.key, sequence)))
                .build()
                .map_err(|e| StoreError::Call(format!("TransactWriteItems: {e}")))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        request
            .send()
            .await
            .map_err(|e| store_error("TransactWriteItems", e))?;
        for sequence in after {
            if let Err(e) = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(sequence_item(&record.key, sequence)))
                .send()
                .await
            {
                tracing::error!(lane = %record.key, problem = %sequence.problem.id, error = %store_error("PutItem", e), "an ended sequence could not be kept for the timeline");
            }
        }
        self.remember_ended(&record.key, ended).await;
        Ok(())
    }

    async fn lane(&self, key: &LaneKey) -> Result<Option<LaneRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(lane_partition(key), 0)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        out.item().map(|item| record_of(key, item)).transpose()
    }

    async fn lane_histories(&self, lanes: usize, per_lane: usize) -> Result<LanePage, StoreError> {
        let registry = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(REGISTRY.into(), 0)))
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        let item = registry.item().cloned().unwrap_or_default();
        let partitions: Vec<String> = item
            .get("LaneKeys")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        // Newest activity first; lanes registered before their time was kept come last.
        let mut keys: Vec<(i64, LaneKey)> = partitions
            .iter()
            .filter_map(|p| lane_key_of(p))
            .map(|key| (get_n(&item, &seen_attribute(&key)).unwrap_or(0), key))
            .collect();
        keys.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let older_left_out = keys.len().saturating_sub(lanes);
        let mut histories = Vec::new();
        for (_, key) in keys.into_iter().take(lanes) {
            let lane = self.lane(&key).await?.map(|r| r.lane);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PipelineName = :p")
                .expression_attribute_values(":p", s(sequence_partition(&key)))
                .scan_index_forward(false)
                .limit(per_lane.clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            let mut ended = Vec::new();
            for item in out.items() {
                match get_s(item, "SequenceJson").map(|t| from_json::<Sequence>(&t, "SequenceJson"))
                {
                    Some(Ok(sequence)) => ended.push(sequence),
                    Some(Err(e)) => {
                        tracing::warn!(lane = %key, error = %e, at = ?get_n(item, "Timestamp"), "an ended sequence cannot be read; left out of the timeline")
                    }
                    None => {}
                }
            }
            histories.push(LaneHistory { key, lane, ended });
        }
        Ok(LanePage {
            histories,
            older_left_out,
        })
    }
}

fn config_partition(key: &LaneKey) -> String {
    format!("config#{}#{}", key.service, key.stage)
}

#[async_trait]
impl LaneConfigs for DynamoValidationStore {
    async fn config(&self, key: &LaneKey) -> Result<Option<LaneConfig>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(config_partition(key), 0)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let provider = match get_s(item, "SliProvider") {
            None => None,
            Some(text) => Some(SliProviderKind::parse(&text).ok_or_else(|| {
                StoreError::Malformed(format!("SliProvider \"{text}\" of {key} is unknown"))
            })?),
        };
        Ok(Some(LaneConfig {
            remediation_yaml: get_s(item, "RemediationYaml"),
            slo_yaml: get_s(item, "SloYaml"),
            sli_yaml: get_s(item, "SliYaml"),
            provider,
            monspec_json: get_s(item, "MonspecJson"),
            comparison: get_s(item, "MonspecComparison"),
            updated_ms: get_n(item, "UpdatedAt").unwrap_or(0),
        }))
    }

    async fn put_config(&self, key: &LaneKey, config: &LaneConfig) -> Result<(), StoreError> {
        let mut item = item_key(config_partition(key), 0);
        item.insert("UpdatedAt".into(), n(config.updated_ms));
        for (name, value) in [
            ("RemediationYaml", &config.remediation_yaml),
            ("SloYaml", &config.slo_yaml),
            ("SliYaml", &config.sli_yaml),
            ("MonspecJson", &config.monspec_json),
            ("MonspecComparison", &config.comparison),
        ] {
            if let Some(text) = value {
                item.insert(name.into(), s(text));
            }
        }
        if let Some(provider) = config.provider {
            item.insert("SliProvider".into(), s(provider.as_str()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }
}
