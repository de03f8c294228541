//! What we know about Dynatrace metrics: units, the entity type they are measured on, a
//! readable name, and the v1 timeseries id ↔ v2 metric key mapping (README: "v1 → v2 mapping").

use crate::monspec::EntityType;

/// The unit a metric is reported in by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Response times. Compared in µs (the API's unit), displayed in ms.
    Microseconds,
    Percent,
    /// Requests or errors in the window.
    Count,
    PerMinute,
    /// Related entities (smartscape signatures).
    Entities,
    Unknown,
}

impl Unit {
    /// A value as a person reads it: µs become ms.
    pub fn display(self, value: f64) -> String {
        match self {
            Unit::Microseconds => format!("{} ms", round_display(value / 1000.0)),
            Unit::Percent => format!("{} %", round_display(value)),
            Unit::Count => round_display(value),
            Unit::PerMinute => format!("{}/min", round_display(value)),
            Unit::Entities => round_display(value),
            Unit::Unknown => round_display(value),
        }
    }

    /// Parse the v1 `unit` display string (`MicroSecond (µs)`, `Percent (%)`, …) loosely.
    pub fn from_v1(text: &str) -> Unit {
        let t = text.to_ascii_lowercase();
        if t.starts_with("microsecond") {
            Unit::Microseconds
        } else if t.starts_with("percent") {
            Unit::Percent
        } else if t.starts_with("perminute") {
            Unit::PerMinute
        } else if t.starts_with("count") {
            Unit::Count
        } else {
            Unit::Unknown
        }
    }
}

fn round_display(value: f64) -> String {
    if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// Whether a metric is measured per service or per service method (key request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Service,
    ServiceMethod,
}

/// One row of the mapping table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    pub v1_id: &'static str,
    pub v2_key: &'static str,
    pub level: Level,
    pub name: &'static str,
    pub unit: Unit,
    /// How the value behaves in v2: a distribution (avg/pNN…), a rate (avg only) or a counter.
    pub kind: MetricKind,
    /// Caveat shown in results when the v2 metric is only the closest equivalent.
    pub v2_note: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Distribution,
    Rate,
    Counter,
}

const fn row(
    v1_id: &'static str,
    v2_key: &'static str,
    level: Level,
    name: &'static str,
    unit: Unit,
    kind: MetricKind,
) -> MetricInfo {
    MetricInfo {
        v1_id,
        v2_key,
        level,
        name,
        unit,
        kind,
        v2_note: None,
    }
}

use Level::{Service, ServiceMethod};
use MetricKind::{Counter, Distribution, Rate};

pub const CATALOG: &[MetricInfo] = &[
    row(
        "com.dynatrace.builtin:service.responsetime",
        "builtin:service.response.time",
        Service,
        "response time",
        Unit::Microseconds,
        Distribution,
    ),
    row(
        "com.dynatrace.builtin:service.failurerate",
        "builtin:service.errors.total.rate",
        Service,
        "failure rate",
        Unit::Percent,
        Rate,
    ),
    row(
        "com.dynatrace.builtin:service.serversidefailurerate",
        "builtin:service.errors.server.rate",
        Service,
        "server-side failure rate",
        Unit::Percent,
        Rate,
    ),
    row(
        "com.dynatrace.builtin:service.clientsidefailurerate",
        "builtin:service.errors.client.rate",
        Service,
        "client-side failure rate",
        Unit::Percent,
        Rate,
    ),
    row(
        "com.dynatrace.builtin:service.requestspermin",
        "builtin:service.requestCount.total",
        Service,
        "requests",
        Unit::Count,
        Counter,
    ),
    row(
        "com.dynatrace.builtin:service.errorcounthttp5xx",
        "builtin:service.errors.fivexx.count",
        Service,
        "HTTP 5xx errors",
        Unit::Count,
        Counter,
    ),
    row(
        "com.dynatrace.builtin:service.errorcounthttp4xx",
        "builtin:service.errors.fourxx.count",
        Service,
        "HTTP 4xx errors",
        Unit::Count,
        Counter,
    ),
    row(
        "com.dynatrace.builtin:servicemethod.responsetime",
        "builtin:service.keyRequest.response.time",
        ServiceMethod,
        "response time",
        Unit::Microseconds,
        Distribution,
    ),
    MetricInfo {
        v2_note: Some(
            "v2 has no total failure rate for key requests; the server-side rate is used",
        ),
        ..row(
            "com.dynatrace.builtin:servicemethod.failurerate",
            "builtin:service.keyRequest.errors.server.rate",
            ServiceMethod,
            "failure rate",
            Unit::Percent,
            Rate,
        )
    },
    row(
        "com.dynatrace.builtin:servicemethod.serversidefailurerate",
        "builtin:service.keyRequest.errors.server.rate",
        ServiceMethod,
        "server-side failure rate",
        Unit::Percent,
        Rate,
    ),
    row(
        "com.dynatrace.builtin:servicemethod.clientsidefailurerate",
        "builtin:service.keyRequest.errors.client.rate",
        ServiceMethod,
        "client-side failure rate",
        Unit::Percent,
        Rate,
    ),
    row(
        "com.dynatrace.builtin:servicemethod.requestspermin",
        "builtin:service.keyRequest.count.total",
        ServiceMethod,
        "requests",
        Unit::Count,
        Counter,
    ),
    row(
        "com.dynatrace.builtin:servicemethod.errorcounthttp5xx",
        "builtin:service.keyRequest.errors.fivexx.count",
        ServiceMethod,
        "HTTP 5xx errors",
        Unit::Count,
        Counter,
    ),
    row(
        "com.dynatrace.builtin:servicemethod.errorcounthttp4xx",
        "builtin:service.keyRequest.errors.fourxx.count",
        ServiceMethod,
        "HTTP 4xx errors",
        Unit::Count,
        Counter,
    ),
];

