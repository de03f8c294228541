//! The worker's two kinds of invocation: the sweep (its schedule's event: everything due)
//! and wake-ups (a batch from the wake queue: one validation or lane each; see
//! [`crate::ports::wakeups`]). A wake-up is served with the same claims as the sweep, for its
//! item alone.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::remediate::{RemediationReport, Remediator};
use super::worker::{TickReport, Worker};
use crate::ports::lanes::LaneKey;
use crate::ports::store::RequestKey;
use crate::ports::wakeups::{WakeTarget, WakeUp, Wakeups};

/// A wake-up this close to due is waited for rather than sent on: the clocks of the sender,
/// the queue and this host are not one.
pub const EARLY_TOLERANCE: Duration = Duration::from_secs(1);

/// What invoked the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The schedule (or anything else that is not a queue batch): a full tick.
    Sweep,
    /// A batch from the wake queue.
    Wakeups(Vec<QueuedWakeUp>),
}

/// One message of the batch: its id (to name it in `batchItemFailures`) and the wake-up it
/// holds, `None` when the body is not one.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedWakeUp {
    pub message_id: String,
    pub wake: Option<WakeUp>,
}

/// The invocation an event is: a batch of SQS records is wake-ups, anything else a sweep.
pub fn read_invocation(event: &Value) -> Invocation {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Invocation::Sweep;
    };
    if records.is_empty() || records.iter().any(|r| r["eventSource"] != "aws:sqs") {
        return Invocation::Sweep;
    }
    Invocation::Wakeups(
        records
            .iter()
            .map(|r| QueuedWakeUp {
                message_id: r["messageId"].as_str().unwrap_or_default().to_string(),
                wake: r["body"].as_str().and_then(WakeUp::from_body),
            })
            .collect(),
    )
}

/// What a batch of wake-ups came to. `batch_item_failures` are the messages to be received
/// again (only those that could not be sent on); the rest are deleted by the queue's
/// subscription, whatever their items came to, because the sweep serves what they missed.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WakeReport {
    /// Served: their item was looked at.
    pub served: usize,
    /// Received before they were due and sent on for the rest of the wait.
    pub sent_on: usize,
    /// Bodies that are not wake-ups: dropped.
    pub unreadable: usize,
    pub validations: Vec<TickReport>,
    pub lanes: Vec<RemediationReport>,
    pub errors: Vec<String>,
    #[serde(skip)]
    pub failed_messages: Vec<String>,
}

impl WakeReport {
    /// The answer Lambda's SQS subscription reads (`ReportBatchItemFailures`), with the
    /// report beside it for the log and the benchmark.
    pub fn answer(&self) -> Value {
        let failures: Vec<Value> = self
            .failed_messages
            .iter()
            .map(|id| json!({"itemIdentifier": id}))
            .collect();
        let mut answer = serde_json::to_value(self).unwrap_or(Value::Null);
        answer["batchItemFailures"] = Value::Array(failures);
        answer
    }
}

/// Everything a wake-up may need.
pub struct WakeServer<'a> {
    pub worker: &'a Worker,
    pub remediator: &'a Remediator,
    pub wakeups: &'a dyn Wakeups,
    pub now: &'a (dyn Fn() -> i64 + Send + Sync),
}

enum Served {
    Validation(TickReport),
    Lane(RemediationReport),
    SentOn,
    Unreadable,
    Error(String),
    NotSentOn(String),
}

impl WakeServer<'_> {
    /// Serve a batch: each message at once, at most one claim per item.
    pub async fn serve(
        &self,
        batch: Vec<QueuedWakeUp>,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> WakeReport {
        let served = futures::future::join_all(
            batch
                .iter()
                .map(|item| self.serve_one(item, owner, deadline_ms)),
        )
        .await;
        let mut report = WakeReport::default();
        for (item, served) in batch.into_iter().zip(served) {
            match served {
                Served::Validation(r) => {
                    report.served += 1;
                    report.validations.push(r);
                }
                Served::Lane(r) => {
                    report.served += 1;
                    report.lanes.push(r);
                }
                Served::SentOn => report.sent_on += 1,
                Served::Unreadable => {
                    tracing::warn!(message_id = %item.message_id, "a queue message that is not a wake-up was dropped");
                    report.unreadable += 1;
                }
                Served::Error(e) => {
                    report.served += 1;
                    report.errors.push(e);
                }
                Served::NotSentOn(e) => {
                    report.errors.push(e);
                    report.failed_messages.push(item.message_id);
                }
            }
        }
        report
    }

    async fn serve_one(
        &self,
        item: &QueuedWakeUp,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> Served {
        let Some(wake) = &item.wake else {
            return Served::Unreadable;
        };
        let early_ms = wake.due_ms - (self.now)();
        if early_ms > EARLY_TOLERANCE.as_millis() as i64 {
            // Held back no longer than the queue allows: on for the rest of the wait.
            return match self.wakeups.send(wake, (self.now)()).await {
                Ok(()) => Served::SentOn,
                Err(e) => Served::NotSentOn(format!("{}: {e}", wake.target)),
            };
        }
        if early_ms > 0 {
            tokio::time::sleep(Duration::from_millis(early_ms as u64)).await;
        }
        let late_ms = (self.now)() - wake.due_ms;
        tracing::info!(target_item = %wake.target, late_ms, "wake-up");
        match &wake.target {
            WakeTarget::Validation {
                pipeline,
                timestamp,
            } => {
                let key = RequestKey {
                    pipeline: pipeline.clone(),
                    timestamp_ms: *timestamp,
                };
                match self.worker.serve(&key, owner, deadline_ms).await {
                    Ok(report) => Served::Validation(report),
                    Err(e) => Served::Error(format!("{}: {e}", wake.target)),
                }
            }
            WakeTarget::Lane { service, stage } => {
                let key = LaneKey {
                    service: service.clone(),
                    stage: stage.clone(),
                };
                Served::Lane(self.remediator.serve_lane(&key, owner, deadline_ms).await)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &str) -> Value {
        json!({"messageId": "m-1", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wake", "awsRegion": "us-east-1"})
    }

    #[test]
    fn a_batch_of_sqs_records_is_wake_ups_and_anything_else_a_sweep() {
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(read_invocation(&scheduled), Invocation::Sweep);
        assert_eq!(read_invocation(&json!({"Records": []})), Invocation::Sweep);
        let s3 = json!({"Records": [{"eventSource": "aws:s3"}]});
        assert_eq!(read_invocation(&s3), Invocation::Sweep);

        let wake = WakeUp::new(
            WakeTarget::Validation {
                pipeline: "p".into(),
                timestamp: 5,
            },
            7,
        );
        let batch = json!({"Records": [record(&wake.to_body()), record("not json")]});
        assert_eq!(
            read_invocation(&batch),
            Invocation::Wakeups(vec![
                QueuedWakeUp {
                    message_id: "m-1".into(),
                    wake: Some(wake)
                },
                QueuedWakeUp {
                    message_id: "m-1".into(),
                    wake: None
                },
            ])
        );
    }

    #[test]
    fn only_messages_not_sent_on_are_reported_as_failures() {
        let report = WakeReport {
            served: 1,
            failed_messages: vec!["m-2".into()],
            ..Default::default()
        };
        let answer = report.answer();
        assert_eq!(
            answer["batchItemFailures"],
            json!([{"itemIdentifier": "m-2"}])
        );
        assert_eq!(answer["served"], 1);
    }
}
