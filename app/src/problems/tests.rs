//! The problem use case over in-memory ports: what a notification leads to, as data. The
//! webhook handler's tests (`lambda::problem`) check the HTTP answers it maps these to.

use serde_json::{json, Value};

use super::fixture::{deployment, event, notification, production, revision, World, OPEN, PID};
use super::*;
use crate::ports::lanes::LaneStore;
use crate::ports::monitoring::{MonitoringError, RecordedDeployment};

/// Far enough away that nothing is left for lack of time.
fn deadline() -> i64 {
    now_ms() + 20_000
}

async fn open(w: &World, body: &str) -> OpenOutcome {
    match w.service().handle(&notification(body), deadline()).await {
        ProblemOutcome::Open(open) => open,
        other => panic!("{other:?}"),
    }
}

async fn closed(w: &World, body: &str) -> ClosedOutcome {
    match w.service().handle(&notification(body), deadline()).await {
        ProblemOutcome::Closed(closed) => closed,
        other => panic!("{other:?}"),
    }
}

fn reason(outcome: &OpenOutcome, i: usize) -> &str {
    outcome.actions[i].reason.as_str()
}

#[tokio::test]
async fn a_test_notification_and_a_state_neither_open_nor_resolved_do_nothing() {
    let w = World::new();
    let test = r#"{"PID":"99999","ProblemID":"999","State":"OPEN","ImpactedEntities":[{"entity":"HOST-XXXXXXXXXXXXX"}]}"#;
    let outcome = w.service().handle(&notification(test), deadline()).await;
    assert_eq!(outcome, ProblemOutcome::Test);
    let merged = OPEN.replace("\"OPEN\"", "\"MERGED\"");
    let outcome = w.service().handle(&notification(&merged), deadline()).await;
    assert_eq!(outcome, ProblemOutcome::NoActionForState);
    assert!(w.monitoring.queries.lock().unwrap().is_empty());
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
}

/// Dynatrace as the memory double answers it, but a comment that never gets an answer.
struct SilentOnComments(Arc<crate::ports::memory::MemoryMonitoring>);

