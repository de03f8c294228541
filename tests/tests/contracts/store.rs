//! The validation store ([`ValidationStore`]): the in-memory double and the DynamoDB table in
//! moto, held to the same checks, so the worker's and the problem handler's tests over the
//! double mean something for the table. Every behaviour starts from an empty store (a table of
//! its own in one moto), so none sees another's items in the ready index.

use aws_sdk_dynamodb::types::AttributeValue;
use unbreakable_emulators::aws::MotoServer;
use unbreakable_shared::aws::dynamodb::{create_table, DynamoValidationStore};
use unbreakable_shared::ports::memory::MemoryStore;
use unbreakable_shared::ports::store::{
    CanaryGate, Decision, NotificationRecord, OnWarning, ReadyEntry, RequestKey, RequestStatus,
    RollbackClaim, RollbackRecord, SliProviderKind, SloGate, StoreError, ValidationRequest,
    ValidationStore, CANARY_COMPARISON, SLO_COMPARISON,
};

const T0: i64 = 1_700_000_000_000;
const LEASE: i64 = 60_000;
/// A group takes no other rollback for this long after one.
const COOLDOWN: i64 = 30 * 60_000;
const PIPELINE: &str = "SampleDevOpsAppPipeline";
const APP: &str = "SampleDevOpsApp";

fn key(pipeline: &str, timestamp_ms: i64) -> RequestKey {
    RequestKey {
        pipeline: pipeline.into(),
        timestamp_ms,
    }
}

/// A monspec validation registered at `timestamp_ms`, waiting for its window to close.
fn request(pipeline: &str, timestamp_ms: i64) -> ValidationRequest {
    ValidationRequest {
        pipeline: pipeline.into(),
        timestamp_ms,
        comparison: "StagingToProduction".into(),
        window_ms: 300_000,
        ready_ms: timestamp_ms + 300_000,
        monspec: r#"{"SampleJSonService":{"perfsignature":[]}}"#.into(),
        slo: None,
        canary: None,
        stage: "Staging".into(),
        action: "RegisterStagingValidation".into(),
        approval_action: "ApproveStaging".into(),
        job_id: "job-1".into(),
        execution_id: "exec-1".into(),
        status: RequestStatus::Waiting,
        status_msg: "waiting for the window to close".into(),
        attempts: 0,
        next_check_ms: Some(timestamp_ms + 300_000),
        lease_owner: None,
        result_json: None,
        filled_monspec: None,
        decision: None,
        expires_at_s: timestamp_ms / 1000 + 30 * 86_400,
    }
}

/// Waiting, and due at `at` (the ready index's sort key).
fn due_at(pipeline: &str, timestamp_ms: i64, at: i64) -> ValidationRequest {
    ValidationRequest {
        next_check_ms: Some(at),
        ..request(pipeline, timestamp_ms)
    }
}

fn approved() -> Decision {
    Decision {
        approve: true,
        summary: "p90 response time 480 ms <= limit 650 ms".into(),
        outcome: RequestStatus::Ok,
    }
}

