//! What every endpoint shares: the reply, Dynatrace's error body, query parameters and times.

use axum::http::StatusCode;
use serde_json::{json, Value};

pub(super) type Reply = (StatusCode, Value);

pub(super) fn error(code: u16, message: &str) -> Reply {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        json!({"error": {"code": code, "message": message}}),
    )
}

pub(super) fn param<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub(super) fn params<'q>(query: &'q [(String, String)], key: &str) -> Vec<&'q str> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// v2 time parameter: epoch ms, or `now-<N><m|h|d>`; default `fallback`.
pub(super) fn v2_time(text: Option<&str>, fallback: i64) -> Result<i64, Reply> {
    let now = now_ms();
    let Some(text) = text else {
        return Ok(fallback);
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if text == "now" {
        return Ok(now);
    }
    let parsed = text.strip_prefix("now-").and_then(|rel| {
        let (n, unit) = rel.split_at(rel.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = n.parse().ok()?;
        let ms = match unit {
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return None,
        };
        Some(now - n * ms)
    });
    parsed.ok_or_else(|| error(400, &format!("Invalid timestamp: {text}")))
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn int_field(body: &Value, key: &str) -> Option<i64> {
    body.get(key).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}
