//! Dynatrace API v1: topology (entities by tag), timeseries in total mode, events, problems.
//! Deprecated by Dynatrace but still what many tenants and the original tutorial use.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use futures::future::join_all;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::http::{DynatraceError, DynatraceHttp};
use crate::evaluation::combine::{combine, Combination, CombineError, EntityValue};
use crate::monspec::catalog::{self, Level, Unit};
use crate::monspec::{Aggregate, EntityType, Relationship, RelationshipDirection, Tag};
use crate::ports::metrics::{
    EntityRef, EnvironmentQuery, MeasuredValue, Measurement, MetricSpec, MetricsSource,
    Observation, TimeWindow,
};

pub struct DynatraceV1 {
    http: DynatraceHttp,
}

/// An entity as the v1 topology API returns it; relationships are lists of ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologyEntity {
    pub entity_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub from_relationships: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub to_relationships: HashMap<String, Vec<String>>,
}

fn entity_path(etype: EntityType) -> &'static str {
    match etype {
        EntityType::Service => "/api/v1/entity/services",
        EntityType::Application => "/api/v1/entity/applications",
        EntityType::Host => "/api/v1/entity/infrastructure/hosts",
        EntityType::ProcessGroupInstance => "/api/v1/entity/infrastructure/processes",
    }
}

/// `aggregationType` and `percentile` for a v1 timeseries query.
fn aggregation(aggregate: Aggregate) -> (&'static str, Option<u8>) {
    match aggregate {
        Aggregate::Avg => ("avg", None),
        Aggregate::Min => ("min", None),
        Aggregate::Max => ("max", None),
        Aggregate::Sum => ("sum", None),
        Aggregate::Count => ("count", None),
        Aggregate::Median => ("median", None),
        Aggregate::Percentile(n) => ("percentile", Some(n)),
    }
}

/// The v1 timeseries id for a monspec metric id (v2 keys are mapped back when known).
fn v1_id(id: &str) -> Result<String, String> {
    if id.starts_with("builtin:") {
        return catalog::lookup(id)
            .map(|m| m.v1_id.to_string())
            .ok_or_else(|| {
                format!("\"{id}\" is a v2 metric key with no v1 timeseries; use --api v2")
            });
    }
    Ok(id.to_string())
}

