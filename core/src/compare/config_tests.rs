//! The config reader: defaults, both forms, and a message for each unusable setting.

use super::*;

fn message(text: &str) -> String {
    parse_config(text).unwrap_err().to_string()
}

#[test]
fn a_metric_with_only_a_name_takes_every_default() {
    let c = parse_config(r#"{"metrics": [{"name": "latency_p50"}]}"#).unwrap();
    assert_eq!(c.metrics, vec![MetricConfig::named("latency_p50")]);
    assert_eq!(c.metrics[0].groups, vec!["default"]);
    assert_eq!(c.metrics[0].direction, Direction::Either);
    assert_eq!(c.metrics[0].nan_strategy, NanStrategy::Remove);
    assert_eq!(c.metrics[0].confidence_level, 0.98);
    assert_eq!(c.metrics[0].tolerance, 0.25);
    assert_eq!(c.metrics[0].outliers.strategy, OutlierStrategy::Keep);
    assert_eq!(c.metrics[0].outliers.factor, 3.0);
    assert_eq!(
        c.score_thresholds,
        ScoreThresholds {
            pass: 95.0,
            marginal: 75.0
        }
    );
    assert_eq!(c.power, 0.8);
    assert!(c.group_weights.is_empty());
    assert_eq!(c.form, ConfigForm::Flat);
}

#[test]
fn the_spec_example_reads_as_written() {
    let c = parse_config(
        r#"{"metrics": [{"name": "latency_p50", "groups": ["latency"], "direction": "increase",
          "nanStrategy": "remove", "critical": false, "mustHaveData": false, "muted": false,
          "confidenceLevel": 0.98, "tolerance": 0.25,
          "effectSize": {"measure": "meanRatio", "allowedIncrease": 1.1, "allowedDecrease": 0.9,
                         "criticalIncrease": 2.0, "criticalDecrease": 0.5},
          "outliers": {"strategy": "keep", "outlierFactor": 3.0}}],
         "classifier": {"groupWeights": {"latency": 60, "errors": 40}, "scoreThresholds": {"pass": 95, "marginal": 75}},
         "power": 0.8}"#,
    )
    .unwrap();
    let m = &c.metrics[0];
    assert_eq!(m.groups, vec!["latency"]);
    assert_eq!(m.direction, Direction::Increase);
    assert_eq!(
        m.effect_size,
        EffectSize {
            measure: EffectMeasure::MeanRatio,
            allowed_increase: 1.1,
            allowed_decrease: 0.9,
            critical_increase: 2.0,
            critical_decrease: 0.5
        }
    );
    assert_eq!(c.group_weights["latency"], 60.0);
    assert_eq!(c.group_weights["errors"], 40.0);
}

#[test]
fn effect_size_bounds_default_to_the_measures_neutral_value() {
    let c = parse_config(
        r#"{"metrics": [{"name": "a", "effectSize": {"measure": "cles", "allowedIncrease": 0.8}},
                        {"name": "b", "effectSize": {"allowedIncrease": 1.2}}]}"#,
    )
    .unwrap();
    let cles = c.metrics[0].effect_size;
    assert_eq!(
        (
            cles.allowed_increase,
            cles.allowed_decrease,
            cles.critical_increase,
            cles.critical_decrease
        ),
        (0.8, 0.5, 0.5, 0.5)
    );
    let ratio = c.metrics[1].effect_size;
    assert_eq!(
        (
            ratio.allowed_increase,
            ratio.allowed_decrease,
            ratio.critical_increase,
            ratio.critical_decrease
        ),
        (1.2, 1.0, 1.0, 1.0)
    );
}

