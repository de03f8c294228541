use super::*;
use crate::compare::config::{ConfigForm, Direction, MetricConfig};

fn message(text: &str) -> String {
    parse_canary_file(text).unwrap_err().to_string()
}

fn value(name: &str, query: &str, merge: Merge) -> MetricSource {
    MetricSource {
        name: name.into(),
        points: PointsQuery::Value(query.into()),
        merge,
    }
}

#[test]
fn a_metric_with_only_a_name_and_a_query_gets_every_default() {
    let file = parse_canary_file("metrics:\n  - name: latency\n    query: up\n").unwrap();
    assert_eq!(file.step, Duration::from_secs(10));
    assert_eq!(file.sources, [value("latency", "up", Merge::One)]);
    assert_eq!(
        file.config,
        CompareConfig::with_metrics(vec![MetricConfig::named("latency")])
    );
}

#[test]
fn the_flat_form_reads_queries_rates_merges_and_the_judges_settings() {
    let text = r#"
step: 30s
metrics:
  - name: latency_p90
    query: histogram_quantile(0.9, sum by (le) (rate(http_server_duration_seconds_bucket{job="$SCOPE"}[30s])))
    merge: mean
    direction: increase
    critical: true
  - name: error_rate
    # a rate over the requests it belongs to
    errors: sum(increase(http_requests_total{job="$SCOPE",status=~"5.."}[10s])) or vector(0)
    requests: sum(increase(http_requests_total{job="$SCOPE"}[10s]))
    merge: sum
    direction: increase
    mustHaveData: true
classifier: {scoreThresholds: {pass: 90, marginal: 70}}
"#;
    let file = parse_canary_file(text).unwrap();
    assert_eq!(file.step, Duration::from_secs(30));
    assert_eq!(
        file.sources,
        [
            value(
                "latency_p90",
                r#"histogram_quantile(0.9, sum by (le) (rate(http_server_duration_seconds_bucket{job="$SCOPE"}[30s])))"#,
                Merge::Mean
            ),
            MetricSource {
                name: "error_rate".into(),
                points: PointsQuery::Ratio {
                    errors: r#"sum(increase(http_requests_total{job="$SCOPE",status=~"5.."}[10s])) or vector(0)"#.into(),
                    requests: r#"sum(increase(http_requests_total{job="$SCOPE"}[10s]))"#.into(),
                },
                merge: Merge::Sum,
            },
        ]
    );
    let c = &file.config;
    assert_eq!(c.form, ConfigForm::Flat);
    assert_eq!(
        (c.metrics[0].direction, c.metrics[0].critical),
        (Direction::Increase, true)
    );
    assert!(c.metrics[1].must_have_data);
    assert_eq!(
        (c.score_thresholds.pass, c.score_thresholds.marginal),
        (90.0, 70.0)
    );
}

#[test]
fn json_is_read_too() {
    let file = parse_canary_file(
        r#"{"step": "1m", "metrics": [{"name": "requests", "query": "sum(rate(x[1m]))", "merge": "sum"}]}"#,
    )
    .unwrap();
    assert_eq!(file.step, Duration::from_secs(60));
    assert_eq!(
        file.sources,
        [value("requests", "sum(rate(x[1m]))", Merge::Sum)]
    );
}

#[test]
fn kayentas_canary_config_reads_its_inline_template_or_metric_name() {
    let text = r#"{"configVersion": "1", "name": "canary", "judge": {"name": "NetflixACAJudge-v1.0"},
 "metrics": [
   {"name": "latency", "groups": ["latency"], "scopeName": "default", "merge": "mean",
    "query": {"type": "prometheus", "customInlineTemplate": "PromQL:avg(latency{scope=\"${scope}\",region=\"${location}\"})"},
    "analysisConfigurations": {"canary": {"direction": "increase"}}},
   {"name": "cpu", "groups": ["resources"], "scopeName": "default",
    "query": {"type": "prometheus", "metricName": "process_cpu_seconds_total", "labelBindings": []}}
 ],
 "classifier": {"groupWeights": {"latency": 70, "resources": 30}}}"#;
    let file = parse_canary_file(text).unwrap();
    assert_eq!(file.config.form, ConfigForm::Kayenta);
    assert_eq!(file.config.metrics[0].direction, Direction::Increase);
    assert_eq!(file.config.group_weights.get("latency"), Some(&70.0));
    assert_eq!(
        file.sources,
        [
            value(
                "latency",
                r#"avg(latency{scope="${scope}",region="${location}"})"#,
                Merge::Mean
            ),
            value("cpu", "process_cpu_seconds_total", Merge::One),
        ]
    );
}

