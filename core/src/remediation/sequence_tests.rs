//! The sequence, case by case: each test drives one lane through inputs at given minutes and
//! checks the effects (comments aside, unless the case is about them) and where it ends.

use super::file::parse_remediation;
use super::sequence::*;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

const FILE: &str = "\
remediations:
- name: Response time degradation
  actions:
  - action: scaling
    value: +1
  - action: featuretoggle
    value: EnablePromotion:off
- name: Failure rate increase
  actions:
  - action: featuretoggle
    value: EnablePromotion:off
    wait: 5m
  - action: escalate
    value: Call the carts team
";

const RESPONSE_TIME: &str = "Response time degradation";

fn opened(id: &str, title: &str) -> Input {
    Input::Opened {
        problem: Problem {
            id: id.into(),
            source: ProblemSource::Dynatrace,
            title: title.into(),
            opened_ms: T0,
            link: None,
            alt_title: None,
        },
        remediation: Some(parse_remediation("remediation.yaml", FILE).expect("valid")),
    }
}

fn closed(id: &str) -> Input {
    Input::Closed {
        problem_id: id.into(),
    }
}

fn finished(key: &StepKey, ok: bool) -> Input {
    Input::ActionFinished {
        key: key.clone(),
        ok,
        details: if ok {
            "desired 1 → 2"
        } else {
            "404 NotFoundError"
        }
        .into(),
    }
}

fn evaluated(key: &StepKey, result: EvaluationResult) -> Input {
    Input::EvaluationFinished {
        key: key.clone(),
        result,
        details: "response_time_p90 1300 > 1000".into(),
    }
}

/// One lane and its settings, advanced input by input.
struct World {
    lane: Lane,
    settings: Settings,
}

impl World {
    fn new() -> World {
        World::with(Settings::default())
    }

    fn with(settings: Settings) -> World {
        World {
            lane: Lane::new("carts", "production"),
            settings,
        }
    }

    /// Apply `input` at `minute` and keep the new lane, as the worker stores it.
    fn at(&mut self, minute: i64, input: Input) -> Transition {
        let t = advance(&self.lane, input, T0 + minute * MIN, &self.settings);
        self.lane = t.lane.clone();
        t
    }

    fn phase(&self) -> Option<&Phase> {
        self.lane.active.as_ref().map(|s| &s.phase)
    }
}

/// The effects other than comments, as short lines (times in minutes from T0).
fn acts(t: &Transition) -> Vec<String> {
    let m = |ms: i64| (ms - T0) / MIN;
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::RunAction { key, action } => {
                Some(format!("run {} at {key}", action.action.describe()))
            }
            Effect::Evaluate {
                key,
                from_ms,
                to_ms,
            } => Some(format!("evaluate {}..{} at {key}", m(*from_ms), m(*to_ms))),
            Effect::Escalate {
                key,
                comment,
                webhook,
                ..
            } => Some(format!("escalate \"{comment}\" {webhook:?} at {key}")),
            Effect::Comment { .. } => None,
        })
        .collect()
}

