//! Dynatrace API v2: entities, `/api/v2/metrics/query` with `resolution=Inf`, events, problems.
//!
//! One observation costs at most three requests, all sent at once: the entity lookup, one
//! metric query for every service-level signature (merged across entities by the server with
//! `:splitBy()`), and one for every service-method signature.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::http::{DynatraceError, DynatraceHttp};
use super::v1::url_segment;
use crate::evaluation::combine::{combine, Combination, CombineError, EntityValue};
use crate::monspec::catalog::{self, MetricKind, Unit};
use crate::monspec::{Aggregate, EntityType, Relationship, RelationshipDirection, Tag};
use crate::ports::metrics::{
    EntityRef, EnvironmentQuery, MeasuredValue, Measurement, MetricSpec, MetricsSource,
    Observation, TimeWindow,
};

/// At most this many metric expressions per query (Dynatrace's limit).
const MAX_EXPRESSIONS: usize = 10;
const METHOD_DIMENSION: &str = "dt.entity.service_method";

pub struct DynatraceV2 {
    http: DynatraceHttp,
}

/// Quote a value for a selector: `"` and `~` are escaped with `~`.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('~', "~~").replace('"', "~\""))
}

/// `tag("…")` for one monspec tag; colons inside key or value are escaped with `\`.
pub fn tag_criterion(tag: &Tag) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
    let mut text = String::new();
    if !tag.is_contextless() {
        text.push_str(&format!("[{}]", tag.context));
    }
    text.push_str(&esc(&tag.key));
    if let Some(v) = &tag.value {
        text.push(':');
        text.push_str(&esc(v));
    }
    format!("tag({})", quote(&text))
}

/// `type(SERVICE),tag("DeploymentGroup:Staging"),…`
pub fn entity_selector(etype: EntityType, tags: &[Tag]) -> String {
    std::iter::once(format!("type({etype})"))
        .chain(tags.iter().map(tag_criterion))
        .collect::<Vec<_>>()
        .join(",")
}

/// How a monspec metric becomes a v2 expression.
#[derive(Debug, Clone, PartialEq)]
pub struct V2Metric {
    pub key: String,
    /// Aggregation transformation, e.g. `avg`, `percentile(90)`, `value`.
    pub transformation: String,
    /// Counter averaged per minute: divide the window total by the window's minutes.
    pub per_minute: bool,
    pub unit: Unit,
    pub note: Option<&'static str>,
}

/// Map a monspec metric id and aggregate to v2 (README: "v1 → v2 mapping").
pub fn v2_metric(id: &str, aggregate: Aggregate) -> Result<V2Metric, String> {
    let info = catalog::lookup(id);
    let key = match info {
        Some(i) => i.v2_key.to_string(),
        None if id.starts_with("builtin:") || id.starts_with("ext:") || id.starts_with("calc:") => id.to_string(),
        None => return Err(format!("no v2 metric is known for \"{id}\": write the v2 metric key (builtin:…) in the monspec, or use --api v1")),
    };
    let kind = info.map(|i| i.kind).unwrap_or(MetricKind::Distribution);
    let unsupported = || {
        Err(format!(
            "aggregate {aggregate} is not available for {key} in API v2"
        ))
    };
    let (transformation, per_minute) = match (kind, aggregate) {
        (MetricKind::Distribution, Aggregate::Percentile(n)) => (format!("percentile({n})"), false),
        (MetricKind::Distribution, a) => (a.to_string(), false),
        (MetricKind::Rate, Aggregate::Avg) => ("avg".to_string(), false),
        (MetricKind::Counter, Aggregate::Count | Aggregate::Sum) => ("value".to_string(), false),
        (MetricKind::Counter, Aggregate::Avg) => ("value".to_string(), true),
        _ => return unsupported(),
    };
    Ok(V2Metric {
        key,
        transformation,
        per_minute,
        unit: match (per_minute, aggregate) {
            (true, _) => Unit::PerMinute,
            // The count of a response-time metric is a number of requests, not microseconds.
            (false, Aggregate::Count) => Unit::Count,
            _ => info.map(|i| i.unit).unwrap_or(Unit::Unknown),
        },
        note: info.and_then(|i| i.v2_note),
    })
}

#[derive(Debug, Clone)]
struct V2Entity {
    id: String,
    name: String,
    from: HashMap<String, Vec<String>>,
    to: HashMap<String, Vec<String>>,
}

