use super::*;
use crate::model::metrics::{EntityRef, MeasuredValue, Measurement, Observation};
use crate::monspec::parse_monspec;

const SHIPPED: &str = include_str!("../../../monspec/monspec.json");
const T: i64 = 1_700_000_000_000;
const FIVE_MIN: i64 = 300_000;
const FRAME: Timeframe = Timeframe {
    start_ms: T,
    window_ms: FIVE_MIN,
};

fn shipped() -> crate::monspec::Monspec {
    parse_monspec(SHIPPED).unwrap()
}

fn value(v: f64) -> Measurement {
    Measurement::Value(MeasuredValue::new(
        v,
        crate::model::metrics::Unit::Unknown,
        1,
    ))
}

fn observed(values: Vec<Measurement>) -> Observation {
    Observation {
        entities: Ok(vec![EntityRef {
            id: "SERVICE-1".into(),
            name: "svc".into(),
        }]),
        measurements: values,
    }
}

/// The shipped signature order: avg rt, p90 rt, failure rate, request count, calls, runsOn,
/// then /api/invoke avg rt, p90 rt, failure rate.
fn healthy_staging() -> Vec<Measurement> {
    [
        500_000.0, 800_000.0, 1.0, 100.0, 2.0, 1.0, 400_000.0, 600_000.0, 0.5,
    ]
    .map(value)
    .to_vec()
}
fn healthy_production() -> Vec<Measurement> {
    [
        450_000.0, 700_000.0, 1.0, 900.0, 2.0, 1.0, 350_000.0, 550_000.0, 0.5,
    ]
    .map(value)
    .to_vec()
}

fn verdict_for(staging: Vec<Measurement>, production: Vec<Measurement>) -> Verdict {
    let p = plan(&shipped(), "StagingToProduction", FRAME).unwrap();
    evaluate(
        &p,
        &[ConfigurationObservations {
            source: observed(staging),
            compare: Some(observed(production)),
        }],
    )
}

#[test]
fn windows_shift_back_by_seconds() {
    let tf = FRAME;
    let p = plan(&shipped(), "ProductionToProductionLastHour", tf).unwrap();
    let c = &p.configurations[0];
    assert_eq!(
        c.source.window,
        crate::model::metrics::TimeWindow {
            from_ms: T - 60_000,
            to_ms: T + FIVE_MIN - 60_000
        }
    );
    assert_eq!(
        c.compare.as_ref().unwrap().window,
        crate::model::metrics::TimeWindow {
            from_ms: T - 3_600_000,
            to_ms: T + FIVE_MIN - 3_600_000
        }
    );
    assert_eq!(c.source.environment, "Production");
    assert_eq!(p.queries().len(), 2);
}

#[test]
fn every_signature_is_planned_including_methods_and_smartscape() {
    let p = plan(&shipped(), "StagingToProduction", FRAME).unwrap();
    let labels: Vec<String> = p.configurations[0]
        .signatures
        .iter()
        .map(|s| s.label())
        .collect();
    assert_eq!(
        labels,
        [
            "avg response time",
            "p90 response time",
            "avg failure rate",
            "count requests",
            "count of toRelationships:calls",
            "count of fromRelationships:runsOn",
            "/api/invoke: avg response time",
            "/api/invoke: p90 response time",
            "/api/invoke: avg failure rate",
        ]
    );
    assert_eq!(p.configurations[0].source.metrics.len(), 9);
}

#[test]
fn unknown_comparisons_list_the_available_ones() {
    let err = plan(&shipped(), "StagingToProd", FRAME).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown comparison \"StagingToProd\" (available: ProductionToProductionLastHour, StagingToProduction, StagingToProductionYesterday, StagingToStagingLastHour)"
    );
    let err = plan(
        &shipped(),
        "StagingToProduction",
        Timeframe {
            start_ms: T,
            window_ms: 0,
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the validation window must be longer than zero (got 0 ms)"
    );
}

#[test]
fn a_comparison_missing_from_one_configuration_is_refused() {
    let mut doc: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    let mut other = doc["SampleJSonService"].clone();
    other["comparisons"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != "StagingToProduction");
    doc["Backend"] = other;
    let m = crate::monspec::from_value(&doc).unwrap();
    let err = plan(&m, "StagingToProduction", FRAME).unwrap_err();
    assert!(
        err.to_string()
            .contains("not defined in configuration(s) Backend"),
        "{err}"
    );
}

#[test]
fn a_healthy_build_is_approved() {
    let v = verdict_for(healthy_staging(), healthy_production());
    assert_eq!(
        v.status,
        VerdictStatus::Approved,
        "{:#?}",
        v.configurations[0].signatures
    );
    assert_eq!(v.counts.pass, 9);
    assert_eq!(
        v.summary,
        "APPROVED StagingToProduction: all 9 signatures passed"
    );
}

