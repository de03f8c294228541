//! Keptn's own lighthouse tests (keptn/keptn 1.4.5, `evaluate_sli_handler_test.go` and
//! `common_test.go`), translated case for case where they can be expressed through files and
//! values; then the deliberate differences.

use super::file::{Aggregate, IncludeResults};
use super::score::{percentile, IndicatorResult, Status, TargetResult};
use super::*;

fn slo(text: &str) -> Slo {
    parse_slo("slo.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn sli(metric: &str, value: f64) -> SliValue {
    SliValue {
        metric: metric.into(),
        value,
        compared_value: 0.0,
        success: true,
        message: String::new(),
    }
}

fn previous(json: &str) -> Vec<PreviousEvaluation> {
    serde_json::from_str(json).unwrap()
}

fn t(criteria: &str, target_value: f64, violated: bool) -> TargetResult {
    TargetResult {
        criteria: criteria.into(),
        target_value,
        violated,
        no_baseline: false,
    }
}

/// Two earlier passing evaluations, both 10.0 (Keptn's "prev" of E–H).
const TWO_TENS: &str = r#"[
  {"result": "pass", "score": 100, "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 10.0, "success": true}}]},
  {"result": "pass", "score": 100, "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 10.0, "success": true}}]}
]"#;

fn one_objective(pass: &str, aggregate: &str) -> Slo {
    slo(&format!(
        "comparison: {{compare_with: several_results, include_result_with_score: pass, number_of_comparison_results: 2, aggregate_function: {aggregate}}}\n\
         objectives:\n  - sli: my-test-metric\n    pass: {pass}\n\
         total_score: {{pass: \"90%\", warning: \"75%\"}}\n"
    ))
}

fn first(e: &Evaluation) -> &IndicatorResult {
    &e.indicator_results[0]
}

/// TestEvaluateComparison / TestEvaluateSingleCriteria (E1–E7, F1–F8).
#[test]
fn keptn_single_criteria() {
    let cases = [
        ("F1 10.0 <= avg + 10%", 10.0, "<=+10%", "avg", 11.0, true),
        ("F2 11.01 <= avg + 10%", 11.01, "<=+10%", "avg", 11.0, false),
        ("F3 10.0 < avg + 0%", 10.0, "<+0%", "avg", 10.0, false),
        ("F4 10.0 > avg + 0%", 10.0, ">+0%", "avg", 10.0, false),
        ("F5 11.0 = avg + 1.0", 11.0, "=+1", "avg", 11.0, true),
        ("F6 9.0 = avg - 1.0", 9.0, "=-1", "avg", 9.0, true),
        ("F7 10.0 <= p50 + 10%", 10.0, "<=+10%", "p50", 11.0, true),
        ("E7 10.0 >= p50 - 10%", 10.0, ">=-10%", "p50", 9.0, true),
        ("F8 10.0 <= 10.0", 10.0, "<=10", "avg", 10.0, true),
    ];
    for (name, value, criterion, aggregate, target, holds) in cases {
        let s = one_objective(&format!("[{{criteria: [\"{criterion}\"]}}]"), aggregate);
        let e = evaluate(&s, &[sli("my-test-metric", value)], &previous(TWO_TENS));
        let i = first(&e);
        assert_eq!(i.pass_targets, vec![t(criterion, target, !holds)], "{name}");
        assert_eq!(i.status == Status::Pass, holds, "{name}");
        assert_eq!(i.value.as_ref().unwrap().compared_value, 10.0, "{name}");
    }
}

/// TestEvaluateCriteriaSet (G) and TestEvaluateOrCombinedCriteria (H).
#[test]
fn keptn_criteria_sets_and_alternatives() {
    let and = one_objective("[{criteria: [\"<=+10%\", \"<=10.0\"]}]", "avg");
    let e = evaluate(&and, &[sli("my-test-metric", 10.0)], &previous(TWO_TENS));
    assert_eq!(first(&e).status, Status::Pass, "G1");
    assert_eq!(
        first(&e).pass_targets,
        vec![t("<=+10%", 11.0, false), t("<=10.0", 10.0, false)]
    );
    let e = evaluate(&and, &[sli("my-test-metric", 11.0)], &previous(TWO_TENS));
    assert_eq!(first(&e).status, Status::Fail, "G2");
    assert_eq!(
        first(&e).pass_targets,
        vec![t("<=+10%", 11.0, false), t("<=10.0", 10.0, true)]
    );

    let or = one_objective(
        "[{criteria: [\"<=10.0\"]}, {criteria: [\"<=+10%\"]}]",
        "avg",
    );
    for (name, value, passes, targets) in [
        (
            "H1",
            10.0,
            true,
            vec![t("<=10.0", 10.0, false), t("<=+10%", 11.0, false)],
        ),
        (
            "H2",
            11.0,
            true,
            vec![t("<=10.0", 10.0, true), t("<=+10%", 11.0, false)],
        ),
        (
            "H3",
            20.0,
            false,
            vec![t("<=10.0", 10.0, true), t("<=+10%", 11.0, true)],
        ),
    ] {
        let e = evaluate(&or, &[sli("my-test-metric", value)], &previous(TWO_TENS));
        assert_eq!(first(&e).status == Status::Pass, passes, "{name}");
        assert_eq!(first(&e).pass_targets, targets, "{name}");
    }
}

/// TestCalculatePercentile (D) and Test_aggregateValues (K).
#[test]
fn keptn_percentiles_and_averages() {
    let values: Vec<f64> = (0..=10).map(f64::from).collect();
    assert_eq!(percentile(&values, 0.5), 5.0, "D1");
    assert_eq!(percentile(&values, 0.9), 9.8, "D2");
    assert_eq!(percentile(&values, 0.95), 10.0, "D3");
    assert_eq!(percentile(&[10.0, 5.0], 0.5), 7.5);
    assert_eq!(percentile(&[3.0], 0.9), 3.0);

    let s = one_objective("[{criteria: [\"<=+0%\"]}]", "avg");
    let prev = r#"[
      {"result": "pass", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 5.0, "success": true}}]},
      {"result": "pass", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 15.0, "success": true}}]}
    ]"#;
    let e = evaluate(&s, &[sli("my-test-metric", 10.0)], &previous(prev));
    assert_eq!(first(&e).pass_targets[0].target_value, 10.0, "K1");
    let failed = prev.replace("true", "false");
    let e = evaluate(&s, &[sli("my-test-metric", 10.0)], &previous(&failed));
    assert!(first(&e).pass_targets[0].no_baseline, "K3");
    let e = evaluate(&s, &[sli("my-test-metric", 10.0)], &[]);
    assert!(first(&e).pass_targets[0].no_baseline, "K2");
}

