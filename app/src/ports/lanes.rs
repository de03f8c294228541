//! Where the self-healing sequences live: one lane per service and stage (the pure state of
//! [`crate::remediation::sequence::Lane`]), an inbox the problem webhooks append to, and the
//! sequences that ended, for the timeline. The worker claims a due lane for a lease, applies
//! its inbox, and writes the lane and the ended sequences back in one step.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::remediation::sequence::{EvaluationResult, Lane, Problem, Sequence, StepKey};

pub use super::store::StoreError;

/// The most lanes the store keeps: a lane exists only for a service with a stored
/// remediation.yaml, so this is far above any real stack and bounds the registry item
/// (DynamoDB's 400 KB) and the timeline's reading.
pub const MAX_LANES: usize = 500;
/// The most notices waiting in one lane's inbox: the webhooks answer 429 beyond it (the
/// sender re-sends once the worker has read the inbox), so the lane's item stays small.
pub const MAX_INBOX: usize = 100;

/// A lane: a service in a stage (for Dynatrace problems, the CodeDeploy application and
/// deployment group behind them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LaneKey {
    pub service: String,
    pub stage: String,
}

impl std::fmt::Display for LaneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.stage)
    }
}

/// What a problem source said, as the webhook stored it; the worker turns it into an input
/// of the state machine (reading the service's remediation.yaml for an opened problem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "camelCase")]
pub enum Notice {
    Opened {
        problem: Problem,
    },
    Closed {
        problem_id: String,
        at_ms: i64,
    },
    /// The worker's own: an action's result it learned but could not store itself (its
    /// invocation was running out), handed to the next step through the inbox.
    ActionFinished {
        key: StepKey,
        ok: bool,
        details: String,
    },
    /// The worker's own: an evaluation's result, handed over likewise.
    EvaluationFinished {
        key: StepKey,
        result: EvaluationResult,
        details: String,
    },
    /// The worker's own: an action it started and must keep checking, handed over likewise.
    ActionPending {
        key: StepKey,
        handle: serde_json::Value,
    },
}

impl Notice {
    /// Whether a webhook wrote it (and it counts against [`MAX_INBOX`]).
    pub fn is_from_a_source(&self) -> bool {
        matches!(self, Notice::Opened { .. } | Notice::Closed { .. })
    }
}

/// An action that was started and has not finished (scaling waits for its instances): what
/// the worker needs to check it at the next tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    /// The step key (`problem#step`) of the action's "started" step.
    pub key: String,
    /// The adapter's own record of what it started (JSON).
    pub handle: serde_json::Value,
}

/// A lane as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRecord {
    pub key: LaneKey,
    pub lane: Lane,
    /// Notices not applied yet, oldest first.
    pub inbox: Vec<Notice>,
    pub in_flight: Vec<InFlight>,
}

impl LaneRecord {
    /// When the ready index should offer the lane: its own time; at once when sequences are
    /// queued without one; `None` (off the index) when it is idle.
    pub fn index_ready_at(&self) -> Option<i64> {
        let idle = self.lane.active.is_none() && self.lane.queue.is_empty();
        match (self.lane.ready_at_ms, idle) {
            (Some(at), _) => Some(at),
            (None, true) => None,
            (None, false) => Some(0),
        }
    }
}

/// The lane and its sequences, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneHistory {
    pub key: LaneKey,
    pub lane: Option<Lane>,
    /// Ended sequences, newest first.
    pub ended: Vec<Sequence>,
}

/// One page of the timeline: the lanes with the newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LanePage {
    pub histories: Vec<LaneHistory>,
    /// Lanes not read (older activity than the page's last).
    pub older_left_out: usize,
}

