//! The classification paths of the spec's §3.3, each deviation from Kayenta that shows in a
//! classification, and Kayenta's own ClassifierSuite, case by case (its data and settings in
//! `testdata/kayenta_classifier_suite.json`, extracted from the Scala source).

use super::*;
use crate::compare::config::{EffectSize, OutlierStrategy};
use serde_json::Value;

fn metric() -> MetricConfig {
    MetricConfig::named("latency")
}

fn judged(m: &MetricConfig, control: &[f64], experiment: &[f64]) -> MetricResult {
    classify_values(m, control, experiment, 0.8)
}

/// A case of Kayenta's ClassifierSuite with the classifier it constructs: tolerance,
/// confLevel, effect-size and critical thresholds as (decrease, increase), the direction, the
/// NaN strategy and isCriticalMetric; mustHaveData is Kayenta's default, false.
fn kayenta(name: &str) -> MetricResult {
    let suite: Value =
        serde_json::from_str(include_str!("testdata/kayenta_classifier_suite.json")).unwrap();
    let case = &suite["cases"][name];
    assert!(case.is_object(), "no case {name}");
    let values = |key: &str| -> Vec<f64> {
        case[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let mut m = metric();
    m.tolerance = case["tolerance"].as_f64().unwrap();
    m.confidence_level = case["confLevel"].as_f64().unwrap();
    m.direction = match case["direction"].as_str().unwrap() {
        "increase" => Direction::Increase,
        "decrease" => Direction::Decrease,
        _ => Direction::Either,
    };
    m.nan_strategy = match case["nanStrategy"].as_str().unwrap() {
        "replace" => NanStrategy::Replace,
        _ => NanStrategy::Remove,
    };
    m.critical = case["isCriticalMetric"].as_bool().unwrap();
    let measure = match case["effectSizeMeasure"].as_str().unwrap() {
        "cles" => EffectMeasure::Cles,
        _ => EffectMeasure::MeanRatio,
    };
    m.effect_size = EffectSize::neutral(measure);
    let pair = |key: &str| {
        case[key]
            .as_array()
            .map(|t| (t[0].as_f64().unwrap(), t[1].as_f64().unwrap()))
    };
    if let Some((decrease, increase)) = pair("effectSizeThresholds") {
        m.effect_size.allowed_decrease = decrease;
        m.effect_size.allowed_increase = increase;
    }
    if let Some((decrease, increase)) = pair("criticalThresholds") {
        m.effect_size.critical_decrease = decrease;
        m.effect_size.critical_increase = increase;
    }
    judged(&m, &values("control"), &values("experiment"))
}

// Kayenta's ClassifierSuite: every assertion holds unchanged.

#[test]
fn kayenta_classifier_test_pass_metric() {
    let r = kayenta("Mann-Whitney Classifier Test: Pass Metric");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_high_metric() {
    let r = kayenta("Mann-Whitney Classifier Test: High Metric");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_low_metric() {
    let r = kayenta("Mann-Whitney Classifier Test: Low Metric");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
}

#[test]
fn kayenta_classifier_directional_test_increase() {
    let r = kayenta("Mann-Whitney Classifier Directional Test: Increase");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_directional_test_decrease() {
    let r = kayenta("Mann-Whitney Classifier Directional Test: Decrease");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_directional_test_high_metric() {
    let r = kayenta("Mann-Whitney Classifier Directional Test: High Metric");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(!r.critical);
}

#[test]
fn kayenta_classifier_directional_test_low_metric() {
    let r = kayenta("Mann-Whitney Classifier Directional Test: Low Metric");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_high_metric_large_input() {
    let r = kayenta("Mann-Whitney Classifier Test: High Metric (Large Input)");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(!r.critical);
}

#[test]
fn kayenta_classifier_test_mean_ratio_effect_size_high() {
    let r = kayenta("Mann-Whitney Classifier Test - Mean Ratio Effect Size: High");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_mean_ratio_effect_size_low() {
    let r = kayenta("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Low");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_mean_ratio_effect_size_pass() {
    let r = kayenta("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_mean_ratio_effect_size_pass_large_input() {
    let r = kayenta("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass (Large Input)");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_cles_effect_size_pass() {
    let r = kayenta("Mann-Whitney Classifier Test - CLES Effect Size: Pass");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_cles_effect_size_high() {
    let r = kayenta("Mann-Whitney Classifier Test - CLES Effect Size: High");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_cles_effect_size_low() {
    let r = kayenta("Mann-Whitney Classifier Test - CLES Effect Size: Low");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
}

#[test]
fn kayenta_classifier_test_critical_effect_size_critical_high() {
    let r = kayenta("Mann-Whitney Classifier Test - Critical Effect Size: Critical High");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(r.critical);
}

#[test]
fn kayenta_classifier_test_critical_effect_size_critical_low() {
    let r = kayenta("Mann-Whitney Classifier Test - Critical Effect Size: Critical Low");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
    assert!(r.critical);
}

#[test]
fn kayenta_classifier_test_critical_effect_size_high() {
    let r = kayenta("Mann-Whitney Classifier Test - Critical Effect Size: High");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(!r.critical);
}

#[test]
fn kayenta_classifier_test_critical_effect_size_pass() {
    let r = kayenta("Mann-Whitney Classifier Test - Critical Effect Size: Pass");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
    assert!(!r.critical);
}

#[test]
fn kayenta_classifier_test_critical_effect_size_critical_high_default_thresholds() {
    let r = kayenta(
        "Mann-Whitney Classifier Test - Critical Effect Size: Critical High (Default Thresholds)",
    );
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(r.critical);
}

#[test]
fn kayenta_tied_observations() {
    let r = kayenta("Mann-Whitney Tied Observations");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_identical_populations() {
    let r = kayenta("Mann-Whitney Identical Populations");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_leading_zero_identical_population() {
    let r = kayenta("Mann-Whitney Leading Zero Identical Population");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_missing_experiment_data() {
    let r = kayenta("Mann-Whitney Missing Experiment Data");
    assert_eq!(r.classification, Classification::Nodata, "{}", r.reason);
}

#[test]
fn kayenta_missing_experiment_data_critical_metric() {
    let r = kayenta("Mann-Whitney Missing Experiment Data: Critical Metric");
    assert_eq!(r.classification, Classification::Nodata, "{}", r.reason);
    assert!(r.critical);
}

#[test]
fn kayenta_missing_experiment_data_with_nan_replacement() {
    let r = kayenta("Mann-Whitney Missing Experiment Data with NaN Replacement");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_missing_data_reason_string() {
    let r = kayenta("Mann-Whitney Missing Data: Reason String");
    assert!(!r.reason.is_empty());
}

#[test]
fn kayenta_majority_tied_observations() {
    let r = kayenta("Mann-Whitney Majority Tied Observations");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
}

#[test]
fn kayenta_tied_ranks() {
    let r = kayenta("Mann-Whitney Tied Ranks");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
}

#[test]
fn kayenta_tied_ranks_with_zeros() {
    let r = kayenta("Mann-Whitney Tied Ranks With Zeros");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
}

#[test]
fn kayenta_zero_mean_high_metric_with_effect_size() {
    let r = kayenta("Mann-Whitney Zero Mean: High Metric with Effect Size");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(r.deviation.is_nan());
}

#[test]
fn kayenta_zero_mean_low_metric_with_effect_size() {
    let r = kayenta("Mann-Whitney Zero Mean: Low Metric with Effect Size");
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
    assert!(r.deviation.is_nan());
}

#[test]
fn kayenta_zero_mean_critical_metric() {
    let r = kayenta("Mann-Whitney Zero Mean: Critical Metric");
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert!(r.critical);
}

#[test]
fn kayenta_zero_mean_pass_metric() {
    let r = kayenta("Mann-Whitney Zero Mean: Pass Metric");
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
    assert_eq!(r.deviation, 1.0);
}

// 1. No data.

#[test]
fn no_data_under_remove_is_nodata_and_not_critical() {
    let r = judged(&metric(), &[1.0, 2.0], &[]);
    assert_eq!(r.classification, Classification::Nodata);
    assert!(!r.critical);
    assert_eq!(
        r.reason,
        "no data in the experiment (nanStrategy remove); not scored in its group"
    );
    assert_eq!(
        (r.deviation, r.effect_size, r.mann_whitney),
        (1.0, None, None)
    );
    assert_eq!(r.power, None, "no statement of power with an empty side");
    assert_eq!(r.control.count, 2);
}

#[test]
fn no_data_with_must_have_data_is_nodata_fail() {
    let mut m = metric();
    m.must_have_data = true;
    let r = judged(&m, &[], &[1.0]);
    assert_eq!(r.classification, Classification::NodataFail);
    assert!(!r.critical);
    assert_eq!(
        r.reason,
        "no data in the control (nanStrategy remove); mustHaveData is set, so it counts as a failed metric"
    );
}

#[test]
fn no_data_of_a_critical_metric_is_critical_nodata_even_with_must_have_data() {
    let mut m = metric();
    m.critical = true;
    m.must_have_data = true;
    let r = judged(&m, &[], &[]);
    assert_eq!(r.classification, Classification::Nodata);
    assert!(r.critical);
    assert_eq!(
        r.reason,
        "no data in the control and the experiment (nanStrategy remove); the metric is critical, so the run fails"
    );
}

#[test]
fn an_empty_series_under_replace_passes_without_must_have_data() {
    let mut m = metric();
    m.nan_strategy = NanStrategy::Replace;
    let r = classify_metric(&m, &[Some(1.0), None], &[], 0.8);
    assert_eq!(r.classification, Classification::Pass);
    assert!(r
        .reason
        .starts_with("no data in the experiment; under nanStrategy replace"));
    assert_eq!((r.deviation, r.mann_whitney), (1.0, None));
    assert_eq!(r.control.count, 2, "the missing point became 0");
}

#[test]
fn must_have_data_is_honoured_under_replace_d4() {
    // Kayenta passes it (kayenta#700).
    let mut m = metric();
    m.nan_strategy = NanStrategy::Replace;
    m.must_have_data = true;
    assert_eq!(
        classify_metric(&m, &[Some(1.0)], &[], 0.8).classification,
        Classification::NodataFail
    );
    m.critical = true;
    let r = classify_metric(&m, &[Some(1.0)], &[], 0.8);
    assert_eq!(
        (r.classification, r.critical),
        (Classification::Nodata, true)
    );
}

#[test]
fn only_missing_points_is_no_data_under_remove() {
    let r = classify_metric(&metric(), &[None, None], &[Some(3.0)], 0.8);
    assert_eq!(r.classification, Classification::Nodata);
    assert_eq!(r.control.count, 0);
}

// 2. Nothing to test.

#[test]
fn identical_multisets_pass_without_a_test() {
    let r = judged(&metric(), &[3.0, 1.0, 2.0, 2.0], &[2.0, 3.0, 2.0, 1.0]);
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.reason, "the control and experiment data are identical");
    assert_eq!(
        (r.deviation, r.effect_size, r.mann_whitney),
        (1.0, None, None)
    );
    assert!(r.power.is_some(), "both sides have data");
}

#[test]
fn one_value_across_both_sides_passes_without_a_test() {
    let r = judged(&metric(), &[0.0, 0.0, 0.0], &[0.0, 0.0]);
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.reason, "every point of both sides is 0");
    assert_eq!(
        (r.deviation, r.effect_size, r.mann_whitney),
        (1.0, None, None)
    );
}

// 3. The test.

#[test]
fn constant_sides_that_differ_are_tested_without_noise_d3() {
    // Kayenta adds unseeded Gaussian noise here (#343); ours is the same every time.
    let mut m = metric();
    m.tolerance = 0.1;
    m.confidence_level = 0.95;
    let r = judged(&m, &[1.0; 5], &[10.0; 5]);
    assert_eq!(r.classification, Classification::High);
    let mw = r.mann_whitney.unwrap();
    assert_eq!((mw.ci_lower, mw.ci_upper, mw.estimate), (9.0, 9.0, 9.0));
    assert_eq!(r, judged(&m, &[1.0; 5], &[10.0; 5]));
}

#[test]
fn complete_separation_of_3_v_3_passes_and_5_v_5_is_high_at_the_defaults_d2() {
    // Kayenta: 2 v 2 (p = 0.25) and 3 v 3 (p = 0.08) are High, its interval clamped.
    let side = |n: usize, from: f64| (0..n).map(|i| from + i as f64).collect::<Vec<_>>();
    for n in [2, 3, 4] {
        let r = judged(&metric(), &side(n, 0.0), &side(n, 100.0));
        assert_eq!(
            r.classification,
            Classification::Pass,
            "{n} v {n}: {}",
            r.reason
        );
        assert!(!r.mann_whitney.unwrap().ci_achievable);
    }
    let r = judged(&metric(), &side(5, 0.0), &side(5, 100.0));
    assert_eq!(r.classification, Classification::High);
    assert!(r.mann_whitney.unwrap().ci_achievable);
}

#[test]
fn high_says_z_at_the_band_and_the_effect() {
    let mut m = metric();
    m.confidence_level = 0.95;
    m.tolerance = 0.1;
    m.effect_size.allowed_increase = 1.2;
    let r = judged(
        &m,
        &[1.0, 2.2, 1.1, 2.5, 3.0],
        &[20.0, 22.0, 21.0, 25.0, 30.0],
    );
    assert_eq!(r.classification, Classification::High);
    assert!(
        r.reason.starts_with("higher: z at the band +")
            && r.reason
                .ends_with("(95 %), and the mean ratio 12.04 ≥ allowedIncrease 1.2"),
        "{}",
        r.reason
    );
    assert!(!r.critical, "not a critical metric");
}

#[test]
fn a_significant_change_inside_the_allowed_effect_passes() {
    let mut m = metric();
    m.confidence_level = 0.95;
    m.tolerance = 0.1;
    m.effect_size.allowed_increase = 13.0;
    let r = judged(
        &m,
        &[1.0, 2.2, 1.1, 2.5, 3.0],
        &[20.0, 22.0, 21.0, 25.0, 30.0],
    );
    assert_eq!(r.classification, Classification::Pass);
    assert!(
        r.reason
            .contains("but the mean ratio 12.04 is below allowedIncrease 13"),
        "{}",
        r.reason
    );
    assert_eq!(r.effect_size, Some(r.deviation));
}

#[test]
fn only_the_configured_direction_counts() {
    let mut m = metric();
    m.confidence_level = 0.95;
    m.direction = Direction::Decrease;
    let r = judged(
        &m,
        &[1.0, 2.2, 1.1, 2.5, 3.0],
        &[20.0, 22.0, 21.0, 25.0, 30.0],
    );
    assert_eq!(r.classification, Classification::Pass);
    assert!(
        r.reason
            .ends_with("but only a decrease counts (direction decrease)"),
        "{}",
        r.reason
    );
    m.direction = Direction::Increase;
    let r = judged(
        &m,
        &[20.0, 22.0, 21.0, 25.0, 30.0],
        &[1.0, 2.2, 1.1, 2.5, 3.0],
    );
    assert_eq!(r.classification, Classification::Pass);
    assert!(
        r.reason
            .ends_with("but only an increase counts (direction increase)"),
        "{}",
        r.reason
    );
    m.direction = Direction::Either;
    let r = judged(
        &m,
        &[20.0, 22.0, 21.0, 25.0, 30.0],
        &[1.0, 2.2, 1.1, 2.5, 3.0],
    );
    assert_eq!(r.classification, Classification::Low);
    assert!(
        r.reason.starts_with("lower: z at the band −"),
        "{}",
        r.reason
    );
}

#[test]
fn the_band_is_relative_to_the_estimate_so_a_mixture_passes_unless_tolerance_is_0() {
    // spinnaker#6278's shape: 7 of 10 points at ~100× the control. From ref.py: estimate
    // 98.25, band 24.5625, z at the band 1.4740614447359863 < 2.326, p(0) 0.013947279555790499
    // (scipy.stats.mannwhitneyu, asymptotic, continuity); with tolerance 0, z = 2.4586 > 2.326.
    let control = [0.95, 0.97, 0.99, 1.0, 1.01, 1.02, 1.03, 1.05, 0.98, 1.04];
    let experiment = [
        100.0, 99.0, 101.0, 98.0, 102.0, 100.5, 99.5, 0.96, 1.0, 1.03,
    ];
    let r = judged(&metric(), &control, &experiment);
    assert_eq!(r.classification, Classification::Pass);
    let mw = r.mann_whitney.unwrap();
    assert_eq!((mw.estimate, mw.band), (98.25, 24.5625));
    assert!((mw.z_high - 1.4740614447359863).abs() < 1e-13);
    assert!((mw.p_value - 0.013947279555790499).abs() < 1e-14);
    let mut m = metric();
    m.tolerance = 0.0;
    let r = judged(&m, &control, &experiment);
    assert_eq!(r.classification, Classification::High);
    assert!((r.mann_whitney.unwrap().z_high - 2.4586183552693717).abs() < 1e-13);
}

#[test]
fn cles_is_u_over_n1_n2() {
    // ref.py / scipy: U = 28 of 36 pairs, p = 0.12418808667114138.
    let mut m = metric();
    m.effect_size = EffectSize::neutral(EffectMeasure::Cles);
    let r = judged(
        &m,
        &[10.0, 11.0, 13.0, 9.0, 12.0, 15.0],
        &[12.0, 15.0, 11.0, 19.0, 14.0, 15.0],
    );
    assert_eq!(r.effect_size, Some(28.0 / 36.0));
    assert_eq!(r.effect_size_measure, EffectMeasure::Cles);
    assert!(
        (r.deviation - 86.0 / 70.0).abs() < 1e-14,
        "deviation is the mean ratio"
    );
    assert!((r.mann_whitney.unwrap().p_value - 0.12418808667114138).abs() < 1e-14);
}

#[test]
fn a_zero_mean_skips_the_effect_gate_and_is_critical_when_critical() {
    let mut m = metric();
    m.critical = true;
    m.effect_size.allowed_increase = 5.0;
    m.effect_size.critical_increase = 50.0;
    let r = judged(
        &m,
        &[0.0; 10],
        &[0.0, 0.0, 1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 2.0, 1.0],
    );
    assert_eq!(r.classification, Classification::High);
    assert!(r.critical);
    assert!(r.deviation.is_nan() && r.effect_size.is_some_and(f64::is_nan));
    assert!(
        r.reason.contains("the mean ratio cannot be computed"),
        "{}",
        r.reason
    );
    assert!(r
        .reason
        .ends_with("the metric is critical, so the run fails"));
}

#[test]
fn a_critical_metric_fails_the_run_only_beyond_its_critical_effect() {
    let mut m = metric();
    m.confidence_level = 0.95;
    m.critical = true;
    m.effect_size.critical_increase = 13.0;
    let control = [1.0, 2.2, 1.1, 2.5, 3.0];
    let experiment = [20.0, 22.0, 21.0, 25.0, 30.0];
    let r = judged(&m, &control, &experiment);
    assert_eq!(
        (r.classification, r.critical),
        (Classification::High, false)
    );
    m.effect_size.critical_increase = 12.0;
    let r = judged(&m, &control, &experiment);
    assert_eq!((r.classification, r.critical), (Classification::High, true));
    assert!(r
        .reason
        .ends_with("; critical: 12.04 ≥ criticalIncrease 12, so the run fails"));
}

#[test]
fn the_classification_does_not_depend_on_units_d1() {
    // Kayenta's absolute root-finder tolerance (1e-4) makes "Problem Case"-sized data judge
    // differently in seconds than in milliseconds.
    let control = [
        0.0331, 0.0334, 0.0332, 0.0333, 0.0335, 0.0330, 0.0334, 0.0333,
    ];
    let experiment = [
        0.0341, 0.0344, 0.0342, 0.0343, 0.0345, 0.0340, 0.0344, 0.0343,
    ];
    let seconds = judged(&metric(), &control, &experiment);
    let scaled = |v: &[f64]| v.iter().map(|a| a * 1e6).collect::<Vec<_>>();
    let micros = judged(&metric(), &scaled(&control), &scaled(&experiment));
    assert_eq!(seconds.classification, Classification::High);
    assert_eq!(micros.classification, seconds.classification);
    let (a, b) = (seconds.mann_whitney.unwrap(), micros.mann_whitney.unwrap());
    assert_eq!((a.u, a.p_value), (b.u, b.p_value));
    assert!((b.estimate / a.estimate - 1e6).abs() < 1e-3);
}

#[test]
fn missing_points_and_outliers_are_handled_before_the_test() {
    let mut m = metric();
    m.outliers.strategy = OutlierStrategy::Remove;
    let control: Vec<Option<f64>> = (0..20).map(|i| Some(100.0 + (i % 5) as f64)).collect();
    let mut experiment = control.clone();
    experiment.push(None);
    experiment.push(Some(10_000.0));
    let r = classify_metric(&m, &control, &experiment, 0.8);
    assert_eq!(r.experiment.count, 20, "the null and the outlier are gone");
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.reason, "the control and experiment data are identical");
}

#[test]
fn a_muted_metric_is_still_judged() {
    let mut m = metric();
    m.muted = true;
    let r = judged(
        &m,
        &[0.0, 1.0, 2.0, 3.0, 4.0],
        &[100.0, 101.0, 102.0, 103.0, 104.0],
    );
    assert!(r.muted);
    assert_eq!(r.classification, Classification::High);
}

#[test]
fn the_result_carries_every_statistic_of_the_test() {
    let mut m = metric();
    m.confidence_level = 0.95;
    let r = judged(&m, &[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]);
    let mw = r.mann_whitney.unwrap();
    assert_eq!((mw.n_control, mw.n_experiment), (4, 4));
    assert_eq!(
        (mw.ci_lower, mw.ci_upper, mw.estimate, mw.u),
        (6.0, 39.0, 22.5, 16.0)
    );
    assert_eq!(mw.confidence_level, 0.95);
    assert_eq!(mw.band, 0.25 * 22.5);
    assert_eq!(r.deviation, 10.0);
    assert_eq!(r.control.mean, 2.5);
    assert_eq!(r.power.unwrap().n_control, 4);
}

#[test]
fn kayentas_large_input_high_is_high_by_z_at_the_band_though_the_interval_is_0() {
    // The spec's §7: the exact interval is [0, 0], so "CI lower > band" would pass it; Kayenta
    // reaches High only because its root finder stops at +3.5e-5. z at the band (the band is
    // 0) is z(0) = 5.9409674808681565 (ref.py, scipy.stats.rankdata).
    let r = kayenta("Mann-Whitney Classifier Test: High Metric (Large Input)");
    assert_eq!(r.classification, Classification::High);
    let mw = r.mann_whitney.unwrap();
    assert_eq!(
        (mw.ci_lower, mw.ci_upper, mw.estimate, mw.band),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert!(
        (mw.z_high - 5.9409674808681565).abs() < 1e-12,
        "{}",
        mw.z_high
    );
    assert_eq!(mw.z_high, mw.z);
}

#[test]
fn a_pass_says_whether_the_change_was_significant_but_inside_the_band() {
    // 6 v 6 error counts (ref.py): z(0) = 2.376 > 2.326, p = 0.01748, but z at the band
    // +0.5 is 2.027: a pass, and the reason says why.
    let r = judged(
        &metric(),
        &[0.0, 1.0, 0.0, 2.0, 1.0, 0.0],
        &[1.0, 3.0, 2.0, 4.0, 2.0, 3.0],
    );
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(
        r.reason,
        "a change (z = 2.376, p = 0.01748) but not beyond the band ±0.5: z at +band 2.027 ≤ 2.326 and at −band 2.675 ≥ −2.326 (98 %)"
    );
    let r = judged(&metric(), &[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 4.0, 5.0]);
    assert!(
        r.reason.starts_with("no significant change at 98 %: z = "),
        "{}",
        r.reason
    );
}