#[test]
fn violations_are_counted_per_signature_not_per_configuration() {
    let mut staging = healthy_staging();
    staging[1] = value(1_000_000.0); // p90 over 700 ms + 30%
    staging[8] = value(5.0); // /api/invoke failure rate over 0.5 % + 30%
    let v = verdict_for(staging, healthy_production());
    assert_eq!(v.status, VerdictStatus::Rejected);
    assert_eq!((v.counts.violation, v.counts.blocking), (2, 2));
    assert!(v.summary.starts_with("REJECTED StagingToProduction: 2 of 9 signatures failed (2 violation, 0 nodata, 0 error) — p90 response time 1000 ms > limit 910 ms (Production 700 ms + 30%); /api/invoke: avg failure rate 5 % > limit 0.650 % (Production 0.500 % + 30%)"), "{}", v.summary);
}

#[test]
fn the_per_metric_scale_factor_applies_to_request_counts() {
    let mut staging = healthy_staging();
    staging[3] = value(89.0); // 900 − 90% = 90
    let v = verdict_for(staging, healthy_production());
    let requests = v
        .signatures()
        .find(|s| s.label == "count requests")
        .unwrap();
    assert_eq!(
        (requests.outcome, requests.lower_limit),
        (Outcome::Violation, Some(90.0))
    );
    assert_eq!(requests.scale_factor_perc, Some(90.0));
}

#[test]
fn missing_compare_data_never_approves() {
    let production = Observation::without_entities(
        Ok(vec![]),
        9,
        &[crate::monspec::Tag::new(
            "CONTEXTLESS",
            "DeploymentGroup",
            Some("Production"),
        )],
    );
    let p = plan(&shipped(), "StagingToProduction", FRAME).unwrap();
    let v = evaluate(
        &p,
        &[ConfigurationObservations {
            source: observed(healthy_staging()),
            compare: Some(production),
        }],
    );
    assert_eq!(v.status, VerdictStatus::Rejected);
    assert_eq!(v.counts.nodata, 9);
    assert!(v.signatures().all(|s| s.reason.contains("no baseline: Production has no data (no entity matched the tags DeploymentGroup:Production)")));
}

#[test]
fn the_summary_fits_codepipeline_and_keeps_the_report_link() {
    let staging = healthy_staging().into_iter().map(|_| Measurement::no_data("no datapoints in the window because the service was not deployed to the tagged hosts in time")).collect();
    let v = verdict_for(staging, healthy_production());
    let link = "https://example.execute-api.us-east-1.amazonaws.com/v1/BuildValidationResults?pipelineName=p";
    let line = v.summary_line(Some(link));
    assert!(line.chars().count() <= 512, "{}", line.chars().count());
    assert!(line.ends_with(&format!(" Report: {link}")));
    assert!(line.contains('…'));
}

#[test]
fn the_filled_monspec_has_the_original_output_fields() {
    let mut staging = healthy_staging();
    staging[0] = value(1_000_000.0);
    let v = verdict_for(staging, healthy_production());
    let original: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    let filled = v.fill_monspec(&original);
    let svc = &filled["SampleJSonService"];
    assert_eq!(svc["_resolved_comparison"], "StagingToProduction");
    assert_eq!(
        svc["_resolved_entities"]["Staging"],
        serde_json::json!(["SERVICE-1"])
    );
    assert_eq!(svc["status"], "violation");
    let first = &svc["perfsignature"][0];
    assert_eq!(first["actualSourceValue"], 1_000_000.0);
    assert_eq!(first["actualCompareValue"], 450_000.0);
    assert_eq!(first["actualUpperLimit"], 585_000.0);
    assert_eq!(first["status"], "violation");
    assert_eq!(svc["perfsignature"][3]["actualLowerLimit"], 90.0);
    assert_eq!(svc["servicemethods"][0]["perfsignature"][2]["status"], "ok");
    // The filled file is still a valid monspec.
    crate::monspec::from_value(&filled).unwrap();
}

#[test]
fn the_result_json_is_versioned() {
    let v = verdict_for(healthy_staging(), healthy_production());
    let json = v.to_json();
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["status"], "approved");
    assert_eq!(
        json["configurations"][0]["signatures"][6]["path"],
        "servicemethods[0].perfsignature[0]"
    );
    assert_eq!(
        json["configurations"][0]["signatures"][6]["method"],
        "/api/invoke"
    );
    assert_eq!(json["configurations"][0]["source"]["window"]["fromMs"], T);
    assert_eq!(
        json["configurations"][0]["source"]["window"]["toMs"],
        T + FIVE_MIN
    );
}
