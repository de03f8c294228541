//! Events: the v1 feed (`POST`/`GET /api/v1/events`), v2 `POST /api/v2/events/ingest` and
//! `GET /api/v2/events`, all over one store.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::model::{EntityDef, World};
use super::selector::{has_tag, split_top_level, unquote, EntitySelector};
use super::wire::{error, int_field, now_ms, param, v2_time, Reply};

pub(super) fn v1_post_event(w: &mut World, body: Option<Value>) -> Result<Reply, Reply> {
    let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
    let event_type = body["eventType"]
        .as_str()
        .ok_or_else(|| error(400, "eventType is required"))?
        .to_string();
    let source = body["source"]
        .as_str()
        .ok_or_else(|| error(400, "source is required"))?
        .to_string();
    if event_type == "CUSTOM_DEPLOYMENT" && body["deploymentName"].as_str().is_none() {
        return Err(error(
            400,
            "deploymentName is required for CUSTOM_DEPLOYMENT",
        ));
    }
    let rules = &body["attachRules"];
    let mut matched: Vec<String> = rules["entityIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .filter(|id| w.entity(id).is_some())
        .collect();
    for rule in rules["tagRule"].as_array().into_iter().flatten() {
        let types: Vec<&str> = rule["meTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags: Vec<_> = rule["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| serde_json::from_value::<super::model::TagDef>(t.clone()).ok())
            .collect();
        for e in w.entities.iter().filter(|e| {
            types.contains(&e.entity_type.as_str()) && tags.iter().all(|t| has_tag(e, t))
        }) {
            if !matched.contains(&e.entity_id) {
                matched.push(e.entity_id.clone());
            }
        }
    }
    if matched.is_empty() {
        return Err(error(
            400,
            &format!(
                "Invalid attachRules object provided. No MEIdentifier do match: {}",
                rules
            ),
        ));
    }
    let start = int_field(&body, "start").unwrap_or_else(now_ms);
    let end = int_field(&body, "end").unwrap_or(start);
    let (mut event_ids, mut stored) = (vec![], vec![]);
    for entity_id in matched {
        let id = w.fresh_id();
        let entity = w.entity(&entity_id).cloned().expect("matched");
        let mut event = body.clone();
        let object = event.as_object_mut().expect("object body");
        object.remove("attachRules");
        object.remove("start");
        object.remove("end");
        object.extend([
            ("eventId".to_string(), json!(id)),
            ("id".to_string(), json!(format!("{id}_{start}"))),
            ("startTime".to_string(), json!(start)),
            ("endTime".to_string(), json!(end)),
            ("entityId".to_string(), json!(entity_id)),
            ("entityName".to_string(), json!(entity.display_name)),
            ("eventType".to_string(), json!(event_type)),
            ("eventStatus".to_string(), json!("CLOSED")),
            ("source".to_string(), json!(source)),
            ("tags".to_string(), json!(entity.tags)),
        ]);
        w.events.push(event);
        event_ids.push(json!(id));
        stored.push(json!(format!("{id}_{start}")));
    }
    Ok((
        StatusCode::OK,
        json!({"storedEventIds": event_ids, "storedIds": stored, "storedCorrelationIds": []}),
    ))
}

pub(super) fn v1_events(w: &World, query: &[(String, String)]) -> Reply {
    let now = now_ms();
    let from = param(query, "from")
        .and_then(|s| s.parse().ok())
        .unwrap_or(now - 30 * 86_400_000);
    let to = param(query, "to")
        .and_then(|s| s.parse().ok())
        .unwrap_or(now);
    let mut events: Vec<Value> = w
        .events
        .iter()
        .filter(|e| param(query, "entityId").is_none_or(|id| e["entityId"] == id))
        .filter(|e| param(query, "eventType").is_none_or(|t| e["eventType"] == t))
        .filter(|e| {
            e["startTime"]
                .as_i64()
                .is_some_and(|s| s >= from && s <= to)
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64()));
    (
        StatusCode::OK,
        json!({"nextEventStartTms": null, "nextEventId": null, "nextCursor": null, "from": from, "to": to, "totalEventCount": events.len(), "events": events}),
    )
}

pub(super) fn v2_ingest(w: &mut World, body: Option<Value>) -> Result<Reply, Reply> {
    let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
    let event_type = body["eventType"]
        .as_str()
        .ok_or_else(|| error(400, "Constraints violated. (eventType: must not be null)"))?
        .to_string();
    let title = body["title"]
        .as_str()
        .ok_or_else(|| error(400, "Constraints violated. (title: must not be null)"))?
        .to_string();
    let selector = body["entitySelector"]
        .as_str()
        .map(EntitySelector::parse)
        .transpose()
        .map_err(|m| error(400, &m))?;
    let matched: Vec<EntityDef> = match &selector {
        Some(s) => s.select(w).into_iter().cloned().collect(),
        None => vec![],
    };
    let start = body["startTime"].as_i64().unwrap_or_else(now_ms);
    let properties: Vec<Value> = body["properties"].as_object().into_iter().flatten().map(|(k, v)| json!({"key": k, "value": v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())})).collect();
    let mut results = Vec::new();
    for entity in matched {
        let id = w.fresh_id();
        let correlation = format!("{:016x}", id as u64);
        let mut props = properties.clone();
        props.push(json!({"key": "dt.event.group_label", "value": title}));
        w.events.push(json!({
            "eventId": format!("{id}_{start}"), "startTime": start, "endTime": body["endTime"].as_i64().unwrap_or(start),
            "eventType": event_type, "title": title,
            "entityId": {"entityId": {"id": entity.entity_id, "type": entity.entity_type}, "name": entity.display_name},
            // v1 feed fields too, so either API reads the same store.
            "entityName": entity.display_name, "source": body["properties"]["dt.event.source"].clone(),
            "customProperties": body["properties"].clone(),
            "properties": props, "status": "CLOSED", "correlationId": correlation,
            "entityTags": entity.tags.iter().map(|t| json!({"context": t.context, "key": t.key, "value": t.value, "stringRepresentation": t.string_representation()})).collect::<Vec<_>>(),
        }));
        results.push(json!({"correlationId": correlation, "status": "OK"}));
    }
    Ok((
        StatusCode::CREATED,
        json!({"reportCount": results.len(), "eventIngestResults": results}),
    ))
}

