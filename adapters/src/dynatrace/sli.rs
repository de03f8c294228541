//! Dynatrace as an SLI provider, reading sli.yaml queries as Keptn's dynatrace-service wrote
//! them:
//!
//! - `metricSelector=<sel>[&entitySelector=<sel>][&mzSelector=<sel>][&resolution=<r>]`:
//!   `GET /api/v2/metrics/query` over the window, as dynatrace-service asks: the query as
//!   written; when it gives several values, the metric's descriptor
//!   (`GET /api/v2/metrics/{selector}`), then the query again with `resolution=Inf` (no
//!   resolution was given and the metric allows it) or as `(<sel>):fold`; exactly one value
//!   counts. `resolution=Inf` in any letter case, Keptn's older
//!   `<metric selector>?scope=<entity selector>` and the bare `<metric selector>[?]` are one
//!   request with `resolution=Inf`.
//! - `MV2;<unit>;<the same>`: the value converted as Keptn does, `MicroSecond` ÷ 1,000 (to ms)
//!   and `Byte` ÷ 1,024 (to KiB).
//! - `PV2;problemSelector=<sel>[&entitySelector=<sel>]`: `GET /api/v2/problems` over the
//!   window; the value is `totalCount`, the number of problems. With an entitySelector, the
//!   entities API is asked first how many entities it matches: none is no data (a selector
//!   on a mistyped tag counts zero problems, which would pass), never a count of zero.
//!
//! Keptn's other forms (`USQL;`, `SLO;`, `SECPV2;`) are refused with a message, as is anything
//! else. Parsing is pure ([`parse_query`], [`read_metrics_answer`], [`read_problems_answer`]);
//! only [`DynatraceSli::value`] talks to the tenant, through [`DynatraceHttp`] (retries,
//! token, scopes).

use async_trait::async_trait;
use serde_json::Value;

use super::http::DynatraceHttp;
use crate::ports::metrics::TimeWindow;
use crate::ports::sli::{SliError, SliProvider};

pub use unbreakable_core::slo::dynatrace_query::{parse_query, QueryError, SliQuery, UnitScale};

// `From<QueryError> for SliError` (a refused query is the provider's refusal) is in
// `unbreakable-app`'s `ports::sli`: the orphan rule keeps it with one of its two types.

/// `warnings` of the answer and of its result, for the no-data message: Dynatrace says there
/// why a selector matched nothing.
pub(super) fn warnings(body: &Value, result: Option<&Value>) -> String {
    let list: Vec<&str> = [Some(body), result]
        .into_iter()
        .flatten()
        .flat_map(|v| v["warnings"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!(" (Dynatrace warns: {})", list.join("; "))
    }
}

/// What a metrics answer held, when it is not one value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsAnswerError {
    /// One series with several values: the query may be asked again with `resolution=Inf`
    /// or `:fold`.
    SeveralValues(usize),
    Other(SliError),
}

impl From<MetricsAnswerError> for SliError {
    fn from(e: MetricsAnswerError) -> Self {
        match e {
            MetricsAnswerError::SeveralValues(n) => SliError::Ambiguous(format!(
                "Dynatrace Metrics API returned {n} values but only one is supported: query with resolution=Inf, or fold the series (:fold)"
            )),
            MetricsAnswerError::Other(e) => e,
        }
    }
}

