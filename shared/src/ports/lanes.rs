//! Where the self-healing sequences live: one lane per service and stage (the pure state of
//! [`crate::remediation::sequence::Lane`]), an inbox the problem webhooks append to, and the
//! sequences that ended, for the timeline. The worker claims a due lane for a lease, applies
//! its inbox, and writes the lane and the ended sequences back in one step.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::remediation::sequence::{Lane, Problem, Sequence};

pub use super::store::StoreError;

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
    Opened { problem: Problem },
    Closed { problem_id: String, at_ms: i64 },
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

#[async_trait]
pub trait LaneStore: Send + Sync {
    /// Append a notice to the lane's inbox and make the lane due now (creating it if new).
    async fn notify(&self, key: &LaneKey, notice: &Notice, now_ms: i64) -> Result<(), StoreError>;
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
    /// Every lane, with at most `limit` ended sequences each (newest first).
    async fn lane_histories(&self, limit: usize) -> Result<Vec<LaneHistory>, StoreError>;
}

/// The in-memory double: the same rules as the table (lease, inbox size check, one step).
#[derive(Default)]
pub struct MemoryLanes {
    state: std::sync::Mutex<MemoryLanesState>,
}

#[derive(Default)]
struct MemoryLanesState {
    lanes: std::collections::BTreeMap<LaneKey, StoredLane>,
    ended: std::collections::BTreeMap<LaneKey, Vec<Sequence>>,
}

#[derive(Clone)]
struct StoredLane {
    record: LaneRecord,
    ready_at_ms: Option<i64>,
    lease: Option<(String, i64)>,
}

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

#[async_trait]
impl LaneStore for MemoryLanes {
    async fn notify(&self, key: &LaneKey, notice: &Notice, now_ms: i64) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("lanes lock");
        let stored = state
            .lanes
            .entry(key.clone())
            .or_insert_with(|| StoredLane {
                record: LaneRecord {
                    key: key.clone(),
                    lane: Lane::new(&key.service, &key.stage),
                    inbox: Vec::new(),
                    in_flight: Vec::new(),
                },
                ready_at_ms: None,
                lease: None,
            });
        stored.record.inbox.push(notice.clone());
        stored.ready_at_ms = Some(now_ms);
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

    async fn lane_histories(&self, limit: usize) -> Result<Vec<LaneHistory>, StoreError> {
        let state = self.state.lock().expect("lanes lock");
        Ok(state
            .lanes
            .iter()
            .map(|(key, stored)| {
                let mut ended = state.ended.get(key).cloned().unwrap_or_default();
                ended.sort_by_key(|s| std::cmp::Reverse(s.problem.opened_ms));
                ended.truncate(limit);
                LaneHistory {
                    key: key.clone(),
                    lane: Some(stored.record.lane.clone()),
                    ended,
                }
            })
            .collect())
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

/// Where lane configurations are kept.
#[async_trait]
pub trait LaneConfigs: Send + Sync {
    async fn config(&self, key: &LaneKey) -> Result<Option<LaneConfig>, StoreError>;
    async fn put_config(&self, key: &LaneKey, config: &LaneConfig) -> Result<(), StoreError>;
}

/// The in-memory double of [`LaneConfigs`].
#[derive(Default)]
pub struct MemoryLaneConfigs {
    configs: std::sync::Mutex<std::collections::BTreeMap<LaneKey, LaneConfig>>,
}

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
