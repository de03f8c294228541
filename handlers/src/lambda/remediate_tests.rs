//! The worker's remediation step over the in-memory doubles: what it stores before acting,
//! what it performs, and how it recovers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::remediate::*;
use crate::ports::lanes::{
    LaneConfig, LaneConfigs, LaneKey, LaneStore, MemoryLaneConfigs, MemoryLanes, Notice,
};
use crate::ports::remediation::*;
use crate::ports::wakeups::{MemoryWakeups, WakeTarget};
use crate::remediation::file::RemediationAction;
use crate::remediation::sequence::{
    advance, End, EvaluationResult, Input, Lane, Phase, Problem, ProblemSource, Settings, StepKind,
};

const T0: i64 = 1_700_000_000_000;
const REMEDIATION: &str = "apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
spec:
  remediations:
  - problemType: Response time degradation
    actionsOnOpen:
    - action: scaling
      value: +1
      wait: 1m
    - action: featuretoggle
      value: EnablePromotion:off
      wait: 1m
";

#[derive(Default)]
struct Actions {
    started: Mutex<Vec<String>>,
    checks: Mutex<usize>,
    /// Answers for start, in order (default: finished ok).
    answers: Mutex<Vec<ActionProgress>>,
    /// Answers for check, in order (default: finished ok).
    check_answers: Mutex<Vec<ActionProgress>>,
    /// Each start moves this clock on by so much: an action that takes its time.
    start_takes: Mutex<Option<(Arc<AtomicI64>, i64)>>,
}

#[async_trait]
impl RemediationActions for Actions {
    async fn start(
        &self,
        lane: &LaneKey,
        _problem: &Problem,
        action: &RemediationAction,
    ) -> ActionProgress {
        self.started
            .lock()
            .unwrap()
            .push(format!("{lane}: {}", action.action.describe()));
        if let Some((clock, ms)) = &*self.start_takes.lock().unwrap() {
            clock.fetch_add(*ms, Ordering::SeqCst);
        }
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            ActionProgress::Finished {
                ok: true,
                details: "done".into(),
            }
        } else {
            answers.remove(0)
        }
    }

    async fn check(
        &self,
        _lane: &LaneKey,
        _handle: &serde_json::Value,
        _started_ms: i64,
        _now_ms: i64,
    ) -> ActionProgress {
        *self.checks.lock().unwrap() += 1;
        let mut answers = self.check_answers.lock().unwrap();
        if answers.is_empty() {
            ActionProgress::Finished {
                ok: true,
                details: "InService 2/2".into(),
            }
        } else {
            answers.remove(0)
        }
    }
}

#[derive(Default)]
struct Evaluator {
    results: Mutex<Vec<EvaluationResult>>,
    windows: Mutex<Vec<(i64, i64)>>,
}

#[async_trait]
impl LaneEvaluator for Evaluator {
    async fn evaluate(&self, _lane: &LaneKey, from_ms: i64, to_ms: i64) -> LaneEvaluation {
        self.windows.lock().unwrap().push((from_ms, to_ms));
        let mut results = self.results.lock().unwrap();
        let result = if results.is_empty() {
            EvaluationResult::Pass
        } else {
            results.remove(0)
        };
        LaneEvaluation {
            result,
            details: format!("scored {result:?}"),
        }
    }
}

#[derive(Default)]
struct Notifier {
    comments: Mutex<Vec<(String, String)>>,
    escalations: Mutex<Vec<String>>,
}

#[async_trait]
impl ProblemNotifier for Notifier {
    async fn comment(&self, problem: &Problem, text: &str) -> Result<(), NotifyError> {
        self.comments
            .lock()
            .unwrap()
            .push((problem.id.clone(), text.to_string()));
        Ok(())
    }

    async fn escalate(
        &self,
        problem: &Problem,
        comment: &str,
        _webhook: Option<&str>,
    ) -> Result<(), NotifyError> {
        self.escalations
            .lock()
            .unwrap()
            .push(format!("{}: {comment}", problem.id));
        Ok(())
    }
}

struct World {
    remediator: Remediator,
    lanes: Arc<MemoryLanes>,
    actions: Arc<Actions>,
    evaluator: Arc<Evaluator>,
    notifier: Arc<Notifier>,
    clock: Arc<AtomicI64>,
    wakeups: Arc<MemoryWakeups>,
}

fn key() -> LaneKey {
    LaneKey {
        service: "SampleDevOpsApp".into(),
        stage: "Production".into(),
    }
}

