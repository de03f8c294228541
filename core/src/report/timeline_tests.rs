//! The timeline, from sequences the real state machine recorded: a resolved problem with two
//! actions, one waiting after its first action, one queued behind it, one without remediation.

use super::*;
use crate::remediation::file::parse_remediation;
use crate::remediation::sequence::{
    advance, Effect, EvaluationResult, Input, Settings, StepKey, Transition,
};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;
const MIN: i64 = 60 * SECOND;

const FILE: &str = "\
remediations:
- name: Response time degradation
  actions:
  - action: scaling
    value: +1
  - action: featuretoggle
    value: EnablePromotion:off
- name: error_rate
  actions:
  - action: featuretoggle
    value: EnablePromotion:off
    wait: 5m
  - action: escalate
    value: Call the carts team
";

fn problem(id: &str, source: ProblemSource, title: &str, opened_ms: i64) -> Problem {
    Problem {
        id: id.into(),
        source,
        title: title.into(),
        opened_ms,
        link: None,
        alt_title: None,
    }
}

fn opened(problem: Problem, with_file: bool) -> Input {
    Input::Opened {
        problem,
        remediation: with_file.then(|| parse_remediation("remediation.yaml", FILE).unwrap()),
    }
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

fn evaluate_key(t: &Transition) -> StepKey {
    t.effects
        .iter()
        .find_map(|e| match e {
            Effect::Evaluate { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no evaluation requested: {:?}", t.effects))
}

/// Lanes and ended sequences as the worker would have stored them.
struct Recorded {
    lanes: Vec<Lane>,
    ended: Vec<(String, String, Sequence)>,
}

impl Recorded {
    fn all(&self) -> Vec<LaneSequence<'_>> {
        let mut all = LaneSequence::of_lanes(&self.lanes);
        all.extend(
            self.ended
                .iter()
                .map(|(service, stage, sequence)| LaneSequence {
                    service,
                    stage,
                    sequence,
                }),
        );
        all
    }
}

const RESOLVED_ID: &str = "-6478017825120311599_1700000000000V2";
const WAITING_ID: &str = "4c6a1b2f0e9d8c7a@2023-11-14T23:13:20.000Z";
const QUEUED_ID: &str = "00000000000000ff@2023-11-14T23:14:20.000Z";
const UNMATCHED_ID: &str = "-1_1700000000000V2";

/// carts/production: a Dynatrace problem resolved by its second action; then an
/// Alertmanager alert waiting after its toggle, another queued behind it. orders/production:
/// a problem no entry names.
fn recorded() -> Recorded {
    let settings = Settings {
        cooldown_ms: 0,
        ..Settings::default()
    };
    let mut lane = Lane::new("carts", "production");
    let mut ended = Vec::new();
    let mut step = |lane: &mut Lane, at: i64, input: Input| {
        let t = advance(lane, input, at, &settings);
        *lane = t.lane.clone();
        for seq in &t.ended {
            ended.push((lane.service.clone(), lane.stage.clone(), seq.clone()));
        }
        t
    };
    let t = step(
        &mut lane,
        T0,
        opened(
            problem(
                RESOLVED_ID,
                ProblemSource::Dynatrace,
                "Response time degradation",
                T0,
            ),
            true,
        ),
    );
    let key = run_key(&t);
    step(
        &mut lane,
        T0 + 34 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "desired 1 → 2, InService 2/2 after 34 s".into(),
        },
    );
    let t = step(&mut lane, T0 + 11 * MIN, Input::Tick);
    let key = evaluate_key(&t);
    let t = step(
        &mut lane,
        T0 + 11 * MIN + 5 * SECOND,
        Input::EvaluationFinished {
            key,
            result: EvaluationResult::Fail,
            details: "score 50: response_time_p95 720 ms (pass < 600, baseline 480 ms)".into(),
        },
    );
    let key = run_key(&t);
    step(
        &mut lane,
        T0 + 11 * MIN + 7 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "EnablePromotion on → off in production, read back off".into(),
        },
    );
    let t = step(&mut lane, T0 + 22 * MIN, Input::Tick);
    let key = evaluate_key(&t);
    step(
        &mut lane,
        T0 + 22 * MIN + 4 * SECOND,
        Input::EvaluationFinished {
            key,
            result: EvaluationResult::Pass,
            details: "score 100: response_time_p95 410 ms (pass < 600, baseline 480 ms)".into(),
        },
    );
    let t = step(
        &mut lane,
        T0 + 60 * MIN,
        opened(
            problem(
                WAITING_ID,
                ProblemSource::Alertmanager,
                "error_rate",
                T0 + 60 * MIN,
            ),
            true,
        ),
    );
    let key = run_key(&t);
    step(
        &mut lane,
        T0 + 60 * MIN + 2 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "EnablePromotion on → off in production, read back off".into(),
        },
    );
    step(
        &mut lane,
        T0 + 61 * MIN,
        opened(
            problem(
                QUEUED_ID,
                ProblemSource::Alertmanager,
                "Response time degradation",
                T0 + 61 * MIN,
            ),
            true,
        ),
    );
    let mut orders = Lane::new("orders", "production");
    step(
        &mut orders,
        T0 + 30 * MIN,
        opened(
            problem(
                UNMATCHED_ID,
                ProblemSource::Dynatrace,
                "Disk full",
                T0 + 30 * MIN,
            ),
            true,
        ),
    );
    step(&mut orders, T0 + 30 * MIN, Input::Tick);
    Recorded {
        lanes: vec![lane, orders],
        ended,
    }
}