fn comments(t: &Transition) -> Vec<&str> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Comment { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn run_key(t: &Transition) -> StepKey {
    t.effects
        .iter()
        .find_map(|e| match e {
            Effect::RunAction { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no action started: {:?}", t.effects))
}

fn eval_key(t: &Transition) -> StepKey {
    t.effects
        .iter()
        .find_map(|e| match e {
            Effect::Evaluate { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no evaluation asked for: {:?}", t.effects))
}

fn ended(t: &Transition) -> Vec<(String, End)> {
    t.ended
        .iter()
        .map(|s| match s.phase {
            Phase::Ended { end } => (s.problem.id.clone(), end),
            ref other => panic!("ended in {other:?}"),
        })
        .collect()
}

/// Open P1, finish its first action ok at minute 1, reach its evaluation at minute 11.
fn first_evaluation(w: &mut World) -> StepKey {
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    w.at(1, finished(&key, true));
    eval_key(&w.at(11, Input::Tick))
}

#[test]
fn open_runs_the_first_action_waits_evaluates_and_a_pass_resolves() {
    let mut w = World::new();
    let t = w.at(0, opened("P1", RESPONSE_TIME));
    assert_eq!(acts(&t), ["run scaling +1 at P1#3"]);
    assert_eq!(
        comments(&t),
        [
            "problem \"Response time degradation\" opened on carts/production",
            "the entry on line 2 names the problem \"Response time degradation\": scaling +1 → EnablePromotion off",
            "starting action 1 of 2 (scaling +1)",
        ]
    );
    assert_eq!(
        w.lane.ready_at_ms,
        Some(T0 + 15 * MIN),
        "the action's timeout"
    );

    let t = w.at(2, finished(&run_key(&t), true));
    assert!(acts(&t).is_empty());
    assert_eq!(
        comments(&t),
        [
            "action 1 (scaling +1) finished: desired 1 → 2",
            "waiting 10m until 2023-11-14T22:25:20Z for the action to take effect",
        ]
    );
    assert_eq!(w.lane.ready_at_ms, Some(T0 + 12 * MIN), "the wait's end");

    assert!(
        w.at(11, Input::Tick).effects.is_empty(),
        "the wait is not over"
    );
    let t = w.at(12, Input::Tick);
    assert_eq!(acts(&t), ["evaluate 2..12 at P1#6"]);

    let t = w.at(13, evaluated(&eval_key(&t), EvaluationResult::Pass));
    assert_eq!(ended(&t), [("P1".to_string(), End::Resolved)]);
    assert_eq!(comments(&t).last(), Some(&"resolved after 1 action(s)"));
    assert_eq!(w.lane.active, None);
    assert_eq!(w.lane.ready_at_ms, None);
}

#[test]
fn a_waits_window_is_judged_only_after_the_evaluation_delay_and_stays_the_wait() {
    let mut w = World::with(Settings {
        evaluation_delay_ms: 30_000,
        ..Settings::default()
    });
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    let t = w.at(2, finished(&key, true));
    assert_eq!(
        comments(&t).last(),
        Some(
            &"waiting 10m until 2023-11-14T22:25:20Z for the action to take effect; judged at 2023-11-14T22:25:50Z, once the monitoring system has the data (ingestion delay 30s)"
        )
    );
    let until = T0 + 12 * MIN;
    assert!(matches!(
        w.phase(),
        Some(Phase::Waiting { finished_ms, until_ms, .. })
            if *finished_ms == T0 + 2 * MIN && *until_ms == until
    ));
    assert_eq!(
        w.lane.ready_at_ms,
        Some(until + 30_000),
        "due when the delay after the wait has passed, not when the wait ends"
    );

    // The wait is over, the monitoring system may not have its end yet: nothing is asked.
    for now in [until, until + 29_999] {
        let t = advance(&w.lane, Input::Tick, now, &w.settings);
        assert!(t.effects.is_empty(), "at {now}: {:?}", t.effects);
        assert_eq!(t.lane.ready_at_ms, Some(until + 30_000));
        w.lane = t.lane;
    }

    let t = advance(&w.lane, Input::Tick, until + 30_000, &w.settings);
    w.lane = t.lane.clone();
    assert_eq!(
        acts(&t),
        ["evaluate 2..12 at P1#6"],
        "the wait's window, not beyond"
    );
    assert!(t.effects.iter().any(|e| matches!(
        e,
        Effect::Evaluate { from_ms, to_ms, .. } if *from_ms == T0 + 2 * MIN && *to_ms == until
    )));
    assert!(matches!(
        w.phase(),
        Some(Phase::Evaluating { requested_ms, .. }) if *requested_ms == until + 30_000
    ));
}

#[test]
fn a_warning_evaluation_resolves_too_and_a_fail_runs_the_next_action() {
    for (case, result, expected_acts, expected_end) in [
        (
            "warning",
            EvaluationResult::Warning,
            vec![],
            Some(End::Resolved),
        ),
        (
            "fail",
            EvaluationResult::Fail,
            vec!["run EnablePromotion off at P1#8"],
            None,
        ),
    ] {
        let mut w = World::new();
        let key = first_evaluation(&mut w);
        let t = w.at(12, evaluated(&key, result));
        assert_eq!(acts(&t), expected_acts, "{case}");
        assert_eq!(
            ended(&t).first().map(|(_, end)| *end),
            expected_end,
            "{case}"
        );
    }
}

#[test]
fn two_actions_then_a_pass_resolves_with_two_actions_run() {
    // Keptn's case (a): [scaling, toggle]; the first evaluation fails, the second passes.
    let mut w = World::new();
    let key = first_evaluation(&mut w);
    let key = run_key(&w.at(12, evaluated(&key, EvaluationResult::Fail)));
    w.at(13, finished(&key, true));
    let key = eval_key(&w.at(23, Input::Tick));
    let t = w.at(24, evaluated(&key, EvaluationResult::Pass));
    assert_eq!(ended(&t), [("P1".to_string(), End::Resolved)]);
    let started = t.ended[0]
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::ActionStarted { .. }))
        .count();
    assert_eq!(started, 2);
}

#[test]
fn a_failed_action_skips_its_wait_and_the_next_runs_at_once() {
    // Keptn's case (d): Unleash answers 404 for the flag.
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    let t = w.at(1, finished(&key, false));
    assert_eq!(acts(&t), ["run EnablePromotion off at P1#5"]);
    assert_eq!(
        comments(&t)[0],
        "action 1 (scaling +1) failed: 404 NotFoundError"
    );
}

#[test]
fn exhausted_actions_escalate_and_nothing_more_runs() {
    // Keptn's case (f): two failed evaluations, list exhausted.
    let mut w = World::new();
    let key = first_evaluation(&mut w);
    let key = run_key(&w.at(12, evaluated(&key, EvaluationResult::Fail)));
    w.at(13, finished(&key, true));
    let key = eval_key(&w.at(23, Input::Tick));
    let t = w.at(24, evaluated(&key, EvaluationResult::Fail));
    assert_eq!(
        acts(&t),
        ["escalate \"\"Response time degradation\" is still open after all 2 action(s) of remediation.yaml: a person must look\" None at P1#13"]
    );
    assert_eq!(ended(&t), [("P1".to_string(), End::Escalated)]);
    assert!(w.at(90, Input::Tick).effects.is_empty());
}

#[test]
fn an_escalate_action_tells_a_person_and_ends_the_sequence() {
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P2", "Failure rate increase")));
    w.at(1, finished(&key, true));
    let key = eval_key(&w.at(6, Input::Tick));
    let t = w.at(7, evaluated(&key, EvaluationResult::Fail));
    assert_eq!(acts(&t), ["escalate \"Call the carts team\" None at P2#8"]);
    assert_eq!(ended(&t), [("P2".to_string(), End::Escalated)]);
}

#[test]
fn an_unmatched_title_records_no_remediation_and_runs_nothing() {
    let mut w = World::new();
    let t = w.at(0, opened("P3", "CPU saturation"));
    assert!(acts(&t).is_empty());
    assert_eq!(ended(&t), [("P3".to_string(), End::NoRemediation)]);
    assert_eq!(
        comments(&t).last(),
        Some(&"no remediation for \"CPU saturation\": no entry names it and there is no default entry")
    );
}

#[test]
fn without_a_remediation_file_the_rollback_runs() {
    let mut w = World::new();
    let t = w.at(
        0,
        Input::Opened {
            problem: Problem {
                id: "P4".into(),
                source: ProblemSource::Alertmanager,
                title: "anything".into(),
                opened_ms: T0,
                link: None,
                alt_title: None,
            },
            remediation: None,
        },
    );
    assert_eq!(acts(&t), ["run rollback at P4#3"]);
}

#[test]
fn closed_mid_sequence_stops_further_actions_but_the_pending_evaluation_runs() {
    // (phase when closed, evaluation result, how it ends)
    for (case, close_at, result, end) in [
        (
            "closed_while_waiting_fail",
            5,
            EvaluationResult::Fail,
            End::Closed,
        ),
        (
            "closed_while_waiting_pass",
            5,
            EvaluationResult::Pass,
            End::Resolved,
        ),
        (
            "closed_while_running",
            0,
            EvaluationResult::Fail,
            End::Closed,
        ),
    ] {
        let mut w = World::new();
        let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
        if close_at == 0 {
            let t = w.at(0, closed("P1"));
            assert!(acts(&t).is_empty(), "{case}");
            assert_eq!(
                comments(&t),
                ["the source closed the problem: no further action; the running action finishes, and its wait and evaluation are still recorded"],
                "{case}"
            );
        }
        w.at(1, finished(&key, true));
        if close_at == 5 {
            let t = w.at(5, closed("P1"));
            assert!(acts(&t).is_empty(), "{case}");
            assert_eq!(
                comments(&t),
                ["the source closed the problem: no further action; the pending evaluation still runs and is recorded"],
                "{case}"
            );
        }
        let t = w.at(11, Input::Tick);
        assert_eq!(acts(&t), ["evaluate 1..11 at P1#7"], "{case}");
        let t = w.at(12, evaluated(&eval_key(&t), result));
        assert!(acts(&t).is_empty(), "{case}: no further action");
        assert_eq!(ended(&t), [("P1".to_string(), end)], "{case}");
        assert!(
            t.ended[0]
                .steps
                .iter()
                .any(|s| matches!(s.kind, StepKind::Evaluated { result: r } if r == result)),
            "{case}: the evaluation is recorded"
        );
    }
}

#[test]
fn closed_while_the_running_action_fails_ends_without_another_action() {
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    w.at(0, closed("P1"));
    let t = w.at(1, finished(&key, false));
    assert!(acts(&t).is_empty());
    assert_eq!(ended(&t), [("P1".to_string(), End::Closed)]);
}

#[test]
fn closed_while_held_ends_at_once() {
    let mut w = World::with(Settings {
        cooldown_ms: 30 * MIN,
        ..Settings::default()
    });
    let key = first_evaluation(&mut w);
    w.at(12, evaluated(&key, EvaluationResult::Fail));
    assert!(matches!(w.phase(), Some(Phase::Held { action: 1, .. })));
    let t = w.at(13, closed("P1"));
    assert_eq!(ended(&t), [("P1".to_string(), End::Closed)]);
    assert!(acts(&t).is_empty());
}

#[test]
fn duplicate_and_repeated_notifications_start_nothing() {
    // Keptn's case (b), and Alertmanager re-sending a firing alert after the sequence ended.
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    let t = w.at(1, opened("P1", RESPONSE_TIME));
    assert_eq!(t.ignored.as_deref(), Some("already remediating problem P1"));
    assert!(t.effects.is_empty());
    w.at(2, finished(&key, true));
    let key = eval_key(&w.at(12, Input::Tick));
    w.at(13, evaluated(&key, EvaluationResult::Pass));
    let t = w.at(14, opened("P1", RESPONSE_TIME));
    assert_eq!(
        t.ignored.as_deref(),
        Some("problem P1 was remediated already; a repeated notification starts nothing")
    );
    assert!(t.effects.is_empty());
    let t = w.at(15, closed("P9"));
    assert_eq!(
        t.ignored.as_deref(),
        Some("no open sequence for problem P9 on carts/production: nothing to stop")
    );
}

#[test]
fn a_second_problem_queues_and_starts_when_the_first_ends() {
    // Keptn's case (e). The cooldown is off here; it has its own case.
    let mut w = World::with(Settings {
        cooldown_ms: 0,
        ..Settings::default()
    });
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    let t = w.at(1, opened("P2", "Failure rate increase"));
    assert!(acts(&t).is_empty());
    assert_eq!(
        comments(&t).last(),
        Some(&"queued behind problem P1 (\"Response time degradation\"): one sequence at a time per service and stage")
    );
    assert_eq!(w.lane.queue.len(), 1);
    w.at(2, finished(&key, true));
    let key = eval_key(&w.at(12, Input::Tick));
    let t = w.at(13, evaluated(&key, EvaluationResult::Pass));
    assert_eq!(ended(&t), [("P1".to_string(), End::Resolved)]);
    assert_eq!(acts(&t), ["run EnablePromotion off at P2#5"]);
    assert!(w.lane.queue.is_empty());
}

#[test]
fn a_queued_problem_closed_before_its_turn_never_runs() {
    let mut w = World::new();
    w.at(0, opened("P1", RESPONSE_TIME));
    w.at(1, opened("P2", "Failure rate increase"));
    let t = w.at(2, closed("P2"));
    assert_eq!(ended(&t), [("P2".to_string(), End::Closed)]);
    assert!(acts(&t).is_empty());
    assert!(w.lane.queue.is_empty());
}

#[test]
fn the_cooldown_holds_the_next_action_after_one_that_finished_ok() {
    let mut w = World::with(Settings {
        cooldown_ms: 30 * MIN,
        ..Settings::default()
    });
    let key = first_evaluation(&mut w);
    let t = w.at(12, evaluated(&key, EvaluationResult::Fail));
    assert!(acts(&t).is_empty());
    assert_eq!(
        comments(&t).last(),
        Some(&"action 2 held until 2023-11-14T22:44:20Z: cooldown of 30m after the last action on carts/production (finished 2023-11-14T22:14:20Z)")
    );
    assert_eq!(w.lane.ready_at_ms, Some(T0 + 31 * MIN));
    assert!(w.at(30, Input::Tick).effects.is_empty());
    let t = w.at(31, Input::Tick);
    assert_eq!(acts(&t), ["run EnablePromotion off at P1#9"]);
}

#[test]
fn the_hourly_cap_holds_actions_until_the_oldest_is_an_hour_old() {
    let mut w = World::with(Settings {
        cooldown_ms: 0,
        max_actions_per_hour: 1,
        ..Settings::default()
    });
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    // A failed action counts: it may have changed something before it failed.
    let t = w.at(1, finished(&key, false));
    assert!(acts(&t).is_empty());
    assert_eq!(
        comments(&t).last(),
        Some(&"action 2 held until 2023-11-14T23:13:20Z: 1 actions started on carts/production in the last hour, the most allowed")
    );
    assert!(w.at(59, Input::Tick).effects.is_empty());
    assert_eq!(
        acts(&w.at(60, Input::Tick)),
        ["run EnablePromotion off at P1#6"]
    );
}

#[test]
fn replaying_each_input_to_the_stored_state_starts_nothing_twice() {
    // A worker that stored the lane, then crashed before it acknowledged the input, sees the
    // input again: nothing may run a second time.
    let mut w = World::new();
    let replay = |w: &World, minute: i64, input: Input| {
        let t = advance(&w.lane, input, T0 + minute * MIN, &w.settings);
        assert!(acts(&t).is_empty(), "replay at {minute}: {:?}", acts(&t));
        assert_eq!(t.lane, w.lane, "replay at {minute} changes nothing");
    };
    let t = w.at(0, opened("P1", RESPONSE_TIME));
    replay(&w, 0, opened("P1", RESPONSE_TIME));
    let key = run_key(&t);
    w.at(1, finished(&key, true));
    replay(&w, 1, finished(&key, true));
    replay(&w, 1, finished(&key, false));
    let t = w.at(11, Input::Tick);
    replay(&w, 11, Input::Tick);
    let key = eval_key(&t);
    w.at(12, evaluated(&key, EvaluationResult::Fail));
    let after_fail = w.lane.clone();
    let t = advance(
        &after_fail,
        evaluated(&key, EvaluationResult::Fail),
        T0 + 12 * MIN,
        &w.settings,
    );
    assert!(
        acts(&t).is_empty(),
        "a replayed failed evaluation starts no third action"
    );
    assert!(t
        .ignored
        .unwrap()
        .contains("step P1#6 came, but that step is not in progress"));
}

#[test]
fn rerunning_an_input_on_the_old_state_gives_the_same_effects_and_keys() {
    // The store write was lost: the input runs again on the state before it. Same effects,
    // same keys, so an adapter that saw the key already does not act again.
    let w = World::new();
    let first = advance(&w.lane, opened("P1", RESPONSE_TIME), T0, &w.settings);
    let again = advance(&w.lane, opened("P1", RESPONSE_TIME), T0, &w.settings);
    assert_eq!(first, again);
}

#[test]
fn an_action_without_a_result_fails_after_its_timeout_and_is_never_restarted() {
    // Stored "started", then the worker died before or while running the action.
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    assert!(w.at(14, Input::Tick).effects.is_empty());
    let t = w.at(15, Input::Tick);
    assert_eq!(
        acts(&t),
        ["run EnablePromotion off at P1#5"],
        "the next action, not the same"
    );
    assert_eq!(
        comments(&t)[0],
        "action 1 (scaling +1) failed: no result within 15m; not started again, as it may have run"
    );
    let late = w.at(16, finished(&key, true));
    assert!(late.ignored.is_some() && late.effects.is_empty());
}

#[test]
fn an_evaluation_without_a_result_counts_as_failed() {
    let mut w = World::new();
    let key = run_key(&w.at(0, opened("P1", RESPONSE_TIME)));
    w.at(1, finished(&key, true));
    w.at(11, Input::Tick);
    let t = w.at(21, Input::Tick);
    assert_eq!(acts(&t), ["run EnablePromotion off at P1#8"]);
    assert_eq!(
        comments(&t)[0],
        "the evaluation after action 1 failed: no result within 10m; counted as failed"
    );
}

#[test]
fn a_dry_run_records_what_would_run_without_running_it() {
    let mut w = World::with(Settings {
        dry_run: true,
        cooldown_ms: 0,
        ..Settings::default()
    });
    let t = w.at(0, opened("P1", RESPONSE_TIME));
    assert!(acts(&t).is_empty(), "nothing runs");
    assert_eq!(
        comments(&t)[2..],
        [
            "dry run: would start action 1 of 2 (scaling +1)",
            "action 1 (scaling +1) finished: dry run: not run",
            "waiting 10m until 2023-11-14T22:23:20Z for the action to take effect",
        ]
    );
    // Evaluations only read, so they still run: the timeline shows what would follow.
    let key = eval_key(&w.at(10, Input::Tick));
    let t = w.at(11, evaluated(&key, EvaluationResult::Fail));
    assert!(acts(&t).is_empty());
    let key = eval_key(&w.at(21, Input::Tick));
    let t = w.at(22, evaluated(&key, EvaluationResult::Fail));
    assert!(acts(&t).is_empty(), "no escalation is sent: {:?}", acts(&t));
    assert_eq!(
        comments(&t).last(),
        Some(&"dry run: would escalate: \"Response time degradation\" is still open after all 2 action(s) of remediation.yaml: a person must look")
    );
}

#[test]
fn every_step_comments_on_the_problem_with_its_own_key() {
    let mut w = World::new();
    let t = w.at(0, opened("P1", RESPONSE_TIME));
    let keys: Vec<String> = t
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Comment { key, .. } => Some(key.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["P1#1", "P1#2", "P1#3"]);
    let steps = &w.lane.active.as_ref().unwrap().steps;
    assert_eq!(steps.len(), 3);
}

#[test]
fn the_lane_round_trips_through_json_mid_sequence() {
    let mut w = World::new();
    w.at(0, opened("P1", RESPONSE_TIME));
    w.at(1, opened("P2", "Failure rate increase"));
    let json = serde_json::to_string(&w.lane).unwrap();
    let back: Lane = serde_json::from_str(&json).unwrap();
    assert_eq!(back, w.lane);
    assert!(json.contains("\"phase\":\"running\""), "{json}");
}

#[test]
fn beyond_twenty_queued_problems_a_new_one_ends_refused_with_the_reason() {
    let mut w = World::new();
    w.at(0, opened("P-0", RESPONSE_TIME));
    for i in 1..=MAX_QUEUED {
        let t = w.at(0, opened(&format!("P-{i}"), RESPONSE_TIME));
        assert!(ended(&t).is_empty(), "P-{i} waits");
    }
    assert_eq!(w.lane.queue.len(), MAX_QUEUED);
    let t = w.at(0, opened("P-late", RESPONSE_TIME));
    assert_eq!(ended(&t), [("P-late".to_string(), End::Refused)]);
    assert!(acts(&t).is_empty(), "nothing runs for it");
    let why = &t.ended[0].steps.last().unwrap().why;
    assert!(
        why.contains(
            "the queue of carts/production is full (20 problems wait behind the active one)"
        ),
        "{why}"
    );
    assert_eq!(w.lane.queue.len(), MAX_QUEUED, "the queue stays bounded");
    assert!(w.lane.ended_problem_ids.contains(&"P-late".to_string()));
}

#[test]
fn an_alert_whose_summary_names_an_entry_gets_its_actions_and_the_timeline_says_which_matched() {
    let mut w = World::new();
    let t = w.at(
        0,
        Input::Opened {
            problem: Problem {
                id: "fp@2026-11-22T01:00:00.000Z".into(),
                source: ProblemSource::Alertmanager,
                title: "rt_p90".into(),
                opened_ms: T0,
                link: None,
                alt_title: Some(RESPONSE_TIME.into()),
            },
            remediation: Some(parse_remediation("remediation.yaml", FILE).expect("valid")),
        },
    );
    assert_eq!(
        acts(&t),
        ["run scaling +1 at fp@2026-11-22T01:00:00.000Z#3"]
    );
    let matched = &w.lane.active.as_ref().unwrap().steps[1];
    assert_eq!(matched.kind, StepKind::Matched);
    assert!(
        matched.why.starts_with("the entry on line 2 names the alert's summary \"Response time degradation\" (annotations.summary, Keptn's problem title)"),
        "{}",
        matched.why
    );
}

#[test]
fn an_unconfirmed_alert_runs_only_escalate_and_the_actions_allowed_unconfirmed() {
    let text = "\
remediations:
- name: default
  actions:
  - action: scaling
    value: +1
  - action: featuretoggle
    value: EnablePromotion:off
    allowUnconfirmed: true
  - action: escalate
    value: Call the carts team
";
    let file = parse_remediation("remediation.yaml", text)
        .expect("valid")
        .unconfirmed("ALERTMANAGER_URL is not set".into());
    let mut w = World::new();
    let t = w.at(
        0,
        Input::Opened {
            problem: Problem {
                id: "fp@2026-11-22T01:00:00.000Z".into(),
                source: ProblemSource::Alertmanager,
                title: "response_time".into(),
                opened_ms: T0,
                link: None,
                alt_title: None,
            },
            remediation: Some(file),
        },
    );
    assert_eq!(
        acts(&t),
        ["run EnablePromotion off at fp@2026-11-22T01:00:00.000Z#3"]
    );
    let matched = &w.lane.active.as_ref().unwrap().steps[1].why;
    assert!(
        matched.contains("the problem is not confirmed (ALERTMANAGER_URL is not set): only escalate and actions marked allowUnconfirmed run; left out: scaling +1"),
        "{matched}"
    );
}

#[test]
fn the_webhooks_rollback_is_an_ended_sequence_that_says_who_and_what() {
    let problem = Problem {
        id: "-1_2V2".into(),
        source: ProblemSource::Dynatrace,
        title: "Failure rate increase".into(),
        opened_ms: T0,
        link: None,
        alt_title: None,
    };
    let sequence = webhook_rollback(
        &problem,
        "SampleApp",
        "Production",
        "the problem webhook rolled back d-4: redeployed s3://b/build3.zip as d-5",
        T0 + MIN,
    );
    assert_eq!(
        sequence.phase,
        Phase::Ended {
            end: End::RolledBack
        }
    );
    let whys: Vec<&str> = sequence.steps.iter().map(|s| s.why.as_str()).collect();
    assert_eq!(
        whys,
        [
            "problem \"Failure rate increase\" opened on SampleApp/Production",
            "the problem webhook rolled back d-4: redeployed s3://b/build3.zip as d-5",
            "rolled back by the problem webhook; CodeDeploy carries the deployment out",
        ]
    );
}