fn problem(id: &str, title: &str) -> Problem {
    Problem {
        id: id.into(),
        source: ProblemSource::Dynatrace,
        title: title.into(),
        opened_ms: T0,
        link: None,
        alt_title: None,
    }
}

async fn world(remediation: Option<&str>) -> World {
    let lanes = Arc::new(MemoryLanes::new());
    let configs = Arc::new(MemoryLaneConfigs::default());
    if let Some(text) = remediation {
        configs
            .put_config(
                &key(),
                &LaneConfig {
                    remediation_yaml: Some(text.into()),
                    ..LaneConfig::default()
                },
            )
            .await
            .unwrap();
    }
    let actions = Arc::new(Actions::default());
    let evaluator = Arc::new(Evaluator::default());
    let notifier = Arc::new(Notifier::default());
    let clock = Arc::new(AtomicI64::new(T0));
    let read = clock.clone();
    let wakeups = Arc::new(MemoryWakeups::default());
    let remediator = Remediator {
        wakeups: wakeups.clone(),
        lanes: lanes.clone(),
        configs: configs.clone(),
        actions: actions.clone(),
        evaluator: evaluator.clone(),
        notifier: notifier.clone(),
        alerts: None,
        settings: RemediationSettings {
            sequence: Settings {
                cooldown_ms: 0,
                ..Settings::default()
            },
            poll_ms: 5_000,
            ..RemediationSettings::default()
        },
        clock: Arc::new(move || read.load(Ordering::SeqCst)),
    };
    World {
        remediator,
        lanes,
        actions,
        evaluator,
        notifier,
        clock,
        wakeups,
    }
}

impl World {
    fn at(&self, ms: i64) {
        self.clock.store(ms, Ordering::SeqCst);
    }

    async fn open(&self, id: &str, title: &str) {
        self.lanes
            .notify(
                &key(),
                &Notice::Opened {
                    problem: problem(id, title),
                },
                self.clock.load(Ordering::SeqCst),
            )
            .await
            .unwrap();
    }

    async fn lane(&self) -> Lane {
        self.lanes.lane(&key()).await.unwrap().unwrap().lane
    }

    async fn ended(&self) -> Vec<crate::remediation::sequence::Sequence> {
        let page = self.lanes.lane_histories(10, 100).await.unwrap();
        page.histories.into_iter().flat_map(|h| h.ended).collect()
    }

    fn started(&self) -> Vec<String> {
        self.actions.started.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_problem_runs_its_first_action_waits_evaluates_and_resolves() {
    let w = world(Some(REMEDIATION)).await;
    w.open("P-1", "Response time degradation").await;

    let report = w.remediator.tick("worker-1", None).await;
    assert_eq!(report.actions_started, 1, "{report:?}");
    assert_eq!(
        w.started(),
        ["SampleDevOpsApp/Production: scaling +1".to_string()]
    );
    let lane = w.lane().await;
    let active = lane.active.as_ref().expect("the sequence is active");
    assert!(
        matches!(active.phase, Phase::Waiting { until_ms, .. } if until_ms == T0 + 60_000),
        "{:?}",
        active.phase
    );
    assert_eq!(w.lanes.ready_at(&key()), Some(T0 + 60_000));

    // Before the wait ends, a tick finds nothing due.
    w.at(T0 + 59_000);
    assert_eq!(w.remediator.tick("worker-1", None).await.lanes, 0);

    w.at(T0 + 60_000);
    let report = w.remediator.tick("worker-1", None).await;
    assert_eq!((report.evaluations, report.ended), (1, 1), "{report:?}");
    assert_eq!(
        *w.evaluator.windows.lock().unwrap(),
        [(T0, T0 + 60_000)],
        "the evaluation covers the wait"
    );
    assert!(w.lane().await.active.is_none());
    assert_eq!(
        w.lanes.ready_at(&key()),
        None,
        "an idle lane leaves the index"
    );
    let ended = w.ended().await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].phase, Phase::Ended { end: End::Resolved });
    assert_eq!(w.started().len(), 1, "no second action");
    let comments = w.notifier.comments.lock().unwrap();
    assert!(comments.iter().all(|(id, _)| id == "P-1"));
    assert!(
        comments
            .iter()
            .any(|(_, t)| t.contains("resolved after 1 action")),
        "{comments:?}"
    );
}