/// Read a `/api/v2/metrics/query` answer: one expression, one series, one non-null value
/// (values counted as sent, nulls included, as dynatrace-service counts them).
pub fn read_metrics_answer(body: &Value) -> Result<f64, MetricsAnswerError> {
    let other = |e: SliError| MetricsAnswerError::Other(e);
    if let Some(key) = body["nextPageKey"].as_str().filter(|k| !k.is_empty()) {
        return Err(other(SliError::Provider(format!(
            "Dynatrace paged the answer (nextPageKey {key}): an SLI needs the whole answer on one page; merge the series (e.g. :merge(\"dt.entity.service\")) or narrow the entitySelector"
        ))));
    }
    let results = body["result"].as_array().ok_or_else(|| {
        other(SliError::Provider(format!(
            "Dynatrace answered without a result list: {}",
            snippet(body)
        )))
    })?;
    let result = match results.len() {
        0 => {
            return Err(other(SliError::NoData(format!(
                "Dynatrace Metrics API returned zero metric series collections{}",
                warnings(body, None)
            ))))
        }
        1 => &results[0],
        n => {
            return Err(other(SliError::Ambiguous(format!(
                "Dynatrace Metrics API returned {n} metric series collections, not one: keep one metric expression per SLI"
            ))))
        }
    };
    let series = result["data"].as_array().cloned().unwrap_or_default();
    let only = match series.len() {
        0 => {
            return Err(other(SliError::NoData(format!(
                "Dynatrace Metrics API returned zero metric series: check the metric key, the entitySelector and the window{}",
                warnings(body, Some(result))
            ))))
        }
        1 => &series[0],
        n => {
            return Err(other(SliError::Ambiguous(format!(
                "Dynatrace Metrics API returned {n} metric series but only one is supported: merge them before the aggregation, e.g. …:merge(\"dt.entity.service\"):avg or …:splitBy():avg, or narrow the entitySelector to one entity"
            ))))
        }
    };
    let values = only["values"].as_array().cloned().unwrap_or_default();
    match values.as_slice() {
        [] => Err(other(SliError::NoData(format!(
            "Dynatrace Metrics API returned zero values{}",
            warnings(body, Some(result))
        )))),
        [v] => v.as_f64().ok_or_else(|| {
            other(SliError::NoData(format!(
                "Dynatrace Metrics API returned 'null' as value{}",
                warnings(body, Some(result))
            )))
        }),
        many => Err(MetricsAnswerError::SeveralValues(many.len())),
    }
}

/// What the flow reads of a metric's descriptor (`GET /api/v2/metrics/{selector}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDescriptor {
    pub resolution_inf_supported: bool,
    /// `defaultAggregation.type` is `value`: `:fold` cannot be applied.
    pub default_aggregation_is_value: bool,
}

pub fn read_descriptor(body: &Value) -> MetricDescriptor {
    MetricDescriptor {
        resolution_inf_supported: body["resolutionInfSupported"].as_bool() == Some(true),
        default_aggregation_is_value: body["defaultAggregation"]["type"].as_str() == Some("value"),
    }
}

/// After an answer with several values, what to ask next (dynatrace-service's
/// `applyFoldOrResolutionInf`): `(selector, resolution)`, or why it cannot be made one value.
pub fn one_value_query(
    selector: &str,
    resolution: Option<&str>,
    descriptor: MetricDescriptor,
) -> Result<(String, Option<String>), SliError> {
    if resolution.is_none() && descriptor.resolution_inf_supported {
        return Ok((selector.to_string(), Some("Inf".into())));
    }
    if descriptor.default_aggregation_is_value {
        return Err(SliError::Provider(format!(
            "unable to apply ':fold' to the metric selector {selector} as the default aggregation type is 'value': add an aggregation before it (e.g. :avg), or use resolution=Inf where the metric allows it"
        )));
    }
    Ok((format!("({selector}):fold"), resolution.map(str::to_string)))
}

/// Read a `/api/v2/problems` answer: `totalCount` counts every match, whatever the page size.
pub fn read_problems_answer(body: &Value) -> Result<f64, SliError> {
    body["totalCount"]
        .as_u64()
        .map(|n| n as f64)
        .ok_or_else(|| {
            SliError::Provider(format!(
                "Dynatrace answered /api/v2/problems without totalCount: {}",
                snippet(body)
            ))
        })
}

pub(super) fn snippet(body: &Value) -> String {
    body.to_string().chars().take(200).collect()
}

