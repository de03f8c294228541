//! Topology: the v1 entity lists (`/api/v1/entity/...`) and v2 `GET /api/v2/entities`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::model::{EntityDef, World};
use super::selector::{has_tag, parse_tag, EntitySelector};
use super::wire::{error, param, params, Reply};

fn v1_relationships(map: &std::collections::BTreeMap<String, Vec<String>>) -> Value {
    json!(map)
}

fn v1_entity_json(e: &EntityDef) -> Value {
    json!({
        "entityId": e.entity_id,
        "displayName": e.display_name,
        "discoveredName": e.display_name,
        "tags": e.tags,
        "fromRelationships": v1_relationships(&e.from_relationships),
        "toRelationships": v1_relationships(&e.to_relationships),
    })
}

pub(super) fn v1_entities(w: &World, entity_type: &str, query: &[(String, String)]) -> Reply {
    let tags: Vec<_> = params(query, "tag").into_iter().map(parse_tag).collect();
    let ids = params(query, "entity");
    let list: Vec<Value> = w
        .entities
        .iter()
        .filter(|e| e.entity_type == entity_type)
        .filter(|e| tags.iter().all(|t| has_tag(e, t)))
        .filter(|e| ids.is_empty() || ids.contains(&e.entity_id.as_str()))
        .map(v1_entity_json)
        .collect();
    (StatusCode::OK, Value::Array(list))
}

fn v2_entity_json(w: &World, e: &EntityDef, fields: &str) -> Value {
    let mut v =
        json!({"entityId": e.entity_id, "type": e.entity_type, "displayName": e.display_name});
    let rels = |map: &std::collections::BTreeMap<String, Vec<String>>| {
        let out: serde_json::Map<String, Value> = map
            .iter()
            .map(|(k, ids)| {
                let list: Vec<Value> = ids.iter().map(|id| json!({"id": id, "type": w.entity(id).map(|o| o.entity_type.as_str()).unwrap_or_else(|| id.split('-').next().unwrap_or(""))})).collect();
                (k.clone(), Value::Array(list))
            })
            .collect();
        Value::Object(out)
    };
    if fields.contains("+tags") {
        v["tags"] = json!(e.tags.iter().map(|t| json!({"context": t.context, "key": t.key, "value": t.value, "stringRepresentation": t.string_representation()})).collect::<Vec<_>>());
    }
    if fields.contains("+fromRelationships") {
        v["fromRelationships"] = rels(&e.from_relationships);
    }
    if fields.contains("+toRelationships") {
        v["toRelationships"] = rels(&e.to_relationships);
    }
    v
}

pub(super) fn v2_entities(w: &mut World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let (ids, offset, fields, page_size) = if let Some(key) = param(query, "nextPageKey") {
        if query.len() > 1 {
            return Err(error(
                400,
                "Constraints violated. (nextPageKey: must be the only parameter)",
            ));
        }
        let (ids, offset, fields) = w
            .pages
            .remove(key)
            .filter(|(_, _, f)| !f.starts_with("problems|"))
            .ok_or_else(|| error(400, "Invalid nextPageKey"))?;
        let size = fields
            .split('|')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        (ids, offset, fields, size)
    } else {
        let selector = EntitySelector::parse(
            param(query, "entitySelector")
                .ok_or_else(|| error(400, "Constraints violated. (entitySelector: required)"))?,
        )
        .map_err(|m| error(400, &m))?;
        let page_size: usize = param(query, "pageSize")
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        let ids = selector
            .select(w)
            .iter()
            .map(|e| e.entity_id.clone())
            .collect();
        (
            ids,
            0,
            format!("{}|{page_size}", param(query, "fields").unwrap_or("")),
            page_size,
        )
    };
    let page: Vec<Value> = ids
        .iter()
        .skip(offset)
        .take(page_size)
        .filter_map(|id| w.entity(id))
        .map(|e| v2_entity_json(w, e, &fields))
        .collect();
    let next = if offset + page_size < ids.len() {
        let key = format!("page-{}", w.fresh_id().unsigned_abs());
        w.pages
            .insert(key.clone(), (ids.clone(), offset + page_size, fields));
        Value::String(key)
    } else {
        Value::Null
    };
    Ok((
        StatusCode::OK,
        json!({"totalCount": ids.len(), "pageSize": page_size, "nextPageKey": next, "entities": page}),
    ))
}