const SLO_A: &str = r#"
spec_version: "1.0"
comparison: {compare_with: several_results, include_result_with_score: pass, number_of_comparison_results: 2, aggregate_function: avg}
objectives:
  - sli: my-test-metric-1
    pass:    [{criteria: ["<=15.0"]}, {criteria: ["<=+10%"]}]
    warning: [{criteria: ["<=20.0"]}, {criteria: ["<=+15%"]}]
    weight: 1
total_score: {pass: "90%", warning: "75%"}
"#;

const PREV_10: &str = r#"[{"result": "pass", "score": 2, "indicatorResults": [{"score": 2, "status": "pass", "value": {"metric": "my-test-metric-1", "value": 10.0, "success": true}}]}]"#;

/// TestEvaluateObjectives I1–I4, I9, I10.
#[test]
fn keptn_objectives() {
    let s = slo(SLO_A);
    let e = evaluate(&s, &[sli("my-test-metric-1", 10.0)], &previous(PREV_10));
    let i = first(&e);
    assert_eq!((i.status, i.score), (Status::Pass, 1.0), "I1");
    assert_eq!(
        i.pass_targets,
        vec![t("<=15.0", 15.0, false), t("<=+10%", 11.0, false)],
        "I1"
    );
    assert_eq!(
        i.warning_targets,
        vec![t("<=20.0", 20.0, false), t("<=+15%", 11.5, false)],
        "I1"
    );
    assert_eq!((e.result, e.score), (Outcome::Pass, 100.0), "I1");

    let e = evaluate(&s, &[sli("my-test-metric-1", 16.0)], &previous(PREV_10));
    let i = first(&e);
    assert_eq!((i.status, i.score), (Status::Warning, 0.5), "I2");
    assert_eq!(
        i.pass_targets,
        vec![t("<=15.0", 15.0, true), t("<=+10%", 11.0, true)],
        "I2"
    );
    assert_eq!(
        i.warning_targets,
        vec![t("<=20.0", 20.0, false), t("<=+15%", 11.5, true)],
        "I2"
    );
    assert_eq!(
        (e.result, e.score),
        (Outcome::Fail, 50.0),
        "I2: 50 is below the 75% warning"
    );

    for (name, extra) in [
        ("I3", "  - sli: my-log-metric\n    weight: 1\n"),
        (
            "I4",
            "  - sli: my-log-metric\n    pass: []\n    warning: []\n    weight: 1\n",
        ),
    ] {
        let text = SLO_A.replace("total_score:", &format!("{extra}total_score:"));
        let e = evaluate(
            &slo(&text),
            &[sli("my-test-metric-1", 10.0), sli("my-log-metric", 30.0)],
            &previous(PREV_10),
        );
        let log = &e.indicator_results[1];
        assert_eq!((log.status, log.score), (Status::Info, 0.0), "{name}");
        assert_eq!(log.value.as_ref().unwrap().value, 30.0, "{name}");
        assert_eq!(
            (e.result, e.score),
            (Outcome::Pass, 100.0),
            "{name}: info does not count"
        );
    }

    // I9: no value; I10: the provider failed. Relative targets show the unadjusted baseline.
    let failed = SliValue {
        success: false,
        message: "could not get data".into(),
        ..sli("my-test-metric-1", 0.0)
    };
    for (name, measured, message) in [
        ("I9", vec![], "no value received from SLI provider"),
        ("I10", vec![failed], "could not get data"),
    ] {
        let e = evaluate(&s, &measured, &previous(PREV_10));
        let i = first(&e);
        assert_eq!((i.status, i.score), (Status::Fail, 0.0), "{name}");
        assert_eq!(i.value.as_ref().unwrap().message, message, "{name}");
        assert_eq!(
            i.pass_targets,
            vec![t("<=15.0", 15.0, true), t("<=+10%", 10.0, true)],
            "{name}"
        );
        assert_eq!(
            i.warning_targets,
            vec![t("<=20.0", 20.0, true), t("<=+15%", 10.0, true)],
            "{name}"
        );
        assert_eq!((e.result, e.score), (Outcome::Fail, 0.0), "{name}");
    }
}