pub(super) fn v2_events(w: &World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let now = now_ms();
    let from = v2_time(param(query, "from"), now - 2 * 3_600_000)?;
    let to = v2_time(param(query, "to"), now)?;
    let mut wanted_type = None;
    for criterion in param(query, "eventSelector")
        .map(|s| split_top_level(s, ','))
        .unwrap_or_default()
    {
        match super::selector::call(&criterion) {
            Some(("eventType", args)) => {
                wanted_type = Some(unquote(args).map_err(|m| error(400, &m))?)
            }
            _ => {
                return Err(error(
                    400,
                    &format!("unsupported event selector criterion {criterion}"),
                ))
            }
        }
    }
    let selector = param(query, "entitySelector")
        .map(EntitySelector::parse)
        .transpose()
        .map_err(|m| error(400, &m))?;
    let entity_of = |e: &Value| {
        e["entityId"]["entityId"]["id"]
            .as_str()
            .or(e["entityId"].as_str())
            .map(str::to_string)
    };
    let mut events: Vec<Value> = w
        .events
        .iter()
        .filter(|e| {
            wanted_type
                .as_ref()
                .is_none_or(|t| e["eventType"] == t.as_str())
        })
        .filter(|e| {
            e["startTime"]
                .as_i64()
                .is_some_and(|s| s >= from && s <= to)
        })
        .filter(|e| {
            selector.as_ref().is_none_or(|s| {
                entity_of(e)
                    .and_then(|id| w.entity(&id))
                    .is_some_and(|ent| s.matches(w, ent))
            })
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e["startTime"].as_i64()));
    Ok((
        StatusCode::OK,
        json!({"totalCount": events.len(), "pageSize": 1000, "events": events}),
    ))
}
