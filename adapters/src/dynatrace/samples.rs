//! Dynatrace as a sample source: `GET /api/v2/metrics/query` over the window with
//! `resolution` = the step in whole minutes, the finest Dynatrace has. A step under a minute,
//! or not a whole number of minutes, is rounded up and said in a note ([`resolution`]): the
//! canary file stays the same for both providers, and the note tells why there are fewer
//! points. The series are merged per timestamp as [`Merge`] says; a `null` value is no point.
//!
//! A query is written as for the SLI provider ([`super::sli::parse_query`]):
//! `metricSelector=…[&entitySelector=…][&mzSelector=…]`, also `MV2;<unit>;…` (each point
//! converted). A `resolution=` of its own is refused (the step sets it), and so is `PV2;`
//! (a problem count is one number, not points).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::sli::{
    parse_query, sli_error, snippet, warnings, window_params, DynatraceSli, SliQuery, UnitScale,
};
use crate::ports::metrics::TimeWindow;
use crate::ports::samples::{merge_point, Merge, SampleSource};
use crate::ports::sli::SliError;

/// The `resolution` for `step`, in whole minutes rounded up, and a note when that is not
/// the step asked for.
pub fn resolution(step: Duration) -> (String, Option<String>) {
    let minutes = step.as_millis().div_ceil(60_000).max(1);
    let asked = Duration::from_secs(u64::try_from(minutes).unwrap_or(u64::MAX / 60) * 60);
    let note = (asked != step).then(|| {
        format!(
            "Dynatrace's resolution is whole minutes: the step {} was asked as {minutes}m (write step: {minutes}m in the canary file to say so)",
            humantime::format_duration(step)
        )
    });
    (format!("{minutes}m"), note)
}

/// The parts of a metrics query the points are asked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsSelector {
    pub metric_selector: String,
    pub entity_selector: Option<String>,
    pub mz_selector: Option<String>,
    pub unit: Option<UnitScale>,
}

/// Read a canary query for Dynatrace (placeholders already filled).
pub fn points_selector(query: &str) -> Result<PointsSelector, SliError> {
    match parse_query(query)? {
        SliQuery::Metrics {
            metric_selector,
            entity_selector,
            mz_selector,
            resolution,
            unit,
        } => {
            // Keptn's bare forms imply resolution=Inf without writing it: only a written one
            // is the query's own.
            if let Some(written) = resolution.filter(|_| query.contains("resolution=")) {
                return Err(SliError::Provider(format!(
                    "the query gives resolution={written}, but the canary file's step sets the resolution: remove resolution= from the query"
                )));
            }
            Ok(PointsSelector {
                metric_selector,
                entity_selector,
                mz_selector,
                unit,
            })
        }
        SliQuery::Problems { .. } => Err(SliError::Provider(
            "a PV2; query counts problems, one number for the window, not points per step: give a metrics query, metricSelector=…[&entitySelector=…]".into(),
        )),
    }
}