/// Distinct entities related to `entities` through `rel`.
pub fn related_count(entities: &[TopologyEntity], rel: &Relationship) -> usize {
    entities
        .iter()
        .flat_map(|e| {
            let map = match rel.direction {
                RelationshipDirection::From => &e.from_relationships,
                RelationshipDirection::To => &e.to_relationships,
            };
            map.get(&rel.name).into_iter().flatten()
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// Per-entity totals of one timeseries query: entity id → (value, display name).
type PerEntity = Vec<(String, f64)>;

impl DynatraceV1 {
    pub fn new(http: DynatraceHttp) -> Self {
        DynatraceV1 { http }
    }

    pub fn http(&self) -> &DynatraceHttp {
        &self.http
    }

    /// Entities of `etype` carrying every tag, seen during `window`.
    pub async fn entities(
        &self,
        etype: EntityType,
        tags: &[Tag],
        window: TimeWindow,
    ) -> Result<Vec<TopologyEntity>, DynatraceError> {
        let mut query: Vec<(&str, String)> = tags.iter().map(|t| ("tag", t.to_string())).collect();
        query.push(("startTimestamp", window.from_ms.to_string()));
        query.push(("endTimestamp", window.to_ms.to_string()));
        let path = entity_path(etype);
        let answer = self.http.get(path, &query).await?;
        serde_json::from_value(answer.body).map_err(|e| DynatraceError::Decode {
            endpoint: format!("GET {path}"),
            detail: e.to_string(),
        })
    }

    /// `POST /api/v1/timeseries` in total mode. With `include_parents`, keys are
    /// `"SERVICE_METHOD-…, SERVICE-…"` and the result is filtered to methods of `entity_ids`.
    async fn timeseries_total(
        &self,
        id: &str,
        aggregate: Aggregate,
        entity_ids: &[String],
        include_parents: bool,
        window: TimeWindow,
    ) -> Result<(Vec<(String, String, f64)>, Unit), DynatraceError> {
        let (aggregation_type, percentile) = aggregation(aggregate);
        let mut body = json!({
            "timeseriesId": id,
            "startTimestamp": window.from_ms,
            "endTimestamp": window.to_ms,
            "queryMode": "total",
            "aggregationType": aggregation_type,
        });
        if let Some(p) = percentile {
            body["percentile"] = json!(p);
        }
        if include_parents {
            body["includeParentIds"] = json!(true);
        } else {
            body["entities"] = json!(entity_ids);
        }
        let answer = self.http.post("/api/v1/timeseries", &body).await?;
        let result = &answer.body["result"];
        let decode = |detail: &str| DynatraceError::Decode {
            endpoint: "POST /api/v1/timeseries".into(),
            detail: detail.into(),
        };
        let points = result["dataPoints"]
            .as_object()
            .ok_or_else(|| decode("result.dataPoints is missing"))?;
        let names = result["entities"].as_object();
        let unit = result["unit"]
            .as_str()
            .map(Unit::from_v1)
            .unwrap_or(Unit::Unknown);
        let mut values = Vec::new();
        for (key, series) in points {
            let mut ids = key.split(',').map(str::trim);
            let own = ids.next().unwrap_or_default().to_string();
            if include_parents && !ids.any(|parent| entity_ids.iter().any(|e| e == parent)) {
                continue;
            }
            // Total mode answers one point per entity. More is not a total: picking one of
            // them would judge part of the window.
            let points = series.as_array().map_or(&[][..], Vec::as_slice);
            if points.len() > 1 {
                return Err(decode(&format!(
                    "{} datapoints for {own} in queryMode total, expected one: the answer covers part of the window, so it is not used",
                    points.len()
                )));
            }
            let value = points
                .first()
                .and_then(|p| p.get(1).and_then(Value::as_f64));
            if let Some(v) = value {
                let name = names
                    .and_then(|n| n.get(&own))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                values.push((own, name, v));
            }
        }
        Ok((values, unit))
    }

    /// Request counts per entity, for weighting.
    async fn request_counts(
        &self,
        level: Level,
        entity_ids: &[String],
        window: TimeWindow,
    ) -> Result<HashMap<String, f64>, DynatraceError> {
        let metric = catalog::request_count_metric(level);
        let (values, _) = self
            .timeseries_total(
                metric.v1_id,
                Aggregate::Count,
                entity_ids,
                level == Level::ServiceMethod,
                window,
            )
            .await?;
        Ok(values.into_iter().map(|(id, _, v)| (id, v)).collect())
    }

    async fn measure(
        &self,
        spec: &MetricSpec,
        entities: &[TopologyEntity],
        window: TimeWindow,
        weights: &Weights,
    ) -> Measurement {
        let (id, aggregate, method) = match spec {
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
            } => (id, *aggregate, method),
        };
        let v1 = match v1_id(id) {
            Ok(v1) => v1,
            Err(e) => return Measurement::error(e),
        };
        let entity_ids: Vec<String> = entities.iter().map(|e| e.entity_id.clone()).collect();
        let level = if method.is_some() {
            Level::ServiceMethod
        } else {
            Level::Service
        };
        let (values, unit) = match self
            .timeseries_total(&v1, aggregate, &entity_ids, method.is_some(), window)
            .await
        {
            Ok(r) => r,
            Err(e) => return Measurement::error(e.to_string()),
        };
        let values: Vec<(String, f64)> = match method {
            Some(name) => values
                .into_iter()
                .filter(|(_, n, _)| n == name)
                .map(|(id, _, v)| (id, v))
                .collect(),
            None => values.into_iter().map(|(id, _, v)| (id, v)).collect(),
        };
        if values.is_empty() {
            return Measurement::no_data(match method {
                Some(name) => format!(
                    "no datapoints for service method \"{name}\" of {} in the window",
                    entity_ids.join(", ")
                ),
                None => "no datapoints in the window".into(),
            });
        }
        let how = Combination::of(id, aggregate);
        let counts = if values.len() > 1 && how.needs_weights() {
            match weights.get(self, level, &entity_ids, window).await {
                Ok(c) => Some(c),
                Err(e) => {
                    return Measurement::error(format!(
                        "the request counts that weigh {aggregate} over {} entities could not be read: {e}",
                        values.len()
                    ))
                }
            }
        } else {
            None
        };
        combined(
            how,
            aggregate,
            &values,
            counts,
            if unit == Unit::Unknown {
                catalog::unit_of(id)
            } else {
                unit
            },
        )
    }
}

fn combined(
    how: Combination,
    aggregate: Aggregate,
    values: &PerEntity,
    counts: Option<&HashMap<String, f64>>,
    unit: Unit,
) -> Measurement {
    let entity_values: Vec<EntityValue> = values
        .iter()
        .map(|(id, v)| EntityValue {
            entity: id.clone(),
            value: *v,
            requests: counts.and_then(|c| c.get(id).copied()),
        })
        .collect();
    match combine(how, aggregate, &entity_values) {
        Ok(c) => Measurement::Value(MeasuredValue {
            spread: c.spread,
            ..MeasuredValue::new(c.value, unit, values.len())
        }),
        Err(CombineError::NoValues) => Measurement::no_data("no datapoints in the window"),
        Err(e) => Measurement::error(e.to_string()),
    }
}

/// Request counts fetched at most once per level per observation, shared by signatures.
#[derive(Default)]
struct Weights {
    service: OnceCell<Result<HashMap<String, f64>, String>>,
    method: OnceCell<Result<HashMap<String, f64>, String>>,
}

impl Weights {
    async fn get(
        &self,
        source: &DynatraceV1,
        level: Level,
        ids: &[String],
        window: TimeWindow,
    ) -> Result<&HashMap<String, f64>, String> {
        let cell = match level {
            Level::Service => &self.service,
            Level::ServiceMethod => &self.method,
        };
        cell.get_or_init(|| async {
            source
                .request_counts(level, ids, window)
                .await
                .map_err(|e| e.to_string())
        })
        .await
        .as_ref()
        .map_err(Clone::clone)
    }
}

#[async_trait]
impl MetricsSource for DynatraceV1 {
    async fn observe(&self, query: &EnvironmentQuery) -> Observation {
        let entities = match self.entities(query.etype, &query.tags, query.window).await {
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
        let weights = Weights::default();
        // The request counts some averages are weighted by go out with the metric queries,
        // not after the first answer that needs them: one round trip less (≤ 3 in all, the
        // `validation_round_trips` benchmark). Fetched only when several entities could
        // need weighting; an unneeded count is one request, a late one a round trip.
        let entity_ids: Vec<String> = entities.iter().map(|e| e.entity_id.clone()).collect();
        let mut levels: Vec<Level> = Vec::new();
        if entities.len() > 1 {
            for spec in &query.metrics {
                if let MetricSpec::Timeseries {
                    id,
                    aggregate,
                    method,
                } = spec
                {
                    let level = if method.is_some() {
                        Level::ServiceMethod
                    } else {
                        Level::Service
                    };
                    if Combination::of(id, *aggregate).needs_weights() && !levels.contains(&level) {
                        levels.push(level);
                    }
                }
            }
        }
        let prefetch = join_all(
            levels
                .iter()
                .map(|level| weights.get(self, *level, &entity_ids, query.window)),
        );
        let (_, measurements) = futures::future::join(
            prefetch,
            join_all(
                query
                    .metrics
                    .iter()
                    .map(|spec| self.measure(spec, &entities, query.window, &weights)),
            ),
        )
        .await;
        Observation {
            entities: Ok(entities
                .iter()
                .map(|e| EntityRef {
                    id: e.entity_id.clone(),
                    name: e.display_name.clone(),
                })
                .collect()),
            measurements,
        }
    }
}

/// Events and problems (used by the deployment-event and problem functions).
impl DynatraceV1 {
    /// `POST /api/v1/events`. Returns the stored event ids (one per matched entity).
    pub async fn post_event(&self, event: &Value) -> Result<Vec<String>, DynatraceError> {
        let answer = self.http.post("/api/v1/events", event).await?;
        Ok(answer.body["storedIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect())
    }

    /// `GET /api/v1/events` for one entity and type, following `nextCursor`; newest first.
    pub async fn events(
        &self,
        entity_id: &str,
        event_type: &str,
        window: TimeWindow,
    ) -> Result<Vec<Value>, DynatraceError> {
        let first = vec![
            ("entityId", entity_id.to_string()),
            ("eventType", event_type.to_string()),
            ("from", window.from_ms.to_string()),
            ("to", window.to_ms.to_string()),
        ];
        let mut events = self
            .http
            .get_all_pages("/api/v1/events", first, "events", "nextCursor", "cursor")
            .await?;
        // The feed's order is undocumented: sort ourselves.
        events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64().unwrap_or(0)));
        Ok(events)
    }

    /// `GET /api/v1/problem/details/{id}` (the `result` object).
    pub async fn problem(&self, problem_id: &str) -> Result<Value, DynatraceError> {
        let path = format!("/api/v1/problem/details/{}", url_segment(problem_id));
        Ok(self.http.get(&path, &[]).await?.body["result"].clone())
    }

    /// `POST /api/v1/problem/details/{id}/comments`.
    pub async fn comment_problem(
        &self,
        problem_id: &str,
        comment: &str,
        user: &str,
        context: &str,
    ) -> Result<(), DynatraceError> {
        let path = format!(
            "/api/v1/problem/details/{}/comments",
            url_segment(problem_id)
        );
        self.http
            .post(
                &path,
                &json!({"comment": comment, "user": user, "context": context}),
            )
            .await?;
        Ok(())
    }
}

/// Percent-encode one path segment.
pub(super) fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