/// I5 (BUG 1125) and I6 (BUG 1263): no usable baseline.
#[test]
fn keptn_missing_baselines() {
    let s = slo(
        "comparison: {compare_with: several_results, include_result_with_score: pass, number_of_comparison_results: 2, aggregate_function: avg}\n\
         objectives:\n  - sli: response_time_p50\n    pass: [{criteria: [\"<=+20%\", \"<500\"]}]\n    weight: 1\n\
         total_score: {pass: \"90%\", warning: \"75%\"}\n",
    );
    let e = evaluate(&s, &[sli("response_time_p50", 1011.0745528937252)], &[]);
    let i = first(&e);
    assert_eq!(i.status, Status::Fail, "I5");
    assert_eq!(
        i.pass_targets[0].target_value, 0.0,
        "I5: Keptn's target without a baseline"
    );
    assert!(
        !i.pass_targets[0].violated && i.pass_targets[0].no_baseline,
        "I5"
    );
    assert_eq!(i.pass_targets[1], t("<500", 500.0, true), "I5");

    let s = slo(
        "comparison: {compare_with: single_result, include_result_with_score: pass, number_of_comparison_results: 1, aggregate_function: avg}\n\
         objectives:\n  - sli: response_time_p50\n    pass: [{criteria: [\"<=+20%\"]}]\n    weight: 1\n\
         total_score: {pass: \"90%\", warning: \"75%\"}\n",
    );
    let prev = r#"[{"result": "pass", "indicatorResults": [{"value": {"metric": "response_time_p50", "value": 0.0, "success": false}}]}]"#;
    let e = evaluate(&s, &[sli("response_time_p50", 100.0)], &previous(prev));
    assert_eq!(
        (first(&e).status, e.result, e.score),
        (Status::Pass, Outcome::Pass, 100.0),
        "I6"
    );
    assert!(
        e.no_baseline && e.reason.contains("without a baseline"),
        "{}",
        e.reason
    );
}