/// The array under `key`; empty when there is none.
fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Read a `/api/v2/metrics/query` answer into one value per timestamp, oldest first: the
/// timestamps of every series (one answer's series share them), each merged over the
/// series that have a value there.
pub fn read_series_answer(body: &Value, merge: Merge) -> Result<Vec<Option<f64>>, SliError> {
    if let Some(key) = body["nextPageKey"].as_str().filter(|k| !k.is_empty()) {
        return Err(SliError::Provider(format!(
            "Dynatrace paged the answer (nextPageKey {key}): the points need the whole answer on one page; merge the series in the selector (e.g. :splitBy()) or narrow the entitySelector"
        )));
    }
    let results = body["result"].as_array().ok_or_else(|| {
        SliError::Provider(format!(
            "Dynatrace answered without a result list: {}",
            snippet(body)
        ))
    })?;
    let result = match results.as_slice() {
        [] => {
            return Err(SliError::NoData(format!(
                "Dynatrace Metrics API returned zero metric series collections{}",
                warnings(body, None)
            )))
        }
        [one] => one,
        many => {
            return Err(SliError::Ambiguous(format!(
                "Dynatrace Metrics API returned {} metric series collections, not one: keep one metric expression per query",
                many.len()
            )))
        }
    };
    let series = array(result, "data");
    match series.len() {
        0 => {
            return Err(SliError::NoData(format!(
                "Dynatrace Metrics API returned zero metric series: check the metric key, the entitySelector and the window{}",
                warnings(body, Some(result))
            )))
        }
        1 => {}
        n if merge == Merge::One => {
            return Err(SliError::Ambiguous(format!(
                "Dynatrace Metrics API returned {n} metric series, not one: merge them in the selector (…:splitBy():avg), narrow the entitySelector to one entity, or set merge: sum or merge: mean"
            )))
        }
        _ => {}
    }
    let mut by_time: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for one in series {
        let (timestamps, values) = (array(one, "timestamps"), array(one, "values"));
        if timestamps.len() != values.len() {
            return Err(SliError::Provider(format!(
                "Dynatrace sent a series of {} timestamps and {} values: {}",
                timestamps.len(),
                values.len(),
                snippet(one)
            )));
        }
        for (time, value) in timestamps.iter().zip(values) {
            let time = time.as_i64().ok_or_else(|| {
                SliError::Provider(format!("Dynatrace sent the timestamp {time}, not a number"))
            })?;
            let present = by_time.entry(time).or_default();
            match value {
                Value::Null => {}
                Value::Number(n) => present.extend(n.as_f64().filter(|v| v.is_finite())),
                other => {
                    return Err(SliError::Provider(format!(
                        "Dynatrace sent the value {}, not a number",
                        snippet(other)
                    )))
                }
            }
        }
    }
    Ok(by_time
        .values()
        .map(|values| merge_point(values, merge))
        .collect())
}

#[async_trait]
impl SampleSource for DynatraceSli {
    async fn samples(
        &self,
        query: &str,
        window: TimeWindow,
        step: Duration,
        merge: Merge,
    ) -> Result<Vec<Option<f64>>, SliError> {
        let selector = points_selector(query)?;
        // The note of a rounded step is the caller's to show (it knows the step it set).
        let (minutes, _note) = resolution(step);
        let mut params = vec![
            ("metricSelector", selector.metric_selector),
            ("resolution", minutes),
        ];
        params.extend(selector.entity_selector.map(|s| ("entitySelector", s)));
        params.extend(selector.mz_selector.map(|s| ("mzSelector", s)));
        params.extend(window_params(window));
        let answer = self
            .http()
            .get("/api/v2/metrics/query", &params)
            .await
            .map_err(sli_error)?;
        let points = read_series_answer(&answer.body, merge)?;
        Ok(match selector.unit {
            Some(unit) => points
                .into_iter()
                .map(|p| p.map(|v| unit.apply(v)))
                .collect(),
            None => points,
        })
    }

