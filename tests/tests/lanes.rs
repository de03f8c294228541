//! The lane store's contract, held against the in-memory double and the DynamoDB table in
//! moto: the same checks, so the worker's tests over the double mean something for the table.

use unbreakable_shared::ports::lanes::{
    LaneConfig, LaneConfigs, LaneKey, LaneStore, MemoryLaneConfigs, MemoryLanes, Notice, StoreError,
};
use unbreakable_shared::ports::store::{SliProviderKind, ValidationStore};
use unbreakable_shared::remediation::sequence::{
    End, Lane, Phase, Problem, ProblemSource, Sequence,
};
use unbreakable_shared::remediation::{rollback_only_plan, RemediationPlan};
use unbreakable_tests::harness::Harness;

const T0: i64 = 1_700_000_000_000;

fn key(stage: &str) -> LaneKey {
    LaneKey {
        service: "SampleDevOpsApp".into(),
        stage: stage.into(),
    }
}

fn problem(id: &str, opened_ms: i64) -> Problem {
    Problem {
        id: id.into(),
        source: ProblemSource::Alertmanager,
        title: "HighLatency".into(),
        opened_ms,
        link: None,
        alt_title: None,
    }
}

fn ended(id: &str, opened_ms: i64) -> Sequence {
    let plan: RemediationPlan = rollback_only_plan();
    Sequence {
        problem: problem(id, opened_ms),
        plan,
        phase: Phase::Ended { end: End::Resolved },
        closed_ms: None,
        steps: Vec::new(),
    }
}

async fn contract(store: &dyn LaneStore) {
    let production = key("Production");
    assert!(store.due(T0, 10).await.unwrap().is_empty());
    assert!(store.lane(&production).await.unwrap().is_none());

    let opened = Notice::Opened {
        problem: problem("fp1@2026-11-22T01:00:00Z", T0),
    };
    store.notify(&production, &opened, T0).await.unwrap();
    assert_eq!(
        store.due(T0, 10).await.unwrap(),
        std::slice::from_ref(&production)
    );
    assert!(
        store.due(T0 - 1, 10).await.unwrap().is_empty(),
        "due from the notice's time"
    );

    let claimed = store
        .claim(&production, "w1", T0, T0 + 60_000)
        .await
        .unwrap()
        .expect("a due lane is claimed");
    assert_eq!(claimed.inbox, std::slice::from_ref(&opened));
    assert_eq!(claimed.lane, Lane::new("SampleDevOpsApp", "Production"));
    assert!(
        store
            .claim(&production, "w2", T0 + 1, T0 + 60_000)
            .await
            .unwrap()
            .is_none(),
        "a held lane is not claimed twice"
    );

    // A notice after the claim: saving as if only one was read loses no notice.
    let closed = Notice::Closed {
        problem_id: "fp1@2026-11-22T01:00:00Z".into(),
        at_ms: T0 + 5,
    };
    store.notify(&production, &closed, T0 + 5).await.unwrap();
    let mut next = claimed.clone();
    next.inbox.clear();
    next.lane.ready_at_ms = Some(T0 + 30_000);
    next.lane.queue.push(ended("queued", T0));
    let err = store.save(&next, 1, &[], "w1", false).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let fresh = store.lane(&production).await.unwrap().unwrap();
    assert_eq!(
        fresh.inbox,
        [opened, closed],
        "both notices are kept, in order"
    );

    // Not the holder: refused.
    let err = store.save(&next, 2, &[], "w2", false).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    store
        .save(
            &next,
            2,
            &[ended("old", T0 - 10_000), ended("new", T0)],
            "w1",
            false,
        )
        .await
        .unwrap();
    let stored = store.lane(&production).await.unwrap().unwrap();
    assert!(stored.inbox.is_empty());
    assert_eq!(stored.lane, next.lane);
    assert!(store.due(T0 + 29_999, 10).await.unwrap().is_empty());
    assert_eq!(
        store.due(T0 + 30_000, 10).await.unwrap(),
        std::slice::from_ref(&production)
    );

    // The lease ended with the save: another worker takes the lane when it is due.
    let again = store
        .claim(&production, "w2", T0 + 30_000, T0 + 90_000)
        .await
        .unwrap()
        .expect("released");
    // Idle: off the index until a notice comes.
    let mut idle = again.clone();
    idle.lane = Lane::new("SampleDevOpsApp", "Production");
    store.save(&idle, 0, &[], "w2", false).await.unwrap();
    assert!(store.due(T0 + 10_000_000, 10).await.unwrap().is_empty());

    let staging = key("Staging");
    store
        .notify(
            &staging,
            &Notice::Closed {
                problem_id: "x".into(),
                at_ms: T0,
            },
            T0,
        )
        .await
        .unwrap();
    let page = store.lane_histories(10, 10).await.unwrap();
    assert_eq!(page.older_left_out, 0);
    let histories = page.histories;
    let keys: Vec<&LaneKey> = histories.iter().map(|h| &h.key).collect();
    assert_eq!(keys, [&production, &staging]);
    let ids: Vec<&str> = histories[0]
        .ended
        .iter()
        .map(|s| s.problem.id.as_str())
        .collect();
    assert_eq!(ids, ["new", "old"], "newest first");
    assert_eq!(histories[0].lane.as_ref(), Some(&idle.lane));
    assert_eq!(
        store.lane_histories(10, 1).await.unwrap().histories[0]
            .ended
            .len(),
        1,
        "the limit holds"
    );
    let first_page = store.lane_histories(1, 1).await.unwrap();
    assert_eq!(first_page.histories.len(), 1);
    assert_eq!(
        first_page.older_left_out, 1,
        "the page says what it left out"
    );
}