/// Event-driven: the lane asks to be woken when its wait ends, and a wake-up for the lane
/// alone does the work a sweep would; one that comes early, or twice, does nothing.
#[tokio::test]
async fn a_lane_asks_to_be_woken_when_its_wait_ends_and_a_wake_up_serves_it_alone() {
    let w = world(Some(REMEDIATION)).await;
    w.open("P-9", "Response time degradation").await;
    let report = w.remediator.serve_lane(&key(), "worker-1", None).await;
    assert_eq!(report.actions_started, 1, "{report:?}");
    let sent: Vec<_> = w.wakeups.sent.lock().unwrap().clone();
    let last = sent.last().expect("a wake-up for the end of the wait");
    assert_eq!(last.0.target, WakeTarget::lane(&key()));
    assert_eq!(last.0.due_ms, T0 + 60_000, "{sent:?}");

    w.at(T0 + 59_000);
    let early = w.remediator.serve_lane(&key(), "worker-1", None).await;
    assert_eq!(early.lanes, 0, "not due yet: nothing claimed");
    w.at(T0 + 60_000);
    let due = w.remediator.serve_lane(&key(), "worker-1", None).await;
    assert_eq!((due.evaluations, due.ended), (1, 1), "{due:?}");
    let again = w.remediator.serve_lane(&key(), "worker-2", None).await;
    assert_eq!(
        (again.lanes, again.evaluations),
        (0, 0),
        "a duplicate changes nothing"
    );
}