/// The Dynatrace SLI provider over one tenant.
pub struct DynatraceSli {
    http: DynatraceHttp,
}

impl DynatraceSli {
    pub fn new(http: DynatraceHttp) -> Self {
        DynatraceSli { http }
    }

    pub fn http(&self) -> &DynatraceHttp {
        &self.http
    }
}

pub(super) fn window_params(window: TimeWindow) -> [(&'static str, String); 2] {
    [
        ("from", window.from_ms.to_string()),
        ("to", window.to_ms.to_string()),
    ]
}

/// `text` as one URL path segment, escaped as dynatrace-service's Go client escapes the
/// selector of a metric descriptor (`url.PathEscape`): letters, digits, `-._~` and
/// `$&+:=@` stay; everything else (quotes, parentheses, commas, spaces) is percent-encoded.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.' | b'_' | b'~' | b'$' | b'&' | b'+' | b':' | b'=' | b'@'
            );
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A Dynatrace call's error as an SLI error: the tenant could not be asked at all (down,
/// the token refused) fails the whole evaluation; a refused query fails its SLI.
pub(super) fn sli_error(e: super::DynatraceError) -> SliError {
    use super::DynatraceError as E;
    match e {
        E::Unreachable { .. }
        | E::Timeout { .. }
        | E::Unauthorized { .. }
        | E::MissingScope { .. } => SliError::Unavailable(e.to_string()),
        E::Http { status, .. } if status == 429 || status >= 500 => {
            SliError::Unavailable(e.to_string())
        }
        other => SliError::Provider(other.to_string()),
    }
}

impl DynatraceSli {
    async fn metrics(
        &self,
        selector: &str,
        resolution: Option<&str>,
        entity_selector: Option<&str>,
        mz_selector: Option<&str>,
        window: TimeWindow,
    ) -> Result<Value, SliError> {
        let mut params = vec![("metricSelector", selector.to_string())];
        params.extend(resolution.map(|r| ("resolution", r.to_string())));
        params.extend(entity_selector.map(|s| ("entitySelector", s.to_string())));
        params.extend(mz_selector.map(|s| ("mzSelector", s.to_string())));
        params.extend(window_params(window));
        self.http
            .get("/api/v2/metrics/query", &params)
            .await
            .map(|answer| answer.body)
            .map_err(sli_error)
    }

    /// One value of a metric query, in as many requests as it takes (see the module's
    /// comment): one when the answer has one value.
    async fn metric_value(
        &self,
        selector: &str,
        resolution: Option<&str>,
        entity_selector: Option<&str>,
        mz_selector: Option<&str>,
        window: TimeWindow,
    ) -> Result<f64, SliError> {
        let first = self
            .metrics(selector, resolution, entity_selector, mz_selector, window)
            .await?;
        match read_metrics_answer(&first) {
            Ok(v) => return Ok(v),
            Err(MetricsAnswerError::SeveralValues(_)) => {}
            Err(MetricsAnswerError::Other(e)) => return Err(e),
        }
        let path = format!("/api/v2/metrics/{}", path_segment(selector));
        let descriptor = self.http.get(&path, &[]).await.map_err(sli_error)?;
        let (selector, resolution) =
            one_value_query(selector, resolution, read_descriptor(&descriptor.body))?;
        let second = self
            .metrics(
                &selector,
                resolution.as_deref(),
                entity_selector,
                mz_selector,
                window,
            )
            .await?;
        Ok(read_metrics_answer(&second)?)
    }

    /// How many entities `selector` matches in the window.
    async fn entity_count(&self, selector: &str, window: TimeWindow) -> Result<u64, SliError> {
        let mut params = vec![
            ("entitySelector", selector.to_string()),
            ("pageSize", "1".to_string()),
        ];
        params.extend(window_params(window));
        let answer = self
            .http
            .get("/api/v2/entities", &params)
            .await
            .map_err(sli_error)?;
        answer.body["totalCount"].as_u64().ok_or_else(|| {
            SliError::Provider(format!(
                "Dynatrace answered /api/v2/entities without totalCount: {}",
                snippet(&answer.body)
            ))
        })
    }
}

