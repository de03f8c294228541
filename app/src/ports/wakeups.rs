//! Wake-ups: how a decision is made the moment its data is complete instead of at the next
//! sweep. Whoever knows when something becomes due (register: a window's end plus the
//! ingestion delay; a webhook: a lane's new problem, now; the worker: a retry, an action's
//! next check) asks for the worker to be invoked for that one item then.
//!
//! A wake-up is only ever a hint. The worker serves it with the same claim, lease and
//! deadline rules as a sweep, so a duplicate, a race with a sweep or a wake-up that fires
//! early changes nothing; and the sweep still runs, so a lost one delays a decision by one
//! sweep period at most. That is why a failed send is logged and never fails its caller.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::lanes::LaneKey;
use super::store::RequestKey;

/// What the worker is woken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum WakeTarget {
    /// One validation request: judge it, or apply its decision.
    Validation { pipeline: String, timestamp: i64 },
    /// One self-healing lane: take its notices, go on with its action, wait or evaluation.
    Lane { service: String, stage: String },
}

impl WakeTarget {
    pub fn validation(key: &RequestKey) -> Self {
        WakeTarget::Validation {
            pipeline: key.pipeline.clone(),
            timestamp: key.timestamp_ms,
        }
    }

    pub fn lane(key: &LaneKey) -> Self {
        WakeTarget::Lane {
            service: key.service.clone(),
            stage: key.stage.clone(),
        }
    }
}

impl std::fmt::Display for WakeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WakeTarget::Validation {
                pipeline,
                timestamp,
            } => write!(f, "validation {pipeline}/{timestamp}"),
            WakeTarget::Lane { service, stage } => write!(f, "lane {service}/{stage}"),
        }
    }
}

/// A wake-up as it travels (the message body): the target and when it is due (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WakeUp {
    pub target: WakeTarget,
    pub due_ms: i64,
}

impl WakeUp {
    pub fn new(target: WakeTarget, due_ms: i64) -> Self {
        WakeUp { target, due_ms }
    }

    /// The message body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A message body back; `None` for anything else (it is dropped with a log line: the
    /// sweep serves whatever it was meant for).
    pub fn from_body(body: &str) -> Option<WakeUp> {
        serde_json::from_str(body).ok()
    }
}

/// The longest a queue holds a message back (SQS's DelaySeconds maximum). A wake-up due
/// later is sent with this delay and sent on again by the worker that receives it early.
pub const MAX_DELAY_S: i64 = 900;

/// The delay to send `due_ms` with at `now_ms`: whole seconds rounded up, at most
/// [`MAX_DELAY_S`], 0 when it is due already. Rounded up, a decision is up to a second late
/// (register sends right after computing the due time, so in practice milliseconds: p99
/// 0.22 s in the benchmark); rounded down, the worker waited out the fraction itself, billed:
/// measured, 9 times the GB-seconds per validation for 0.14 s less at p99.
pub fn delay_seconds(due_ms: i64, now_ms: i64) -> u32 {
    let ms = (due_ms - now_ms).max(0);
    ((ms + 999) / 1000).min(MAX_DELAY_S) as u32
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot send the wake-up: {0}")]
pub struct WakeupError(pub String);

#[async_trait]
pub trait Wakeups: Send + Sync {
    /// Invoke the worker for `wake.target` at `wake.due_ms` (or as near after as the
    /// mechanism allows; see [`MAX_DELAY_S`]).
    async fn send(&self, wake: &WakeUp, now_ms: i64) -> Result<(), WakeupError>;
}

/// Events off: nothing is sent, and every decision waits for the sweep (the stack without a
/// wake queue, and the benchmark's baseline).
pub struct SweepOnly;

#[async_trait]
impl Wakeups for SweepOnly {
    async fn send(&self, _wake: &WakeUp, _now_ms: i64) -> Result<(), WakeupError> {
        Ok(())
    }
}

/// Send, and only log a failure: see the module.
pub async fn send_or_log(wakeups: &dyn Wakeups, wake: WakeUp, now_ms: i64) {
    if let Err(e) = wakeups.send(&wake, now_ms).await {
        tracing::warn!(target_item = %wake.target, due_ms = wake.due_ms, error = %e, "a wake-up was not sent; the sweep will serve it");
    }
}

#[cfg(any(test, feature = "testing"))]
/// The in-memory double: records what was sent, in order.
#[derive(Default)]
pub struct MemoryWakeups {
    pub sent: std::sync::Mutex<Vec<(WakeUp, u32)>>,
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl Wakeups for MemoryWakeups {
    async fn send(&self, wake: &WakeUp, now_ms: i64) -> Result<(), WakeupError> {
        self.sent
            .lock()
            .expect("sent")
            .push((wake.clone(), delay_seconds(wake.due_ms, now_ms)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_rounds_up_and_is_capped_at_the_queue_maximum() {
        assert_eq!(delay_seconds(1_000, 1_000), 0);
        assert_eq!(delay_seconds(500, 1_000), 0);
        assert_eq!(delay_seconds(1_001, 1_000), 1);
        assert_eq!(delay_seconds(2_000, 1_000), 1);
        assert_eq!(delay_seconds(3_000, 1_000), 2);
        assert_eq!(delay_seconds(3_000_000, 0), 900);
    }

    #[test]
    fn a_wake_up_reads_back_what_was_sent_and_nothing_else() {
        let wake = WakeUp::new(
            WakeTarget::Lane {
                service: "carts".into(),
                stage: "production".into(),
            },
            42,
        );
        assert_eq!(WakeUp::from_body(&wake.to_body()), Some(wake));
        let validation = WakeUp::new(
            WakeTarget::Validation {
                pipeline: "p".into(),
                timestamp: 7,
            },
            9,
        );
        assert_eq!(
            validation.to_body(),
            r#"{"target":{"kind":"validation","pipeline":"p","timestamp":7},"dueMs":9}"#
        );
        assert_eq!(WakeUp::from_body(r#"{"source":"aws.events"}"#), None);
    }
}