#[tokio::test]
async fn a_failed_evaluation_runs_the_next_action_then_escalates_when_none_is_left() {
    let w = world(Some(REMEDIATION)).await;
    *w.evaluator.results.lock().unwrap() = vec![EvaluationResult::Fail, EvaluationResult::Fail];
    w.open("P-2", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    w.at(T0 + 60_000);
    w.remediator.tick("w", None).await;
    assert_eq!(w.started().len(), 2, "{:?}", w.started());
    assert!(w.started()[1].ends_with("EnablePromotion off"));
    w.at(T0 + 120_000);
    w.remediator.tick("w", None).await;
    assert_eq!(w.started().len(), 2, "no action beyond the list");
    assert_eq!(
        w.ended().await[0].phase,
        Phase::Ended {
            end: End::Escalated
        }
    );
    let escalations = w.notifier.escalations.lock().unwrap();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert!(escalations[0].contains("still open after all 2 action(s)"));
}

#[tokio::test]
async fn an_action_in_progress_is_checked_until_it_finishes() {
    let w = world(Some(REMEDIATION)).await;
    *w.actions.answers.lock().unwrap() = vec![ActionProgress::Pending {
        handle: serde_json::json!({"group": "asg", "target": 2}),
        details: "desired 1 → 2".into(),
    }];
    *w.actions.check_answers.lock().unwrap() = vec![ActionProgress::Pending {
        handle: serde_json::json!({"group": "asg", "target": 2, "seen": 1}),
        details: "InService 1/2".into(),
    }];
    w.open("P-3", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    let record = w.lanes.lane(&key()).await.unwrap().unwrap();
    assert_eq!(record.in_flight.len(), 1, "the handle is stored");
    assert_eq!(
        w.lanes.ready_at(&key()),
        Some(T0 + 5_000),
        "checked after the poll interval"
    );

    w.at(T0 + 5_000);
    w.remediator.tick("w", None).await;
    let record = w.lanes.lane(&key()).await.unwrap().unwrap();
    assert_eq!(
        record.in_flight[0].handle["seen"], 1,
        "the newer handle is kept"
    );
    assert!(matches!(
        record.lane.active.as_ref().unwrap().phase,
        Phase::Running { .. }
    ));

    w.at(T0 + 10_000);
    w.remediator.tick("w", None).await;
    let record = w.lanes.lane(&key()).await.unwrap().unwrap();
    assert!(record.in_flight.is_empty());
    assert!(
        matches!(record.lane.active.as_ref().unwrap().phase, Phase::Waiting { until_ms, .. } if until_ms == T0 + 70_000)
    );
    assert_eq!(*w.actions.checks.lock().unwrap(), 2);
    assert_eq!(w.started().len(), 1, "started once");
}

#[tokio::test]
async fn a_worker_that_died_after_storing_the_start_never_runs_that_action_again() {
    let w = world(Some(REMEDIATION)).await;
    // What a dead worker left: the lane stored with action 1 started, and nothing else.
    w.open("P-4", "Response time degradation").await;
    let claimed = w
        .lanes
        .claim(&key(), "dead", T0, T0 + 1_000)
        .await
        .unwrap()
        .unwrap();
    let file = crate::remediation::parse_remediation("remediation.yaml", REMEDIATION).unwrap();
    let t = advance(
        &claimed.lane,
        Input::Opened {
            problem: problem("P-4", "Response time degradation"),
            remediation: Some(file),
        },
        T0,
        &Settings::default(),
    );
    let mut stored = claimed.clone();
    stored.lane = t.lane;
    stored.inbox.clear();
    stored.lane.ready_at_ms = Some(T0 + 1_000);
    w.lanes.save(&stored, 1, &[], "dead", true).await.unwrap();

    // The lease lapses; the next worker finds the action started with no record of it.
    w.at(T0 + 1_000);
    w.remediator.tick("alive", None).await;
    let started = w.started();
    assert_eq!(started.len(), 1, "only action 2 ran: {started:?}");
    assert!(started[0].ends_with("EnablePromotion off"));
    let steps = &w.lane().await.active.unwrap().steps;
    assert!(
        steps.iter().any(|s| matches!(
            s.kind,
            StepKind::ActionFinished {
                action: 0,
                ok: false
            }
        ) && s.why.contains("not started again")),
        "{steps:#?}"
    );
}

#[tokio::test]
async fn a_notice_that_arrives_while_the_lane_is_saved_is_applied_not_lost() {
    /// Delivers a notice the first time the lane is saved, as a webhook racing the worker.
    struct Racing {
        inner: Arc<MemoryLanes>,
        raced: Mutex<bool>,
    }
    #[async_trait]
    impl LaneStore for Racing {
        async fn notify_all(
            &self,
            key: &LaneKey,
            notices: &[Notice],
            now_ms: i64,
        ) -> Result<(), crate::ports::lanes::StoreError> {
            self.inner.notify_all(key, notices, now_ms).await
        }
        async fn hand_over(
            &self,
            key: &LaneKey,
            notices: &[Notice],
            owner: &str,
            now_ms: i64,
        ) -> Result<(), crate::ports::lanes::StoreError> {
            self.inner.hand_over(key, notices, owner, now_ms).await
        }
        async fn ended_problems(
            &self,
            key: &LaneKey,
            ids: &[String],
        ) -> Result<std::collections::BTreeSet<String>, crate::ports::lanes::StoreError> {
            self.inner.ended_problems(key, ids).await
        }
        async fn record_ended(
            &self,
            key: &LaneKey,
            sequence: &crate::remediation::sequence::Sequence,
        ) -> Result<(), crate::ports::lanes::StoreError> {
            self.inner.record_ended(key, sequence).await
        }
        async fn due(
            &self,
            now_ms: i64,
            limit: usize,
        ) -> Result<Vec<LaneKey>, crate::ports::lanes::StoreError> {
            self.inner.due(now_ms, limit).await
        }
        async fn claim(
            &self,
            key: &LaneKey,
            owner: &str,
            now_ms: i64,
            until_ms: i64,
        ) -> Result<Option<crate::ports::lanes::LaneRecord>, crate::ports::lanes::StoreError>
        {
            self.inner.claim(key, owner, now_ms, until_ms).await
        }
        async fn save(
            &self,
            record: &crate::ports::lanes::LaneRecord,
            inbox_read: usize,
            ended: &[crate::remediation::sequence::Sequence],
            owner: &str,
            keep_lease: bool,
        ) -> Result<(), crate::ports::lanes::StoreError> {
            let first = std::mem::replace(&mut *self.raced.lock().unwrap(), true);
            if !first {
                self.inner
                    .notify(
                        &record.key,
                        &Notice::Opened {
                            problem: problem("P-6", "Failure rate increase"),
                        },
                        T0,
                    )
                    .await?;
            }
            self.inner
                .save(record, inbox_read, ended, owner, keep_lease)
                .await
        }
        async fn lane(
            &self,
            key: &LaneKey,
        ) -> Result<Option<crate::ports::lanes::LaneRecord>, crate::ports::lanes::StoreError>
        {
            self.inner.lane(key).await
        }
        async fn lane_histories(
            &self,
            lanes: usize,
            per_lane: usize,
        ) -> Result<crate::ports::lanes::LanePage, crate::ports::lanes::StoreError> {
            self.inner.lane_histories(lanes, per_lane).await
        }
    }
    let mut w = world(Some(REMEDIATION)).await;
    w.remediator.lanes = Arc::new(Racing {
        inner: w.lanes.clone(),
        raced: Mutex::new(false),
    });
    w.open("P-5", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    let lane = w.lane().await;
    assert_eq!(lane.active.as_ref().unwrap().problem.id, "P-5");
    assert_eq!(
        lane.queue
            .iter()
            .map(|s| s.problem.id.as_str())
            .collect::<Vec<_>>(),
        ["P-6"],
        "the racing problem is queued behind"
    );
    assert_eq!(
        w.started().len(),
        1,
        "the action ran once, after the retried save"
    );
}

#[tokio::test]
async fn a_stored_remediation_file_that_no_longer_parses_runs_nothing_and_says_why() {
    let w = world(Some("remediations: [oops")).await;
    w.open("P-7", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    assert!(w.started().is_empty());
    let ended = w.ended().await;
    assert_eq!(
        ended[0].phase,
        Phase::Ended {
            end: End::NoRemediation
        }
    );
    let comments = w.notifier.comments.lock().unwrap();
    assert!(
        comments.iter().any(|(_, t)| t
            .contains("the remediation.yaml stored for SampleDevOpsApp/Production cannot be read")),
        "{comments:?}"
    );
}

#[tokio::test]
async fn without_a_remediation_file_the_action_is_the_rollback_of_today() {
    let w = world(None).await;
    w.open("P-8", "Anything").await;
    w.remediator.tick("w", None).await;
    assert_eq!(
        w.started(),
        ["SampleDevOpsApp/Production: rollback".to_string()]
    );
}

#[test]
fn the_remediation_settings_are_read_and_bad_ones_are_named() {
    use crate::lambda::Env;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        Env::new(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    };
    let config = RemediationConfig::from_env(&env(&[
        ("REMEDIATION_DRY_RUN", "TRUE"),
        ("REMEDIATION_COOLDOWN_SECONDS", "1"),
        ("REMEDIATION_POLL_SECONDS", "0.5"),
        ("UNLEASH_URL", "http://127.0.0.1:4242/"),
        ("UNLEASH_TOKEN_SECRET_ID", "arn:unleash"),
        ("UNLEASH_ENVIRONMENT", "staging"),
    ]))
    .unwrap();
    assert!(config.settings.sequence.dry_run);
    assert_eq!(config.settings.sequence.cooldown_ms, 1_000);
    assert_eq!(config.settings.poll_ms, 500);
    let unleash = config.unleash.unwrap();
    assert_eq!(
        (
            unleash.url.as_str(),
            unleash.project.as_str(),
            unleash.environment.as_str()
        ),
        ("http://127.0.0.1:4242", "default", "staging")
    );
    assert_eq!(
        RemediationConfig::from_env(&env(&[])).unwrap().unleash,
        None
    );

    for (pairs, expected) in [
        (
            &[("UNLEASH_URL", "http://127.0.0.1:4242")][..],
            "UNLEASH_TOKEN_SECRET_ID is not set, but UNLEASH_URL is",
        ),
        (
            &[("REMEDIATION_DRY_RUN", "maybe")][..],
            "REMEDIATION_DRY_RUN must be true or false, got \"maybe\"",
        ),
        (
            &[("UNLEASH_URL", "unleash:4242")][..],
            "UNLEASH_URL must be an http(s) URL",
        ),
    ] {
        let pairs: &'static [(&'static str, &'static str)] = pairs;
        let err = RemediationConfig::from_env(&env(pairs))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn the_evaluation_delay_defaults_to_the_ingestion_delay_and_a_bad_one_is_named() {
    use crate::lambda::Env;
    let read = |pairs: &'static [(&'static str, &'static str)]| {
        RemediationConfig::from_env(&Env::new(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }))
    };
    assert_eq!(
        read(&[]).unwrap().settings.sequence.evaluation_delay_ms,
        120_000,
        "unset: the validations' default ingestion delay"
    );
    assert_eq!(
        read(&[("REMEDIATION_EVALUATION_DELAY_SECONDS", "0.5")])
            .unwrap()
            .settings
            .sequence
            .evaluation_delay_ms,
        500
    );
    const VAR: &str = "REMEDIATION_EVALUATION_DELAY_SECONDS";
    for (bad, pairs) in [
        ("2m", &[(VAR, "2m")][..]),
        ("-1", &[(VAR, "-1")][..]),
        ("3601", &[(VAR, "3601")][..]),
        ("NaN", &[(VAR, "NaN")][..]),
    ] {
        let pairs: &'static [(&'static str, &'static str)] = pairs;
        let err = read(pairs).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "{VAR} must be a number of seconds from 0 to 3600, got \"{bad}\""
            )),
            "{err}"
        );
    }
}

#[tokio::test]
async fn no_lane_is_claimed_when_the_deadline_is_near() {
    let w = world(Some(REMEDIATION)).await;
    w.open("P-9", "Response time degradation").await;
    let report = w.remediator.tick("w", Some(T0 + 29_000)).await;
    assert_eq!(
        (report.lanes, report.left_for_next_tick),
        (0, 1),
        "{report:?}"
    );
    assert!(w.started().is_empty());
    let report = w.remediator.tick("w", Some(T0 + 31_000)).await;
    assert_eq!(report.lanes, 1, "{report:?}");
}

#[tokio::test]
async fn a_step_cut_short_by_the_deadline_hands_its_action_to_the_next_tick_not_lost() {
    let w = world(Some(REMEDIATION)).await;
    *w.actions.answers.lock().unwrap() = vec![ActionProgress::Pending {
        handle: serde_json::json!({"group": "asg", "target": 2}),
        details: "desired 1 → 2".into(),
    }];
    // Starting takes 20 s of an invocation that has 30 s left: no time to store the lane
    // again after it.
    *w.actions.start_takes.lock().unwrap() = Some((w.clock.clone(), 20_000));
    w.open("P-1", "Response time degradation").await;
    let report = w.remediator.tick("w1", Some(T0 + 30_000)).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(w.started().len(), 1);
    let record = w.lanes.lane(&key()).await.unwrap().unwrap();
    assert!(
        matches!(record.inbox.as_slice(), [Notice::ActionPending { .. }]),
        "the started action's handle waits in the inbox: {:?}",
        record.inbox
    );
    assert_eq!(
        w.lanes.ready_at(&key()),
        Some(T0 + 20_000),
        "due at once, lease ended"
    );

    w.at(T0 + 21_000);
    w.remediator.tick("w2", None).await;
    assert_eq!(*w.actions.checks.lock().unwrap(), 1, "checked, not failed");
    assert_eq!(w.started().len(), 1, "never started twice");
    let lane = w.lane().await;
    assert!(
        matches!(
            lane.active.as_ref().map(|s| &s.phase),
            Some(Phase::Waiting { .. })
        ),
        "{lane:#?}"
    );
    let steps = &lane.active.as_ref().unwrap().steps;
    assert!(
        steps.iter().all(|s| !s.why.contains("worker stopped")),
        "{steps:#?}"
    );
}

#[tokio::test]
async fn a_problem_that_ended_before_starts_nothing_however_many_ended_since() {
    let w = world(Some(REMEDIATION)).await;
    w.open("P-1", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    w.at(T0 + 60_000);
    w.remediator.tick("w", None).await;
    assert_eq!(w.ended().await.len(), 1);
    // The lane's own list forgets after 100; the store does not.
    for i in 0..100 {
        w.open(&format!("X-{i}"), "Nothing names this").await;
    }
    w.remediator.tick("w", None).await;
    assert!(!w
        .lane()
        .await
        .ended_problem_ids
        .contains(&"P-1".to_string()));
    w.at(T0 + 120_000);
    w.open("P-1", "Response time degradation").await;
    w.remediator.tick("w", None).await;
    assert_eq!(w.started().len(), 1, "the replay started nothing");
    assert!(w.lane().await.active.is_none());
}

#[tokio::test]
async fn an_alert_without_a_confirming_source_runs_only_escalate() {
    let w = world(Some(
        "remediations:\n- name: default\n  actions:\n  - action: scaling\n    value: +1\n  - action: escalate\n    value: Call the team\n",
    ))
    .await;
    let alert = Problem {
        id: "aaaa@2026-11-22T01:00:00.000Z".into(),
        source: ProblemSource::Alertmanager,
        title: "response_time".into(),
        opened_ms: T0,
        link: None,
        alt_title: None,
    };
    w.lanes
        .notify(&key(), &Notice::Opened { problem: alert }, T0)
        .await
        .unwrap();
    w.remediator.tick("w", None).await;
    assert!(w.started().is_empty(), "{:?}", w.started());
    let escalations = w.notifier.escalations.lock().unwrap().clone();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    let ended = w.ended().await;
    let matched = &ended[0].steps[1].why;
    assert!(
        matched.contains("not confirmed (ALERTMANAGER_URL is not set")
            && matched.contains("left out: scaling +1"),
        "{matched}"
    );
}