#[test]
fn kayentas_canary_config_reads_from_analysis_configurations() {
    let c = parse_config(
        r#"{"configVersion": "1", "name": "my-canary", "judge": {"name": "NetflixACAJudge-v1.0"},
          "metrics": [{"name": "cpu", "query": {"type": "prometheus", "metricName": "cpu"},
                       "groups": ["system"], "scopeName": "default",
                       "analysisConfigurations": {"canary": {"direction": "increase", "critical": true,
                         "mustHaveData": true, "nanStrategy": "replace",
                         "effectSize": {"allowedIncrease": 1.1, "measure": "meanRatio"},
                         "outliers": {"strategy": "remove", "outlierFactor": 2.5}}}},
                      {"name": "requests", "query": {"type": "prometheus"}, "groups": ["requests"]}],
          "classifier": {"groupWeights": {"system": 66.0, "requests": 34.0}}}"#,
    )
    .unwrap();
    assert_eq!(c.form, ConfigForm::Kayenta);
    let cpu = &c.metrics[0];
    assert_eq!(cpu.groups, vec!["system"]);
    assert_eq!(cpu.direction, Direction::Increase);
    assert!(cpu.critical && cpu.must_have_data);
    assert_eq!(cpu.nan_strategy, NanStrategy::Replace);
    assert_eq!(cpu.effect_size.allowed_increase, 1.1);
    assert_eq!(cpu.outliers.strategy, OutlierStrategy::Remove);
    assert_eq!(cpu.outliers.factor, 2.5);
    assert_eq!(c.metrics[1], {
        let mut m = MetricConfig::named("requests");
        m.groups = vec!["requests".into()];
        m
    });
    assert_eq!(c.group_weights["system"], 66.0);
}

#[test]
fn kayentas_sample_config_with_extensions_and_thresholds_reads() {
    // kayenta-judge/src/test/resources/test-config.json, queries shortened.
    let c = parse_config(
        r#"{"configVersion": 1.0, "description": "Example Automated Canary Analysis (ACA) Configuration",
          "metrics": [
            {"name": "cpu", "query": {"type": "atlas"}, "extensions": {"canary": { }}, "groups": ["system", "example"]},
            {"name": "requests", "query": {"type": "atlas"}, "extensions": {"canary": { }}, "groups": ["requests", "example"]},
            {"name": "foo", "query": {"type": "atlas"}, "extensions": {"canary": { }}, "groups": ["bar"]}],
          "classifier": {"groupWeights": {"requests": 50.0, "system": 50.0},
                         "scoreThresholds": {"pass": 95.0, "marginal": 75.0}}}"#,
    )
    .unwrap();
    assert_eq!(c.metrics.len(), 3);
    assert_eq!(c.metrics[0].groups, vec!["system", "example"]);
    assert_eq!(
        c.score_thresholds,
        ScoreThresholds {
            pass: 95.0,
            marginal: 75.0
        }
    );
}

#[test]
fn an_unknown_enum_string_is_refused_naming_the_choices_d7() {
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "direction": "up"}]}"#),
        "metrics[0].direction: \"up\" is not a direction: use increase, decrease or either"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "nanStrategy": "drop"}]}"#),
        "metrics[0].nanStrategy: \"drop\" is not a NaN strategy (remove drops a missing point, replace makes it 0): use remove or replace"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "effectSize": {"measure": "MeanRatio"}}]}"#),
        "metrics[0].effectSize.measure: \"MeanRatio\" is not an effect size measure: use meanRatio or cles (write \"meanRatio\": values are case-sensitive)"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "outliers": {"strategy": "drop"}}]}"#),
        "metrics[0].outliers.strategy: \"drop\" is not an outlier strategy: use keep or remove"
    );
}

#[test]
fn kayenta_form_is_checked_the_same_way_with_its_own_paths() {
    assert_eq!(
        message(
            r#"{"metrics": [{"name": "a", "query": {}, "analysisConfigurations": {"canary": {"direction": "sideways"}}}]}"#
        ),
        "metrics[0].analysisConfigurations.canary.direction: \"sideways\" is not a direction: use increase, decrease or either"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "query": {}, "critical": true}]}"#),
        "metrics[0].critical: in Kayenta's canary config this setting belongs in analysisConfigurations.canary.critical: move it there"
    );
    assert!(message(
        r#"{"metrics": [{"name": "a", "analysisConfigurations": {"canary": {"mustHavedata": true}}}]}"#
    )
    .starts_with("metrics[0].analysisConfigurations.canary.mustHavedata: unknown setting: use one of direction, nanStrategy, critical, mustHaveData"));
}

