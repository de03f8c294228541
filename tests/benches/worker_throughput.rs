//! Benchmark (not a test): the real worker binary (release) under the Runtime API emulator,
//! against moto and the Dynatrace simulator with 20 ms added latency per request.
//!
//! Prints: the wall time for 200 ready validations and the requests per validation; the
//! DynamoDB items read per tick with 10 ready items in a table of 10 and in a table with
//! 5,000 finished ones besides (target: equal), next to what the original's Scan reads; and
//! each binary's time from start to its first response and its peak RSS.
//! Run: cargo bench -p unbreakable-tests --bench worker_throughput

use std::time::{Duration, Instant};

use serde_json::json;
use unbreakable_emulators::dynatrace::Faults;
use unbreakable_emulators::lambda::apigw::rest_event;
use unbreakable_emulators::lambda::binaries::FUNCTIONS;
use unbreakable_shared::aws::dynamodb::to_item;
use unbreakable_shared::ports::store::{RequestStatus, ValidationStore};
use unbreakable_tests::harness::{Harness, TABLE};

const TICK: Duration = Duration::from_secs(300);

async fn waiting_approvals(h: &Harness, count: usize, prefix: &str) {
    for i in 0..count {
        let pipeline = format!("{prefix}{i:04}");
        h.define_pipeline(&pipeline);
        h.fake
            .enter_stage(&pipeline, "Staging", &format!("exec-{i}"));
        h.fake
            .enter_stage(&pipeline, "ApproveStaging", &format!("exec-{i}"));
        h.fake
            .start_approval(&pipeline, "ApproveStaging", "ApproveStaging");
        let request = h.ready_request(
            &pipeline,
            "StagingToProduction",
            &format!("exec-{i}"),
            Duration::from_secs(120),
            Duration::from_secs(60),
        );
        h.store().create(&request).await.unwrap();
    }
}

async fn throughput() {
    let h = Harness::start().await.unwrap();
    waiting_approvals(&h, 200, "Bench").await;
    h.dynatrace.set_faults(Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let (worker, _process) = h
        .function(
            "validate-build-worker",
            &[
                ("WORKER_BATCH", "200".into()),
                ("WORKER_CONCURRENCY", "16".into()),
            ],
        )
        .await;
    h.dynatrace.world.lock().unwrap().requests.clear();
    let calls_before = h.fake.lock().calls.len();
    let started = Instant::now();
    let mut ticks = 0;
    let mut approved = 0;
    while approved < 200 && ticks < 10 {
        let report = worker.invoke(json!({}), TICK).await.unwrap().response();
        approved += report["approved"].as_u64().unwrap_or(0);
        ticks += 1;
    }
    let wall = started.elapsed();
    let dynatrace_requests = h.dynatrace.world.lock().unwrap().requests.len();
    let pipeline_calls = h.fake.lock().calls.len() - calls_before;
    println!("worker_throughput: 200 ready validations, release worker, concurrency 16, Dynatrace +20 ms per request");
    println!(
        "  approved {approved} in {ticks} tick(s), wall {:.2} s ({:.1} validations/s)",
        wall.as_secs_f64(),
        approved as f64 / wall.as_secs_f64()
    );
    println!("  per validation: {:.2} Dynatrace requests, {:.2} CodePipeline calls, DynamoDB: 1 index entry + 1 claim + 2 conditional writes", dynatrace_requests as f64 / 200.0, pipeline_calls as f64 / 200.0);
}

/// Items a tick reads with 10 ready requests, with and without 5,000 finished ones.
async fn items_read(finished: usize) -> (u64, i32) {
    let h = Harness::start().await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&h.sdk);
    let template = h.ready_request(
        "Done",
        "StagingToProduction",
        "old",
        Duration::from_secs(86_400),
        Duration::from_secs(60),
    );
    let mut batch = Vec::new();
    for i in 0..finished {
        let mut done = template.clone();
        done.timestamp_ms -= i as i64;
        done.status = RequestStatus::Ok;
        done.next_check_ms = None;
        done.result_json = Some("x".repeat(2000));
        batch.push(
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(to_item(&done)))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
        if batch.len() == 25 || i + 1 == finished {
            dynamodb
                .batch_write_item()
                .request_items(TABLE, std::mem::take(&mut batch))
                .send()
                .await
                .unwrap();
        }
    }
    // Ten ready requests whose approvals have not started: the tick reads them and defers.
    for i in 0..10 {
        let pipeline = format!("Ready{i}");
        h.define_pipeline(&pipeline);
        h.store()
            .create(&h.ready_request(
                &pipeline,
                "StagingToProduction",
                "exec",
                Duration::from_secs(120),
                Duration::from_secs(60),
            ))
            .await
            .unwrap();
    }
    let (worker, _process) = h.function("validate-build-worker", &[]).await;
    let report = worker.invoke(json!({}), TICK).await.unwrap().response();
    // What the original worker's Scan (Status = waiting, filtered after the read) costs when
    // it reads the whole table (the original read only the first 1 MB page).
    let mut scanned = 0;
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(TABLE)
            .filter_expression("#s = :w")
            .expression_attribute_names("#s", "Status")
            .expression_attribute_values(
                ":w",
                aws_sdk_dynamodb::types::AttributeValue::S("waiting".into()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        scanned += page.scanned_count();
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    (report["itemsRead"].as_u64().unwrap_or(0), scanned)
}

async fn cold_starts() {
    let h = Harness::start().await.unwrap();
    h.define_pipeline("Cold");
    println!(
        "  {:<30} {:>22} {:>14}",
        "function", "start → 1st response", "peak RSS"
    );
    for name in FUNCTIONS {
        let (event, _) = match name {
            "build-validation-report" => (
                rest_event("GET", "/BuildValidationResults", &[], &[], None),
                (),
            ),
            "handle-problem-notification" => (
                rest_event("POST", "/HandleDynatraceProblem", &[], &[], Some("{}")),
                (),
            ),
            "validate-build-worker" => (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
                (),
            ),
            _ => (
                h.fake
                    .new_job(
                        "Cold",
                        "Staging",
                        "RegisterStagingValidation",
                        Some("exec"),
                        json!({"actionConfiguration": {"configuration": {}}}),
                    )
                    .1,
                (),
            ),
        };
        let started = Instant::now();
        let (emulator, process) = h.function(name, &[]).await;
        let outcome = emulator.invoke(event, Duration::from_secs(30)).await;
        let first = started.elapsed();
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
        let rss = process
            .peak_rss_kib()
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "?".into());
        println!(
            "  {:<30} {:>19.1} ms {:>14}",
            name,
            first.as_secs_f64() * 1000.0,
            rss
        );
    }
}

#[tokio::main]
async fn main() {
    throughput().await;
    let (small, small_scan) = items_read(0).await;
    let (large, large_scan) = items_read(5000).await;
    println!("  items read per tick, 10 ready:      table of 10: {small:>5}   + 5,000 finished: {large:>5}   ratio {:.2} (target 1.00)", large as f64 / small.max(1) as f64);
    println!("  the original's Scan on the same tables reads:    {small_scan:>5}                    {large_scan:>5}   ratio {:.0}", large_scan as f64 / small_scan.max(1) as f64);
    cold_starts().await;
}