#[async_trait]
impl SliProvider for DynatraceSli {
    async fn value(&self, query: &str, window: TimeWindow) -> Result<f64, SliError> {
        match parse_query(query)? {
            SliQuery::Metrics {
                metric_selector,
                entity_selector,
                mz_selector,
                resolution,
                unit,
            } => {
                let value = self
                    .metric_value(
                        &metric_selector,
                        resolution.as_deref(),
                        entity_selector.as_deref(),
                        mz_selector.as_deref(),
                        window,
                    )
                    .await?;
                Ok(unit.map_or(value, |u| u.apply(value)))
            }
            SliQuery::Problems {
                problem_selector,
                entity_selector,
            } => {
                if let Some(selector) = &entity_selector {
                    // Fail closed where dynatrace-service counts 0: a selector that matches
                    // no entity proves nothing about problems.
                    if self.entity_count(selector, window).await? == 0 {
                        return Err(SliError::NoData(format!(
                            "the entitySelector {selector} matches no entity in the window, so no problem count can be trusted: check its tags (and the $STAGE/$SERVICE they were filled with)"
                        )));
                    }
                }
                let mut params = Vec::new();
                params.extend(problem_selector.map(|s| ("problemSelector", s)));
                params.extend(entity_selector.map(|s| ("entitySelector", s)));
                params.extend(window_params(window));
                let answer = self
                    .http
                    .get("/api/v2/problems", &params)
                    .await
                    .map_err(sli_error)?;
                read_problems_answer(&answer.body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metrics(metric: &str, entity: Option<&str>, unit: Option<UnitScale>) -> SliQuery {
        SliQuery::Metrics {
            metric_selector: metric.into(),
            entity_selector: entity.map(str::to_string),
            mz_selector: None,
            resolution: None,
            unit,
        }
    }

    fn at_inf(query: SliQuery) -> SliQuery {
        match query {
            SliQuery::Metrics {
                metric_selector,
                entity_selector,
                mz_selector,
                unit,
                ..
            } => SliQuery::Metrics {
                metric_selector,
                entity_selector,
                mz_selector,
                resolution: Some("Inf".into()),
                unit,
            },
            other => other,
        }
    }

    #[test]
    fn keptn_query_forms_parse() {
        let rt = r#"builtin:service.response.time:merge("dt.entity.service"):avg"#;
        let staging = r#"type(SERVICE),tag("DeploymentGroup:Staging")"#;
        let cases: Vec<(String, SliQuery)> = vec![
            (
                format!("metricSelector={rt}&entitySelector={staging}"),
                metrics(rt, Some(staging), None),
            ),
            (
                format!("  metricSelector={rt}&resolution=Inf  "),
                at_inf(metrics(rt, None, None)),
            ),
            // dynatrace-service's explicit_resolution_inf cases: sent as written.
            (
                format!("metricSelector={rt}&resolution=iNF"),
                SliQuery::Metrics {
                    metric_selector: rt.into(),
                    entity_selector: None,
                    mz_selector: None,
                    resolution: Some("iNF".into()),
                    unit: None,
                },
            ),
            (
                format!("metricSelector={rt}&resolution=30m"),
                SliQuery::Metrics {
                    metric_selector: rt.into(),
                    entity_selector: None,
                    mz_selector: None,
                    resolution: Some("30m".into()),
                    unit: None,
                },
            ),
            // Keptn's oldest form, with and without the trailing `?`.
            (
                "builtin:service.response.time:splitBy():percentile(95.0)".into(),
                at_inf(metrics(
                    "builtin:service.response.time:splitBy():percentile(95.0)",
                    None,
                    None,
                )),
            ),
            (
                "builtin:service.response.time:splitBy():percentile(95.0)?".into(),
                at_inf(metrics(
                    "builtin:service.response.time:splitBy():percentile(95.0)",
                    None,
                    None,
                )),
            ),
            (
                format!("MV2;MicroSecond;metricSelector={rt}&entitySelector={staging}"),
                metrics(rt, Some(staging), Some(UnitScale::MicroSecond)),
            ),
            (
                format!("MV2;microsecond;metricSelector={rt}"),
                metrics(rt, None, Some(UnitScale::MicroSecond)),
            ),
            (
                "MV2;Byte;metricSelector=builtin:host.mem.used:avg".into(),
                metrics("builtin:host.mem.used:avg", None, Some(UnitScale::Byte)),
            ),
            // The `&` and `=` inside quotes belong to the selector.
            (
                r#"metricSelector=k:avg&entitySelector=type(SERVICE),entityName.equals("a&b=c")"#
                    .into(),
                metrics(
                    "k:avg",
                    Some(r#"type(SERVICE),entityName.equals("a&b=c")"#),
                    None,
                ),
            ),
            (
                format!("{rt}?scope=tag(\"keptn_managed\")"),
                at_inf(metrics(
                    rt,
                    Some("tag(\"keptn_managed\"),type(SERVICE)"),
                    None,
                )),
            ),
            (
                format!("PV2;problemSelector=status(\"open\")&entitySelector={staging}"),
                SliQuery::Problems {
                    problem_selector: Some("status(\"open\")".into()),
                    entity_selector: Some(staging.into()),
                },
            ),
            (
                "PV2;".into(),
                SliQuery::Problems {
                    problem_selector: None,
                    entity_selector: None,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_query(&text), Ok(expected), "{text}");
        }
        assert_eq!(
            parse_query("metricSelector=k&mzSelector=mzName(\"Ops\")"),
            Ok(SliQuery::Metrics {
                metric_selector: "k".into(),
                entity_selector: None,
                mz_selector: Some("mzName(\"Ops\")".into()),
                resolution: None,
                unit: None
            })
        );
    }

    #[test]
    fn bad_queries_say_what_is_wrong_and_what_to_write() {
        let forms = "write metricSelector=…[&entitySelector=…], MV2;<unit>;metricSelector=…[&entitySelector=…] or PV2;problemSelector=…[&entitySelector=…]";
        let cases: &[(&str, String)] = &[
            ("", format!("the query is empty: {forms}")),
            ("   ", format!("the query is empty: {forms}")),
            (
                "USQL;COLUMN_CHART;iOS;SELECT osVersion FROM usersession",
                format!("USQL; queries (user sessions) are not supported by the Dynatrace SLI provider: {forms}"),
            ),
            (
                "SLO;7d2b1c34-8a7f",
                format!("SLO; queries (Dynatrace service-level objectives) are not supported by the Dynatrace SLI provider: {forms}"),
            ),
            (
                "SECPV2;securityProblemSelector=status(\"open\")",
                format!("SECPV2; queries (security problems) are not supported by the Dynatrace SLI provider: {forms}"),
            ),
            ("XYZ;metricSelector=k", format!("unknown query prefix \"XYZ;\": {forms}")),
            ("mv2;MicroSecond;metricSelector=k", format!("unknown query prefix \"mv2;\": {forms}")),
            (
                "MV2;Second;metricSelector=k",
                "unknown unit \"Second\" in MV2;Second;…: use MicroSecond (÷ 1,000 → ms) or Byte (÷ 1,024 → KiB)".into(),
            ),
            (
                "MV2;metricSelector=k",
                "an MV2 query needs a unit and a metrics query: write MV2;<unit>;metricSelector=…, with unit MicroSecond (÷ 1,000 → ms) or Byte (÷ 1,024 → KiB)".into(),
            ),
            ("MV2;;metricSelector=k", "an MV2 query needs a unit and a metrics query: write MV2;<unit>;metricSelector=…, with unit MicroSecond (÷ 1,000 → ms) or Byte (÷ 1,024 → KiB)".into()),
            ("MV2;Byte;", "an MV2 query needs a unit and a metrics query: write MV2;<unit>;metricSelector=…, with unit MicroSecond (÷ 1,000 → ms) or Byte (÷ 1,024 → KiB)".into()),
            (
                "garbage?scope",
                format!("\"garbage?scope\" is not a query this provider reads: if it is a metric selector, write metricSelector=garbage?scope[&entitySelector=…]; the forms are {}", &forms[6..]),
            ),
            (
                "metricSelector=k&entitySelector=",
                format!("\"entitySelector=\" is not a key=value pair (both non-empty): {forms}"),
            ),
            (
                "metricSelector=k&scope=tag(\"x\")",
                "unknown key \"scope\" in the metrics query: use metricSelector, entitySelector, mzSelector, resolution".into(),
            ),
            (
                "metricSelector=k&metricSelector=j",
                "the key \"metricSelector\" appears twice: give it once".into(),
            ),
            (
                "entitySelector=type(SERVICE)",
                "the metrics query has no metricSelector: write metricSelector=<metric key>:<transformations>[&entitySelector=…]".into(),
            ),
            (
                "PV2;problemSelector=status(\"open\")&metricSelector=k",
                "unknown key \"metricSelector\" in the problems query: use problemSelector, entitySelector".into(),
            ),
        ];
        for (query, expected) in cases {
            let error = parse_query(query).unwrap_err();
            assert_eq!(&error.to_string(), expected, "{query}");
            assert!(matches!(SliError::from(error), SliError::Provider(_)));
        }
    }

    #[test]
    fn units_convert_as_keptn_does() {
        assert_eq!(UnitScale::MicroSecond.apply(520_000.0), 520.0);
        assert_eq!(UnitScale::Byte.apply(2048.0), 2.0);
    }

    fn answer(data: Value) -> Value {
        json!({"totalCount": 1, "nextPageKey": null, "resolution": "Inf",
               "result": [{"metricId": "k", "data": data}]})
    }

    #[test]
    fn metric_answers_give_one_value_no_data_or_say_how_to_get_one() {
        assert_eq!(
            read_metrics_answer(&answer(
                json!([{"dimensionMap": {}, "timestamps": [1], "values": [357.5]}])
            )),
            Ok(357.5)
        );
        let sli = |r: Result<f64, MetricsAnswerError>| SliError::from(r.unwrap_err());
        let none = sli(read_metrics_answer(
            &json!({"result": [{"metricId": "k", "data": [], "warnings": ["The entity selector matched no entity"]}]}),
        ));
        assert!(matches!(none, SliError::NoData(_)), "{none:?}");
        assert!(
            none.to_string()
                .contains("Dynatrace warns: The entity selector matched no entity"),
            "{none}"
        );
        let null = sli(read_metrics_answer(&answer(json!([{"values": [null]}]))));
        assert!(matches!(null, SliError::NoData(_)), "{null:?}");
        assert!(
            null.to_string().contains("returned 'null' as value"),
            "{null}"
        );
        let empty = sli(read_metrics_answer(&answer(json!([{"values": []}]))));
        assert!(
            empty.to_string().contains("returned zero values"),
            "{empty}"
        );
        let two = sli(read_metrics_answer(&answer(
            json!([{"values": [1.0]}, {"values": [2.0]}]),
        )));
        assert!(matches!(two, SliError::Ambiguous(_)));
        assert!(
            two.to_string()
                .starts_with("Dynatrace Metrics API returned 2 metric series but only one is supported: merge them")
                && two
                    .to_string()
                    .contains(":merge(\"dt.entity.service\"):avg"),
            "{two}"
        );
        // Nulls count, as dynatrace-service counts them: [5, null] is two values, not 5.
        assert_eq!(
            read_metrics_answer(&answer(json!([{"values": [5.0, null]}]))),
            Err(MetricsAnswerError::SeveralValues(2))
        );
        let expressions = sli(read_metrics_answer(
            &json!({"result": [{"data": []}, {"data": []}]}),
        ));
        assert!(
            expressions
                .to_string()
                .contains("2 metric series collections"),
            "{expressions}"
        );
        let paged = sli(read_metrics_answer(
            &json!({"nextPageKey": "AbC", "result": []}),
        ));
        assert!(
            matches!(&paged, SliError::Provider(m) if m.starts_with("Dynatrace paged the answer (nextPageKey AbC)")),
            "{paged:?}"
        );
        let odd = sli(read_metrics_answer(&json!({"error": "?"})));
        assert!(
            odd.to_string()
                .starts_with("Dynatrace answered without a result list"),
            "{odd}"
        );
    }

    #[test]
    fn several_values_ask_again_with_inf_or_fold_as_dynatrace_service_does() {
        let descriptor = |inf: bool, value: bool| MetricDescriptor {
            resolution_inf_supported: inf,
            default_aggregation_is_value: value,
        };
        let rt = "builtin:service.response.time:splitBy()";
        assert_eq!(
            one_value_query(rt, None, descriptor(true, false)),
            Ok((rt.to_string(), Some("Inf".into())))
        );
        // A resolution given is kept; the series are folded (success_with_other_resolution).
        assert_eq!(
            one_value_query(rt, Some("30m"), descriptor(true, false)),
            Ok((format!("({rt}):fold"), Some("30m".into())))
        );
        assert_eq!(
            one_value_query(
                "builtin:pgi.availability:splitBy()",
                None,
                descriptor(false, false)
            ),
            Ok(("(builtin:pgi.availability:splitBy()):fold".into(), None))
        );
        let no_fold = one_value_query(
            "builtin:pgi.availability:splitBy():avg",
            None,
            descriptor(false, true),
        )
        .unwrap_err();
        assert!(
            no_fold.to_string().starts_with("unable to apply ':fold' to the metric selector builtin:pgi.availability:splitBy():avg as the default aggregation type is 'value'"),
            "{no_fold}"
        );
        assert_eq!(
            read_descriptor(
                &json!({"resolutionInfSupported": true, "defaultAggregation": {"type": "value"}})
            ),
            descriptor(true, true)
        );
    }

    #[test]
    fn a_descriptor_path_is_escaped_as_go_escapes_a_path_segment() {
        assert_eq!(
            path_segment(
                r#"builtin:service.response.time:merge("dt.entity.service"):percentile(95)"#
            ),
            "builtin:service.response.time:merge%28%22dt.entity.service%22%29:percentile%2895%29"
        );
        assert_eq!(path_segment("a b/c,d?"), "a%20b%2Fc%2Cd%3F");
    }

    #[test]
    fn values_read_back_exactly_as_dynatrace_wrote_them() {
        // dynatrace-service's recorded answers whose last digit differed before.
        for (text, expected) in [
            ("12910.279946732833", 12910.279946732833),
            ("97.46884534911891", 97.46884534911891),
            ("97.47250403469201", 97.47250403469201),
        ] {
            let body: Value = serde_json::from_str(&format!(
                r#"{{"result": [{{"data": [{{"values": [{text}]}}]}}]}}"#
            ))
            .unwrap();
            assert_eq!(read_metrics_answer(&body), Ok(expected), "{text}");
        }
    }

    #[test]
    fn problem_answers_count_every_match() {
        assert_eq!(
            read_problems_answer(&json!({"totalCount": 3, "pageSize": 1, "problems": [{}]})),
            Ok(3.0)
        );
        assert!(read_problems_answer(&json!({"problems": []}))
            .unwrap_err()
            .to_string()
            .contains("without totalCount"));
    }
}