fn links(problem: &Problem) -> Option<String> {
    match problem.source {
        ProblemSource::Alertmanager => {
            Some("http://prometheus.example:9090/graph?g0.expr=error_rate".into())
        }
        ProblemSource::Dynatrace => Some(format!(
            "https://abc123.live.dynatrace.com/#problems/problemdetails;pid={}",
            problem.id
        )),
    }
}

fn everything() -> Timeline {
    let r = recorded();
    Timeline::build(&TimelineRequest::default(), &r.all(), links)
}

#[test]
fn problems_are_newest_first_with_their_lane_phase_and_end() {
    let t = everything();
    let rows: Vec<(&str, &str, &str, &str, Option<End>)> = t
        .problems
        .iter()
        .map(|p| {
            (
                p.problem_id.as_str(),
                p.service.as_str(),
                p.stage.as_str(),
                p.phase,
                p.end,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (QUEUED_ID, "carts", "production", "queued", None),
            (WAITING_ID, "carts", "production", "waiting", None),
            (
                UNMATCHED_ID,
                "orders",
                "production",
                "ended",
                Some(End::NoRemediation)
            ),
            (
                RESOLVED_ID,
                "carts",
                "production",
                "ended",
                Some(End::Resolved)
            ),
        ]
    );
    assert_eq!(
        t.problems[1].status,
        "waiting until 2023-11-14T23:18:22Z after action 1"
    );
    assert_eq!(t.problems[3].status, "resolved");
    assert_eq!(
        t.problems[3].actions,
        vec!["scaling +1", "EnablePromotion off"]
    );
}

#[test]
fn each_step_has_its_time_label_and_why() {
    let t = everything();
    let resolved = &t.problems[3];
    let steps: Vec<(&str, &str, &str)> = resolved
        .steps
        .iter()
        .map(|s| (s.after.as_str(), s.label.as_str(), s.class))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("0s", "Problem opened", "violation"),
            ("0s", "Remediation matched", "waiting"),
            ("0s", "Action 1 started", "waiting"),
            ("34s", "Action 1 finished", "ok"),
            ("34s", "Waiting", "waiting"),
            ("11m", "Evaluation requested", "waiting"),
            ("11m 5s", "Evaluation failed", "violation"),
            ("11m 5s", "Action 2 started", "waiting"),
            ("11m 7s", "Action 2 finished", "ok"),
            ("11m 7s", "Waiting", "waiting"),
            ("22m", "Evaluation requested", "waiting"),
            ("22m 4s", "Evaluation passed", "ok"),
            ("22m 4s", "Resolved", "ok"),
        ]
    );
    assert_eq!(resolved.steps[3].at, "2023-11-14T22:13:54Z");
    assert!(
        resolved.steps[3]
            .why
            .ends_with("finished: desired 1 → 2, InService 2/2 after 34 s"),
        "{}",
        resolved.steps[3].why
    );
    let html = everything().to_html();
    assert!(
        html.contains("desired 1 → 2, InService 2/2 after 34 s"),
        "{html}"
    );
    assert!(html.contains(
        "<li class=\"ok\"><span class=\"ok\">Action 1 finished</span> <span class=\"when\">2023-11-14T22:13:54Z · +34s</span><div class=\"why\">action 1 (scaling +1) finished: desired 1 → 2, InService 2/2 after 34 s</div></li>"
    ));
}

