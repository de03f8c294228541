//! Scoring: Kayenta's ScorerSuite, then our rules.

use super::*;
use crate::compare::classify::Classification::{High, Low, Nodata, NodataFail, Pass};

/// A metric as Kayenta's ScorerSuite builds one: a name, a label, its groups.
struct M {
    name: &'static str,
    classification: Classification,
    groups: Vec<String>,
    critical: bool,
    muted: bool,
}

fn m(name: &'static str, classification: Classification, groups: &[&str]) -> M {
    M {
        name,
        classification,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        critical: false,
        muted: false,
    }
}

fn critical(mut metric: M) -> M {
    metric.critical = true;
    metric
}

fn muted(mut metric: M) -> M {
    metric.muted = true;
    metric
}

fn scored(metrics: &[M], weights: &[(&str, f64)]) -> Score {
    let weights = weights.iter().map(|(g, w)| (g.to_string(), *w)).collect();
    score(
        metrics.iter().map(|m| Scored {
            name: m.name,
            groups: &m.groups,
            classification: m.classification,
            critical: m.critical,
            muted: m.muted,
        }),
        &weights,
    )
}

// Kayenta's ScorerSuite: all 13 scores hold.

#[test]
fn kayenta_single_metric_pass() {
    assert_eq!(scored(&[m("a", Pass, &["test-group"])], &[]).score, 100.0);
}

#[test]
fn kayenta_single_metric_fail() {
    assert_eq!(scored(&[m("a", High, &["test-group"])], &[]).score, 0.0);
}

#[test]
fn kayenta_single_group_nodata() {
    let s = scored(&[m("a", Nodata, &["test-group-nodata"])], &[]);
    assert_eq!(
        s.groups,
        vec![GroupScore {
            name: "test-group-nodata".into(),
            score: 0.0,
            no_data: true
        }]
    );
    assert_eq!(s.score, 0.0);
}

#[test]
fn kayenta_two_groups_one_pass_one_nodata() {
    let s = scored(
        &[
            m("a", Pass, &["test-group-pass"]),
            m("b", Pass, &["test-group-pass"]),
            m("c", Nodata, &["test-group-nodata"]),
        ],
        &[],
    );
    let scores: Vec<f64> = s.groups.iter().map(|g| g.score).collect();
    assert_eq!(scores, vec![100.0, 0.0]);
    assert_eq!(s.score, 100.0, "a group without data counts 100");
}

#[test]
fn kayenta_one_group_two_metrics() {
    let s = scored(&[m("a", Pass, &["g"]), m("b", High, &["g"])], &[]);
    assert_eq!(s.score, 50.0);
}

#[test]
fn kayenta_one_group_three_metrics() {
    let s = scored(
        &[
            m("a", Pass, &["g"]),
            m("b", High, &["g"]),
            m("c", Low, &["g"]),
        ],
        &[],
    );
    assert_eq!(s.score, 33.33);
}

#[test]
fn kayenta_two_groups_three_metrics() {
    let s = scored(
        &[
            m("a", Pass, &["group-1"]),
            m("b", Pass, &["group-1"]),
            m("c", High, &["group-2"]),
        ],
        &[("group-1", 75.0), ("group-2", 25.0)],
    );
    assert_eq!(s.score, 75.0);
}

#[test]
fn kayenta_two_groups_three_metrics_equal_weight() {
    let s = scored(
        &[
            m("a", Pass, &["group-1"]),
            m("b", High, &["group-1"]),
            m("c", High, &["group-2"]),
        ],
        &[("group-1", 50.0), ("group-2", 50.0)],
    );
    assert_eq!(s.score, 25.0);
}

#[test]
fn kayenta_two_groups_three_metrics_equal_weight_one_nodata() {
    let s = scored(
        &[
            m("a", Pass, &["group-1"]),
            m("b", Nodata, &["group-1"]),
            m("c", High, &["group-2"]),
        ],
        &[("group-1", 50.0), ("group-2", 50.0)],
    );
    assert_eq!(s.score, 50.0);
}

#[test]
fn kayenta_one_good_one_critical_fail() {
    let s = scored(&[m("a", Pass, &["g"]), critical(m("b", High, &["g"]))], &[]);
    assert_eq!(s.score, 0.0);
    assert_eq!(
        s.reason.as_deref(),
        Some("critical metric b is high: the score is 0")
    );
}

#[test]
fn kayenta_one_low_one_good_critical() {
    let s = scored(&[m("a", Low, &["g"]), critical(m("b", Pass, &["g"]))], &[]);
    assert_eq!(s.score, 50.0);
}

#[test]
fn kayenta_one_good_one_critical_nodata() {
    let s = scored(
        &[m("a", Pass, &["g"]), critical(m("b", Nodata, &["g"]))],
        &[],
    );
    assert_eq!(s.score, 0.0);
}

