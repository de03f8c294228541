use super::*;

const SHIPPED: &str = include_str!("../../../monspec/monspec.json");

fn problems(text: &str) -> Vec<String> {
    match parse_monspec(text) {
        Ok(_) => vec![],
        Err(e) => e.problems(),
    }
}

/// A minimal valid configuration to mutate in tests.
fn base() -> serde_json::Value {
    serde_json::json!({
        "Svc": {
            "etype": "SERVICE",
            "environments": {
                "Staging": {"tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": "Staging"}]},
                "Production": {"tags": [{"key": "DeploymentGroup", "value": "Production"}]}
            },
            "comparisons": [{"name": "StagingToProduction", "source": "Staging", "compare": "Production", "scalefactorperc": {"default": 10}}],
            "perfsignature": [{"timeseries": "com.dynatrace.builtin:service.responsetime", "aggregate": "avg"}]
        }
    })
}

fn problems_of(value: serde_json::Value) -> Vec<String> {
    problems(&value.to_string())
}

#[test]
fn the_shipped_monspec_reads_completely() {
    let m = parse_monspec(SHIPPED).unwrap();
    let c = m.configuration("SampleJSonService").unwrap();
    assert_eq!(c.etype, EntityType::Service);
    assert_eq!(c.environments.len(), 2);
    assert_eq!(c.comparisons.len(), 4);
    assert!(c.comparison("ProductionToProductionLastHour").is_some());
    assert_eq!(c.perfsignature.len(), 6);
    assert_eq!(c.perfsignature[1].aggregate, Aggregate::Percentile(90));
    assert_eq!(c.perfsignature[3].validate, Direction::Lower);
    assert_eq!(
        c.perfsignature[0].upper_limit, None,
        "_upperlimit is a comment"
    );
    assert!(
        matches!(&c.perfsignature[4].subject, SignatureSubject::Smartscape(r) if r.to_string() == "toRelationships:calls")
    );
    assert_eq!(c.servicemethods[0].perfsignature.len(), 3);
    let cmp = c.comparison("StagingToProduction").unwrap();
    assert_eq!(
        cmp.scale_factors
            .for_metric("com.dynatrace.builtin:service.requestspermin"),
        90.0
    );
    assert_eq!(
        cmp.scale_factors
            .for_metric("com.dynatrace.builtin:service.responsetime"),
        30.0
    );
    let last_hour = c.comparison("ProductionToProductionLastHour").unwrap();
    assert_eq!(
        (last_hour.shift_source_secs, last_hour.shift_compare_secs),
        (60, 3600)
    );
}

#[test]
fn a_filled_monspec_can_be_read_again() {
    let mut v = base();
    v["Svc"]["_resolved_entities"] = serde_json::json!({"Staging": ["SERVICE-1"]});
    v["Svc"]["_resolved_comparison"] = "StagingToProduction".into();
    v["Svc"]["status"] = "violation".into();
    let sig = &mut v["Svc"]["perfsignature"][0];
    for (k, val) in [
        ("actualSourceValue", 1.0),
        ("actualCompareValue", 2.0),
        ("actualUpperLimit", 3.0),
        ("actualLowerLimit", 4.0),
    ] {
        sig[k] = val.into();
    }
    sig["status"] = "ok".into();
    assert_eq!(problems_of(v), Vec::<String>::new());
}

#[test]
fn tags_keep_their_context_in_filters() {
    assert_eq!(
        Tag::new("CONTEXTLESS", "DeploymentGroup", Some("Staging")).to_string(),
        "DeploymentGroup:Staging"
    );
    assert_eq!(
        Tag::new("AWS", "Environment", Some("prod")).to_string(),
        "[AWS]Environment:prod"
    );
    assert_eq!(
        Tag::new("CONTEXTLESS", "keyonly", None).to_string(),
        "keyonly"
    );
}

#[test]
fn aggregates_accept_percentiles_from_1_to_99_only() {
    assert_eq!(Aggregate::parse("p1"), Some(Aggregate::Percentile(1)));
    assert_eq!(Aggregate::parse("p99"), Some(Aggregate::Percentile(99)));
    for bad in [
        "p05", "p0", "p100", "p101", "p", "p9x", "p090", "P90", "average", "",
    ] {
        assert_eq!(Aggregate::parse(bad), None, "{bad}");
    }
}