/// I7: an objective whose SLI did not come; relative targets from the other evaluations.
#[test]
fn keptn_objective_without_its_sli() {
    let s = slo(&SLO_A.replace("my-test-metric-1", "a_different_metric"));
    let prev = r#"[
      {"result": "pass", "indicatorResults": [
        {"value": {"metric": "my-test-metric-1", "value": 10.0, "success": true}},
        {"value": {"metric": "a_different_metric", "value": 5.0, "success": true}}]},
      {"result": "pass", "indicatorResults": [
        {"value": {"metric": "my-test-metric-1", "value": 10.0, "success": true}},
        {"value": null}]}
    ]"#;
    let e = evaluate(&s, &[sli("my-test-metric-1", 10.0)], &previous(prev));
    let i = first(&e);
    assert_eq!(i.status, Status::Fail);
    assert_eq!(
        i.pass_targets,
        vec![t("<=15.0", 15.0, true), t("<=+10%", 5.0, true)]
    );
    assert_eq!(
        i.warning_targets,
        vec![t("<=20.0", 20.0, true), t("<=+15%", 5.0, true)]
    );
}

/// TestCalculateScore J1, J2 and J6 (J3–J5 hand in scores no objective can produce).
#[test]
fn keptn_total_scores_and_key_slis() {
    let two = |key: &str| {
        slo(&format!(
            "objectives:\n  - sli: a\n    pass: [{{criteria: [\"<=10\"]}}]\n  - sli: cpu\n    displayName: cpu time\n    key_sli: {key}\n    pass: [{{criteria: [\"<=10\"]}}]\n\
             total_score: {{pass: \"90%\", warning: \"75%\"}}\n"
        ))
    };
    let e = evaluate(&two("false"), &[sli("a", 1.0), sli("cpu", 1.0)], &[]);
    assert_eq!((e.result, e.score), (Outcome::Pass, 100.0), "J1");
    let e = evaluate(&two("true"), &[sli("a", 1.0), sli("cpu", 50.0)], &[]);
    assert_eq!((e.result, e.score), (Outcome::Fail, 50.0), "J2");
    assert!(e.reason.contains("key SLI cpu time failed"), "{}", e.reason);
    let e = evaluate(&two("false"), &[sli("a", 1.0), sli("cpu", 50.0)], &[]);
    assert_eq!(
        (e.result, e.score),
        (Outcome::Fail, 50.0),
        "not key: below the warning target"
    );
    // A key SLI in warning is not a key failure.
    let warn = two("true").objectives;
    let mut s = two("true");
    s.objectives = warn;
    s.objectives[1].warning = vec![vec![criteria::parse_criterion("<=100").unwrap()]];
    let e = evaluate(&s, &[sli("a", 1.0), sli("cpu", 50.0)], &[]);
    assert_eq!((e.result, e.score), (Outcome::Warning, 75.0));
    // J6: an info objective beside a judged one.
    let s = slo("objectives:\n  - sli: a\n    pass: [{criteria: [\"<=10\"]}]\n  - sli: b\ntotal_score: {pass: \"90%\"}\n");
    let e = evaluate(&s, &[sli("a", 1.0), sli("b", 1.0)], &[]);
    assert_eq!((e.result, e.score), (Outcome::Pass, 100.0), "J6");
}