#[test]
fn active_and_queued_come_from_the_lanes_and_a_problem_listed_twice_shows_once() {
    let r = recorded();
    let from_lanes: Vec<&str> = LaneSequence::of_lanes(&r.lanes)
        .iter()
        .map(|s| s.sequence.problem.id.as_str())
        .collect();
    assert_eq!(from_lanes, vec![WAITING_ID, QUEUED_ID], "orders' ended");
    // The worker stored the ended sequence, and also a lane that still held it a step earlier.
    let (service, stage, resolved) = &r.ended[0];
    let mut earlier = resolved.clone();
    earlier.steps.pop();
    earlier.phase = Phase::Evaluating {
        action: 1,
        key: StepKey {
            problem_id: RESOLVED_ID.into(),
            step: 11,
        },
        requested_ms: T0 + 22 * MIN,
    };
    let mut all = r.all();
    all.push(LaneSequence {
        service,
        stage,
        sequence: &earlier,
    });
    let t = Timeline::build(&TimelineRequest::default(), &all, links);
    let shown: Vec<&ProblemTimeline> = t
        .problems
        .iter()
        .filter(|p| p.problem_id == RESOLVED_ID)
        .collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].end, Some(End::Resolved), "the furthest record");
}

#[test]
fn hostile_titles_whys_and_links_are_escaped_and_only_web_links_are_links() {
    let hostile = "<script>alert(1)</script>\"onload=alert(2) x='";
    let mut lane = Lane::new("carts", "production");
    let t = advance(
        &lane,
        opened(
            problem(hostile, ProblemSource::Alertmanager, hostile, T0),
            false,
        ),
        T0,
        &Settings::default(),
    );
    lane = t.lane;
    let lanes = vec![lane];
    let sequences = LaneSequence::of_lanes(&lanes);
    let request = TimelineRequest::default();
    for link in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
    ] {
        let html = timeline_html(&request, &sequences, |_| Some(link.into()));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\"onload"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("href=\"data:"), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;onload=alert(2) x=&#39;"),
            "{html}"
        );
    }
    let html = timeline_html(&request, &sequences, |_| {
        Some("https://h.example/graph?g0.expr=a\"><script>".into())
    });
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("<a href=\"https://h.example/graph?g0.expr=a%22%3E%3Cscript%3E\""),
        "{html}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&timeline_json(&request, &sequences, |_| None)).unwrap();
    assert_eq!(json["problems"][0]["title"], hostile, "JSON keeps the text");
}