#[async_trait::async_trait]
impl MonitoringEvents for SilentOnComments {
    async fn push(
        &self,
        event: &crate::ports::monitoring::PipelineEvent,
    ) -> Result<usize, MonitoringError> {
        self.0.push(event).await
    }
    async fn deployments_on(
        &self,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<Vec<RecordedDeployment>, MonitoringError> {
        self.0.deployments_on(entity_ids, window).await
    }
    async fn problem(&self, problem_id: &str) -> Result<Option<ProblemDetails>, MonitoringError> {
        self.0.problem(problem_id).await
    }
    async fn comment(&self, _problem_id: &str, _text: &str) -> Result<(), MonitoringError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_comment_without_an_answer_does_not_hold_the_answer_past_its_deadline() {
    let w = World::new();
    let mut service = w.service();
    service.monitoring = Arc::new(SilentOnComments(w.monitoring.clone()));
    // Without the bound this would wait for ever: give up after twice the deadline.
    let handled = tokio::time::timeout(
        Duration::from_secs(10),
        service.handle(&notification(OPEN), now_ms() + 5_000),
    )
    .await
    .expect("the outcome comes by the deadline, comment or no comment");
    let ProblemOutcome::Open(outcome) = handled else {
        panic!("{handled:?}")
    };
    assert_eq!(outcome.actions[0].action, RollbackOutcome::RolledBack);
    assert_eq!(
        outcome.comment,
        Comment::Failed("no answer before the webhook's answer was due".into())
    );
}

#[tokio::test]
async fn an_open_problem_rolls_its_deployment_back_and_comments_once_settled() {
    let w = World::new();
    let outcome = open(&w, OPEN).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert_eq!(outcome.actions[0].action, RollbackOutcome::RolledBack);
    assert_eq!(
        outcome.actions[0].rollback_deployment_id.as_deref(),
        Some("d-ROLLBACK1"),
        "{outcome:?}"
    );
    assert_eq!(outcome.comment, Comment::Made);
    assert_eq!(
        outcome.entities,
        Some(EntityCount {
            examined: 1,
            not_examined: 0
        })
    );
    assert_eq!(w.monitoring.comments.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_group_with_a_remediation_file_gets_the_problem_on_its_lane_instead_of_a_rollback() {
    let w = World::new();
    w.with_remediation().await;
    let sent = OPEN.replace("\"State\"", "\"ProblemTitle\":\"Sent title\",\"State\"");
    let outcome = open(&w, &sent).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert_eq!(
        outcome.actions[0].action,
        RollbackOutcome::Queued,
        "{outcome:?}"
    );
    assert!(reason(&outcome, 0).contains("self-healing sequence of app/Production"));
    assert!(
        w.deployer.redeploys.lock().unwrap().is_empty(),
        "no rollback of its own"
    );
    let record = w.lanes.lane(&production()).await.unwrap().unwrap();
    match &record.inbox[..] {
        [Notice::Opened { problem }] => {
            assert_eq!(problem.id, PID);
            assert_eq!(
                problem.title, "Response time degradation",
                "Dynatrace's title wins"
            );
            assert_eq!(problem.opened_ms, w.problem_start);
            assert_eq!(
                problem.link.as_deref(),
                Some("https://abc123.live.dynatrace.com/#problems/problemdetails;pid=-7_1V2")
            );
        }
        other => panic!("{other:?}"),
    }
    // Re-sent: the lane gets it again and ignores the known id; the outcome is the same.
    assert!(open(&w, &sent).await.settled());
}

#[tokio::test]
async fn a_resolved_problem_stops_its_sequence_only_when_dynatrace_says_it_is_closed() {
    let w = World::new();
    w.with_remediation().await;
    let resolved = OPEN.replace("\"OPEN\"", "\"RESOLVED\"");
    let outcome = closed(&w, &resolved).await;
    assert!(!outcome.unfinished, "{outcome:?}");
    assert!(
        outcome.note.contains("still reports problem"),
        "{outcome:?}"
    );
    assert!(w.lanes.lane(&production()).await.unwrap().is_none());

    w.monitoring
        .problems
        .lock()
        .unwrap()
        .get_mut(PID)
        .unwrap()
        .status = ProblemStatus::Closed;
    let outcome = closed(&w, &resolved).await;
    assert!(!outcome.unfinished, "{outcome:?}");
    assert_eq!(outcome.lanes, ["app/Production"]);
    let record = w.lanes.lane(&production()).await.unwrap().unwrap();
    assert!(
        matches!(&record.inbox[..], [Notice::Closed { problem_id, .. }] if problem_id == PID),
        "{:?}",
        record.inbox
    );
}

#[tokio::test]
async fn a_problem_days_after_the_last_deployment_still_reaches_its_lane_but_is_not_rolled_back() {
    let w = World::new();
    // Build 4 went out two days before the problem: far outside the rollback lookback.
    let two_days = 2 * 24 * 3_600_000;
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .get_mut("d-4")
        .unwrap()
        .created_ms = Some(w.problem_start - two_days);
    w.monitoring.deployments.lock().unwrap().insert(
        "SERVICE-PROD".into(),
        vec![event("SERVICE-PROD", w.problem_start - two_days, "d-4")],
    );
    let outcome = open(&w, OPEN).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert!(
        reason(&outcome, 0).starts_with(
            "no CodeDeploy deployment event on the problem's entities from 60 minutes"
        ),
        "without a remediation.yaml nothing changes: {outcome:?}"
    );
    assert!(w.lanes.lane(&production()).await.unwrap().is_none());

    w.with_remediation().await;
    let outcome = open(&w, OPEN).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert_eq!(
        outcome.actions[0].action,
        RollbackOutcome::Queued,
        "{outcome:?}"
    );
    assert!(
        reason(&outcome, 0).contains("older than the rollback lookback"),
        "{outcome:?}"
    );
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
    let record = w.lanes.lane(&production()).await.unwrap().unwrap();
    assert_eq!(record.inbox.len(), 1);
}

#[tokio::test]
async fn an_event_naming_another_group_cannot_steer_a_problem_to_that_lane() {
    let w = World::new();
    w.with_remediation().await;
    w.monitoring.deployments.lock().unwrap().insert(
        "SERVICE-PROD".into(),
        vec![{
            let mut e = event("SERVICE-PROD", w.problem_start - 110_000, "d-4");
            e.properties
                .insert("CodeDeploy.DeploymentGroup".into(), "Other".into());
            e
        }],
    );
    let outcome = open(&w, OPEN).await;
    assert_ne!(
        outcome.actions[0].action,
        RollbackOutcome::Queued,
        "{outcome:?}"
    );
    assert!(w.lanes.lane(&production()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_late_open_after_a_fix_was_deployed_does_not_roll_back_the_fix() {
    let w = World::new();
    // The fix (build 5) went out after the problem started and is what runs now.
    let fix = deployment("d-5", w.problem_start + 20_000, "build5.zip", "build4.zip");
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .insert("d-5".into(), fix);
    w.monitoring
        .deployments
        .lock()
        .unwrap()
        .get_mut("SERVICE-PROD")
        .unwrap()
        .insert(0, event("SERVICE-PROD", w.problem_start + 30_000, "d-5"));
    let outcome = open(&w, OPEN).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert!(
        reason(&outcome, 0).contains("d-5 was created 20 s after problem -7_1V2 started"),
        "{outcome:?}"
    );
    assert!(
        reason(&outcome, 1)
            .contains("d-4 is no longer the last successful deployment of app/Production (d-5 is)"),
        "{outcome:?}"
    );
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_planted_event_naming_an_old_build_does_not_redeploy_an_older_one() {
    let w = World::new();
    w.monitoring
        .deployments
        .lock()
        .unwrap()
        .get_mut("SERVICE-PROD")
        .unwrap()
        .insert(0, event("SERVICE-PROD", w.problem_start - 5_000, "d-3"));
    let outcome = open(&w, OPEN).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert!(
        reason(&outcome, 0)
            .contains("d-3 is no longer the last successful deployment of app/Production (d-4 is)"),
        "{outcome:?}"
    );
    // The real event still leads to the build that runs.
    assert_eq!(
        outcome.actions[1].action,
        RollbackOutcome::RolledBack,
        "{outcome:?}"
    );
    let redeploys = w.deployer.redeploys.lock().unwrap().clone();
    assert_eq!(redeploys.len(), 1);
    assert_eq!(redeploys[0].2, revision("build3.zip"), "never build 2");
}

#[tokio::test]
async fn a_second_problem_on_a_group_in_cooldown_does_not_roll_back_again() {
    let w = World::new();
    assert!(open(&w, OPEN).await.settled());
    let mut other = w.monitoring.problems.lock().unwrap()[PID].clone();
    other.id = "-8_1V2".into();
    w.monitoring
        .problems
        .lock()
        .unwrap()
        .insert("-8_1V2".into(), other);
    let outcome = open(&w, &OPEN.replace(PID, "-8_1V2")).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert!(reason(&outcome, 0).contains("app/Production was rolled back 0 s ago (problem -7_1V2, deployment d-4); cooldown is 15 minutes"), "{outcome:?}");
    assert_eq!(w.deployer.redeploys.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_thousand_impacted_entities_are_one_capped_events_query() {
    let w = World::new();
    let entities: Vec<String> = (0..1000).map(|i| format!("SERVICE-{i:016X}")).collect();
    let mut all = vec!["SERVICE-PROD".to_string()];
    all.extend(entities.iter().cloned());
    w.monitoring
        .problems
        .lock()
        .unwrap()
        .get_mut(PID)
        .unwrap()
        .entities = all;
    let listed: Vec<Value> = entities
        .iter()
        .chain(entities.iter())
        .map(|e| json!({"entity": e}))
        .collect();
    let body = json!({"State": "OPEN", "PID": PID, "ImpactedEntities": listed}).to_string();
    let outcome = open(&w, &body).await;
    assert!(outcome.settled(), "{outcome:?}");
    assert_eq!(
        outcome.actions[0].action,
        RollbackOutcome::RolledBack,
        "{outcome:?}"
    );
    assert_eq!(
        outcome.entities,
        Some(EntityCount {
            examined: 100,
            not_examined: 901
        })
    );
    let queries = w.monitoring.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1, "one events query");
    assert_eq!(queries[0].0.len(), MAX_ENTITIES);
    assert_eq!(
        queries[0].0[0], "SERVICE-PROD",
        "the problem's order is kept"
    );
}

#[tokio::test]
async fn control_and_bidi_characters_stay_out_of_descriptions_and_comments() {
    let w = World::new();
    let mut d4 = w.deployer.deployments.lock().unwrap()["d-4"].clone();
    d4.previous_revision = Some(revision("build3\u{202E}piz.exe\0.zip"));
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .insert("d-4".into(), d4);
    assert!(open(&w, OPEN).await.settled());
    let description = w.deployer.redeploys.lock().unwrap()[0].3.clone();
    let comment = w.monitoring.comments.lock().unwrap()[0].1.clone();
    for text in [&description, &comment] {
        assert!(
            !text.contains('\u{202E}') && !text.contains('\0'),
            "{text:?}"
        );
        assert!(
            text.contains("build3\u{FFFD}piz.exe\u{FFFD}.zip"),
            "{text:?}"
        );
    }
}

/// keptn-contrib/dynatrace-service's `test-events/test-requests.http`, as an older
/// Dynatrace sent it: digits-only ids.
const OLDER: &str = r#"{"State":"OPEN","ProblemID":"496","PID":"-175196579159161496","ProblemTitle":"Response time degradation","ImpactedEntities":[{"type":"SERVICE","name":"carts","entity":"SERVICE-ABC"}]}"#;

#[tokio::test]
async fn a_digits_only_problem_is_looked_up_and_one_dynatrace_does_not_know_changes_nothing() {
    let w = World::new();
    for state in ["OPEN", "RESOLVED"] {
        let body = OLDER.replace("\"OPEN\"", &format!("\"{state}\""));
        let said = match w.service().handle(&notification(&body), deadline()).await {
            ProblemOutcome::Open(open) => {
                assert!(open.settled(), "{state}: {open:?}");
                assert_eq!(open.comment, Comment::NotMade, "{state}: {open:?}");
                open.actions[0].reason.clone()
            }
            ProblemOutcome::Closed(closed) => {
                assert!(!closed.unfinished, "{state}: {closed:?}");
                closed.note
            }
            other => panic!("{state}: {other:?}"),
        };
        assert_eq!(
            said, "Dynatrace does not know problem -175196579159161496; nothing was done",
            "{state}"
        );
    }
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
    assert!(w.monitoring.comments.lock().unwrap().is_empty());
}