#[test]
fn the_example_in_the_fixtures_reads_with_a_source_per_metric_of_the_same_name() {
    let file = parse_canary_file(include_str!("../../../tests/fixtures/compare/canary.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sources: Vec<&str> = file.sources.iter().map(|s| s.name.as_str()).collect();
    let metrics: Vec<&str> = file
        .config
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(sources, metrics);
    assert!(sources.len() >= 3, "{sources:?}");
    assert!(
        file.sources
            .iter()
            .any(|s| matches!(s.points, PointsQuery::Ratio { .. })),
        "the example shows a rate"
    );
}

#[test]
fn every_unusable_entry_names_its_path_and_the_fix() {
    let merges = "sum (counters: the series added per point), mean (gauges and latencies: their mean per point) or one (several series are an error)";
    let steps = "a step is 1s to 10m, e.g. 10s";
    let doc = "docs/compare.md, \"Measuring from Prometheus or Dynatrace\"";
    let one = |extra: &str| format!("metrics:\n  - name: a\n{extra}");
    let cases: Vec<(String, String)> = vec![
        (
            one("    query: up\n    merge: avg\n"),
            format!("metrics[0].merge: \"avg\" is not a merge: use {merges} (for an average write mean)"),
        ),
        (
            one("    query: up\n    merge: Sum\n"),
            format!("metrics[0].merge: \"Sum\" is not a merge: use {merges} (write \"sum\": values are case-sensitive)"),
        ),
        (
            one("    query: up\n    merge: 1\n"),
            format!("metrics[0].merge: 1 is not a merge: use {merges} (as a string)"),
        ),
        (
            format!("step: 500ms\n{}", one("    query: up\n")),
            format!("step: 500ms is less than 1s: no provider keeps finer points than a one-second scrape; {steps}"),
        ),
        (
            format!("step: 11m\n{}", one("    query: up\n")),
            format!("step: 11m is more than 10m: an hour's window would hold six points a side, too few to detect anything; {steps}"),
        ),
        (
            format!("step: 10\n{}", one("    query: up\n")),
            format!("step: 10 has no unit: write a duration such as 10s ({steps})"),
        ),
        (
            format!("step: soon\n{}", one("    query: up\n")),
            format!("step: \"soon\" is not a duration: write e.g. 10s, 30s or 1m ({steps})"),
        ),
        (
            one("    query: up\n    errors: e\n    requests: r\n"),
            "metrics[0]: a has both query and errors/requests: a metric is judged either as its query's points (query) or as a rate, errors / requests per step (errors and requests); keep one of them".into(),
        ),
        (
            one("    direction: increase\n"),
            format!("metrics[0]: a has no query: give query: <the provider's query for its points>, or errors and requests for a rate ({doc})"),
        ),
        (
            one("    errors: e\n"),
            "metrics[0].requests: missing: a rate needs the requests its errors belong to, e.g. requests: sum(increase(http_requests_total{job=\"$SCOPE\"}[10s]))".into(),
        ),
        (
            one("    requests: r\n"),
            "metrics[0].errors: missing: a rate needs the errors to divide by the requests, e.g. errors: sum(increase(http_requests_total{job=\"$SCOPE\",status=~\"5..\"}[10s])) or vector(0)".into(),
        ),
        (
            one("    query: \"  \"\n"),
            "metrics[0].query: empty: give the provider's query, e.g. sum(rate(http_requests_total{job=\"$SCOPE\"}[30s]))".into(),
        ),
        (
            one("    query: 5\n"),
            "metrics[0].query: 5 is not a query: write the provider's query as a string (quote it in YAML when it holds `: ` or ` #`)".into(),
        ),
        (
            one("    querry: up\n"),
            "metrics[0].querry: unknown setting: use one of name, groups, direction, nanStrategy, critical, mustHaveData, muted, confidenceLevel, tolerance, effectSize, outliers, query, errors, requests, merge (names are case-sensitive)".into(),
        ),
        (
            format!("stepp: 10s\n{}", one("    query: up\n")),
            "stepp: unknown setting: use one of metrics, classifier, power, name, description, step (names are case-sensitive)".into(),
        ),
        (
            one("    query: up\n    direction: up\n"),
            "metrics[0].direction: \"up\" is not a direction: use increase, decrease or either".into(),
        ),
        (
            format!("{}  - name: a\n    query: down\n", one("    query: up\n")),
            "metrics[1].name: \"a\" is also metrics[0]: metric names must be unique (each names one series of the control and experiment files)".into(),
        ),
        (
            r#"{"configVersion": "1", "metrics": [{"name": "a", "query": {"type": "prometheus"}}]}"#.into(),
            "metrics[0].query: Kayenta's query has neither customInlineTemplate nor metricName: give customInlineTemplate: \"PromQL:<query>\" (a customFilterTemplate from `templates` is not read)".into(),
        ),
        (
            r#"{"configVersion": "1", "metrics": [{"name": "a", "query": {"customInlineTemplate": "PromQL: "}}]}"#.into(),
            "metrics[0].query.customInlineTemplate: \"PromQL:\" without a query: write PromQL:<query>, e.g. PromQL:sum(rate(http_requests_total{job=\"${scope}\"}[30s]))".into(),
        ),
        (
            one("    errors: e\n    requests: r\n    nanStrategy: replace\n"),
            "metrics[0].nanStrategy: \"replace\" on the rate a: a step without requests would count as a 0 % error rate; use \"remove\" (the default) and mustHaveData".into(),
        ),
        (
            format!(
                "metrics:\n{}",
                (0..=MAX_METRICS)
                    .map(|i| format!("  - name: m{i}\n    query: up\n"))
                    .collect::<String>()
            ),
            "metrics: 41 metrics: at most 40 (every statistic of each is stored with the validation, in one DynamoDB item); split the file or drop metrics".into(),
        ),
        (
            "- a\n- b\n".into(),
            format!("the canary file is [\"a\",\"b\"], not a mapping: write `metrics:` with one entry per metric, each with its name and query ({doc})"),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(message(&text), expected, "{text}");
    }
}

#[test]
fn a_yaml_syntax_error_names_its_line_and_column() {
    let e = message("metrics: [\n");
    assert!(e.starts_with("line "), "{e}");
    assert!(e.contains(", column "), "{e}");
    assert!(
        e.ends_with("quote a query that holds `: ` or ` #`"),
        "the hint: {e}"
    );
}

fn scope(name: &str, location: Option<&str>, offset_secs: u64) -> Scope {
    Scope {
        scope: name.into(),
        location: location.map(str::to_string),
        offset: Duration::from_secs(offset_secs),
    }
}

#[test]
fn placeholders_are_filled_from_the_scope() {
    let staging = scope("sample-staging", None, 0);
    assert_eq!(
        CanaryFile::fill(
            r#"up{job="$SCOPE"} + on() x{j="${scope}",path=~"/api/.*$"}"#,
            &staging
        ),
        Ok(r#"up{job="sample-staging"} + on() x{j="sample-staging",path=~"/api/.*$"}"#.into())
    );
    let located = scope("sample-production", Some("eu-west-1"), 0);
    assert_eq!(
        CanaryFile::fill(
            "x{r=\"${location}\",s=\"$LOCATION\",j=\"$SCOPE\"}",
            &located
        ),
        Ok("x{r=\"eu-west-1\",s=\"eu-west-1\",j=\"sample-production\"}".into())
    );
    // A scope's own text is never read as a placeholder.
    assert_eq!(
        CanaryFile::fill("$SCOPE", &scope("odd${location}", None, 0)),
        Ok("odd${location}".into())
    );
}

#[test]
fn a_location_placeholder_without_a_location_or_an_unknown_one_is_refused() {
    let staging = scope("sample-staging", None, 0);
    assert_eq!(
        CanaryFile::fill("x{region=\"${location}\"}", &staging),
        Err("the query uses ${location}, but the scope \"sample-staging\" has no location: give the scope as scope=sample-staging,location=<location>".into())
    );
    assert_eq!(
        CanaryFile::fill("x{region=\"${region}\"}", &staging),
        Err("unknown placeholder ${region}: a canary query may use $SCOPE (or ${scope}) and ${location}".into())
    );
}

#[test]
fn scopes_are_a_name_a_name_with_an_offset_back_or_keys() {
    assert_eq!(
        parse_scope("sample-staging"),
        Ok(scope("sample-staging", None, 0))
    );
    assert_eq!(
        parse_scope(" sample-production@-1h "),
        Ok(scope("sample-production", None, 3600))
    );
    assert_eq!(
        parse_scope("scope=sample-production,location=eu-west-1,offset=1h"),
        Ok(scope("sample-production", Some("eu-west-1"), 3600))
    );
    assert_eq!(
        parse_scope("scope=a, offset=-30m"),
        Ok(scope("a", None, 1800))
    );
}

#[test]
fn every_unusable_scope_says_what_to_write() {
    let forms = "write sample-staging, sample-production@-1h, or scope=sample-production,location=eu-west-1,offset=1h";
    let cases: Vec<(&str, String)> = vec![
        (
            "  ",
            format!("the scope is empty: give the name the queries select with $SCOPE; {forms}"),
        ),
        (
            "a@1h",
            "the offset \"@1h\" of the scope \"a@1h\" has no minus: an offset goes back in time, e.g. a@-1h".into(),
        ),
        (
            "a@-soon",
            "the offset \"soon\" of the scope \"a@-soon\" is not a duration such as 1h, 30m or 1d".into(),
        ),
        (
            "@-1h",
            format!("the scope \"@-1h\" has no name before the @: {forms}"),
        ),
        (
            "location=eu",
            "the scope \"location=eu\" names no scope: add scope=<name>, e.g. scope=sample-production,location=eu".into(),
        ),
        (
            "scope=a,region=eu",
            "unknown key \"region\" in the scope \"scope=a,region=eu\": use scope, location and offset".into(),
        ),
        (
            "scope=a,scope=b",
            "\"scope\" appears twice in the scope \"scope=a,scope=b\": give it once".into(),
        ),
        (
            "scope=a,location=",
            "\"location\" is empty in the scope \"scope=a,location=\": give its value, e.g. location=eu-west-1".into(),
        ),
        (
            "scope=a,eu",
            format!("\"eu\" in the scope \"scope=a,eu\" is not key=value: {forms}"),
        ),
        (
            "scope=a,offset=later",
            "the offset \"later\" of the scope \"scope=a,offset=later\" is not a duration such as 1h, 30m or 1d".into(),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_scope(text), Err(expected), "{text:?}");
    }
}