/// Look a metric up by its v1 id or its v2 key.
pub fn lookup(id: &str) -> Option<&'static MetricInfo> {
    CATALOG.iter().find(|m| m.v1_id == id || m.v2_key == id)
}

/// The request-count metric of the same level, used to weight per-entity values.
pub fn request_count_metric(level: Level) -> &'static MetricInfo {
    let key = match level {
        Level::Service => "com.dynatrace.builtin:service.requestspermin",
        Level::ServiceMethod => "com.dynatrace.builtin:servicemethod.requestspermin",
    };
    lookup(key).expect("catalog has request counts")
}

pub fn is_service_method_metric(id: &str) -> bool {
    match lookup(id) {
        Some(info) => info.level == Level::ServiceMethod,
        None => id.contains(":servicemethod.") || id.contains("service.keyRequest."),
    }
}

/// The entity type a known metric is measured on (unknown metrics: no opinion).
pub fn entity_type_of(id: &str) -> Option<EntityType> {
    if lookup(id).is_some()
        || id.starts_with("com.dynatrace.builtin:service.")
        || id.starts_with("builtin:service.")
    {
        return Some(EntityType::Service);
    }
    if id.starts_with("com.dynatrace.builtin:host.") || id.starts_with("builtin:host.") {
        return Some(EntityType::Host);
    }
    if id.starts_with("com.dynatrace.builtin:app.") || id.starts_with("builtin:apps.") {
        return Some(EntityType::Application);
    }
    None
}

/// Readable name of any metric id: the catalog's, else the id's last segment.
pub fn display_name(id: &str) -> String {
    match lookup(id) {
        Some(info) => info.name.to_string(),
        None => id.rsplit([':', '.']).next().unwrap_or(id).to_string(),
    }
}

/// The unit of a metric id when the API response does not say (v2 query responses carry none).
pub fn unit_of(id: &str) -> Unit {
    lookup(id).map(|m| m.unit).unwrap_or(Unit::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_id_maps_to_a_v2_key_of_the_same_level() {
        for info in CATALOG {
            assert_eq!(lookup(info.v1_id).unwrap().v2_key, info.v2_key);
            let method_key = info.v2_key.starts_with("builtin:service.keyRequest.");
            assert_eq!(
                method_key,
                info.level == Level::ServiceMethod,
                "{}",
                info.v1_id
            );
        }
    }

    #[test]
    fn microseconds_display_as_milliseconds() {
        assert_eq!(Unit::Microseconds.display(812_000.0), "812 ms");
        assert_eq!(Unit::Microseconds.display(1_500.0), "1.5 ms");
        assert_eq!(Unit::Percent.display(0.25), "0.250 %");
    }

    #[test]
    fn v1_unit_strings_are_read_loosely() {
        assert_eq!(Unit::from_v1("MicroSecond (µs)"), Unit::Microseconds);
        assert_eq!(Unit::from_v1("Percent"), Unit::Percent);
        assert_eq!(Unit::from_v1("Count (count)"), Unit::Count);
        assert_eq!(Unit::from_v1("Byte"), Unit::Unknown);
    }
}