#[async_trait]
pub trait LaneStore: Send + Sync {
    /// Append the notices to the lane's inbox, in one write, and make the lane due now
    /// (creating it if new). Refused with [`StoreError::Full`] when the lane would be one
    /// more than [`MAX_LANES`], or its inbox would hold more than [`MAX_INBOX`] notices.
    async fn notify_all(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// One notice: [`LaneStore::notify_all`].
    async fn notify(&self, key: &LaneKey, notice: &Notice, now_ms: i64) -> Result<(), StoreError> {
        self.notify_all(key, std::slice::from_ref(notice), now_ms)
            .await
    }
    /// The worker's hand-over when its invocation runs out: append what it learned (no cap:
    /// it must never be lost), make the lane due now and end `owner`'s lease, in one write.
    async fn hand_over(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        owner: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Which of `problem_ids` ended on this lane (kept [`ENDED_PROBLEM_TTL_S`], without a
    /// count limit), so a replayed notification starts nothing.
    async fn ended_problems(
        &self,
        key: &LaneKey,
        problem_ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError>;
    /// Store a sequence that ended outside the worker (the problem webhook's own rollback),
    /// for the timeline, and remember its problem as ended.
    async fn record_ended(&self, key: &LaneKey, sequence: &Sequence) -> Result<(), StoreError>;
    /// Lanes due at `now_ms` (their wait, hold or timeout ended, or a notice came), oldest
    /// first.
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<LaneKey>, StoreError>;
    /// Take the lane for `owner` until `until_ms`, if it is due and nobody holds it.
    async fn claim(
        &self,
        key: &LaneKey,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<LaneRecord>, StoreError>;
    /// Write the lane back and store the ended sequences, in one step, if `owner` still holds
    /// it and no notice came after the first `inbox_read` ones (then: `Conflict`, and the
    /// caller reads again). The applied notices leave the inbox. With `keep_lease`, the
    /// lane stays held (more effects follow); else the lease ends.
    async fn save(
        &self,
        record: &LaneRecord,
        inbox_read: usize,
        ended: &[Sequence],
        owner: &str,
        keep_lease: bool,
    ) -> Result<(), StoreError>;
    /// The lane as stored, without claiming it.
    async fn lane(&self, key: &LaneKey) -> Result<Option<LaneRecord>, StoreError>;
    /// The `lanes` lanes with the newest activity, with at most `per_lane` ended sequences
    /// each (newest first), and how many lanes were left out.
    async fn lane_histories(&self, lanes: usize, per_lane: usize) -> Result<LanePage, StoreError>;
}

/// How long an ended problem is remembered (and its sequence kept for the timeline).
pub const ENDED_PROBLEM_TTL_S: i64 = 90 * 24 * 3600;

#[cfg(any(test, feature = "testing"))]
/// The in-memory double: the same rules as the table (lease, inbox size check, one step).
#[derive(Default)]
pub struct MemoryLanes {
    state: std::sync::Mutex<MemoryLanesState>,
}

#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct MemoryLanesState {
    lanes: std::collections::BTreeMap<LaneKey, StoredLane>,
    ended: std::collections::BTreeMap<LaneKey, Vec<Sequence>>,
    ended_ids: std::collections::BTreeSet<(LaneKey, String)>,
}

#[cfg(any(test, feature = "testing"))]
#[derive(Clone)]
struct StoredLane {
    record: LaneRecord,
    ready_at_ms: Option<i64>,
    lease: Option<(String, i64)>,
    /// The last notice's time, for the timeline's order.
    seen_ms: i64,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryLanes {
    pub fn new() -> Self {
        Self::default()
    }

    /// When the lane is due next, as the ready index says (`None`: off the index).
    pub fn ready_at(&self, key: &LaneKey) -> Option<i64> {
        let state = self.state.lock().expect("lanes lock");
        state.lanes.get(key).and_then(|l| l.ready_at_ms)
    }
}

#[cfg(any(test, feature = "testing"))]
impl MemoryLanesState {
    fn lane_entry(&mut self, key: &LaneKey) -> Result<&mut StoredLane, StoreError> {
        if !self.lanes.contains_key(key) && self.lanes.len() >= MAX_LANES {
            return Err(full_of_lanes(key));
        }
        Ok(self.lanes.entry(key.clone()).or_insert_with(|| StoredLane {
            record: LaneRecord {
                key: key.clone(),
                lane: Lane::new(&key.service, &key.stage),
                inbox: Vec::new(),
                in_flight: Vec::new(),
            },
            ready_at_ms: None,
            lease: None,
            seen_ms: 0,
        }))
    }
}

/// The refusal when the store holds [`MAX_LANES`] lanes.
pub fn full_of_lanes(key: &LaneKey) -> StoreError {
    StoreError::Full(format!(
        "{MAX_LANES} self-healing lanes exist, the most kept; {key} is not one of them (remove lanes no longer used)"
    ))
}

/// The refusal when a lane's inbox is full.
pub fn full_inbox(key: &LaneKey, waiting: usize, more: usize) -> StoreError {
    StoreError::Full(format!(
        "the inbox of {key} is full: {waiting} notices wait for the worker, {more} more would pass the limit of {MAX_INBOX}; re-send after the next worker tick"
    ))
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl LaneStore for MemoryLanes {
    async fn notify_all(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let stored = state.lane_entry(key)?;
        let waiting = stored.record.inbox.len();
        if waiting + notices.len() > MAX_INBOX {
            return Err(full_inbox(key, waiting, notices.len()));
        }
        stored.record.inbox.extend(notices.iter().cloned());
        stored.ready_at_ms = Some(now_ms);
        stored.seen_ms = now_ms;
        Ok(())
    }

    async fn hand_over(
        &self,
        key: &LaneKey,
        notices: &[Notice],
        owner: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let stored = state
            .lanes
            .get_mut(key)
            .ok_or_else(|| StoreError::Conflict(format!("lane {key} does not exist")))?;
        if stored.lease.as_ref().map(|(o, _)| o.as_str()) != Some(owner) {
            return Err(StoreError::Conflict(format!(
                "lane {key} is not held by {owner}"
            )));
        }
        stored.record.inbox.extend(notices.iter().cloned());
        stored.ready_at_ms = Some(now_ms);
        stored.lease = None;
        Ok(())
    }

    async fn ended_problems(
        &self,
        key: &LaneKey,
        problem_ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let state = self.state.lock().expect("lanes lock");
        Ok(problem_ids
            .iter()
            .filter(|id| state.ended_ids.contains(&(key.clone(), (*id).clone())))
            .cloned()
            .collect())
    }

    async fn record_ended(&self, key: &LaneKey, sequence: &Sequence) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let now = sequence.steps.last().map_or(0, |s| s.at_ms);
        let stored = state.lane_entry(key)?;
        stored.seen_ms = stored.seen_ms.max(now);
        state
            .ended
            .entry(key.clone())
            .or_default()
            .push(sequence.clone());
        state
            .ended_ids
            .insert((key.clone(), sequence.problem.id.clone()));
        Ok(())
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<LaneKey>, StoreError> {
        let state = self.state.lock().expect("lanes lock");
        let mut due: Vec<(i64, LaneKey)> = state
            .lanes
            .iter()
            .filter_map(|(k, l)| {
                l.ready_at_ms
                    .filter(|&t| t <= now_ms)
                    .map(|t| (t, k.clone()))
            })
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, k)| k).collect())
    }

    async fn claim(
        &self,
        key: &LaneKey,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<LaneRecord>, StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let Some(stored) = state.lanes.get_mut(key) else {
            return Ok(None);
        };
        let due = stored.ready_at_ms.is_some_and(|t| t <= now_ms);
        let free = stored
            .lease
            .as_ref()
            .is_none_or(|(_, until)| *until <= now_ms);
        if !(due && free) {
            return Ok(None);
        }
        stored.lease = Some((owner.to_string(), until_ms));
        Ok(Some(stored.record.clone()))
    }

    async fn save(
        &self,
        record: &LaneRecord,
        inbox_read: usize,
        ended: &[Sequence],
        owner: &str,
        keep_lease: bool,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let stored = state
            .lanes
            .get_mut(&record.key)
            .ok_or_else(|| StoreError::Conflict(format!("lane {} does not exist", record.key)))?;
        if stored.lease.as_ref().map(|(o, _)| o.as_str()) != Some(owner) {
            return Err(StoreError::Conflict(format!(
                "lane {} is not held by {owner}",
                record.key
            )));
        }
        if stored.record.inbox.len() != inbox_read {
            return Err(StoreError::Conflict(format!(
                "lane {} got a notice after it was read",
                record.key
            )));
        }
        stored.ready_at_ms = record.index_ready_at();
        stored.record = LaneRecord {
            inbox: Vec::new(),
            ..record.clone()
        };
        if !keep_lease {
            stored.lease = None;
        }
        for sequence in ended {
            state
                .ended_ids
                .insert((record.key.clone(), sequence.problem.id.clone()));
        }
        state
            .ended
            .entry(record.key.clone())
            .or_default()
            .extend(ended.iter().cloned());
        Ok(())
    }

    async fn lane(&self, key: &LaneKey) -> Result<Option<LaneRecord>, StoreError> {
        let state = self.state.lock().expect("lanes lock");
        Ok(state.lanes.get(key).map(|l| l.record.clone()))
    }

    async fn lane_histories(&self, lanes: usize, per_lane: usize) -> Result<LanePage, StoreError> {
        let state = self.state.lock().expect("lanes lock");
        let mut keys: Vec<(&LaneKey, &StoredLane)> = state.lanes.iter().collect();
        keys.sort_by_key(|(key, stored)| (std::cmp::Reverse(stored.seen_ms), (*key).clone()));
        let older_left_out = keys.len().saturating_sub(lanes);
        let histories = keys
            .into_iter()
            .take(lanes)
            .map(|(key, stored)| {
                let mut ended = state.ended.get(key).cloned().unwrap_or_default();
                ended.sort_by_key(|s| std::cmp::Reverse(s.problem.opened_ms));
                ended.truncate(per_lane);
                LaneHistory {
                    key: key.clone(),
                    lane: Some(stored.record.lane.clone()),
                    ended,
                }
            })
            .collect();
        Ok(LanePage {
            histories,
            older_left_out,
        })
    }
}

/// What a lane evaluates and remediates with, as `unbreakable remediation apply` stored it
/// (Keptn's `keptn add-resource` for the service in the stage). The texts were checked when
/// stored and are read again when used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaneConfig {
    pub remediation_yaml: Option<String>,
    pub slo_yaml: Option<String>,
    pub sli_yaml: Option<String>,
    /// The SLI provider the sli.yaml's queries are for.
    pub provider: Option<super::store::SliProviderKind>,
    /// Without slo.yaml: a monspec and the comparison (e.g. `ProductionToProductionLastHour`)
    /// that judges the wait, as the tutorial's quality gate does.
    pub monspec_json: Option<String>,
    pub comparison: Option<String>,
    pub updated_ms: i64,
}

/// DynamoDB's limit on one item, 400 KB (409,600 bytes), attribute names and values counted.
pub const DYNAMODB_ITEM_LIMIT_BYTES: usize = 400 * 1024;

/// What the key, the attribute names and the small attributes of a stored [`LaneConfig`] take
/// at most beside its texts.
const LANE_CONFIG_OVERHEAD_BYTES: usize = 1024;

impl LaneConfig {
    /// The size of the item that stores it (its texts, and room for the rest), to refuse a
    /// set DynamoDB would refuse before any call, with the size.
    pub fn item_bytes(&self) -> usize {
        [
            &self.remediation_yaml,
            &self.slo_yaml,
            &self.sli_yaml,
            &self.monspec_json,
            &self.comparison,
        ]
        .into_iter()
        .map(|text| text.as_ref().map_or(0, String::len))
        .sum::<usize>()
            + LANE_CONFIG_OVERHEAD_BYTES
    }

    /// Why the set cannot be stored in one item, if it cannot.
    pub fn too_large(&self) -> Option<String> {
        let bytes = self.item_bytes();
        (bytes > DYNAMODB_ITEM_LIMIT_BYTES).then(|| {
            format!(
                "the files are {} together (stored as one item); DynamoDB's item limit is {}: make them smaller, e.g. remove comments or objectives and actions the service does not need",
                crate::text::size_text(bytes),
                crate::text::size_text(DYNAMODB_ITEM_LIMIT_BYTES)
            )
        })
    }
}

/// Where lane configurations are kept.
#[async_trait]
pub trait LaneConfigs: Send + Sync {
    async fn config(&self, key: &LaneKey) -> Result<Option<LaneConfig>, StoreError>;
    async fn put_config(&self, key: &LaneKey, config: &LaneConfig) -> Result<(), StoreError>;
}

#[cfg(any(test, feature = "testing"))]
/// The in-memory double of [`LaneConfigs`].
#[derive(Default)]
pub struct MemoryLaneConfigs {
    configs: std::sync::Mutex<std::collections::BTreeMap<LaneKey, LaneConfig>>,
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl LaneConfigs for MemoryLaneConfigs {
    async fn config(&self, key: &LaneKey) -> Result<Option<LaneConfig>, StoreError> {
        Ok(self.configs.lock().expect("configs lock").get(key).cloned())
    }

    async fn put_config(&self, key: &LaneKey, config: &LaneConfig) -> Result<(), StoreError> {
        self.configs
            .lock()
            .expect("configs lock")
            .insert(key.clone(), config.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_over_dynamodbs_item_limit_is_refused_with_its_size() {
        let fits = LaneConfig {
            remediation_yaml: Some("x".repeat(100 * 1024)),
            slo_yaml: Some("x".repeat(100 * 1024)),
            sli_yaml: Some("x".repeat(100 * 1024)),
            ..LaneConfig::default()
        };
        assert_eq!(fits.too_large(), None);
        let over = LaneConfig {
            monspec_json: Some("x".repeat(200 * 1024)),
            ..fits
        };
        assert_eq!(
            over.too_large().unwrap(),
            "the files are 501 KiB together (stored as one item); DynamoDB's item limit is 400 KiB: make them smaller, e.g. remove comments or objectives and actions the service does not need"
        );
    }
}
