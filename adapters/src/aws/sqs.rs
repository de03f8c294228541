//! SQS on its JSON protocol (1.0), signed with SigV4 by [`super::json_protocol`]: `POST /`
//! to the endpoint with `X-Amz-Target: AmazonSQS.<Operation>` and the queue's URL in the
//! body. The wake-ups need SendMessage, and their worker ReceiveMessage and DeleteMessage:
//! a handful of calls that do not justify aws-sdk-sqs's compile time. CreateQueue,
//! GetQueueUrl and GetQueueAttributes are for the tests and the local stack.
//!
//! The endpoint is the one the SDK would pick (`AWS_ENDPOINT_URL_SQS`, the configuration's,
//! `AWS_ENDPOINT_URL`, the region's). Errors are one line, `Operation: code: message`
//! (`SendMessage: QueueDoesNotExist: …`), never a message's body nor the credentials.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::declared::DeclaredActions;
use super::json_protocol::{AwsJsonClient, AwsJsonError, Service, CALL_TIMEOUT, JSON_1_0};
use crate::ports::wakeups::{delay_seconds, WakeUp, WakeupError, Wakeups};

/// SQS on the JSON protocol.
pub static SQS: Service = Service {
    signing_name: "sqs",
    target_prefix: "AmazonSQS",
    content_type: JSON_1_0,
    endpoint_env: "AWS_ENDPOINT_URL_SQS",
    host_prefix: "sqs",
    label: "SQS",
};

/// The most messages one ReceiveMessage returns.
pub const MAX_MESSAGES: u32 = 10;
/// The longest one ReceiveMessage waits for a message (a long poll).
pub const MAX_WAIT_S: u32 = 20;

/// A message as ReceiveMessage hands it out. Its `Debug` leaves the body out (see the module).
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// What DeleteMessage takes; a new one at every receive.
    pub receipt_handle: String,
    pub body: String,
    /// When the queue took it (epoch ms).
    pub sent_timestamp_ms: Option<i64>,
    /// How many times it was handed out, this time included.
    pub receive_count: Option<u32>,
}

impl std::fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("message_id", &self.message_id)
            .field("body_bytes", &self.body.len())
            .field("sent_timestamp_ms", &self.sent_timestamp_ms)
            .field("receive_count", &self.receive_count)
            .finish_non_exhaustive()
    }
}

/// The SQS client: see the module.
pub struct SqsClient {
    client: AwsJsonClient,
}