#[test]
fn weights_over_100_are_refused_d7() {
    assert_eq!(
        message(r#"{"metrics": [{"name": "a"}], "classifier": {"groupWeights": {"a": 70, "b": 50}}}"#),
        "classifier.groupWeights: the weights add up to 120: they must add up to at most 100 (groups without a weight share what is left)"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a"}], "classifier": {"groupWeights": {"a": -5}}}"#),
        "classifier.groupWeights.a: -5 is negative: give a weight of 0 or more"
    );
    assert!(parse_config(
        r#"{"metrics": [{"name": "a"}], "classifier": {"groupWeights": {"a": 33.3, "b": 33.3, "c": 33.4}}}"#
    )
    .is_ok());
}

#[test]
fn levels_outside_their_range_are_refused() {
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "confidenceLevel": 98}]}"#),
        "metrics[0].confidenceLevel: 98 is not between 0 and 1 (both excluded): e.g. 0.98 for 98 % (a fraction: 0.98, not 98)"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "confidenceLevel": 1}]}"#),
        "metrics[0].confidenceLevel: 1 is not between 0 and 1 (both excluded): e.g. 0.98 for 98 %"
    );
    assert!(message(r#"{"metrics": [{"name": "a", "tolerance": 1.0}]}"#)
        .starts_with("metrics[0].tolerance: 1 is not at least 0 and below 1"));
    assert!(
        message(r#"{"metrics": [{"name": "a", "tolerance": -0.1}]}"#)
            .starts_with("metrics[0].tolerance: -0.1 is not at least 0 and below 1")
    );
    assert!(parse_config(r#"{"metrics": [{"name": "a", "tolerance": 0}]}"#).is_ok());
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "outliers": {"outlierFactor": 0}}]}"#),
        "metrics[0].outliers.outlierFactor: 0 is not more than 0: the fences are this many IQRs beyond the quartiles, e.g. 3.0"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a"}], "power": 1}"#),
        "power: 1 is not between 0 and 1: give the probability of detecting a change, e.g. 0.8"
    );
}

#[test]
fn wrong_types_are_refused_with_the_fix() {
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "critical": "yes"}]}"#),
        "metrics[0].critical: \"yes\" is not a boolean: write true or false (without quotes)"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "effectSize": {"allowedIncrease": "1.1"}}]}"#),
        "metrics[0].effectSize.allowedIncrease: \"1.1\" is a string: write the number without quotes, 1.1"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "groups": "latency"}]}"#),
        "metrics[0].groups: \"latency\" is not an array of group names: write e.g. [\"latency\"]"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "groups": ["x", 3]}]}"#),
        "metrics[0].groups[1]: 3 is not a group name: write a non-empty string, e.g. \"latency\""
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a", "mustHavedata": true}]}"#),
        "metrics[0].mustHavedata: unknown setting: use one of name, groups, direction, nanStrategy, critical, mustHaveData, muted, confidenceLevel, tolerance, effectSize, outliers (names are case-sensitive)"
    );
}

#[test]
fn names_are_required_and_unique() {
    assert_eq!(
        message(r#"{"metrics": [{"direction": "increase"}]}"#),
        "metrics[0].name: missing: give each metric the name of its series in the control and experiment files"
    );
    assert_eq!(
        message(r#"{"metrics": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}"#),
        "metrics[2].name: \"a\" is also metrics[0]: metric names must be unique (each names one series of the control and experiment files)"
    );
    assert_eq!(
        message(r#"{"classifier": {}}"#),
        "metrics: missing: list the metrics to judge, e.g. \"metrics\": [{\"name\": \"latency_p50\"}]"
    );
    assert_eq!(
        message("[1, 2]"),
        "the config is [1,2], not a JSON object: write {\"metrics\": [{\"name\": \"latency_p50\"}]} with one entry per metric"
    );
    assert!(message("{\"metrics\": [").starts_with("not valid JSON (EOF while parsing"));
}

#[test]
fn a_metric_with_an_empty_group_list_is_in_the_default_group_d5() {
    let c = parse_config(r#"{"metrics": [{"name": "a", "groups": []}]}"#).unwrap();
    assert_eq!(c.metrics[0].groups, vec!["default"]);
}
