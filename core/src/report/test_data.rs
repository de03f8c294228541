//! Validations as the worker stores them, for the report's tests: monspec results and SLO
//! evaluations in the result JSON's shape (README, "Result JSON"; `slo::score::Evaluation`).

use serde_json::{json, Value};

use crate::model::store::{Decision, RequestStatus, ValidationRequest};

pub const T0: i64 = 1_795_255_200_000;

pub fn request(
    execution_id: &str,
    minute: i64,
    comparison: &str,
    status: RequestStatus,
    result: Option<Value>,
) -> ValidationRequest {
    let decision = match status {
        RequestStatus::Ok | RequestStatus::Violation | RequestStatus::Error => Some(Decision {
            approve: status == RequestStatus::Ok,
            summary: format!("{} {comparison}", status.as_str()),
            outcome: status,
        }),
        _ => None,
    };
    ValidationRequest {
        pipeline: "Sample".into(),
        timestamp_ms: T0 + minute * 60_000,
        comparison: comparison.into(),
        window_ms: 300_000,
        ready_ms: T0 + minute * 60_000 + 300_000,
        monspec: "{}".into(),
        // The report reads the result JSON only; the gate's files do not matter here.
        slo: None,
        canary: None,
        stage: if comparison == "SLO" {
            "Production"
        } else {
            "Staging"
        }
        .into(),
        action: "Register".into(),
        approval_action: "Approve".into(),
        job_id: format!("job-{minute}"),
        execution_id: execution_id.into(),
        status,
        status_msg: format!("status of {execution_id}"),
        attempts: 1,
        next_check_ms: None,
        lease_owner: None,
        result_json: result.map(|r| r.to_string()),
        filled_monspec: None,
        decision,
        expires_at_s: 0,
    }
}

/// A monspec result with one p90 response-time signature (µs) and one count signature.
pub fn monspec_result(p90_ms: Option<f64>, baseline_ms: f64, hosts: f64) -> Value {
    let blocks = p90_ms.is_some_and(|v| v > baseline_ms * 1.3);
    json!({
        "schemaVersion": 1,
        "comparison": "StagingToProduction",
        "configurations": [{
            "key": "SampleJSonService",
            "signatures": [
                {"path": "perfsignature[1]", "label": "p90 response time", "unit": "microseconds",
                 "validate": "upper", "outcome": if blocks { "violation" } else { "pass" },
                 "sourceValue": p90_ms.map(|v| v * 1000.0), "compareValue": baseline_ms * 1000.0,
                 "upperLimit": baseline_ms * 1300.0, "lowerLimit": null, "blocksApproval": blocks,
                 "reason": format!("p90 response time {} ms", p90_ms.unwrap_or_default())},
                {"path": "perfsignature[2]", "label": "hosts", "unit": "count",
                 "validate": "lower", "outcome": "pass", "sourceValue": hosts, "compareValue": 1.0,
                 "upperLimit": null, "lowerLimit": 0.5, "blocksApproval": false, "reason": "ok"}
            ]
        }]
    })
}

/// One objective of an SLO evaluation.
pub fn objective(name: &str, status: &str, value: f64, baseline: f64) -> Value {
    json!({
        "displayName": name,
        "status": status,
        "score": if status == "pass" { 1.0 } else if status == "warning" { 0.5 } else { 0.0 },
        "keySli": false,
        "value": {"metric": format!("{name}_sli"), "value": value, "comparedValue": baseline,
                  "success": true, "message": ""},
        "passTargets": [{"criteria": "<=+10%", "targetValue": baseline * 1.1,
                         "violated": status == "fail"}],
        "warningTargets": [{"criteria": "<=800", "targetValue": 800.0,
                            "violated": status != "pass"}]
    })
}

/// An SLO evaluation as the worker stores it in the result JSON.
pub fn slo_result(result: &str, score: f64, objectives: Vec<Value>) -> Value {
    json!({
        "gate": "slo",
        "result": result,
        "score": score,
        "indicatorResults": objectives,
        "reason": format!("score {score}"),
        "noBaseline": false,
        "comparedEvaluations": ["eval-0"],
        "id": "eval-1",
        "window": {"startMs": T0, "endMs": T0 + 300_000},
        "sloHash": "abc123",
        "service": "carts"
    })
}
