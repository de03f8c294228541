//! The wake-ups' queue against moto's SQS, on SQS's JSON protocol (`adapters/src/aws/sqs.rs`,
//! hand-signed instead of aws-sdk-sqs): a wake-up is held back until it is due, then received
//! with its attributes, read back and deleted; the functions' wiring sends only with a queue
//! and the action declared; a missing queue and an endpoint that does not answer are said in
//! one line naming the operation, never with the message's body or the credentials.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use unbreakable_emulators::aws::MotoServer;
use unbreakable_shared::aws::declared::DeclaredActions;
use unbreakable_shared::aws::sqs::{SqsClient, SqsWakeups};
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::ports::wakeups::{WakeTarget, WakeUp, Wakeups};

const ACCESS_KEY: &str = "AKIDWAKEUPSTEST";
const SECRET_KEY: &str = "secret-key-never-in-an-error";
/// Part of every message body sent here: no error text may carry it.
const PIPELINE: &str = "pipeline-in-a-body-never-in-an-error";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    unbreakable_shared::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .load()
        .await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn wake_up_at(due_ms: i64) -> WakeUp {
    WakeUp::new(
        WakeTarget::Validation {
            pipeline: PIPELINE.into(),
            timestamp: 1_704_164_645_000,
        },
        due_ms,
    )
}

fn assert_one_line_without_secrets(text: &str) {
    assert!(!text.contains('\n') && !text.contains('{'), "{text}");
    for secret in [PIPELINE, SECRET_KEY] {
        assert!(!text.contains(secret), "{text}");
    }
}

/// The queue's counts that must all be 0 once every message is deleted (or none was sent).
const COUNTS: [&str; 3] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
];

async fn assert_empty(sqs: &SqsClient, queue_url: &str) {
    let attributes = sqs
        .queue_attributes(queue_url)
        .await
        .expect("GetQueueAttributes");
    for name in COUNTS {
        assert_eq!(
            attributes.get(name).map(String::as_str),
            Some("0"),
            "{name}: {attributes:?}"
        );
    }
}

#[tokio::test]
async fn a_wake_up_is_held_back_until_it_is_due_then_received_read_back_and_deleted() {
    let moto = MotoServer::start().expect("moto");
    let sdk = sdk(&moto.endpoint).await;
    let sqs = SqsClient::new(&sdk);
    assert_eq!(sqs.endpoint(), Some(moto.endpoint.as_str()));
    let queue_url = sqs.create_queue("wakeups").await.expect("CreateQueue");
    assert_eq!(
        sqs.queue_url("wakeups").await.expect("GetQueueUrl"),
        queue_url
    );

    let sent_at = Instant::now();
    let sent_ms = now_ms();
    let wake = wake_up_at(sent_ms + 2_000);
    SqsWakeups::new(&sdk, queue_url.clone())
        .send(&wake, sent_ms)
        .await
        .expect("SendMessage");

    // Held back: nothing to receive yet, one message delayed.
    let early = sqs
        .receive_messages(&queue_url, 10, 0, 30)
        .await
        .expect("ReceiveMessage without waiting");
    assert!(early.is_empty(), "{early:?}");
    let attributes = sqs
        .queue_attributes(&queue_url)
        .await
        .expect("GetQueueAttributes");
    assert_eq!(
        attributes
            .get("ApproximateNumberOfMessagesDelayed")
            .map(String::as_str),
        Some("1"),
        "{attributes:?}"
    );

    // A long poll gets it once it is due: 2 s after the send, and moto looks again every
    // second, so before 4.5 s (the call's own timeout is 10 s on top of the wait).
    let received = sqs
        .receive_messages(&queue_url, 10, 5, 30)
        .await
        .expect("ReceiveMessage with a long poll");
    let waited = sent_at.elapsed();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        (Duration::from_millis(1_500)..=Duration::from_millis(4_500)).contains(&waited),
        "received {waited:?} after the send"
    );
    let message = &received[0];
    assert_eq!(WakeUp::from_body(&message.body), Some(wake));
    assert_eq!(message.receive_count, Some(1), "{message:?}");
    let sent_timestamp = message.sent_timestamp_ms.expect("SentTimestamp");
    assert!(
        (sent_ms - 1_000..=now_ms()).contains(&sent_timestamp),
        "SentTimestamp {sent_timestamp}, sent at {sent_ms}"
    );

    sqs.delete_message(&queue_url, &message.receipt_handle)
        .await
        .expect("DeleteMessage");
    assert_empty(&sqs, &queue_url).await;
}