/// The bounds: an inbox takes at most MAX_INBOX notices from the sources (a clear refusal
/// beyond), the worker's hand-over always fits and ends its lease, and an ended problem is
/// remembered by id however many ended since.
async fn bounds_contract(store: &dyn LaneStore) {
    use unbreakable_shared::ports::lanes::MAX_INBOX;
    let lane = key("Bounded");
    let notice = |i: usize| Notice::Opened {
        problem: problem(&format!("{i:04x}@2026-11-22T01:00:00.000Z"), T0),
    };
    let too_many: Vec<Notice> = (0..=MAX_INBOX).map(notice).collect();
    match store.notify_all(&lane, &too_many, T0).await {
        Err(StoreError::Full(why)) => assert!(why.contains("is full"), "{why}"),
        other => panic!("{other:?}"),
    }
    let most: Vec<Notice> = (0..MAX_INBOX).map(notice).collect();
    store.notify_all(&lane, &most, T0).await.unwrap();
    match store.notify(&lane, &notice(MAX_INBOX), T0).await {
        Err(StoreError::Full(why)) => assert!(
            why.contains(&format!(
                "the inbox of {lane} is full: {MAX_INBOX} notices wait"
            )),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.lane(&lane).await.unwrap().unwrap().inbox.len(),
        MAX_INBOX
    );
    // Only the lease holder hands over; the hand-over is taken beyond the cap and frees
    // the lane at once.
    let result = Notice::Closed {
        problem_id: "0000@2026-11-22T01:00:00.000Z".into(),
        at_ms: T0,
    };
    assert!(matches!(
        store
            .hand_over(&lane, std::slice::from_ref(&result), "nobody", T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .claim(&lane, "w1", T0, T0 + 60_000)
        .await
        .unwrap()
        .unwrap();
    store
        .hand_over(&lane, &[result], "w1", T0 + 1)
        .await
        .unwrap();
    let again = store.claim(&lane, "w2", T0 + 2, T0 + 60_000).await.unwrap();
    assert_eq!(again.expect("the lease ended").inbox.len(), MAX_INBOX + 1);

    let ids = vec![
        "0001@2026-11-22T01:00:00.000Z".to_string(),
        "never@2026-11-22T01:00:00.000Z".to_string(),
    ];
    assert!(store.ended_problems(&lane, &ids).await.unwrap().is_empty());
    store
        .record_ended(&lane, &ended(&ids[0], T0))
        .await
        .unwrap();
    let remembered = store.ended_problems(&lane, &ids).await.unwrap();
    assert_eq!(remembered.into_iter().collect::<Vec<_>>(), [ids[0].clone()]);
}

async fn configs_contract(configs: &dyn LaneConfigs) {
    let production = key("Production");
    assert_eq!(configs.config(&production).await.unwrap(), None);
    let config = LaneConfig {
        remediation_yaml: Some("remediations: []".into()),
        slo_yaml: Some("spec_version: '0.1.0'".into()),
        sli_yaml: None,
        provider: Some(SliProviderKind::Prometheus),
        monspec_json: Some("{}".into()),
        comparison: Some("ProductionToProductionLastHour".into()),
        updated_ms: T0,
    };
    configs.put_config(&production, &config).await.unwrap();
    assert_eq!(configs.config(&production).await.unwrap(), Some(config));
    assert_eq!(configs.config(&key("Staging")).await.unwrap(), None);
}

#[tokio::test]
async fn the_in_memory_lanes_keep_the_contract() {
    contract(&MemoryLanes::new()).await;
    bounds_contract(&MemoryLanes::new()).await;
    configs_contract(&MemoryLaneConfigs::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_keeps_the_lane_contract_and_validations_never_see_a_lane() {
    let h = Harness::start().await.expect("harness");
    let store = h.store();
    contract(&store).await;
    bounds_contract(&store).await;
    configs_contract(&store).await;
    store
        .notify(
            &key("Production"),
            &Notice::Closed {
                problem_id: "y".into(),
                at_ms: T0,
            },
            T0,
        )
        .await
        .unwrap();
    let batch = store.ready(T0 + 10_000_000, 100).await.unwrap();
    assert!(
        batch.entries.is_empty() && batch.unreadable.is_empty(),
        "the validations' ready query reads no lane: {batch:?}"
    );
}