fn relationships(value: &Value) -> HashMap<String, Vec<String>> {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let ids = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["id"].as_str().or(r.as_str()).map(str::to_string))
                        .collect();
                    (k.clone(), ids)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn related_count(entities: &[V2Entity], rel: &Relationship) -> usize {
    let mut ids: Vec<&String> = entities
        .iter()
        .flat_map(|e| {
            let map = match rel.direction {
                RelationshipDirection::From => &e.from,
                RelationshipDirection::To => &e.to,
            };
            map.get(&rel.name).into_iter().flatten()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// One series of a metric query answer: its dimensions and its single (Inf) value.
#[derive(Debug, Clone)]
struct SeriesValue {
    dimensions: HashMap<String, String>,
    value: Option<f64>,
}

impl DynatraceV2 {
    pub fn new(http: DynatraceHttp) -> Self {
        DynatraceV2 { http }
    }

    pub fn http(&self) -> &DynatraceHttp {
        &self.http
    }

    async fn entities(
        &self,
        selector: &str,
        window: TimeWindow,
    ) -> Result<Vec<V2Entity>, DynatraceError> {
        let first = vec![
            ("entitySelector", selector.to_string()),
            ("from", window.from_ms.to_string()),
            ("to", window.to_ms.to_string()),
            ("fields", "+fromRelationships,+toRelationships".to_string()),
            ("pageSize", "500".to_string()),
        ];
        let entities = self
            .http
            .get_all_pages(
                "/api/v2/entities",
                first,
                "entities",
                "nextPageKey",
                "nextPageKey",
            )
            .await?
            .iter()
            .map(|e| V2Entity {
                id: e["entityId"].as_str().unwrap_or_default().to_string(),
                name: e["displayName"].as_str().unwrap_or_default().to_string(),
                from: relationships(&e["fromRelationships"]),
                to: relationships(&e["toRelationships"]),
            })
            .collect();
        Ok(entities)
    }

    /// One `/api/v2/metrics/query` per chunk of ≤ 10 expressions; answers in expression order.
    async fn query_metrics(
        &self,
        expressions: &[String],
        selector: &str,
        window: TimeWindow,
    ) -> Vec<Result<Vec<SeriesValue>, String>> {
        let chunks = expressions.chunks(MAX_EXPRESSIONS).map(|chunk| async move {
            let query = [
                ("metricSelector", chunk.join(",")),
                ("entitySelector", selector.to_string()),
                ("from", window.from_ms.to_string()),
                ("to", window.to_ms.to_string()),
                ("resolution", "Inf".to_string()),
            ];
            match self.http.get("/api/v2/metrics/query", &query).await {
                Ok(answer) => {
                    if let Some(key) = answer.body["nextPageKey"].as_str() {
                        // Metric queries are not paged; a page key means series are missing.
                        let message = format!(
                            "the answer to {} is paged (nextPageKey \"{key}\"): series on later pages are missing, so none of it is used",
                            chunk.join(",")
                        );
                        return vec![Err(message); chunk.len()];
                    }
                    let results = answer.body["result"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, expr)| match results.get(i) {
                            Some(r) => series_values(r, expr),
                            None => Err(format!("the answer has no result for {expr}")),
                        })
                        .collect::<Vec<_>>()
                }
                Err(e) => vec![Err(e.to_string()); chunk.len()],
            }
        });
        futures::future::join_all(chunks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The series of one expression's result, each with its one `resolution=Inf` value.
fn series_values(result: &Value, expression: &str) -> Result<Vec<SeriesValue>, String> {
    result["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let values = d["values"].as_array().map_or(&[][..], Vec::as_slice);
            let timestamps = d["timestamps"].as_array().map_or(0, Vec::len);
            let points = values.len().max(timestamps);
            if points > 1 {
                // Under resolution=Inf a series has one point for the whole window; several
                // mean each covers only part of it, and any one of them would misjudge.
                return Err(format!(
                    "{points} datapoints for {expression} under resolution=Inf, expected one for the whole window: the answer is partial, so it is not used"
                ));
            }
            Ok(SeriesValue {
                dimensions: d["dimensionMap"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
                value: values.first().and_then(Value::as_f64),
            })
        })
        .collect()
}

/// A metric spec turned into its expression, or why it cannot be.
struct Planned {
    metric: Result<V2Metric, String>,
    expression: Option<String>,
}

fn plan_spec(spec: &MetricSpec) -> Planned {
    match spec {
        MetricSpec::Smartscape(_) => Planned {
            metric: Err(String::new()),
            expression: None,
        },
        MetricSpec::Timeseries {
            id,
            aggregate,
            method,
        } => match v2_metric(id, *aggregate) {
            Ok(m) => {
                let expression = match method {
                    None => format!("{}:splitBy():{}", m.key, m.transformation),
                    Some(_) => format!(
                        "{}:splitBy(\"{METHOD_DIMENSION}\"):{}:names",
                        m.key, m.transformation
                    ),
                };
                Planned {
                    metric: Ok(m),
                    expression: Some(expression),
                }
            }
            Err(e) => Planned {
                metric: Err(e),
                expression: None,
            },
        },
    }
}

fn unique(expressions: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for e in expressions {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    seen
}

/// Whether `spec` is measured on service methods rather than on the services.
fn is_method(spec: &MetricSpec) -> bool {
    matches!(
        spec,
        MetricSpec::Timeseries {
            method: Some(_),
            ..
        }
    )
}

/// The metric queries of one observation: one on the services, one on their methods.
struct QueryPlan {
    service_exprs: Vec<String>,
    method_exprs: Vec<String>,
    /// The methods' request counts, which weigh a value combined over several methods; in
    /// `method_exprs` only when a signature needs them.
    count_expr: String,
}

impl QueryPlan {
    fn new(metrics: &[MetricSpec], planned: &[Planned]) -> Self {
        let service_exprs = unique(
            metrics
                .iter()
                .zip(planned)
                .filter(|(s, _)| !is_method(s))
                .filter_map(|(_, p)| p.expression.clone()),
        );
        let needs_method_weights = metrics.iter().zip(planned).any(|(s, p)| {
            p.expression.is_some()
                && matches!(s, MetricSpec::Timeseries { id, aggregate, method: Some(_) }
                    if Combination::of(id, *aggregate).needs_weights())
        });
        let count_expr = format!(
            "{}:splitBy(\"{METHOD_DIMENSION}\"):value:names",
            catalog::request_count_metric(catalog::Level::ServiceMethod).v2_key
        );
        let method_exprs = unique(
            metrics
                .iter()
                .zip(planned)
                .filter(|(s, _)| is_method(s))
                .filter_map(|(_, p)| p.expression.clone())
                .chain(needs_method_weights.then(|| count_expr.clone())),
        );
        QueryPlan {
            service_exprs,
            method_exprs,
            count_expr,
        }
    }
}

type SeriesAnswer = Result<Vec<SeriesValue>, String>;

/// The answers of a [`QueryPlan`]'s queries by expression, and the methods' weights.
struct Answers<'a> {
    service: HashMap<&'a String, &'a SeriesAnswer>,
    methods: HashMap<&'a String, &'a SeriesAnswer>,
    /// A failed count query is kept as the error it is: the signatures that need weights
    /// report it instead of falling back to an unweighted mean.
    weights: Option<Result<HashMap<String, f64>, String>>,
}

impl<'a> Answers<'a> {
    fn new(
        plan: &'a QueryPlan,
        service_results: &'a [SeriesAnswer],
        method_results: &'a [SeriesAnswer],
    ) -> Self {
        let service: HashMap<&String, &SeriesAnswer> =
            plan.service_exprs.iter().zip(service_results).collect();
        let methods: HashMap<&String, &SeriesAnswer> =
            plan.method_exprs.iter().zip(method_results).collect();
        let weights = methods.get(&plan.count_expr).map(|r| match r {
            Ok(series) => Ok(series
                .iter()
                .filter_map(|s| Some((s.dimensions.get(METHOD_DIMENSION)?.clone(), s.value?)))
                .collect()),
            Err(e) => Err(e.clone()),
        });
        Answers {
            service,
            methods,
            weights,
        }
    }

    /// The measurement of one spec (`p` its plan) over `entities`.
    fn measure(
        &self,
        spec: &MetricSpec,
        p: &Planned,
        entities: &[V2Entity],
        window: TimeWindow,
    ) -> Measurement {
        let (how, aggregate, method) = match spec {
            MetricSpec::Smartscape(rel) => {
                return Measurement::Value(MeasuredValue::new(
                    related_count(entities, rel) as f64,
                    Unit::Entities,
                    entities.len(),
                ));
            }
            MetricSpec::Timeseries {
                id,
                aggregate,
                method,
            } => (Combination::of(id, *aggregate), *aggregate, method),
        };
        let metric = match &p.metric {
            Ok(m) => m,
            Err(e) => return Measurement::error(e.clone()),
        };
        let expression = p.expression.as_ref().expect("planned with a metric");
        let result = match method {
            None => self.service.get(expression),
            Some(_) => self.methods.get(expression),
        };
        let series = match result {
            Some(Ok(series)) => series,
            Some(Err(e)) => return Measurement::error(e.clone()),
            None => return Measurement::error(format!("no answer for {expression}")),
        };
        let mut measurement = match method {
            None => merged_value(series, metric, expression, entities.len()),
            Some(name) => method_value(series, name, how, aggregate, self.weights.as_ref(), metric),
        };
        if metric.per_minute {
            to_per_minute(&mut measurement, window);
        }
        measurement
    }
}

/// The value of a service-level expression: `:splitBy()` merges every entity into one
/// series, Dynatrace's own value.
fn merged_value(
    series: &[SeriesValue],
    metric: &V2Metric,
    expression: &str,
    entities: usize,
) -> Measurement {
    match series {
        [] | [SeriesValue { value: None, .. }] => Measurement::no_data("no datapoints in the window"),
        [SeriesValue { value: Some(v), .. }] => Measurement::Value(MeasuredValue {
            note: metric.note.map(str::to_string),
            ..MeasuredValue::new(*v, metric.unit, entities)
        }),
        several => Measurement::error(format!(
            "{} series for {expression}, expected one merged series: the answer is not a merged value, so it is not used",
            several.len()
        )),
    }
}

/// A counter's window total (and spread) as a rate per minute of `window`.
fn to_per_minute(measurement: &mut Measurement, window: TimeWindow) {
    if let Measurement::Value(v) = measurement {
        let minutes = window.minutes();
        v.value /= minutes;
        if let Some(spread) = &mut v.spread {
            spread.min /= minutes;
            spread.max /= minutes;
        }
        v.note = Some("requests per minute = window total ÷ window minutes".into());
    }
}

#[async_trait]
impl MetricsSource for DynatraceV2 {
    async fn observe(&self, query: &EnvironmentQuery) -> Observation {
        let selector = entity_selector(query.etype, &query.tags);
        let method_selector =
            format!("type(SERVICE_METHOD),fromRelationships.isServiceMethodOfService({selector})");
        let planned: Vec<Planned> = query.metrics.iter().map(plan_spec).collect();
        let plan = QueryPlan::new(&query.metrics, &planned);

        let (entities, service_results, method_results) = tokio::join!(
            self.entities(&selector, query.window),
            self.query_metrics(&plan.service_exprs, &selector, query.window),
            self.query_metrics(&plan.method_exprs, &method_selector, query.window),
        );
        let entities = match entities {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => {
                return Observation::without_entities(Ok(vec![]), query.metrics.len(), &query.tags)
            }
            Err(e) => {
                return Observation::without_entities(
                    Err(e.to_string()),
                    query.metrics.len(),
                    &query.tags,
                )
            }
        };
        let answers = Answers::new(&plan, &service_results, &method_results);
        let measurements = query
            .metrics
            .iter()
            .zip(&planned)
            .map(|(spec, p)| answers.measure(spec, p, &entities, query.window))
            .collect();
        Observation {
            entities: Ok(entities
                .iter()
                .map(|e| EntityRef {
                    id: e.id.clone(),
                    name: e.name.clone(),
                })
                .collect()),
            measurements,
        }
    }
}

/// The value of the methods named `name`, combined when several services have one. The
/// query keeps one series per method, so Dynatrace does not merge them for us.
fn method_value(
    series: &[SeriesValue],
    name: &str,
    how: Combination,
    aggregate: Aggregate,
    weights: Option<&Result<HashMap<String, f64>, String>>,
    metric: &V2Metric,
) -> Measurement {
    let name_key = format!("{METHOD_DIMENSION}.name");
    let matching: BTreeMap<String, f64> = series
        .iter()
        .filter(|s| s.dimensions.get(&name_key).map(String::as_str) == Some(name))
        .filter_map(|s| Some((s.dimensions.get(METHOD_DIMENSION)?.clone(), s.value?)))
        .collect();
    let weights = if matching.len() > 1 && how.needs_weights() {
        match weights {
            Some(Ok(w)) => Some(w),
            Some(Err(e)) => {
                return Measurement::error(format!(
                    "the request counts that weigh \"{name}\" {aggregate} over {} service methods could not be read: {e}",
                    matching.len()
                ))
            }
            None => {
                return Measurement::error(format!(
                    "the request counts that weigh \"{name}\" {aggregate} were not queried"
                ))
            }
        }
    } else {
        None
    };
    let values: Vec<EntityValue> = matching
        .iter()
        .map(|(id, v)| EntityValue {
            entity: id.clone(),
            value: *v,
            requests: weights.and_then(|w| w.get(id).copied()),
        })
        .collect();
    match combine(how, aggregate, &values) {
        Ok(c) => Measurement::Value(MeasuredValue {
            note: metric.note.map(str::to_string),
            spread: c.spread,
            ..MeasuredValue::new(c.value, metric.unit, values.len())
        }),
        Err(CombineError::NoValues) => Measurement::no_data(format!(
            "no datapoints for service method \"{name}\" in the window (is it a key request?)"
        )),
        Err(e) => Measurement::error(e.to_string()),
    }
}

/// Events and problems (used by the deployment-event and problem functions).
impl DynatraceV2 {
    /// `POST /api/v2/events/ingest`. Returns the correlation ids of the reports with status OK;
    /// an empty list means no entity matched.
    pub async fn ingest_event(&self, event: &Value) -> Result<Vec<String>, DynatraceError> {
        let answer = self.http.post("/api/v2/events/ingest", event).await?;
        Ok(answer.body["eventIngestResults"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == "OK")
            .filter_map(|r| r["correlationId"].as_str().map(str::to_string))
            .collect())
    }

    /// `GET /api/v2/events`, following `nextPageKey`; newest first.
    pub async fn events(
        &self,
        event_selector: &str,
        entity_selector: &str,
        window: TimeWindow,
    ) -> Result<Vec<Value>, DynatraceError> {
        let first = vec![
            ("eventSelector", event_selector.to_string()),
            ("entitySelector", entity_selector.to_string()),
            ("from", window.from_ms.to_string()),
            ("to", window.to_ms.to_string()),
            ("pageSize", "1000".to_string()),
        ];
        let mut events = self
            .http
            .get_all_pages(
                "/api/v2/events",
                first,
                "events",
                "nextPageKey",
                "nextPageKey",
            )
            .await?;
        events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64().unwrap_or(0)));
        Ok(events)
    }

    /// `GET /api/v2/problems/{id}`.
    pub async fn problem(&self, problem_id: &str) -> Result<Value, DynatraceError> {
        Ok(self
            .http
            .get(
                &format!("/api/v2/problems/{}", url_segment(problem_id)),
                &[],
            )
            .await?
            .body)
    }

    /// `POST /api/v2/problems/{id}/comments`.
    pub async fn comment_problem(
        &self,
        problem_id: &str,
        message: &str,
        context: &str,
    ) -> Result<(), DynatraceError> {
        let path = format!("/api/v2/problems/{}/comments", url_segment(problem_id));
        self.http
            .post(&path, &json!({"message": message, "context": context}))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_quote_escape_and_keep_the_context() {
        let tags = [
            Tag::new("CONTEXTLESS", "DeploymentGroup", Some("Staging")),
            Tag::new("AWS", "app:tier", Some("we\"b~1")),
        ];
        assert_eq!(
            entity_selector(EntityType::Service, &tags),
            r#"type(SERVICE),tag("DeploymentGroup:Staging"),tag("[AWS]app\:tier:we~"b~~1")"#
        );
    }

    #[test]
    fn v1_metrics_map_to_v2_expressions() {
        let m = v2_metric(
            "com.dynatrace.builtin:service.responsetime",
            Aggregate::Percentile(90),
        )
        .unwrap();
        assert_eq!(
            (m.key.as_str(), m.transformation.as_str()),
            ("builtin:service.response.time", "percentile(90)")
        );
        let m = v2_metric(
            "com.dynatrace.builtin:service.requestspermin",
            Aggregate::Count,
        )
        .unwrap();
        assert_eq!(
            (m.key.as_str(), m.transformation.as_str(), m.unit),
            ("builtin:service.requestCount.total", "value", Unit::Count)
        );
        assert!(
            v2_metric(
                "com.dynatrace.builtin:service.requestspermin",
                Aggregate::Avg
            )
            .unwrap()
            .per_minute
        );
        assert_eq!(
            v2_metric("builtin:custom.metric", Aggregate::Max)
                .unwrap()
                .transformation,
            "max"
        );
    }

    #[test]
    fn unmappable_metrics_say_what_to_do() {
        let e = v2_metric("com.dynatrace.builtin:host.cpu.user", Aggregate::Avg).unwrap_err();
        assert!(e.contains("write the v2 metric key"), "{e}");
        let e = v2_metric("com.dynatrace.builtin:service.failurerate", Aggregate::Max).unwrap_err();
        assert_eq!(
            e,
            "aggregate max is not available for builtin:service.errors.total.rate in API v2"
        );
    }
}