impl SqsClient {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SqsClient {
            client: AwsJsonClient::new(&SQS, config),
        }
    }

    /// Refuses, before sending, any call whose action (`sqs:SendMessage`) is not declared.
    pub fn declared(self, declared: DeclaredActions) -> Self {
        SqsClient {
            client: self.client.declared(declared),
        }
    }

    /// Where the calls go, if a region or an endpoint was configured.
    pub fn endpoint(&self) -> Option<&str> {
        self.client.endpoint()
    }

    /// Puts `body` on the queue, held back `delay_seconds` (at most 900, SQS's limit).
    pub async fn send_message(
        &self,
        queue_url: &str,
        body: &str,
        delay_seconds: u32,
    ) -> Result<(), AwsJsonError> {
        self.client
            .call(
                "SendMessage",
                &json!({"QueueUrl": queue_url, "MessageBody": body, "DelaySeconds": delay_seconds}),
            )
            .await
            .map(|_| ())
    }

    /// Up to `max` messages (1 to [`MAX_MESSAGES`]), waiting up to `wait_seconds` (at most
    /// [`MAX_WAIT_S`]) for the first; each is hidden from other receivers for
    /// `visibility_timeout_seconds`, until it is deleted. None is not an error.
    pub async fn receive_messages(
        &self,
        queue_url: &str,
        max: u32,
        wait_seconds: u32,
        visibility_timeout_seconds: u32,
    ) -> Result<Vec<ReceivedMessage>, AwsJsonError> {
        const OPERATION: &str = "ReceiveMessage";
        let wait_seconds = wait_seconds.min(MAX_WAIT_S);
        let request = json!({
            "QueueUrl": queue_url,
            "MaxNumberOfMessages": max.clamp(1, MAX_MESSAGES),
            "WaitTimeSeconds": wait_seconds,
            "VisibilityTimeout": visibility_timeout_seconds,
            // The first is the current name, the second the one older endpoints know.
            "MessageSystemAttributeNames": ["All"],
            "AttributeNames": ["All"],
        });
        // The answer may come only when the wait is over: the call's time is on top of it.
        let timeout = CALL_TIMEOUT + Duration::from_secs(u64::from(wait_seconds));
        let answer = self
            .client
            .call_within(OPERATION, &request, timeout)
            .await?;
        received_messages(&answer).map_err(|what| self.client.unexpected_answer(OPERATION, what))
    }

    /// Removes a received message for good.
    pub async fn delete_message(
        &self,
        queue_url: &str,
        receipt_handle: &str,
    ) -> Result<(), AwsJsonError> {
        self.client
            .call(
                "DeleteMessage",
                &json!({"QueueUrl": queue_url, "ReceiptHandle": receipt_handle}),
            )
            .await
            .map(|_| ())
    }

    /// Creates a standard queue named `name` (or finds it, if it exists with the same
    /// attributes); its URL. For the tests and the local stack.
    pub async fn create_queue(&self, name: &str) -> Result<String, AwsJsonError> {
        self.queue_url_of("CreateQueue", name).await
    }

    /// The URL of the queue named `name`.
    pub async fn queue_url(&self, name: &str) -> Result<String, AwsJsonError> {
        self.queue_url_of("GetQueueUrl", name).await
    }

    /// CreateQueue and GetQueueUrl: both take a `QueueName` and answer its `QueueUrl`.
    async fn queue_url_of(&self, operation: &str, name: &str) -> Result<String, AwsJsonError> {
        let answer = self
            .client
            .call(operation, &json!({"QueueName": name}))
            .await?;
        answer
            .get("QueueUrl")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.client.unexpected_answer(operation, "has no QueueUrl"))
    }

    /// All of the queue's attributes (`ApproximateNumberOfMessages`, …), as SQS says them:
    /// strings.
    pub async fn queue_attributes(
        &self,
        queue_url: &str,
    ) -> Result<BTreeMap<String, String>, AwsJsonError> {
        let answer = self
            .client
            .call(
                "GetQueueAttributes",
                &json!({"QueueUrl": queue_url, "AttributeNames": ["All"]}),
            )
            .await?;
        let attributes: BTreeMap<String, String> = answer
            .get("Attributes")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(name, value)| Some((name.clone(), text(value)?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(attributes)
    }
}

/// ReceiveMessage's answer read: its `Messages`, none when it has none. `Err` says what a
/// message lacks.
fn received_messages(answer: &Value) -> Result<Vec<ReceivedMessage>, &'static str> {
    let Some(messages) = answer.get("Messages") else {
        return Ok(Vec::new());
    };
    let messages = messages
        .as_array()
        .ok_or("has Messages that are not a list")?;
    messages.iter().map(received_message).collect()
}

fn received_message(message: &Value) -> Result<ReceivedMessage, &'static str> {
    let field = |name: &str| {
        message
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let attribute = |name: &str| {
        message
            .pointer(&format!("/Attributes/{name}"))
            .and_then(text)
    };
    Ok(ReceivedMessage {
        message_id: field("MessageId").ok_or("has a message without MessageId")?,
        receipt_handle: field("ReceiptHandle").ok_or("has a message without ReceiptHandle")?,
        body: field("Body").ok_or("has a message without Body")?,
        sent_timestamp_ms: attribute("SentTimestamp").and_then(|v| v.parse().ok()),
        receive_count: attribute("ApproximateReceiveCount").and_then(|v| v.parse().ok()),
    })
}

/// An attribute's value as text: SQS sends strings, an emulator may send numbers.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// [`Wakeups`] on an SQS queue: each wake-up is a message held back until it is due (at most
/// [`crate::ports::wakeups::MAX_DELAY_S`]), which invokes the worker.
pub struct SqsWakeups {
    client: SqsClient,
    queue_url: String,
}