#[tokio::test]
async fn a_function_sends_wake_ups_only_with_a_queue_and_the_action_declared() {
    let moto = MotoServer::start().expect("moto");
    let sdk = sdk(&moto.endpoint).await;
    let sqs = SqsClient::new(&sdk);
    let queue_url = sqs
        .create_queue("function-wakeups")
        .await
        .expect("CreateQueue");
    let clients = |actions: &'static [&'static str]| AwsClients {
        sdk: sdk.clone(),
        declared: DeclaredActions { actions },
    };
    let due_now = wake_up_at(now_ms());

    // No queue configured, or an empty setting: nothing is sent, and that is no error.
    let declared = clients(&["sqs:SendMessage"]);
    for setting in [None, Some(String::new()), Some("  ".to_string())] {
        declared
            .wakeups(setting)
            .send(&due_now, now_ms())
            .await
            .expect("sweep only");
    }
    assert_empty(&sqs, &queue_url).await;

    // Undeclared: refused before it is sent, saying what to declare.
    let err = clients(&["dynamodb:GetItem"])
        .wakeups(Some(queue_url.clone()))
        .send(&due_now, now_ms())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "cannot send the wake-up: SendMessage: sqs:SendMessage is not among this function's declared AWS actions"
        ),
        "{err}"
    );
    assert_one_line_without_secrets(&err);
    assert_empty(&sqs, &queue_url).await;

    // Declared, with a queue: sent, due now.
    declared
        .wakeups(Some(format!(" {queue_url} ")))
        .send(&due_now, now_ms())
        .await
        .expect("SendMessage");
    let received = sqs
        .receive_messages(&queue_url, 10, 1, 30)
        .await
        .expect("ReceiveMessage");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(WakeUp::from_body(&received[0].body), Some(due_now));
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_named_by_the_operation_and_the_code() {
    let moto = MotoServer::start().expect("moto");
    let sdk = sdk(&moto.endpoint).await;
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);

    let err = SqsClient::new(&sdk)
        .send_message(&missing, &wake_up_at(0).to_body(), 0)
        .await
        .unwrap_err();
    assert_eq!(err.code, "QueueDoesNotExist", "{}", err.text);
    assert!(
        err.text.starts_with("SendMessage: QueueDoesNotExist: "),
        "{}",
        err.text
    );
    assert_one_line_without_secrets(&err.text);

    let err = SqsWakeups::new(&sdk, missing)
        .send(&wake_up_at(now_ms() + 60_000), now_ms())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot send the wake-up: SendMessage: QueueDoesNotExist: "),
        "{err}"
    );
    assert_one_line_without_secrets(&err);
}

#[tokio::test]
async fn an_sqs_endpoint_that_does_not_answer_is_said_so() {
    // Nothing listens on port 1 of loopback: the connection is refused.
    let sdk = sdk("http://127.0.0.1:1").await;
    let err = SqsWakeups::new(&sdk, "http://127.0.0.1:1/123456789012/wakeups".to_string())
        .send(&wake_up_at(now_ms() + 5_000), now_ms())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot send the wake-up: SendMessage: cannot connect to the AWS endpoint"),
        "{err}"
    );
    assert_one_line_without_secrets(&err);
}
