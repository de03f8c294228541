//! Problems: v2 `GET /api/v2/problems` (selectors, paging), one problem by id in v1 or v2
//! shape, and its comments.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::model::World;
use super::selector::{split_top_level, unquote, EntitySelector};
use super::wire::{error, now_ms, param, v2_time, Reply};

/// One criterion of a problem selector: the field and the values it may take (ORed).
fn problem_criteria(text: &str) -> Result<Vec<(&'static str, Vec<String>)>, Reply> {
    let mut criteria = Vec::new();
    for criterion in split_top_level(text, ',') {
        let (name, args) = super::selector::call(&criterion).ok_or_else(|| {
            error(
                400,
                &format!("cannot parse problem selector criterion {criterion}"),
            )
        })?;
        let field = match name {
            "status" => "status",
            "severityLevel" => "severityLevel",
            "impactLevel" => "impactLevel",
            "displayId" => "displayId",
            "problemId" => "problemId",
            other => {
                return Err(error(
                    400,
                    &format!("unsupported problem selector criterion {other}"),
                ))
            }
        };
        let values = split_top_level(args, ',')
            .iter()
            .map(|a| unquote(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| error(400, &m))?;
        criteria.push((field, values));
    }
    Ok(criteria)
}

/// The entities a problem concerns: impacted, affected and its root cause.
fn problem_entities(problem: &Value) -> Vec<String> {
    ["impactedEntities", "affectedEntities"]
        .iter()
        .flat_map(|k| problem[*k].as_array().cloned().unwrap_or_default())
        .chain(std::iter::once(problem["rootCauseEntity"].clone()))
        .filter_map(|e| e["entityId"]["id"].as_str().map(str::to_string))
        .collect()
}

/// `GET /api/v2/problems`: problems active in the window (opened before its end, not closed
/// before its start), filtered by `problemSelector` and `entitySelector`, newest first, paged.
pub(super) fn v2_problems(w: &mut World, query: &[(String, String)]) -> Result<Reply, Reply> {
    let (ids, offset, page_size) = if let Some(key) = param(query, "nextPageKey") {
        if query.len() > 1 {
            return Err(error(
                400,
                "Constraints violated. (nextPageKey: must be the only parameter)",
            ));
        }
        let (ids, offset, fields) = w
            .pages
            .remove(key)
            .filter(|(_, _, f)| f.starts_with("problems|"))
            .ok_or_else(|| error(400, "Invalid nextPageKey"))?;
        let size = fields
            .split('|')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        (ids, offset, size)
    } else {
        let now = now_ms();
        let from = v2_time(param(query, "from"), now - 2 * 3_600_000)?;
        let to = v2_time(param(query, "to"), now)?;
        let criteria = problem_criteria(param(query, "problemSelector").unwrap_or(""))?;
        let selector = param(query, "entitySelector")
            .map(EntitySelector::parse)
            .transpose()
            .map_err(|m| error(400, &m))?;
        let page_size: usize = match param(query, "pageSize").map(str::parse) {
            None => 50,
            Some(Ok(n)) if (1..=500).contains(&n) => n,
            Some(_) => {
                return Err(error(
                    400,
                    "Constraints violated. (pageSize: must be between 1 and 500)",
                ))
            }
        };
        let mut matched: Vec<&Value> = w
            .problems
            .iter()
            .filter(|p| {
                let start = p["startTime"].as_i64().unwrap_or(i64::MIN);
                let end = p["endTime"].as_i64().unwrap_or(-1);
                start <= to && (end == -1 || end >= from)
            })
            .filter(|p| {
                criteria.iter().all(|(field, values)| {
                    p[*field]
                        .as_str()
                        .is_some_and(|v| values.iter().any(|x| x.eq_ignore_ascii_case(v)))
                })
            })
            .filter(|p| {
                selector.as_ref().is_none_or(|s| {
                    problem_entities(p)
                        .iter()
                        .filter_map(|id| w.entity(id))
                        .any(|e| s.matches(w, e))
                })
            })
            .collect();
        matched.sort_by_key(|p| std::cmp::Reverse(p["startTime"].as_i64()));
        let ids = matched
            .iter()
            .filter_map(|p| p["problemId"].as_str().map(str::to_string))
            .collect();
        (ids, 0, page_size)
    };
    let page: Vec<Value> = ids
        .iter()
        .skip(offset)
        .take(page_size)
        .filter_map(|id| w.problems.iter().find(|p| p["problemId"] == id.as_str()))
        .cloned()
        .collect();
    let next = if offset + page_size < ids.len() {
        let key = format!("page-{}", w.fresh_id().unsigned_abs());
        w.pages.insert(
            key.clone(),
            (
                ids.clone(),
                offset + page_size,
                format!("problems|{page_size}"),
            ),
        );
        Value::String(key)
    } else {
        Value::Null
    };
    Ok((
        StatusCode::OK,
        json!({"totalCount": ids.len(), "pageSize": page_size, "nextPageKey": next, "problems": page}),
    ))
}

/// A v2 problem's entity stubs as v1 `rankedEvents`/`rankedImpacts` entries.
fn v1_ranked(problem: &Value, key: &str) -> Value {
    problem[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|stub| json!({"entityId": stub["entityId"]["id"], "entityName": stub["name"], "status": problem["status"]}))
        .collect()
}

/// `/api/v1/problem/details/{id}` and `/api/v2/problems/{id}`, each with `/comments` (GET and
/// POST); any other path the router did not take ends here as 404.
pub(super) fn problem_or_comments(
    w: &mut World,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Reply, Reply> {
    let not_found = || error(404, &format!("No endpoint {method} {path}"));
    let (v1, rest) = if let Some(rest) = path.strip_prefix("/api/v1/problem/details/") {
        (true, rest)
    } else if let Some(rest) = path.strip_prefix("/api/v2/problems/") {
        (false, rest)
    } else {
        return Err(not_found());
    };
    let (raw_id, comments) = match rest.strip_suffix("/comments") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let id = url::form_urlencoded::parse(format!("x={raw_id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let problem = w
        .problems
        .iter()
        .find(|p| p["problemId"] == id.as_str())
        .cloned()
        .ok_or_else(|| error(404, &format!("Problem {id} not found")))?;
    match (method, comments) {
        ("GET", false) if v1 => Ok((
            StatusCode::OK,
            json!({"result": {
                "id": problem["problemId"], "displayName": problem["displayId"], "status": problem["status"], "title": problem["title"],
                "startTime": problem["startTime"], "endTime": problem["endTime"], "impactLevel": problem["impactLevel"],
                "severityLevel": problem["severityLevel"],
                // v1 names the entities in its ranked lists: affected entities are where the
                // events happened, impacted ones what they impact.
                "rankedEvents": v1_ranked(&problem, "affectedEntities"),
                "rankedImpacts": v1_ranked(&problem, "impactedEntities"),
                "commentCount": w.comments.iter().filter(|(p, _)| p == &id).count(), "tagsOfAffectedEntities": [],
            }}),
        )),
        ("GET", false) => Ok((StatusCode::OK, problem)),
        ("POST", true) => {
            let body = body.ok_or_else(|| error(400, "Request body is missing or not JSON"))?;
            let (field, content) = if v1 {
                ("comment", body["comment"].as_str())
            } else {
                ("message", body["message"].as_str())
            };
            let content = content
                .ok_or_else(|| {
                    error(
                        400,
                        &format!("Constraints violated. ({field}: must not be null)"),
                    )
                })?
                .to_string();
            if v1 && body["user"].as_str().is_none() {
                return Err(error(400, "Constraints violated. (user: must not be null)"));
            }
            let comment_id = format!("{}_{}", w.fresh_id(), now_ms());
            let stored = json!({"id": comment_id, "createdAtTimestamp": now_ms(), "content": content, "userName": body["user"].as_str().unwrap_or("api-token-owner"), "authorName": body["user"].as_str().unwrap_or("api-token-owner"), "context": body["context"]});
            w.comments.push((id, stored.clone()));
            Ok(if v1 {
                (StatusCode::OK, stored)
            } else {
                (StatusCode::CREATED, Value::Null)
            })
        }
        ("GET", true) => {
            let list: Vec<Value> = w
                .comments
                .iter()
                .filter(|(p, _)| p == &id)
                .map(|(_, c)| c.clone())
                .collect();
            Ok((
                StatusCode::OK,
                json!({"totalCount": list.len(), "pageSize": 500, "comments": list}),
            ))
        }
        _ => Err(not_found()),
    }
}