#[test]
fn the_json_has_its_schema_version_and_each_step_as_recorded() {
    let r = recorded();
    let request = TimelineRequest {
        service: Some("carts".into()),
        stage: None,
        json: true,
    };
    let chosen: Vec<LaneSequence> = r
        .all()
        .into_iter()
        .filter(|s| request.includes(s.service, s.stage))
        .collect();
    let json: serde_json::Value =
        serde_json::from_str(&timeline_json(&request, &chosen, links)).unwrap();
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["service"], "carts");
    assert_eq!(json["stage"], serde_json::Value::Null);
    assert_eq!(
        json["problems"].as_array().unwrap().len(),
        3,
        "orders left out"
    );
    let waiting = &json["problems"][1];
    assert_eq!(waiting["problemId"], WAITING_ID);
    assert_eq!(waiting["source"], "alertmanager");
    assert_eq!(
        waiting["link"],
        "http://prometheus.example:9090/graph?g0.expr=error_rate"
    );
    assert_eq!(waiting["phase"], "waiting");
    assert_eq!(waiting["openedAt"], "2023-11-14T23:13:20Z");
    assert_eq!(
        waiting["steps"][2],
        serde_json::json!({
            "number": 3, "atMs": T0 + 60 * MIN, "at": "2023-11-14T23:13:20Z", "after": "0s",
            "kind": "actionStarted", "action": 1, "dryRun": false,
            "label": "Action 1 started",
            "why": "starting action 1 of 2 (EnablePromotion off)"
        })
    );
    assert_eq!(
        waiting["steps"][4],
        serde_json::json!({
            "number": 5, "atMs": T0 + 60 * MIN + 2 * SECOND, "at": "2023-11-14T23:13:22Z",
            "after": "2s", "kind": "waiting", "untilMs": T0 + 65 * MIN + 2 * SECOND,
            "label": "Waiting",
            "why": "waiting 5m until 2023-11-14T23:18:22Z for the action to take effect"
        })
    );
    let queued = &json["problems"][0];
    assert_eq!(queued["steps"][2]["kind"], "queued");
    assert_eq!(queued["steps"][2]["behind"], WAITING_ID);
    let resolved = &json["problems"][2];
    assert_eq!(resolved["steps"][6]["kind"], "evaluated");
    assert_eq!(resolved["steps"][6]["result"], "fail");
    assert_eq!(resolved["steps"][5]["fromMs"], T0 + 34 * SECOND);
    assert_eq!(resolved["steps"][12]["end"], "resolved");
    assert_eq!(resolved["end"], "resolved");
    assert_eq!(
        resolved["link"],
        format!("https://abc123.live.dynatrace.com/#problems/problemdetails;pid={RESOLVED_ID}")
    );
}

#[test]
fn the_page_names_its_filter_and_links_the_same_filter_as_json() {
    let r = recorded();
    let request = TimelineRequest {
        service: Some("orders".into()),
        stage: Some("production".into()),
        json: false,
    };
    let chosen: Vec<LaneSequence> = r
        .all()
        .into_iter()
        .filter(|s| request.includes(s.service, s.stage))
        .collect();
    let html = timeline_html(&request, &chosen, |_| None);
    assert!(html.contains("Service orders, stage production: 1 problem(s), newest first. <a href=\"?service=orders&#38;stage=production&#38;json=true\">JSON</a>"), "{html}");
    assert!(
        html.contains("<h2>Disk full</h2>"),
        "no link, no anchor: {html}"
    );
    assert!(html.contains("<span class=\"manual\">no remediation</span>"));
    let none = timeline_html(
        &TimelineRequest {
            service: Some("payments".into()),
            ..TimelineRequest::default()
        },
        &[],
        |_| None,
    );
    assert!(none.contains("No remediation has run for this service and stage."));
}

#[test]
fn bad_parameters_are_named() {
    let get = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        parse_timeline_request(get(&[("service", " carts "), ("json", "true")])).unwrap(),
        TimelineRequest {
            service: Some("carts".into()),
            stage: None,
            json: true
        }
    );
    assert_eq!(
        parse_timeline_request(get(&[("stage", "")])).unwrap(),
        TimelineRequest::default()
    );
    let cases: [(&'static [(&'static str, &'static str)], &str); 3] = [
        (&[("json", "yes")], "json must be true or false, got \"yes\""),
        (
            &[("service", "<b>carts</b>")],
            "service \"<b>carts</b>\" is not a service name (1-100 characters of A-Z a-z 0-9 . _ -)",
        ),
        (
            &[("stage", "prod\u{202E}")],
            "stage \"prod\u{FFFD}\" is not a stage name",
        ),
    ];
    for (pairs, expected) in cases {
        let e = parse_timeline_request(get(pairs)).unwrap_err();
        assert!(e.contains(expected), "{e}");
    }
}

/// `TIMELINE_SAMPLE_HTML=/tmp/timeline.html cargo test -p unbreakable-core --lib
/// report::timeline`: the page of these sequences, for a look in a browser (docs/timeline.png).
#[test]
fn the_sample_page_shows_every_problem_and_is_written_where_asked() {
    let html = everything().to_html();
    for id in [QUEUED_ID, WAITING_ID, UNMATCHED_ID, RESOLVED_ID] {
        assert!(html.contains(&format!("Problem {id} ·")), "{id}");
    }
    if let Ok(path) = std::env::var("TIMELINE_SAMPLE_HTML") {
        std::fs::write(path, html).unwrap();
    }
}