#[test]
fn kayenta_two_groups_unequal_weight_four_metrics() {
    let s = scored(
        &[
            m("a", High, &["group1"]),
            m("b", Low, &["group1"]),
            m("c", Pass, &["group1"]),
            m("d", High, &["group2"]),
        ],
        &[("group1", 15.0), ("group2", 85.0)],
    );
    assert_eq!(s.score, 5.0);
}

// Our rules.

#[test]
fn nodata_fail_counts_against_its_group_and_nodata_does_not() {
    let s = scored(
        &[
            m("a", Pass, &["g"]),
            m("b", NodataFail, &["g"]),
            m("c", Nodata, &["g"]),
        ],
        &[],
    );
    assert_eq!(s.groups[0].score, 50.0);
    assert_eq!(s.score, 50.0);
}

#[test]
fn half_of_the_metrics_without_data_zero_the_score() {
    let s = scored(
        &[
            m("a", Pass, &["g"]),
            m("b", Nodata, &["g"]),
            m("c", Nodata, &["h"]),
            m("d", Pass, &["h"]),
        ],
        &[],
    );
    assert_eq!(s.score, 0.0);
    assert_eq!(
        s.reason.as_deref(),
        Some("2 of 4 scored metrics have no data (50 % or more): the score is 0")
    );
    let s = scored(
        &[
            m("a", Pass, &["g"]),
            m("b", Nodata, &["g"]),
            m("c", Pass, &["g"]),
        ],
        &[],
    );
    assert_eq!((s.score, s.reason), (100.0, None));
}

#[test]
fn muted_metrics_are_not_scored() {
    let s = scored(
        &[
            m("a", Pass, &["g"]),
            muted(m("b", High, &["g"])),
            muted(critical(m("c", High, &["muted-only"]))),
        ],
        &[],
    );
    assert_eq!(s.score, 100.0);
    assert_eq!(
        s.groups.len(),
        1,
        "a group of muted metrics only is not scored"
    );
}

#[test]
fn no_scored_metric_scores_0() {
    let s = scored(&[muted(m("a", Pass, &["g"]))], &[]);
    assert_eq!(s.score, 0.0);
    assert!(s.reason.unwrap().starts_with("no metric is scored"));
    let s = scored(&[], &[]);
    assert_eq!((s.score, s.groups.len()), (0.0, 0));
}

#[test]
fn groups_without_a_weight_share_what_is_left() {
    // 60 for "a" (0), the remaining 40 shared by "b" (100) and "c" (50): 20 + 10.
    let s = scored(
        &[
            m("1", High, &["a"]),
            m("2", Pass, &["b"]),
            m("3", Pass, &["c"]),
            m("4", High, &["c"]),
        ],
        &[("a", 60.0)],
    );
    assert_eq!(s.score, 30.0);
    // A weighted group that has no metric still takes its share from the others.
    let s = scored(&[m("1", Pass, &["b"])], &[("absent", 30.0)]);
    assert_eq!(s.score, 70.0);
}

#[test]
fn a_metric_in_two_groups_counts_in_both() {
    let s = scored(&[m("1", High, &["a", "b"]), m("2", Pass, &["b"])], &[]);
    assert_eq!((s.groups[0].score, s.groups[1].score), (0.0, 50.0));
    assert_eq!(s.score, 25.0);
}

#[test]
fn groups_are_listed_in_first_appearance_order() {
    let s = scored(
        &[
            m("1", Pass, &["zeta"]),
            m("2", Pass, &["alpha", "zeta"]),
            m("3", Pass, &["mid"]),
        ],
        &[],
    );
    let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["zeta", "alpha", "mid"]);
}

#[test]
fn the_score_rounds_half_up_on_its_shortest_decimal_form() {
    assert_eq!(round_half_up(66.665, 2), 66.67);
    assert_eq!(round_half_up(33.33333333333333, 2), 33.33);
    assert_eq!(round_half_up(99.995, 2), 100.0);
    assert_eq!(round_half_up(0.005, 2), 0.01);
    assert_eq!(round_half_up(12.5, 2), 12.5);
    assert_eq!(round_half_up(-1.005, 2), -1.01);
    // Three groups of 1/3 each with one pass of three metrics … 66.67 for two of three.
    let s = scored(
        &[
            m("1", Pass, &["a"]),
            m("2", Pass, &["b"]),
            m("3", High, &["c"]),
        ],
        &[],
    );
    assert_eq!(s.score, 66.67);
}

#[test]
fn the_result_follows_the_thresholds() {
    let t = ScoreThresholds {
        pass: 95.0,
        marginal: 75.0,
    };
    assert_eq!(result_of(95.0, t), RunResult::Pass);
    assert_eq!(result_of(94.99, t), RunResult::Marginal);
    assert_eq!(result_of(75.0, t), RunResult::Marginal);
    assert_eq!(result_of(74.99, t), RunResult::Fail);
    assert_eq!(result_of(0.0, t), RunResult::Fail);
}