    fn requests(&self) -> u64 {
        u64::try_from(self.http().requests_sent()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_795_255_260_000;

    fn answer(data: Value) -> Value {
        json!({"totalCount": 2, "nextPageKey": null, "resolution": "1m",
               "result": [{"metricId": "builtin:service.response.time:avg", "data": data}]})
    }

    fn series(entity: &str, values: Value) -> Value {
        let n = values.as_array().map_or(0, Vec::len) as i64;
        let timestamps: Vec<i64> = (0..n).map(|i| T0 + i * 60_000).collect();
        json!({"dimensions": [entity], "dimensionMap": {"dt.entity.service": entity},
               "timestamps": timestamps, "values": values})
    }

    #[test]
    fn the_step_is_asked_in_whole_minutes_and_a_rounded_one_is_said() {
        assert_eq!(resolution(Duration::from_secs(60)), ("1m".into(), None));
        assert_eq!(resolution(Duration::from_secs(300)), ("5m".into(), None));
        assert_eq!(
            resolution(Duration::from_secs(10)),
            (
                "1m".into(),
                Some("Dynatrace's resolution is whole minutes: the step 10s was asked as 1m (write step: 1m in the canary file to say so)".into())
            )
        );
        assert_eq!(resolution(Duration::from_secs(90)).0, "2m");
    }

    #[test]
    fn one_series_gives_its_points_and_null_is_no_point() {
        let body = answer(json!([series(
            "SERVICE-1",
            json!([500000.0, null, 520000.0])
        )]));
        assert_eq!(
            read_series_answer(&body, Merge::One),
            Ok(vec![Some(500000.0), None, Some(520000.0)])
        );
    }

    #[test]
    fn several_series_add_up_or_average_per_timestamp_or_are_refused() {
        let body = answer(json!([
            series("SERVICE-1", json!([470.0, 480.0, null])),
            series("SERVICE-2", json!([510.0, 520.0, null])),
        ]));
        assert_eq!(
            read_series_answer(&body, Merge::Sum),
            Ok(vec![Some(980.0), Some(1000.0), None])
        );
        assert_eq!(
            read_series_answer(&body, Merge::Mean),
            Ok(vec![Some(490.0), Some(500.0), None])
        );
        assert_eq!(
            read_series_answer(&body, Merge::One),
            Err(SliError::Ambiguous("Dynatrace Metrics API returned 2 metric series, not one: merge them in the selector (…:splitBy():avg), narrow the entitySelector to one entity, or set merge: sum or merge: mean".into()))
        );
        // A series without the first minute: its timestamps are placed, not its positions.
        let ragged = answer(json!([
            series("SERVICE-1", json!([1.0, 2.0])),
            {"dimensions": ["SERVICE-2"], "timestamps": [T0 + 60_000], "values": [4.0]},
        ]));
        assert_eq!(
            read_series_answer(&ragged, Merge::Sum),
            Ok(vec![Some(1.0), Some(6.0)])
        );
    }

    #[test]
    fn no_series_is_no_data_with_dynatraces_warning_and_odd_answers_say_why() {
        let none = read_series_answer(
            &json!({"result": [{"metricId": "k", "data": [], "warnings": ["The entity selector matched no entity"]}]}),
            Merge::Mean,
        );
        assert_eq!(
            none,
            Err(SliError::NoData("Dynatrace Metrics API returned zero metric series: check the metric key, the entitySelector and the window (Dynatrace warns: The entity selector matched no entity)".into()))
        );
        let paged = read_series_answer(&json!({"nextPageKey": "AbC", "result": []}), Merge::Sum);
        assert!(
            matches!(&paged, Err(SliError::Provider(m)) if m.starts_with("Dynatrace paged the answer (nextPageKey AbC)")),
            "{paged:?}"
        );
        let ragged = read_series_answer(
            &answer(json!([{"timestamps": [T0], "values": [1.0, 2.0]}])),
            Merge::One,
        );
        assert!(
            matches!(&ragged, Err(SliError::Provider(m)) if m.starts_with("Dynatrace sent a series of 1 timestamps and 2 values")),
            "{ragged:?}"
        );
        let two = read_series_answer(&json!({"result": [{"data": []}, {"data": []}]}), Merge::Sum);
        assert!(matches!(two, Err(SliError::Ambiguous(_))), "{two:?}");
    }

    #[test]
    fn a_query_is_a_metrics_query_whose_resolution_is_the_steps() {
        assert_eq!(
            points_selector(
                r#"MV2;MicroSecond;metricSelector=builtin:service.response.time:avg&entitySelector=type(SERVICE),tag("DeploymentGroup:Staging")"#
            ),
            Ok(PointsSelector {
                metric_selector: "builtin:service.response.time:avg".into(),
                entity_selector: Some(r#"type(SERVICE),tag("DeploymentGroup:Staging")"#.into()),
                mz_selector: None,
                unit: Some(UnitScale::MicroSecond),
            })
        );
        // Keptn's bare selector implies resolution=Inf; here the step decides.
        assert_eq!(
            points_selector("builtin:service.errors.total.rate:avg").map(|s| s.metric_selector),
            Ok("builtin:service.errors.total.rate:avg".into())
        );
        assert_eq!(
            points_selector("metricSelector=k:avg&resolution=Inf"),
            Err(SliError::Provider("the query gives resolution=Inf, but the canary file's step sets the resolution: remove resolution= from the query".into()))
        );
        assert_eq!(
            points_selector("PV2;problemSelector=status(\"open\")"),
            Err(SliError::Provider("a PV2; query counts problems, one number for the window, not points per step: give a metrics query, metricSelector=…[&entitySelector=…]".into()))
        );
        assert!(matches!(
            points_selector("USQL;COLUMN_CHART;iOS;SELECT 1"),
            Err(SliError::Provider(_))
        ));
    }
}