/// Judged and applied: no next check.
fn finished(pipeline: &str, timestamp_ms: i64) -> ValidationRequest {
    ValidationRequest {
        status: RequestStatus::Ok,
        status_msg: "approved".into(),
        attempts: 1,
        next_check_ms: None,
        result_json: Some(r#"{"result":"ok"}"#.into()),
        decision: Some(approved()),
        ..request(pipeline, timestamp_ms)
    }
}

fn entry(r: &ValidationRequest) -> ReadyEntry {
    ReadyEntry {
        key: r.key(),
        status: r.status,
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// Created once, read back whole: every gate and optional field survives the round trip.
async fn a_request_is_created_once_and_read_back_whole(store: &dyn ValidationStore) {
    let judged = ValidationRequest {
        status: RequestStatus::Violation,
        status_msg: "p90 response time 812 ms > limit 650 ms".into(),
        attempts: 1,
        next_check_ms: None,
        result_json: Some(r#"{"result":"violation"}"#.into()),
        filled_monspec: Some(r#"{"SampleJSonService":{"result":812}}"#.into()),
        decision: Some(Decision {
            approve: false,
            summary: "p90 response time 812 ms > limit 650 ms".into(),
            outcome: RequestStatus::Violation,
        }),
        ..request(PIPELINE, T0)
    };
    let slo = ValidationRequest {
        comparison: SLO_COMPARISON.into(),
        monspec: String::new(),
        slo: Some(SloGate {
            slo: "spec_version: \"1.0\"\n".into(),
            sli: "indicators:\n  rt: histogram_quantile(0.9, rt)\n".into(),
            provider: SliProviderKind::Prometheus,
            service: "sample".into(),
            on_warning: OnWarning::Approve,
        }),
        status: RequestStatus::Decided,
        attempts: 2,
        lease_owner: Some("w1".into()),
        result_json: Some(r#"{"result":"pass","score":100}"#.into()),
        decision: Some(approved()),
        ..request(PIPELINE, T0 + 1)
    };
    let canary = ValidationRequest {
        comparison: CANARY_COMPARISON.into(),
        monspec: String::new(),
        canary: Some(CanaryGate {
            file: "metrics:\n  - name: latency\n    query: q\n".into(),
            provider: SliProviderKind::Dynatrace,
            control: "sample-Production@-1h".into(),
            experiment: "sample-Production".into(),
            on_marginal: OnWarning::Reject,
        }),
        ..request(PIPELINE, T0 + 2)
    };
    for r in [&judged, &slo, &canary] {
        store.create(r).await.unwrap();
    }
    for r in [&judged, &slo, &canary] {
        assert_eq!(
            store.get(&r.key()).await.unwrap().as_ref(),
            Some(r),
            "read back as created"
        );
    }

    let again = ValidationRequest {
        status_msg: "registered twice".into(),
        ..judged.clone()
    };
    assert_conflict(store.create(&again).await, "a second create of the key");
    assert_eq!(
        store.get(&judged.key()).await.unwrap().as_ref(),
        Some(&judged),
        "the refused create changed nothing"
    );

    // The key is the pipeline and the time: the same time elsewhere is another request.
    let elsewhere = request("AnotherPipeline", T0);
    store.create(&elsewhere).await.unwrap();
    assert_eq!(
        store.get(&elsewhere.key()).await.unwrap().as_ref(),
        Some(&elsewhere)
    );
    assert_eq!(
        store.get(&key(PIPELINE, T0 + 3)).await.unwrap(),
        None,
        "never created"
    );
}

/// The ready index lists the requests whose next check is due, soonest first, each with the
/// status a claim must find; a finished request, or one due later, is not listed.
async fn the_ready_index_lists_due_requests_soonest_first(store: &dyn ValidationStore) {
    assert!(
        store
            .ready(T0 + 100 * LEASE, 10)
            .await
            .unwrap()
            .entries
            .is_empty(),
        "an empty store has nothing due"
    );
    let late = due_at(PIPELINE, T0, T0 + 3_000);
    // Registered after `late`, due before it: the index sorts by the next check.
    let early = due_at(PIPELINE, T0 + 1, T0 + 1_000);
    let decided = ValidationRequest {
        status: RequestStatus::Decided,
        decision: Some(approved()),
        ..due_at("AnotherPipeline", T0, T0 + 2_000)
    };
    let done = finished(PIPELINE, T0 + 2);
    let later = due_at(PIPELINE, T0 + 3, T0 + 10_000);
    for r in [&late, &early, &decided, &done, &later] {
        store.create(r).await.unwrap();
    }

    let batch = store.ready(T0 + 3_000, 10).await.unwrap();
    assert_eq!(
        batch.entries,
        [entry(&early), entry(&decided), entry(&late)],
        "the due ones, soonest first, with their status"
    );
    assert!(batch.unreadable.is_empty(), "{:?}", batch.unreadable);
    assert_eq!(
        store.ready(T0 + 3_000, 2).await.unwrap().entries,
        [entry(&early), entry(&decided)],
        "the limit keeps the soonest"
    );
    assert!(
        store.ready(T0 + 999, 10).await.unwrap().entries.is_empty(),
        "nothing is due before its time"
    );
    assert_eq!(
        store.ready(T0 + 1_000, 10).await.unwrap().entries,
        [entry(&early)],
        "due at its time exactly"
    );
    assert_eq!(
        store.ready(T0 + 10_000, 10).await.unwrap().entries,
        [entry(&early), entry(&decided), entry(&late), entry(&later)],
        "the finished request is never listed"
    );
}

/// A claim takes a due request in the status its entry saw, once: the winner holds a lease,
/// the attempt is counted, and nobody else claims it before the lease lapses.
async fn a_claim_wins_once_and_counts_the_attempt(store: &dyn ValidationStore) {
    let r = due_at(PIPELINE, T0, T0 + 1_000);
    store.create(&r).await.unwrap();
    assert_eq!(
        store
            .claim(&entry(&r), "w1", T0 + 999, LEASE)
            .await
            .unwrap(),
        None,
        "not due yet"
    );

    let now = T0 + 2_000;
    let claimed = store
        .claim(&entry(&r), "w1", now, LEASE)
        .await
        .unwrap()
        .expect("a due request is claimed");
    let held = ValidationRequest {
        status: RequestStatus::Evaluating,
        attempts: 1,
        lease_owner: Some("w1".into()),
        next_check_ms: Some(now + LEASE),
        ..r.clone()
    };
    assert_eq!(
        claimed, held,
        "evaluating, one attempt, leased to now + lease"
    );
    assert_eq!(
        store.get(&r.key()).await.unwrap().as_ref(),
        Some(&held),
        "the claim is stored"
    );
    assert_eq!(
        store.claim(&entry(&r), "w2", now, LEASE).await.unwrap(),
        None,
        "the status the entry saw is gone: the second claim loses"
    );
    let evaluating = ReadyEntry {
        key: r.key(),
        status: RequestStatus::Evaluating,
    };
    assert_eq!(
        store
            .claim(&evaluating, "w2", now + LEASE - 1, LEASE)
            .await
            .unwrap(),
        None,
        "a held request is not claimed before its lease lapses"
    );
    assert!(
        store
            .ready(now + LEASE - 1, 10)
            .await
            .unwrap()
            .entries
            .is_empty(),
        "a held request is not listed while its lease runs"
    );
    assert_eq!(
        store.ready(now + LEASE, 10).await.unwrap().entries,
        std::slice::from_ref(&evaluating),
        "listed again, evaluating, when the lease lapses"
    );
    let taken = store
        .claim(&evaluating, "w2", now + LEASE, LEASE)
        .await
        .unwrap()
        .expect("a lapsed lease is taken over");
    assert_eq!(
        (
            taken.status,
            taken.attempts,
            taken.lease_owner.as_deref(),
            taken.next_check_ms
        ),
        (
            RequestStatus::Evaluating,
            2,
            Some("w2"),
            Some(now + 2 * LEASE)
        ),
        "the takeover is another attempt"
    );

    // A decided request is claimed to apply its decision: its status and attempts stay.
    let decided = ValidationRequest {
        status: RequestStatus::Decided,
        attempts: 3,
        decision: Some(approved()),
        ..due_at(PIPELINE, T0 + 1, T0 + 1_000)
    };
    store.create(&decided).await.unwrap();
    let applying = store
        .claim(&entry(&decided), "w3", now, LEASE)
        .await
        .unwrap()
        .expect("a due decision is claimed");
    assert_eq!(
        (
            applying.status,
            applying.attempts,
            applying.lease_owner.as_deref(),
            applying.next_check_ms
        ),
        (RequestStatus::Decided, 3, Some("w3"), Some(now + LEASE))
    );

    let done = finished(PIPELINE, T0 + 2);
    store.create(&done).await.unwrap();
    assert_eq!(
        store.claim(&entry(&done), "w1", now, LEASE).await.unwrap(),
        None,
        "a finished request is never claimed"
    );
    let missing = ReadyEntry {
        key: key(PIPELINE, T0 + 3),
        status: RequestStatus::Waiting,
    };
    assert_eq!(
        store.claim(&missing, "w1", now, LEASE).await.unwrap(),
        None,
        "a key never created is nothing to claim"
    );
}

async fn next_check(store: &dyn ValidationStore, key: &RequestKey) -> Option<i64> {
    store.get(key).await.unwrap().expect("stored").next_check_ms
}

/// Only the holder renews its lease, and only before it lapses (after that, another worker
/// may hold it); a renewal runs from the time it is made.
async fn a_lease_is_renewed_only_by_its_holder_before_it_lapses(store: &dyn ValidationStore) {
    let r = due_at(PIPELINE, T0, T0);
    store.create(&r).await.unwrap();
    let now = T0 + 1_000;
    store
        .claim(&entry(&r), "w1", now, LEASE)
        .await
        .unwrap()
        .expect("claimed");
    assert!(
        !store.renew(&r.key(), "w2", now + 1, LEASE).await.unwrap(),
        "not the holder"
    );
    assert_eq!(
        next_check(store, &r.key()).await,
        Some(now + LEASE),
        "a refused renewal changes nothing"
    );
    let renewed_at = now + LEASE - 1;
    assert!(store
        .renew(&r.key(), "w1", renewed_at, LEASE)
        .await
        .unwrap());
    assert_eq!(
        next_check(store, &r.key()).await,
        Some(renewed_at + LEASE),
        "renewed from the renewal's time"
    );
    let lapsed = renewed_at + LEASE;
    assert!(
        !store.renew(&r.key(), "w1", lapsed, LEASE).await.unwrap(),
        "a lapsed lease is not renewed"
    );
    assert_eq!(next_check(store, &r.key()).await, Some(lapsed));
    assert!(
        !store
            .renew(&key(PIPELINE, T0 + 1), "w1", now, LEASE)
            .await
            .unwrap(),
        "a key never created has no lease"
    );
}

/// A save writes the whole request back, and only for the worker that holds it: never for
/// another worker, never for a request nobody claimed, never after a takeover. A save that
/// clears the lease owner ends the lease.
async fn only_the_lease_holder_saves(store: &dyn ValidationStore) {
    let r = due_at(PIPELINE, T0, T0);
    store.create(&r).await.unwrap();
    assert_conflict(store.save(&r, "w1").await, "a request nobody claimed");
    assert_conflict(
        store.save(&request(PIPELINE, T0 + 9), "w1").await,
        "a request never created",
    );

    let now = T0 + 1_000;
    let claimed = store
        .claim(&entry(&r), "w1", now, LEASE)
        .await
        .unwrap()
        .expect("claimed");
    let decided = ValidationRequest {
        status: RequestStatus::Decided,
        status_msg: "decided: approve".into(),
        result_json: Some(r#"{"result":"ok"}"#.into()),
        decision: Some(approved()),
        next_check_ms: Some(now),
        ..claimed.clone()
    };
    assert_conflict(store.save(&decided, "w2").await, "not the holder");
    assert_eq!(
        store.get(&r.key()).await.unwrap().as_ref(),
        Some(&claimed),
        "a refused save changes nothing"
    );
    store.save(&decided, "w1").await.unwrap();
    assert_eq!(
        store.get(&r.key()).await.unwrap().as_ref(),
        Some(&decided),
        "saved whole"
    );

    // Applied: the lease owner is cleared with the next check, so the lease ends with it.
    let applied = ValidationRequest {
        lease_owner: None,
        ..finished(PIPELINE, T0)
    };
    store.save(&applied, "w1").await.unwrap();
    assert_eq!(store.get(&r.key()).await.unwrap().as_ref(), Some(&applied));
    assert_conflict(
        store.save(&applied, "w1").await,
        "the lease ended with the save that cleared it",
    );
    assert!(
        store
            .ready(now + 100 * LEASE, 10)
            .await
            .unwrap()
            .entries
            .is_empty(),
        "a finished request leaves the ready index"
    );

    // A save checks who holds the request (it is given no time): the holder saves until
    // another worker takes the request over when the lease lapses, and not after.
    let other = due_at(PIPELINE, T0 + 1, T0);
    store.create(&other).await.unwrap();
    let first = store
        .claim(&entry(&other), "w1", now, LEASE)
        .await
        .unwrap()
        .expect("claimed");
    let late = ValidationRequest {
        status_msg: "still evaluating".into(),
        ..first
    };
    store.save(&late, "w1").await.unwrap();
    let evaluating = ReadyEntry {
        key: other.key(),
        status: RequestStatus::Evaluating,
    };
    store
        .claim(&evaluating, "w2", now + LEASE, LEASE)
        .await
        .unwrap()
        .expect("taken over");
    assert_conflict(store.save(&late, "w1").await, "after a takeover");
    assert_eq!(
        store
            .get(&other.key())
            .await
            .unwrap()
            .expect("stored")
            .lease_owner
            .as_deref(),
        Some("w2")
    );
}

/// A quarantined request leaves the ready index for good, its lease with it: it is kept as
/// it was for a person, never claimed, renewed or saved again.
async fn quarantine_takes_a_request_off_the_index_for_good(store: &dyn ValidationStore) {
    let r = due_at(PIPELINE, T0, T0);
    store.create(&r).await.unwrap();
    let now = T0 + 1_000;
    let claimed = store
        .claim(&entry(&r), "w1", now, LEASE)
        .await
        .unwrap()
        .expect("claimed");
    store
        .quarantine(&r.key(), "the monspec cannot be read")
        .await
        .unwrap();
    assert_eq!(
        store.get(&r.key()).await.unwrap(),
        Some(ValidationRequest {
            next_check_ms: None,
            lease_owner: None,
            ..claimed.clone()
        }),
        "kept as it was, without its next check and lease"
    );
    let much_later = now + 100 * LEASE;
    assert!(store
        .ready(much_later, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
    let evaluating = ReadyEntry {
        key: r.key(),
        status: RequestStatus::Evaluating,
    };
    assert_eq!(
        store
            .claim(&evaluating, "w2", much_later, LEASE)
            .await
            .unwrap(),
        None,
        "never claimed again"
    );
    assert!(!store.renew(&r.key(), "w1", now + 1, LEASE).await.unwrap());
    assert_conflict(
        store.save(&claimed, "w1").await,
        "its former holder cannot save it back onto the index",
    );
    assert_conflict(
        store.quarantine(&key(PIPELINE, T0 + 1), "why").await,
        "a key never created",
    );
}

/// A pipeline's history: its requests registered at or after a time, oldest first, and no
/// other pipeline's.
async fn history_is_the_pipelines_requests_oldest_first(store: &dyn ValidationStore) {
    let (first, second, third) = (
        finished(PIPELINE, T0),
        finished(PIPELINE, T0 + 1_000),
        due_at(PIPELINE, T0 + 2_000, T0 + 5_000),
    );
    for r in [&third, &first, &second] {
        store.create(r).await.unwrap();
    }
    // A name that starts with ours, and another pipeline in between.
    store
        .create(&request(&format!("{PIPELINE}2"), T0 + 500))
        .await
        .unwrap();
    store
        .create(&request("AnotherPipeline", T0 + 1_500))
        .await
        .unwrap();

    let history = store.history(PIPELINE, T0).await.unwrap();
    assert_eq!(history.requests, [first, second.clone(), third.clone()]);
    assert!(!history.truncated);
    assert!(history.skipped.is_empty(), "{:?}", history.skipped);
    assert!(history.pages >= 1, "at least one page was read");
    assert_eq!(
        store.history(PIPELINE, T0 + 1_000).await.unwrap().requests,
        [second, third],
        "from the time given, inclusive"
    );
    assert!(store
        .history(PIPELINE, T0 + 2_001)
        .await
        .unwrap()
        .requests
        .is_empty());
    assert!(store
        .history("NoSuchPipeline", 0)
        .await
        .unwrap()
        .requests
        .is_empty());
}

/// What the report reads of a request: the table's report query leaves out the large fields
/// (monspec, filled monspec, SLO and canary files) and the worker's (job id, next check,
/// lease).
fn report_view(r: &ValidationRequest) -> ValidationRequest {
    ValidationRequest {
        monspec: String::new(),
        slo: None,
        canary: None,
        job_id: String::new(),
        next_check_ms: None,
        lease_owner: None,
        filled_monspec: None,
        ..r.clone()
    }
}

fn report_views(requests: &[ValidationRequest]) -> Vec<ValidationRequest> {
    requests.iter().map(report_view).collect()
}

/// Three requests of the pipeline for the report: a judged one, an SLO gate leased to a
/// worker, and one waiting.
fn report_requests() -> [ValidationRequest; 3] {
    let judged = ValidationRequest {
        filled_monspec: Some(r#"{"SampleJSonService":{"result":480}}"#.into()),
        ..finished(PIPELINE, T0)
    };
    let slo = ValidationRequest {
        comparison: SLO_COMPARISON.into(),
        monspec: String::new(),
        slo: Some(SloGate {
            slo: "spec_version: \"1.0\"\n".into(),
            sli: "indicators:\n  rt: q\n".into(),
            provider: SliProviderKind::Prometheus,
            service: "sample".into(),
            on_warning: OnWarning::Manual,
        }),
        status: RequestStatus::Evaluating,
        attempts: 1,
        lease_owner: Some("w1".into()),
        ..due_at(PIPELINE, T0 + 1_000, T0 + 60_000)
    };
    let waiting = due_at(PIPELINE, T0 + 2_000, T0 + 302_000);
    [judged, slo, waiting]
}

/// The report's history: at most the newest `limit` requests from a time, oldest first,
/// saying when older ones were left out; the fields the report reads are as stored.
async fn the_report_history_keeps_the_newest_requests(store: &dyn ValidationStore) {
    let [judged, slo, waiting] = report_requests();
    for r in [&judged, &slo, &waiting] {
        store.create(r).await.unwrap();
    }
    store
        .create(&request("AnotherPipeline", T0 + 1_500))
        .await
        .unwrap();

    let newest = store.report_history(PIPELINE, T0, 2).await.unwrap();
    assert_eq!(
        report_views(&newest.requests),
        report_views(&[slo.clone(), waiting.clone()]),
        "the newest two, oldest first"
    );
    assert!(newest.truncated, "an older request was left out");

    let all = store.report_history(PIPELINE, T0, 10).await.unwrap();
    assert_eq!(
        report_views(&all.requests),
        report_views(&[judged, slo.clone(), waiting.clone()])
    );
    assert!(!all.truncated);

    let since = store
        .report_history(PIPELINE, T0 + 1_000, 10)
        .await
        .unwrap();
    assert_eq!(
        report_views(&since.requests),
        report_views(&[slo, waiting]),
        "from the time given, inclusive"
    );
    assert!(
        !since.truncated,
        "what the time leaves out is not a truncation"
    );
}

fn rollback(problem: &str, deployment: &str, group: &str, at_ms: i64) -> RollbackRecord {
    RollbackRecord {
        problem_id: problem.into(),
        deployment_id: deployment.into(),
        application: APP.into(),
        deployment_group: group.into(),
        rollback_deployment_id: None,
        at_ms,
        locked_until_ms: at_ms + COOLDOWN,
    }
}

/// One rollback per (problem, deployment), and one per group within its cooldown: a re-sent
/// notification finds its own claim, another problem finds the group locked.
async fn a_rollback_claim_is_exclusive(store: &dyn ValidationStore) {
    let first = rollback("P-1", "d-1", "Production", T0);
    assert_eq!(
        store.claim_rollback(&first, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    let resent = rollback("P-1", "d-1", "Production", T0 + 1_000);
    assert_eq!(
        store.claim_rollback(&resent, T0).await.unwrap(),
        RollbackClaim::AlreadyRecorded(first.clone()),
        "the same problem and deployment: the claim as recorded"
    );
    let another_problem = rollback("P-2", "d-1", "Production", T0 + 2_000);
    assert_eq!(
        store.claim_rollback(&another_problem, T0).await.unwrap(),
        RollbackClaim::GroupLocked(first.clone()),
        "another problem within the cooldown: the group is locked"
    );
    let another_deployment = rollback("P-1", "d-2", "Production", T0 + 3_000);
    assert_eq!(
        store.claim_rollback(&another_deployment, T0).await.unwrap(),
        RollbackClaim::GroupLocked(first.clone()),
        "another deployment of the group: locked too"
    );
    let staging = rollback("P-2", "d-9", "Staging", T0 + 2_000);
    assert_eq!(
        store.claim_rollback(&staging, T0).await.unwrap(),
        RollbackClaim::Claimed,
        "another group is free"
    );
    // The cooldown ends at `locked_until_ms`: from then on the group takes another rollback.
    let after_cooldown = rollback("P-3", "d-2", "Production", first.locked_until_ms);
    assert_eq!(
        store.claim_rollback(&after_cooldown, T0).await.unwrap(),
        RollbackClaim::Claimed
    );
    assert_eq!(
        store.claim_rollback(&resent, T0).await.unwrap(),
        RollbackClaim::AlreadyRecorded(first),
        "the first claim stays recorded"
    );
    let batch = store.ready(T0 + 100 * COOLDOWN, 10).await.unwrap();
    assert!(
        batch.entries.is_empty() && batch.unreadable.is_empty(),
        "the ledger is not in the ready index: {batch:?}"
    );
}

/// Completing a claim records the rollback's id on it and on the group lock; a completed claim
/// is never released nor taken over, however old. Only the claim's own record completes or
/// releases it; a released claim is claimed again by the next notification.
async fn a_claim_is_completed_or_released_only_by_its_record(store: &dyn ValidationStore) {
    let claim = rollback("P-1", "d-1", "Production", T0);
    assert_eq!(
        store.claim_rollback(&claim, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    let impostor = RollbackRecord {
        at_ms: T0 + 5,
        rollback_deployment_id: Some("d-OTHER".into()),
        ..claim.clone()
    };
    assert_conflict(
        store.complete_rollback(&impostor).await,
        "a record made at another time completes nothing",
    );
    assert_conflict(
        store
            .release_rollback(&RollbackRecord {
                rollback_deployment_id: None,
                ..impostor
            })
            .await,
        "a record made at another time releases nothing",
    );
    assert_eq!(
        store
            .claim_rollback(&rollback("P-1", "d-1", "Production", T0 + 1_000), T0)
            .await
            .unwrap(),
        RollbackClaim::AlreadyRecorded(claim.clone()),
        "the claim is untouched"
    );

    let done = RollbackRecord {
        rollback_deployment_id: Some("d-ROLLBACK1".into()),
        ..claim.clone()
    };
    store.complete_rollback(&done).await.unwrap();
    assert_eq!(
        store
            .claim_rollback(
                &rollback("P-1", "d-1", "Production", T0 + 1_000),
                T0 + 10 * COOLDOWN
            )
            .await
            .unwrap(),
        RollbackClaim::AlreadyRecorded(done.clone()),
        "a completed claim is never taken over, and says its rollback"
    );
    assert_eq!(
        store
            .claim_rollback(&rollback("P-2", "d-2", "Production", T0 + 2_000), T0)
            .await
            .unwrap(),
        RollbackClaim::GroupLocked(done.clone()),
        "the group lock says the rollback too"
    );
    assert_conflict(store.release_rollback(&done).await, "a completed claim");
    assert_conflict(
        store.release_rollback(&claim).await,
        "a completed claim, by its first record",
    );
    assert_conflict(
        store
            .complete_rollback(&RollbackRecord {
                rollback_deployment_id: Some("d-ROLLBACK9".into()),
                ..rollback("P-9", "d-9", "Staging", T0)
            })
            .await,
        "no claim to complete",
    );

    // CreateDeployment failed: the claim is released, and the re-sent notification claims.
    let failed = rollback("P-4", "d-4", "Canary", T0);
    assert_eq!(
        store.claim_rollback(&failed, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    store.release_rollback(&failed).await.unwrap();
    let retry = rollback("P-4", "d-4", "Canary", T0 + 1_000);
    assert_eq!(
        store.claim_rollback(&retry, T0).await.unwrap(),
        RollbackClaim::Claimed,
        "released: claimed again, group lock included"
    );
    assert_conflict(
        store.release_rollback(&failed).await,
        "the released claim's record, once the next claim was made",
    );
}

/// A claim never completed and older than `stale_before_ms` was left by a function that
/// died: the same problem and deployment take it over, and the dead function's late
/// completion or release is refused. Nobody else takes it over.
async fn a_claim_left_by_a_dead_function_is_taken_over(store: &dyn ValidationStore) {
    let dead = rollback("P-1", "d-1", "Production", T0);
    assert_eq!(
        store.claim_rollback(&dead, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    let resent = rollback("P-1", "d-1", "Production", T0 + 60_000);
    assert_eq!(
        store.claim_rollback(&resent, T0).await.unwrap(),
        RollbackClaim::AlreadyRecorded(dead.clone()),
        "not older than stale_before_ms: still being done"
    );
    assert_eq!(
        store.claim_rollback(&resent, T0 + 1).await.unwrap(),
        RollbackClaim::Claimed,
        "older: taken over"
    );
    assert_conflict(
        store
            .complete_rollback(&RollbackRecord {
                rollback_deployment_id: Some("d-LATE".into()),
                ..dead.clone()
            })
            .await,
        "the dead function's completion",
    );
    assert_conflict(
        store.release_rollback(&dead).await,
        "the dead function's release",
    );
    assert_eq!(
        store
            .claim_rollback(&rollback("P-1", "d-1", "Production", T0 + 120_000), T0)
            .await
            .unwrap(),
        RollbackClaim::AlreadyRecorded(resent.clone()),
        "the claim is the new one's"
    );
    // `resent` is stale by now as well, but only its own problem and deployment take it over.
    assert_eq!(
        store
            .claim_rollback(
                &rollback("P-2", "d-2", "Production", T0 + 120_000),
                T0 + 100_000
            )
            .await
            .unwrap(),
        RollbackClaim::GroupLocked(resent),
    );
}

/// The problem handler's answers are kept, a retried one too, and never reach the ready index.
async fn notifications_are_recorded_off_the_ready_index(store: &dyn ValidationStore) {
    let opened = NotificationRecord {
        problem_id: "P-1".into(),
        received_ms: T0,
        state: "OPEN".into(),
        status: 200,
        answer: r#"{"actions":[{"action":"rollback"}]}"#.into(),
    };
    store.record_notification(&opened).await.unwrap();
    store.record_notification(&opened).await.unwrap();
    store
        .record_notification(&NotificationRecord {
            received_ms: T0 + 1_000,
            state: "RESOLVED".into(),
            answer: r#"{"actions":[]}"#.into(),
            ..opened
        })
        .await
        .unwrap();
    let batch = store.ready(T0 + 100 * COOLDOWN, 10).await.unwrap();
    assert!(
        batch.entries.is_empty() && batch.unreadable.is_empty(),
        "{batch:?}"
    );
}

/// The key of the item planted by [`Moto::table_with_unreadable`] and
/// [`memory_with_unreadable`]: `Status` "paused", due at T0.
fn unreadable_key() -> RequestKey {
    key(PIPELINE, T0)
}

const UNKNOWN_STATUS: &str = r#"unknown Status "paused""#;

/// An item that cannot be read is reported beside the due requests and in the history,
/// never hides the others and is never claimed; quarantined, it leaves the ready index.
/// The store holds one, planted by the caller (see [`unreadable_key`]).
async fn an_unreadable_item_is_reported_and_never_claimed(store: &dyn ValidationStore) {
    let planted = unreadable_key();
    let good = due_at(PIPELINE, T0 + 1, T0);
    store.create(&good).await.unwrap();

    let batch = store.ready(T0 + 1, 10).await.unwrap();
    assert_eq!(
        batch.entries,
        [entry(&good)],
        "the readable one is listed beside it"
    );
    assert_eq!(batch.unreadable.len(), 1, "{:?}", batch.unreadable);
    assert_eq!(batch.unreadable[0].key, planted);
    assert!(
        batch.unreadable[0].reason.contains(UNKNOWN_STATUS),
        "{}",
        batch.unreadable[0].reason
    );

    let history = store.history(PIPELINE, T0).await.unwrap();
    assert_eq!(history.requests, std::slice::from_ref(&good));
    assert_eq!(history.skipped.len(), 1, "{:?}", history.skipped);
    assert_eq!(history.skipped[0].key, planted);
    assert!(
        history.skipped[0].reason.contains(UNKNOWN_STATUS),
        "{}",
        history.skipped[0].reason
    );

    for status in RequestStatus::ALL {
        let seen = ReadyEntry {
            key: planted.clone(),
            status,
        };
        assert_eq!(
            store.claim(&seen, "w1", T0 + 1, LEASE).await.unwrap(),
            None,
            "claimed as {status:?}"
        );
    }

    store.quarantine(&planted, UNKNOWN_STATUS).await.unwrap();
    let batch = store.ready(T0 + 1, 10).await.unwrap();
    assert!(batch.unreadable.is_empty(), "{:?}", batch.unreadable);
    assert_eq!(batch.entries, [entry(&good)]);
}

/// The report's history carries only the fields the report reads (the trait's promise: "no
/// monspec, no SLO files"), and leaves out the job id, the next check and the lease.
async fn the_report_history_leaves_the_large_fields_out(store: &dyn ValidationStore) {
    let requests = report_requests();
    for r in &requests {
        store.create(r).await.unwrap();
    }
    let history = store.report_history(PIPELINE, T0, 10).await.unwrap();
    assert_eq!(history.requests, report_views(&requests));
}

/// A request over DynamoDB's 400 KB item limit is refused as too large, and nothing is
/// stored.
async fn an_oversized_request_is_refused_as_too_large(store: &dyn ValidationStore) {
    let huge = ValidationRequest {
        monspec: "x".repeat(410_000),
        ..request(PIPELINE, T0)
    };
    match store.create(&huge).await {
        Err(StoreError::TooLarge(why)) => assert!(why.contains("size"), "{why}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(
        store.get(&huge.key()).await.unwrap(),
        None,
        "nothing stored"
    );
}

/// An unreadable item is an item like the others: reported only once due, read as
/// malformed, and, quarantined, kept where the report still shows it. The store holds one,
/// planted by the caller (see [`unreadable_key`]).
async fn an_unreadable_item_is_kept_for_a_person(store: &dyn ValidationStore) {
    let planted = unreadable_key();
    assert!(
        store.ready(T0 - 1, 10).await.unwrap().unreadable.is_empty(),
        "not reported before it is due"
    );
    match store.get(&planted).await {
        Err(StoreError::Malformed(why)) => assert!(why.contains(UNKNOWN_STATUS), "{why}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
    store.quarantine(&planted, UNKNOWN_STATUS).await.unwrap();
    assert!(store.ready(T0 + 1, 10).await.unwrap().unreadable.is_empty());
    let skipped: Vec<RequestKey> = store
        .history(PIPELINE, T0)
        .await
        .unwrap()
        .skipped
        .into_iter()
        .map(|item| item.key)
        .collect();
    assert_eq!(
        skipped,
        [planted],
        "quarantined, it stays, and the history still says it cannot be read"
    );
}

/// Our stale claim meets the lock of a newer rollback of the group (another problem, after
/// the cooldown): the re-sent notification is refused, and the newer lock stays. The table
/// answers with our own stale row (AlreadyRecorded), the double with the newer lock
/// (GroupLocked): both refuse, and the port promises no more than the refusal.
async fn a_stale_claim_meeting_a_newer_lock_is_refused(store: &dyn ValidationStore) {
    let dead = rollback("P-1", "d-1", "Production", T0);
    assert_eq!(
        store.claim_rollback(&dead, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    let newer = rollback("P-2", "d-2", "Production", T0 + COOLDOWN);
    assert_eq!(
        store.claim_rollback(&newer, T0).await.unwrap(),
        RollbackClaim::Claimed
    );
    let resent = rollback("P-1", "d-1", "Production", T0 + COOLDOWN + 1_000);
    match store.claim_rollback(&resent, T0 + 1).await.unwrap() {
        RollbackClaim::AlreadyRecorded(row) => assert_eq!(row, dead),
        RollbackClaim::GroupLocked(lock) => assert_eq!(lock, newer),
        RollbackClaim::Claimed => panic!("a stale claim took the group from a newer rollback"),
    }
    let third = rollback("P-3", "d-3", "Production", T0 + COOLDOWN + 2_000);
    assert_eq!(
        store.claim_rollback(&third, T0 + 1).await.unwrap(),
        RollbackClaim::GroupLocked(newer),
        "the newer rollback still holds the group"
    );
}

/// A claim completed after its group lock passed to a newer rollback: the ledger row gets the
/// id, then the lock refuses (Conflict), and the newer rollback keeps the group.
async fn completing_a_claim_whose_group_lock_passed_on_is_refused(store: &dyn ValidationStore) {
    let slow = rollback("P-1", "d-1", "Production", T0);
    assert_eq!(
        store.claim_rollback(&slow, T0 - COOLDOWN).await.unwrap(),
        RollbackClaim::Claimed
    );
    let newer = rollback("P-2", "d-2", "Production", T0 + COOLDOWN);
    assert_eq!(
        store.claim_rollback(&newer, T0).await.unwrap(),
        RollbackClaim::Claimed
    );
    let done = RollbackRecord {
        rollback_deployment_id: Some("d-ROLLBACK1".into()),
        ..slow
    };
    assert_conflict(
        store.complete_rollback(&done).await,
        "the lock is another's",
    );
    assert_eq!(
        store
            .claim_rollback(
                &rollback("P-1", "d-1", "Production", T0 + COOLDOWN + 1_000),
                T0 + COOLDOWN
            )
            .await
            .unwrap(),
        RollbackClaim::AlreadyRecorded(done),
        "the ledger row has the id all the same"
    );
}

/// moto with one DynamoDB client; each behaviour gets a table of its own.
struct Moto {
    _server: MotoServer,
    client: aws_sdk_dynamodb::Client,
}

impl Moto {
    async fn start() -> Self {
        let server = MotoServer::start().expect("moto");
        let client = aws_sdk_dynamodb::Client::new(&crate::sdk(&server.endpoint).await);
        Moto {
            _server: server,
            client,
        }
    }

    /// An empty table as the functions use it (key, ready index).
    async fn table(&self, name: &str) -> DynamoValidationStore {
        create_table(&self.client, name)
            .await
            .unwrap_or_else(|e| panic!("CreateTable {name}: {e}"));
        DynamoValidationStore::new(self.client.clone(), name)
    }

    /// A table holding an item that cannot be read, at [`unreadable_key`]: a `Status` no
    /// version knows, in the ready index, due at T0.
    async fn table_with_unreadable(&self, name: &str) -> DynamoValidationStore {
        let store = self.table(name).await;
        let k = unreadable_key();
        self.client
            .put_item()
            .table_name(name)
            .item("PipelineName", AttributeValue::S(k.pipeline))
            .item("Timestamp", AttributeValue::N(k.timestamp_ms.to_string()))
            .item("Status", AttributeValue::S("paused".into()))
            // The adapter's marker of an item in the ready index, and its due time.
            .item("Pending", AttributeValue::S("1".into()))
            .item("ReadyAt", AttributeValue::N(T0.to_string()))
            .send()
            .await
            .expect("PutItem");
        store
    }
}

/// The double holding what [`Moto::table_with_unreadable`] plants, with the reason the table
/// reports for it.
fn memory_with_unreadable() -> MemoryStore {
    let store = MemoryStore::default();
    let reason = StoreError::Malformed(format!(
        "{UNKNOWN_STATUS} (known: {})",
        RequestStatus::ALL.map(RequestStatus::as_str).join(", ")
    ));
    store.plant_unreadable(unreadable_key(), &reason.to_string());
    store
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_contract() {
    a_request_is_created_once_and_read_back_whole(&MemoryStore::default()).await;
    the_ready_index_lists_due_requests_soonest_first(&MemoryStore::default()).await;
    a_claim_wins_once_and_counts_the_attempt(&MemoryStore::default()).await;
    a_lease_is_renewed_only_by_its_holder_before_it_lapses(&MemoryStore::default()).await;
    only_the_lease_holder_saves(&MemoryStore::default()).await;
    quarantine_takes_a_request_off_the_index_for_good(&MemoryStore::default()).await;
    history_is_the_pipelines_requests_oldest_first(&MemoryStore::default()).await;
    the_report_history_keeps_the_newest_requests(&MemoryStore::default()).await;
    a_rollback_claim_is_exclusive(&MemoryStore::default()).await;
    a_claim_is_completed_or_released_only_by_its_record(&MemoryStore::default()).await;
    a_claim_left_by_a_dead_function_is_taken_over(&MemoryStore::default()).await;
    notifications_are_recorded_off_the_ready_index(&MemoryStore::default()).await;
    an_unreadable_item_is_reported_and_never_claimed(&memory_with_unreadable()).await;
    the_report_history_leaves_the_large_fields_out(&MemoryStore::default()).await;
    an_oversized_request_is_refused_as_too_large(&MemoryStore::default()).await;
    an_unreadable_item_is_kept_for_a_person(&memory_with_unreadable()).await;
    a_stale_claim_meeting_a_newer_lock_is_refused(&MemoryStore::default()).await;
    completing_a_claim_whose_group_lock_passed_on_is_refused(&MemoryStore::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_keeps_the_contract() {
    let moto = Moto::start().await;
    a_request_is_created_once_and_read_back_whole(&moto.table("Created").await).await;
    the_ready_index_lists_due_requests_soonest_first(&moto.table("Ready").await).await;
    a_claim_wins_once_and_counts_the_attempt(&moto.table("Claim").await).await;
    a_lease_is_renewed_only_by_its_holder_before_it_lapses(&moto.table("Renew").await).await;
    only_the_lease_holder_saves(&moto.table("Save").await).await;
    quarantine_takes_a_request_off_the_index_for_good(&moto.table("Quarantine").await).await;
    history_is_the_pipelines_requests_oldest_first(&moto.table("History").await).await;
    the_report_history_keeps_the_newest_requests(&moto.table("Report").await).await;
    a_rollback_claim_is_exclusive(&moto.table("Rollback").await).await;
    a_claim_is_completed_or_released_only_by_its_record(&moto.table("Complete").await).await;
    a_claim_left_by_a_dead_function_is_taken_over(&moto.table("Stale").await).await;
    notifications_are_recorded_off_the_ready_index(&moto.table("Notifications").await).await;
    an_unreadable_item_is_reported_and_never_claimed(
        &moto.table_with_unreadable("Unreadable").await,
    )
    .await;
    the_report_history_leaves_the_large_fields_out(&moto.table("ReportFields").await).await;
    an_oversized_request_is_refused_as_too_large(&moto.table("TooLarge").await).await;
    an_unreadable_item_is_kept_for_a_person(&moto.table_with_unreadable("UnreadableKept").await)
        .await;
    a_stale_claim_meeting_a_newer_lock_is_refused(&moto.table("StaleMeetsLock").await).await;
    completing_a_claim_whose_group_lock_passed_on_is_refused(&moto.table("LockPassedOn").await)
        .await;
}