/// Which earlier evaluations count: filtered by their result, then the N newest.
#[test]
fn keptn_comparison_selection() {
    let s = one_objective("[{criteria: [\"<=+0%\"]}]", "avg");
    let prev = r#"[
      {"result": "fail", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 100.0, "success": true}}]},
      {"result": "pass", "id": "e2", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 10.0, "success": true}}]},
      {"result": "warning", "id": "e3", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 20.0, "success": true}}]},
      {"result": "pass", "id": "e4", "indicatorResults": [{"value": {"metric": "my-test-metric", "value": 30.0, "success": true}}]}
    ]"#;
    let e = evaluate(&s, &[sli("my-test-metric", 20.0)], &previous(prev));
    assert_eq!(
        first(&e).pass_targets[0].target_value,
        20.0,
        "pass only: e2 and e4"
    );
    assert_eq!(e.compared_evaluations, vec!["e2", "e4"]);
    let all = slo(&SLO_A
        .replace(
            "include_result_with_score: pass",
            "include_result_with_score: all",
        )
        .replace("my-test-metric-1", "my-test-metric"));
    let e = evaluate(&all, &[sli("my-test-metric", 20.0)], &previous(prev));
    assert_eq!(
        first(&e).value.as_ref().unwrap().compared_value,
        55.0,
        "all: the 2 newest"
    );
    let warn = slo(&SLO_A
        .replace(
            "include_result_with_score: pass",
            "include_result_with_score: pass_or_warn",
        )
        .replace("my-test-metric-1", "my-test-metric"));
    let e = evaluate(&warn, &[sli("my-test-metric", 20.0)], &previous(prev));
    assert_eq!(
        first(&e).value.as_ref().unwrap().compared_value,
        15.0,
        "pass_or_warn: e2, e3"
    );
}

/// TestParseLO M1–M4: defaults.
#[test]
fn keptn_file_defaults() {
    let m1 = slo(r#"---
spec_version: '1.0'
filter:
  id: "<prometheus_scrape_job_id>"
comparison:
  compare_with: "single_result"
  include_result_with_score: "pass"
  number_of_comparison_results: 3
  aggregate_function: avg
objectives:
  - sli: responseTime95
    pass:
      - criteria:
          - "<=+10%"
      - criteria:
          - "<200"
    warning:
      - criteria:
          - "<+15%"
          - ">-8%"
          - "<500"
  - null
  - sli: security_vulnerabilities
    weight: 2
    pass:
      - criteria:
          - "=0"
  - sli: sql_statements
    key_sli: true
    pass:
      - criteria:
          - "=0%"
      - criteria:
          - "<100"
    warning:
      - criteria:
          - "<+5%"
          - ">-5%"
total_score:
  pass: "90%"
  warning: 75%
"#);
    assert_eq!(m1.filter["id"], "<prometheus_scrape_job_id>");
    assert_eq!(
        m1.comparison.results,
        Some(1),
        "single_result compares with one"
    );
    assert_eq!(m1.comparison.include, IncludeResults::Pass);
    assert_eq!(m1.objectives.len(), 3, "null dropped");
    assert_eq!(
        m1.objectives
            .iter()
            .map(|o| (o.weight, o.key_sli))
            .collect::<Vec<_>>(),
        vec![(1.0, false), (2.0, false), (1.0, true)]
    );
    assert_eq!((m1.pass_score, m1.warning_score), (90.0, Some(75.0)));

    let m2 = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: 90%}\n",
    );
    assert_eq!(m2.comparison.results, Some(1));
    assert_eq!(m2.comparison.include, IncludeResults::All);
    assert_eq!(m2.comparison.aggregate, Aggregate::Avg);

    let m4 = slo("comparison:\n  include_result_with_score: pass\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: 90%}\n");
    assert_eq!(m4.comparison.results, Some(3), "compare_with missing: 3");
    let several = slo("comparison: {compare_with: several_results, number_of_comparison_results: -1}\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: 90%}\n");
    assert_eq!(several.comparison.results, None, "negative: all history");

    let json = slo(
        r#"{"objectives": [{"sli": "a", "pass": [{"criteria": ["<1"]}], "weight": 0}], "total_score": {"pass": "90%"}}"#,
    );
    assert_eq!(
        json.objectives[0].weight, 1.0,
        "JSON too; weight 0 counts as 1"
    );
}

