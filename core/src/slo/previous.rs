//! Earlier evaluations as a team brings them: this tool's own evaluations, or Keptn's
//! `sh.keptn.event.evaluation.finished` events as Keptn exports them, one by one or as the
//! event list its API answers with (`{"events": [...]}`), so that relative criteria have
//! their baseline from the first build after a move from Keptn.

use std::collections::HashSet;

use serde_json::Value;

use super::score::PreviousEvaluation;

/// The event whose `data.evaluation` is an evaluation.
pub const EVALUATION_FINISHED: &str = "sh.keptn.event.evaluation.finished";
/// The event that withdraws the evaluation triggered by its `triggeredid`.
pub const EVALUATION_INVALIDATED: &str = "sh.keptn.event.evaluation.invalidated";

/// The forms [`previous_from_json`] reads, for messages.
pub const ACCEPTED_SHAPES: &str = "give, newest first, a JSON array of this command's JSON outputs (each with \"result\", \"score\" and \"indicatorResults\"), a JSON array of Keptn's sh.keptn.event.evaluation.finished events (the evaluation under data.evaluation), or Keptn's event list {\"events\": [...]} as its API answers";

/// The earlier evaluations in `json`, newest first as given. Keptn's events become
/// evaluations with the event's `id` (what `comparedEvaluations` then names, as Keptn's
/// comparedEvents do); an evaluation that an `evaluation.invalidated` event in the same
/// list withdraws is left out, as Keptn's lighthouse leaves it out of the baseline.
pub fn previous_from_json(json: &Value) -> Result<Vec<PreviousEvaluation>, String> {
    let (items, list) = match json {
        Value::Array(items) => (items, ""),
        Value::Object(object) => match object.get("events") {
            Some(Value::Array(items)) => (items, "events"),
            Some(_) => return Err(format!("\"events\" is not an array: {ACCEPTED_SHAPES}")),
            None => {
                return Err(format!(
                "a JSON object without \"events\" is not a list of evaluations: {ACCEPTED_SHAPES}"
            ))
            }
        },
        _ => return Err(format!("not a list of evaluations: {ACCEPTED_SHAPES}")),
    };
    let invalidated: HashSet<&str> = items
        .iter()
        .filter(|item| item["type"] == EVALUATION_INVALIDATED)
        .filter_map(|item| item["triggeredid"].as_str())
        .collect();
    let mut evaluations = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{list}[{i}]");
        let kind = item.get("type").and_then(Value::as_str);
        match kind {
            Some(EVALUATION_INVALIDATED) => continue,
            Some(EVALUATION_FINISHED) | None => {}
            Some(other) => {
                return Err(format!(
                    "{at} is a {other} event: only {EVALUATION_FINISHED} events carry an evaluation; leave the others out"
                ))
            }
        }
        let evaluation = match item.pointer("/data/evaluation") {
            Some(Value::Object(evaluation)) => evaluation,
            Some(_) => return Err(format!("{at}.data.evaluation is not a JSON object")),
            None if kind.is_some() => {
                return Err(format!(
                    "{at} is an {EVALUATION_FINISHED} event without data.evaluation: export the event as Keptn stored it"
                ))
            }
            None => {
                let evaluation: PreviousEvaluation = serde_json::from_value(item.clone())
                    .map_err(|e| format!("{at}: {e}: {ACCEPTED_SHAPES}"))?;
                evaluations.push(evaluation);
                continue;
            }
        };
        if item["triggeredid"]
            .as_str()
            .is_some_and(|id| invalidated.contains(id))
        {
            continue;
        }
        let mut fields = evaluation.clone();
        if !fields.contains_key("result") {
            // Keptn writes the result in both places; older exports only in data.
            if let Some(result) = item.pointer("/data/result") {
                fields.insert("result".into(), result.clone());
            }
        }
        fields.insert("id".into(), item.get("id").cloned().unwrap_or(Value::Null));
        let evaluation: PreviousEvaluation = serde_json::from_value(Value::Object(fields))
            .map_err(|e| format!("{at}.data.evaluation: {e}"))?;
        evaluations.push(evaluation);
    }
    Ok(evaluations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::score::Outcome;
    use crate::slo::{evaluate, parse_slo, SliValue};
    use serde_json::json;

    fn ours(id: &str, result: &str, value: f64) -> Value {
        json!({"id": id, "result": result, "score": 100, "indicatorResults": [
            {"score": 1, "status": "pass", "value": {"metric": "response_time_p95", "value": value, "success": true}}
        ]})
    }

    /// An evaluation.finished event as Keptn's datastore returns it.
    fn event(id: &str, triggered: &str, result: &str, value: f64) -> Value {
        json!({
            "type": EVALUATION_FINISHED, "id": id, "triggeredid": triggered,
            "time": "2019-11-18T11:30:45.340Z", "shkeptncontext": "a1b2",
            "source": "lighthouse-service", "specversion": "1.0",
            "data": {"project": "sockshop", "stage": "dev", "service": "carts", "result": result, "status": "succeeded",
                "evaluation": {"timeStart": "2019-11-18T11:21:06Z", "timeEnd": "2019-11-18T11:29:36Z",
                    "result": result, "score": 100, "sloFileContent": "",
                    "indicatorResults": [{"score": 1, "status": "pass", "keySli": false, "displayName": "",
                        "passTargets": null, "warningTargets": null,
                        "value": {"metric": "response_time_p95", "value": value, "comparedValue": 0, "success": true, "message": ""}}],
                    "comparedEvents": []}}
        })
    }

    fn baseline(previous: &[PreviousEvaluation]) -> (f64, Vec<String>) {
        let slo = parse_slo(
            "slo.yaml",
            "comparison: {compare_with: several_results, number_of_comparison_results: 2, include_result_with_score: pass}\nobjectives:\n  - sli: response_time_p95\n    pass: [{criteria: [\"<=+10%\"]}]\ntotal_score: {pass: \"90%\"}\n",
        )
        .unwrap();
        let measured = [SliValue {
            metric: "response_time_p95".into(),
            value: 100.0,
            compared_value: 0.0,
            success: true,
            message: String::new(),
        }];
        let e = evaluate(&slo, &measured, previous);
        let compared = e.indicator_results[0]
            .value
            .as_ref()
            .unwrap()
            .compared_value;
        (compared, e.compared_evaluations)
    }

    #[test]
    fn keptn_events_and_the_event_list_give_the_same_baseline_as_our_own_results() {
        let expected = (300.0, vec!["e3".to_string(), "e1".to_string()]);
        let own = json!([
            ours("e3", "pass", 400.0),
            ours("e2", "fail", 900.0),
            ours("e1", "pass", 200.0)
        ]);
        let events = json!([
            event("e3", "t3", "pass", 400.0),
            event("e2", "t2", "fail", 900.0),
            event("e1", "t1", "pass", 200.0),
        ]);
        let list =
            json!({"events": events.clone(), "nextPageKey": "0", "pageSize": 3, "totalCount": 3});
        for (name, json) in [("own", own), ("events", events), ("list", list)] {
            let previous = previous_from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(previous.len(), 3, "{name}");
            assert_eq!(previous[1].result, Outcome::Fail, "{name}");
            assert_eq!(baseline(&previous), expected, "{name}");
        }
    }

    #[test]
    fn an_invalidated_evaluation_is_no_baseline() {
        let list = json!({"events": [
            {"type": EVALUATION_INVALIDATED, "id": "i1", "triggeredid": "t3", "data": {}},
            event("e3", "t3", "pass", 400.0),
            event("e1", "t1", "pass", 200.0),
        ]});
        let previous = previous_from_json(&list).unwrap();
        assert_eq!(previous.len(), 1);
        assert_eq!(previous[0].id.as_deref(), Some("e1"));
    }

    #[test]
    fn an_older_export_with_the_result_in_data_only_reads() {
        let mut old = event("e1", "t1", "warning", 200.0);
        old["data"]["evaluation"]
            .as_object_mut()
            .unwrap()
            .remove("result");
        let previous = previous_from_json(&json!([old])).unwrap();
        assert_eq!(previous[0].result, Outcome::Warning);
    }

    #[test]
    fn other_shapes_are_refused_naming_the_accepted_ones() {
        let shapes = "give, newest first, a JSON array of this command's JSON outputs (each with \"result\", \"score\" and \"indicatorResults\"), a JSON array of Keptn's sh.keptn.event.evaluation.finished events (the evaluation under data.evaluation), or Keptn's event list {\"events\": [...]} as its API answers";
        let cases = [
            (json!({"result": "pass"}), format!("a JSON object without \"events\" is not a list of evaluations: {shapes}")),
            (json!({"events": {}}), format!("\"events\" is not an array: {shapes}")),
            (json!("pass"), format!("not a list of evaluations: {shapes}")),
            (
                json!({"events": [{"type": "sh.keptn.event.deployment.finished", "data": {}}]}),
                "events[0] is a sh.keptn.event.deployment.finished event: only sh.keptn.event.evaluation.finished events carry an evaluation; leave the others out".to_string(),
            ),
            (
                json!([{"type": EVALUATION_FINISHED, "data": {"result": "pass"}}]),
                "[0] is an sh.keptn.event.evaluation.finished event without data.evaluation: export the event as Keptn stored it".to_string(),
            ),
            (
                json!([{"score": 90}]),
                format!("[0]: missing field `result`: {shapes}"),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(previous_from_json(&json).unwrap_err(), expected, "{json}");
        }
    }
}
