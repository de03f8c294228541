//! The worker's subscription to the wake queue, as Lambda's SQS event source mapping runs
//! it: long-poll the queue, invoke the worker with the batch as an SQS event, delete the
//! messages it did not list in `batchItemFailures`. A failed invocation deletes nothing: the
//! messages come back after their visibility timeout, as in AWS. The local stack and the
//! tests run it against moto's SQS, so wake-ups travel exactly as they do in the stack.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unbreakable_emulators::lambda::{Invocation, RuntimeEmulator};
use unbreakable_shared::aws::sqs::{ReceivedMessage, SqsClient};

/// Lambda's pollers take up to 10 messages a batch with `BatchSize: 10`.
const BATCH: u32 = 10;
/// After an empty receive, the next one this much later. SQS's long poll answers the moment a
/// message is visible; moto's looks again only each second, and a delayed message becomes
/// visible without waking it, so short polls keep the emulation as prompt as the service.
const EMPTY_PAUSE: Duration = Duration::from_millis(100);

/// The event Lambda sends for a batch of `messages` from the queue `queue_arn`.
pub fn sqs_event(messages: &[ReceivedMessage], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.unwrap_or(1).to_string(),
                    "SentTimestamp": m.sent_timestamp_ms.unwrap_or_default().to_string(),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids a function's answer asks to receive again (`ReportBatchItemFailures`).
pub fn batch_item_failures(answer: &Value) -> BTreeSet<String> {
    answer["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
        .collect()
}

/// What the subscription cost the worker so far, as Lambda would bill it.
#[derive(Debug, Default)]
pub struct SubscriptionStats {
    /// Batches the worker was invoked with.
    pub invocations: AtomicUsize,
    /// Their durations, each rounded up to the millisecond as Lambda bills them.
    pub billed_ms: AtomicU64,
}

pub struct WakeSubscription {
    pub sqs: Arc<SqsClient>,
    pub queue_url: String,
    pub worker: Arc<RuntimeEmulator>,
    /// The worker's function timeout: each invocation's deadline.
    pub timeout: Duration,
    pub stats: Arc<SubscriptionStats>,
}

impl WakeSubscription {
    /// The queue's ARN as Lambda names it in the event (moto's account and region).
    fn queue_arn(&self) -> String {
        let name = self.queue_url.rsplit('/').next().unwrap_or_default();
        format!("arn:aws:sqs:us-east-1:123456789012:{name}")
    }

    /// Poll until dropped.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.poll_once().await {
                tracing::warn!(error = %e, "the wake queue subscription could not poll; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// One receive, and the invocation of the batch if there was one; how many messages.
    pub async fn poll_once(&self) -> Result<usize, String> {
        // Hidden while the worker has them: as long as one invocation may take, and a bit.
        let visibility = self.timeout.as_secs() as u32 + 5;
        let messages = self
            .sqs
            .receive_messages(&self.queue_url, BATCH, 0, visibility)
            .await
            .map_err(|e| e.to_string())?;
        if messages.is_empty() {
            tokio::time::sleep(EMPTY_PAUSE).await;
            return Ok(0);
        }
        let event = sqs_event(&messages, &self.queue_arn());
        // Counted before the call: what the worker does in it (an approval) may be seen first.
        self.stats.invocations.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let invoked = self.worker.invoke(event, self.timeout).await;
        let billed = started.elapsed().as_micros().div_ceil(1000) as u64;
        self.stats.billed_ms.fetch_add(billed, Ordering::SeqCst);
        let answer = match invoked {
            Ok(Invocation::Response(answer)) => answer,
            Ok(Invocation::Error(e)) => return Err(format!("the worker failed the batch: {e}")),
            Err(e) => return Err(e),
        };
        let again = batch_item_failures(&answer);
        for message in messages.iter().filter(|m| !again.contains(&m.message_id)) {
            self.sqs
                .delete_message(&self.queue_url, &message.receipt_handle)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(messages.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_has_lambdas_shape_and_failures_are_read_back() {
        let message = ReceivedMessage {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: "{}".into(),
            sent_timestamp_ms: Some(5),
            receive_count: Some(2),
        };
        let event = sqs_event(&[message], "arn:aws:sqs:us-east-1:123456789012:wake");
        let record = &event["Records"][0];
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "2");
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "m-1"}], "served": 0});
        assert_eq!(
            batch_item_failures(&answer),
            BTreeSet::from(["m-1".to_string()])
        );
        assert!(batch_item_failures(&json!({"ready": 0})).is_empty());
    }
}