impl SqsWakeups {
    pub fn new(config: &aws_config::SdkConfig, queue_url: String) -> Self {
        Self::from_client(SqsClient::new(config), queue_url)
    }

    /// With a client built already (checked against a function's declared actions, say).
    pub fn from_client(client: SqsClient, queue_url: String) -> Self {
        SqsWakeups { client, queue_url }
    }
}

#[async_trait]
impl Wakeups for SqsWakeups {
    async fn send(&self, wake: &WakeUp, now_ms: i64) -> Result<(), WakeupError> {
        self.client
            .send_message(
                &self.queue_url,
                &wake.to_body(),
                delay_seconds(wake.due_ms, now_ms),
            )
            .await
            .map_err(|e| WakeupError(e.text))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use aws_credential_types::Credentials;

    use super::*;
    use crate::aws::json_protocol::{resolve_endpoint, signed_request, SignedRequest};

    fn header<'a>(request: &'a SignedRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn send_message_is_a_signed_json_1_0_post_for_sqs() {
        // 2024-01-02T03:04:05Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "tests",
        );
        let body = json!({
            "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/wakeups",
            "MessageBody": "{}",
            "DelaySeconds": 120,
        });
        let request = signed_request(
            &SQS,
            "https://sqs.eu-west-1.amazonaws.com",
            "eu-west-1",
            &credentials,
            "SendMessage",
            &body,
            time,
        )
        .unwrap();
        assert_eq!(request.url, "https://sqs.eu-west-1.amazonaws.com/");
        assert_eq!(
            header(&request, "x-amz-target"),
            Some("AmazonSQS.SendMessage")
        );
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-amz-json-1.0")
        );
        let authorization = header(&request, "authorization").expect("signed");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/sqs/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
            ),
            "{authorization}"
        );
        assert!(!authorization.contains("wJalrXUtnFEMI"));
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, body);
    }

    #[test]
    fn the_regional_endpoint_is_sqs() {
        assert_eq!(
            resolve_endpoint(&SQS, None, None, None, Some("eu-central-1")).as_deref(),
            Some("https://sqs.eu-central-1.amazonaws.com")
        );
        assert_eq!(SQS.endpoint_env, "AWS_ENDPOINT_URL_SQS");
    }

    #[test]
    fn received_messages_are_read_with_their_attributes() {
        let answer = json!({"Messages": [
            {
                "MessageId": "m-1",
                "ReceiptHandle": "r-1",
                "MD5OfBody": "x",
                "Body": "{\"dueMs\":1}",
                "Attributes": {"SentTimestamp": "1704164645123", "ApproximateReceiveCount": "2"}
            },
            {"MessageId": "m-2", "ReceiptHandle": "r-2", "Body": ""}
        ]});
        let messages = received_messages(&answer).unwrap();
        assert_eq!(
            messages[0],
            ReceivedMessage {
                message_id: "m-1".into(),
                receipt_handle: "r-1".into(),
                body: "{\"dueMs\":1}".into(),
                sent_timestamp_ms: Some(1_704_164_645_123),
                receive_count: Some(2),
            }
        );
        assert_eq!(
            (messages[1].sent_timestamp_ms, messages[1].receive_count),
            (None, None)
        );
        // The body stays out of the debug text.
        let debug = format!("{messages:?}");
        assert!(
            !debug.contains("dueMs") && debug.contains("body_bytes: 11"),
            "{debug}"
        );

        // No message at all: SQS leaves Messages out.
        assert_eq!(received_messages(&json!({})).unwrap(), Vec::new());
        assert_eq!(
            received_messages(&json!({"Messages": [{"MessageId": "m"}]})),
            Err("has a message without ReceiptHandle")
        );
    }

    #[test]
    fn attribute_values_are_text() {
        assert_eq!(text(&json!("3")).as_deref(), Some("3"));
        assert_eq!(text(&json!(3)).as_deref(), Some("3"));
        assert_eq!(text(&json!(null)), None);
    }
}