/// The deliberate differences from Keptn, each failing closed.
#[test]
fn only_info_objectives_fail_with_nothing_to_judge() {
    let s = slo("objectives:\n  - sli: a\n  - sli: b\ntotal_score: {pass: \"90%\"}\n");
    let e = evaluate(&s, &[sli("a", 1.0), sli("b", 2.0)], &[]);
    assert_eq!((e.result, e.score), (Outcome::Fail, 0.0));
    assert!(e.reason.starts_with("nothing to judge"), "{}", e.reason);
}

#[test]
fn require_baseline_makes_a_missing_baseline_a_violation() {
    let text = "comparison: {compare_with: single_result, require_baseline: true}\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<=+10%\"]}]\ntotal_score: {pass: \"90%\"}\n";
    let e = evaluate(&slo(text), &[sli("a", 1.0)], &[]);
    assert_eq!(e.result, Outcome::Fail);
    let target = &first(&e).pass_targets[0];
    assert!(target.violated && target.no_baseline, "{target:?}");
}

#[test]
fn file_problems_name_line_column_and_path() {
    let cases = [
        (
            "objectives:\n  - sli: a\n    pass:\n      - criteria: [\"<=10ms\"]\ntotal_score: {pass: \"90%\"}\n",
            "slo.yaml:4:20: objectives[0].pass[0].criteria[0]: \"<=10ms\" has no plain number",
        ),
        (
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n    weight: 1.5\ntotal_score: {pass: \"90%\"}\n",
            "objectives[0].weight: 1.5 is not a whole number",
        ),
        (
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"ninety\"}\n",
            "total_score.pass: \"ninety\" is not a percentage",
        ),
        (
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n",
            "slo.yaml:1:1: total_score: is missing",
        ),
        ("objectives: []\ntotal_score: {pass: \"90%\"}\n", "objectives: is empty"),
        (
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n",
            "objectives[1].sli: \"a\" is judged by an earlier objective already",
        ),
        (
            "comparison: {aggregate_function: median}\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n",
            "comparison.aggregate_function: \"median\" is not avg, p50, p90 or p95",
        ),
        (
            "objectives:\n  - sli: a\n    pass: [{criteria: []}]\ntotal_score: {pass: \"90%\"}\n",
            "objectives[0].pass[0].criteria: is empty",
        ),
        ("invalid", "slo.yaml:1:1:"),
    ];
    for (text, expected) in cases {
        let e = parse_slo("slo.yaml", text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text}\n→ {e}");
    }
}

/// Seed 001 indents `pass` under `sli`'s level wrongly: the reader says where.
#[test]
fn a_mis_indented_file_gets_a_located_message() {
    let text = "objectives:\n  - sli: response_time_p95\n  pass:\n    - criteria:\n        - \"<=+10%\"\ntotal_score:\n  pass: \"90%\"\n";
    let e = parse_slo("slo.yaml", text).unwrap_err();
    assert!(e.problems[0].line >= 3, "{e}");
    assert!(e.to_string().starts_with("slo.yaml:"), "{e}");
}

#[test]
fn sli_files_map_names_to_queries() {
    let f = parse_sli(
        "sli.yaml",
        "spec_version: '1.0'\nindicators:\n  response_time_p95: histogram_quantile(0.95, sum(rate(http_duration_bucket[$DURATION_SECONDS])) by (le))\n",
    )
    .unwrap();
    assert!(f.indicators["response_time_p95"].starts_with("histogram_quantile"));
    let e = parse_sli("sli.yaml", "indicators:\n  a: \"\"\n").unwrap_err();
    assert!(
        e.to_string().contains("indicators.a: has an empty query"),
        "{e}"
    );
    let e = parse_sli("sli.yaml", "spec_version: '1.0'\n").unwrap_err();
    assert!(e.to_string().contains("indicators: is missing"), "{e}");
}

/// A value of the wrong type is one problem at its place with its path, and the file's other
/// problems are still found (a typed read stopped at the first one, without a path).
#[test]
fn a_wrong_type_keeps_its_path_and_does_not_hide_the_other_problems() {
    let text = "spec_version: \"1.0\"\nobjectives:\n  - sli: a\n    pass:\n      - criteria: [\"<1\"]\n    key_sli: perhaps\n    weight: \"high\"\n  - sli: b\n    pass:\n      - criteria: \"<=800\"\n  - sli: c\n    warning: \"<=5\"\ntotal_score: {pass: \"ninety\"}\n";
    let e = parse_slo("slo.yaml", text).unwrap_err().to_string();
    let expected = [
        "slo.yaml:6:14: objectives[0].key_sli: \"perhaps\" is not true or false; write key_sli: true",
        "slo.yaml:7:13: objectives[0].weight: \"high\" is not a number; write e.g. weight: 2",
        "slo.yaml:10:19: objectives[1].pass[0].criteria: \"<=800\" is not a list: criteria must be a list, e.g. criteria: [\"<=800\"]",
        "slo.yaml:12:14: objectives[2].warning: \"<=5\" is not a list",
        "total_score.pass: \"ninety\" is not a percentage",
    ];
    for line in expected {
        assert!(e.contains(line), "missing {line}\nin:\n{e}");
    }
    assert_eq!(e.lines().count(), expected.len(), "{e}");
}

#[test]
fn keptn_spec_versions_only_and_lint_requires_one() {
    let body =
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n";
    let e = parse_slo("slo.yaml", &format!("spec_version: banana\n{body}"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("slo.yaml:1:15: spec_version: \"banana\" is not an slo.yaml version: write `spec_version: \"1.0\"`"),
        "{e}"
    );
    assert!(
        parse_slo("slo.yaml", body).is_ok(),
        "the pipeline still reads old files"
    );
    let e = lint_slo("slo.yaml", body).unwrap_err().to_string();
    assert!(
        e.contains(
            "slo.yaml:1:1: spec_version: is missing: start the file with `spec_version: \"1.0\"`"
        ),
        "{e}"
    );
    for version in ["\"0.1.0\"", "'1.0'", "\"0.1.1\""] {
        assert!(
            lint_slo("slo.yaml", &format!("spec_version: {version}\n{body}")).is_ok(),
            "{version}"
        );
    }
}

#[test]
fn scores_over_100_percent_and_several_results_of_none_are_refused() {
    let objectives =
        "spec_version: \"1.0\"\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n";
    let e = parse_slo(
        "slo.yaml",
        &format!("{objectives}total_score: {{pass: \"90%\", warning: \"950%\"}}\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("total_score.warning: \"950%\" is not between 0% and 100%"),
        "{e}"
    );
    let e = parse_slo(
        "slo.yaml",
        &format!("comparison: {{compare_with: several_results, number_of_comparison_results: 0}}\n{objectives}total_score: {{pass: \"90%\"}}\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(
            "comparison.number_of_comparison_results: 0 compares with no earlier evaluation"
        ),
        "{e}"
    );
    let e = parse_slo(
        "slo.yaml",
        &format!("comparison: {{compare_with: several_results, number_of_comparison_results: three}}\n{objectives}total_score: {{pass: \"90%\"}}\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("comparison.number_of_comparison_results: \"three\" is not a whole number"),
        "{e}"
    );
}

#[test]
fn an_objective_without_a_query_is_named_at_its_place() {
    let s = slo("spec_version: \"1.0\"\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n  - null\n  - sli: response_time_p95\ntotal_score: {pass: \"90%\"}\n");
    let sli = parse_sli("sli.yaml", "indicators:\n  a: up\n  error_rate: up\n").unwrap();
    let e = missing_queries("slo.yaml", &s, "sli.yaml", &sli)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "slo.yaml:6:10: objectives[2].sli: \"response_time_p95\" has no query in sli.yaml (it has a, error_rate): add `response_time_p95: <query>` under its indicators, or correct the name"
    );
    let all = parse_sli(
        "sli.yaml",
        "indicators:\n  a: up\n  response_time_p95: up\n",
    )
    .unwrap();
    assert!(missing_queries("slo.yaml", &s, "sli.yaml", &all).is_ok());
}