/// Each bad monspec with the exact message a user sees.
#[test]
fn bad_monspecs_get_messages_with_path_and_fix() {
    type Mutation = fn(&mut serde_json::Value);
    let cases: Vec<(&str, Mutation, &str)> = vec![
        ("undefined source environment", |v| v["Svc"]["comparisons"][0]["source"] = "Stagin".into(),
            "Svc.comparisons[0].source: environment \"Stagin\" is not defined (defined: Staging, Production)"),
        ("undefined compare environment", |v| v["Svc"]["comparisons"][0]["compare"] = "Prod".into(),
            "Svc.comparisons[0].compare: environment \"Prod\" is not defined (defined: Staging, Production)"),
        ("unknown aggregate", |v| v["Svc"]["perfsignature"][0]["aggregate"] = "average".into(),
            "Svc.perfsignature[0].aggregate: unknown aggregate \"average\" (use avg, min, max, sum, count, median, or pNN with NN from 1 to 99)"),
        ("p0", |v| v["Svc"]["perfsignature"][0]["aggregate"] = "p0".into(),
            "Svc.perfsignature[0].aggregate: unknown aggregate \"p0\" (use avg, min, max, sum, count, median, or pNN with NN from 1 to 99)"),
        ("p101", |v| v["Svc"]["perfsignature"][0]["aggregate"] = "p101".into(),
            "Svc.perfsignature[0].aggregate: unknown aggregate \"p101\" (use avg, min, max, sum, count, median, or pNN with NN from 1 to 99)"),
        ("unknown validate", |v| v["Svc"]["perfsignature"][0]["validate"] = "above".into(),
            "Svc.perfsignature[0].validate: unknown validate \"above\" (use upper or lower)"),
        ("negative shift", |v| v["Svc"]["comparisons"][0]["shiftcomparetimeframe"] = (-60).into(),
            "Svc.comparisons[0].shiftcomparetimeframe: shift -60 is negative: shifts go back in time, in seconds (e.g. 3600 for one hour ago)"),
        ("absurd shift", |v| v["Svc"]["comparisons"][0]["shiftcomparetimeframe"] = 86_400_000u64.into(),
            "Svc.comparisons[0].shiftcomparetimeframe: shift of 86400000 s is absurd (more than 366 days; shifts are in seconds, not milliseconds)"),
        ("fractional shift", |v| v["Svc"]["comparisons"][0]["shiftsourcetimeframe"] = 1.5.into(),
            "Svc.comparisons[0].shiftsourcetimeframe: shift 1.5 must be a whole number of seconds"),
        ("duplicate comparison name", |v| { let c = v["Svc"]["comparisons"][0].clone(); v["Svc"]["comparisons"].as_array_mut().unwrap().push(c); },
            "Svc.comparisons[1].name: comparison name \"StagingToProduction\" is used twice: each comparison needs its own name"),
        ("tag without key", |v| v["Svc"]["environments"]["Staging"]["tags"][0].as_object_mut().unwrap().remove("key").map(drop).unwrap_or(()),
            "Svc.environments.Staging.tags[0].key: a tag needs a key, e.g. \"key\": \"DeploymentGroup\""),
        ("empty perfsignature", |v| v["Svc"]["perfsignature"] = serde_json::json!([]),
            "Svc.perfsignature: is empty: list at least one metric, e.g. {\"timeseries\": \"com.dynatrace.builtin:service.responsetime\", \"aggregate\": \"avg\"}"),
        ("unsupported etype", |v| v["Svc"]["etype"] = "DATABASE".into(),
            "Svc.etype: unsupported entity type \"DATABASE\" (supported: SERVICE, APPLICATION, HOST, PROCESS_GROUP_INSTANCE)"),
        ("unknown field", |v| v["Svc"]["perfsignature"][0]["aggregat"] = "avg".into(),
            "Svc.perfsignature[0].aggregat: unknown field (known fields: timeseries, smartscape, aggregate, validate, upperlimit, lowerlimit, onmissingdata; start a key with `_` to keep it as a comment)"),
        ("negative scale factor (old format)", |v| v["Svc"]["comparisons"][0]["scalefactorperc"]["default"] = (-10).into(),
            "Svc.comparisons[0].scalefactorperc.default: -10 is negative: the tolerance is a distance in percent and `validate` gives its side; write 10"),
        ("unknown policy", |v| v["Svc"]["comparisons"][0]["onmissingdata"] = "ignore".into(),
            "Svc.comparisons[0].onmissingdata: unknown policy \"ignore\" (use fail, warn or pass)"),
        ("bad smartscape", |v| v["Svc"]["perfsignature"][0] = serde_json::json!({"smartscape": "calls"}),
            "Svc.perfsignature[0].smartscape: \"calls\" is not a relationship: write fromRelationships:<name> or toRelationships:<name>, e.g. toRelationships:calls"),
        ("smartscape with a non-count aggregate", |v| v["Svc"]["perfsignature"][0] = serde_json::json!({"smartscape": "toRelationships:calls", "aggregate": "avg"}),
            "Svc.perfsignature[0].aggregate: a smartscape signature counts related entities: use \"count\", not \"avg\""),
        ("limits that exclude every value", |v| { v["Svc"]["perfsignature"][0]["upperlimit"] = 10.into(); v["Svc"]["perfsignature"][0]["lowerlimit"] = 20.into(); },
            "Svc.perfsignature[0]: lowerlimit 20 is not below upperlimit 10: no value could pass"),
        ("a method metric at service level", |v| v["Svc"]["perfsignature"][0]["timeseries"] = "com.dynatrace.builtin:servicemethod.responsetime".into(),
            "Svc.perfsignature[0].timeseries: \"com.dynatrace.builtin:servicemethod.responsetime\" is a service-method metric: move it under servicemethods[].perfsignature"),
        ("a relative check with no baseline", |v| { v["Svc"]["comparisons"][0].as_object_mut().unwrap().remove("compare"); },
            "Svc.comparisons[0].compare: is missing, but 1 signature(s) have no upperlimit/lowerlimit and need a baseline: name the compare environment or set static limits"),
        ("a comparison that can never fail", |v| v["Svc"]["comparisons"][0]["compare"] = "Staging".into(),
            "Svc.comparisons[0]: source and compare are the same environment over the same timeframe, so the check can never fail: set shiftcomparetimeframe (e.g. 3600 for the last hour)"),
        ("an environment without tags", |v| v["Svc"]["environments"]["Staging"]["tags"] = serde_json::json!([]),
            "Svc.environments.Staging.tags: is empty: an environment without tags would match every entity; add e.g. {\"key\": \"DeploymentGroup\", \"value\": \"Staging\"}"),
        ("service methods on a host", |v| { v["Svc"]["etype"] = "HOST".into(); v["Svc"]["perfsignature"][0]["timeseries"] = "com.dynatrace.builtin:host.cpu.user".into(); v["Svc"]["servicemethods"] = serde_json::json!([{"name": "/x", "perfsignature": [{"timeseries": "com.dynatrace.builtin:servicemethod.responsetime", "aggregate": "avg"}]}]); },
            "Svc.servicemethods: service methods exist only on SERVICE entities: set etype to SERVICE or remove servicemethods"),
        ("a scale factor naming no signature", |v| v["Svc"]["comparisons"][0]["scalefactorperc"]["com.dynatrace.builtin:service.responsetme"] = 50.into(),
            "Svc.comparisons[0].scalefactorperc.com.dynatrace.builtin:service.responsetme: names no signature of Svc, so it would silently fall back to default (signatures: com.dynatrace.builtin:service.responsetime); fix the metric id or remove the entry"),
        ("a lower check that can never fail (default)", |v| { v["Svc"]["perfsignature"][0]["validate"] = "lower".into(); v["Svc"]["comparisons"][0]["scalefactorperc"]["default"] = 100.into(); },
            "Svc.comparisons[0].scalefactorperc.default: 100% makes the lower limit of com.dynatrace.builtin:service.responsetime the baseline minus 100%, 0 or less, so the check can never fail; use less than 100"),
        ("a lower check that can never fail (per metric)", |v| { v["Svc"]["perfsignature"][0] = serde_json::json!({"timeseries": "com.dynatrace.builtin:service.requestspermin", "aggregate": "count", "validate": "lower"}); v["Svc"]["comparisons"][0]["scalefactorperc"]["com.dynatrace.builtin:service.requestspermin"] = 150.into(); },
            "Svc.comparisons[0].scalefactorperc.com.dynatrace.builtin:service.requestspermin: 150% makes the lower limit of com.dynatrace.builtin:service.requestspermin the baseline minus 150%, 0 or less, so the check can never fail; use less than 100"),
    ];
    for (name, mutate, expected) in cases {
        let mut v = base();
        mutate(&mut v);
        let got = problems_of(v);
        assert!(
            got.iter().any(|p| p == expected),
            "{name}: expected\n  {expected}\ngot\n  {}",
            got.join("\n  ")
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut v = base();
    v["Svc"]["etype"] = "DATABASE".into();
    v["Svc"]["comparisons"][0]["source"] = "Stagin".into();
    v["Svc"]["perfsignature"][0]["aggregate"] = "p0".into();
    assert_eq!(problems_of(v).len(), 3);
}

#[test]
fn malformed_json_reports_line_and_column() {
    let err = parse_monspec("{\n  \"Svc\": {\n    \"etype\": \"SERVICE\",\n  }\n}").unwrap_err();
    let MonspecError::Syntax {
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (4, 3));
    assert!(message.contains("trailing comma"), "{message}");
    let err = parse_monspec("{\n  // the service\n  \"Svc\": {}\n}").unwrap_err();
    assert!(err.to_string().starts_with("line 2, column 3: "), "{err}");
    assert!(err.to_string().contains("JSON has no comments"), "{err}");
}

#[test]
fn not_an_object_and_empty_documents_are_explained() {
    assert_eq!(problems("[]"), vec!["a monspec is an object of configurations keyed by name (e.g. {\"SampleJSonService\": {…}}), found an array"]);
    assert_eq!(problems("{\"_comment\": \"x\"}"), vec!["no configuration found: add one keyed by name, e.g. {\"SampleJSonService\": {\"etype\": \"SERVICE\", …}}"]);
}

#[test]
fn the_shipped_schema_is_up_to_date() {
    let shipped: serde_json::Value =
        serde_json::from_str(include_str!("../../../monspec/monspec.schema.json"))
            .expect("schema is JSON");
    assert!(
        shipped == schema::monspec_schema(),
        "monspec/monspec.schema.json is stale: run `cargo run -p unbreakable-cli -- schema > monspec/monspec.schema.json`"
    );
}

#[test]
fn the_schema_aggregate_pattern_agrees_with_the_reader() {
    // Check the pattern by hand-expanding it: avg|min|max|sum|count|median|p([1-9]|[1-9][0-9]).
    let by_pattern = |s: &str| {
        ["avg", "min", "max", "sum", "count", "median"].contains(&s)
            || s.strip_prefix('p').is_some_and(|d| {
                let b = d.as_bytes();
                (b.len() == 1 && (b'1'..=b'9').contains(&b[0]))
                    || (b.len() == 2 && (b'1'..=b'9').contains(&b[0]) && b[1].is_ascii_digit())
            })
    };
    assert_eq!(
        schema::AGGREGATE_PATTERN,
        "^(avg|min|max|sum|count|median|p([1-9]|[1-9][0-9]))$"
    );
    let candidates = [
        "avg", "min", "max", "sum", "count", "median", "mean", "p", "p00", "p05",
    ]
    .map(String::from)
    .into_iter()
    .chain((0..=120).map(|n| format!("p{n}")));
    for s in candidates {
        assert_eq!(by_pattern(&s), Aggregate::parse(&s).is_some(), "{s}");
    }
}

fn warnings_of(value: serde_json::Value) -> Vec<String> {
    let (result, warnings) = lint_monspec(&value.to_string());
    assert!(result.is_ok(), "warnings never invalidate: {result:?}");
    warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn a_response_time_limit_below_1000_us_warns_that_it_was_probably_meant_in_ms() {
    let mut m = base();
    m["Svc"]["perfsignature"][0]["upperlimit"] = 500.into();
    m["Svc"]["perfsignature"][0]["lowerlimit"] = 50.into();
    assert_eq!(
        warnings_of(m),
        [
            "Svc.perfsignature[0].upperlimit: 500 µs is 0.5 ms: response-time limits are in µs (the API's unit), and one below 1,000 is almost always a limit meant in ms; for 500 ms write 500000",
            "Svc.perfsignature[0].lowerlimit: 50 µs is 0.05 ms: response-time limits are in µs (the API's unit), and one below 1,000 is almost always a limit meant in ms; for 50 ms write 50000",
        ]
    );
}

#[test]
fn response_time_limits_of_1000_us_or_more_and_other_units_do_not_warn() {
    let cases = [
        ("com.dynatrace.builtin:service.responsetime", "p90", 1000),
        ("com.dynatrace.builtin:service.responsetime", "avg", 250_000),
        ("com.dynatrace.builtin:service.failurerate", "avg", 5),
        ("com.dynatrace.builtin:service.responsetime", "count", 10),
        ("builtin:service.requestCount.total", "count", 100),
    ];
    for (metric, aggregate, limit) in cases {
        let mut m = base();
        m["Svc"]["perfsignature"][0] =
            serde_json::json!({"timeseries": metric, "aggregate": aggregate, "upperlimit": limit});
        assert_eq!(
            warnings_of(m),
            Vec::<String>::new(),
            "{metric} {aggregate} {limit}"
        );
    }
}

#[test]
fn warnings_come_with_problems_too() {
    let mut m = base();
    m["Svc"]["perfsignature"][0]["upperlimit"] = 500.into();
    m["Svc"]["comparisons"][0]["source"] = "Stagin".into();
    let (result, warnings) = lint_monspec(&m.to_string());
    assert!(result.is_err());
    assert_eq!(warnings.len(), 1);
}

/// Notepad saves UTF-8 with a byte-order mark; JSON has none, so it is skipped.
#[test]
fn a_monspec_saved_with_a_byte_order_mark_is_read() {
    let text = format!("\u{feff}{}", base());
    let (result, _) = lint_monspec(&text);
    assert!(result.is_ok(), "{:?}", result.err());
    assert_eq!(without_bom(&text), base().to_string());
}
