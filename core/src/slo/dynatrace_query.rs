//! The query language of Keptn's dynatrace-service in sli.yaml, read without I/O:
//! `metricSelector=…`, `MV2;<unit>;…` and `PV2;problemSelector=…`; Keptn's other forms are
//! refused with a message. The Dynatrace SLI provider (the adapters crate's `dynatrace::sli`)
//! asks the tenant what a parsed query says.

/// The query forms, for messages that say what would have been accepted.
const FORMS: &str = "metricSelector=…[&entitySelector=…], MV2;<unit>;metricSelector=…[&entitySelector=…] or PV2;problemSelector=…[&entitySelector=…]";
const UNITS: &str = "MicroSecond (÷ 1,000 → ms) or Byte (÷ 1,024 → KiB)";
const METRIC_KEYS: &[&str] = &[
    "metricSelector",
    "entitySelector",
    "mzSelector",
    "resolution",
];
const PROBLEM_KEYS: &[&str] = &["problemSelector", "entitySelector"];

/// How an `MV2;` query's value is converted (Keptn's `unit.ScaleData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitScale {
    /// µs → ms.
    MicroSecond,
    /// B → KiB.
    Byte,
}

impl UnitScale {
    pub fn apply(self, value: f64) -> f64 {
        match self {
            UnitScale::MicroSecond => value / 1000.0,
            UnitScale::Byte => value / 1024.0,
        }
    }
}

/// A parsed sli.yaml query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SliQuery {
    /// `/api/v2/metrics/query`.
    Metrics {
        metric_selector: String,
        entity_selector: Option<String>,
        mz_selector: Option<String>,
        /// As written (`Inf`, `inf`, `30m`); `None`: not given.
        resolution: Option<String>,
        unit: Option<UnitScale>,
    },
    /// `/api/v2/problems`, counted.
    Problems {
        problem_selector: Option<String>,
        entity_selector: Option<String>,
    },
}

/// Why an sli.yaml query is not one this provider runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query is empty: write {FORMS}")]
    Empty,
    #[error(
        "{prefix}; queries ({what}) are not supported by the Dynatrace SLI provider: write {FORMS}"
    )]
    Unsupported { prefix: String, what: &'static str },
    #[error("unknown query prefix \"{0};\": write {FORMS}")]
    UnknownPrefix(String),
    #[error("an MV2 query needs a unit and a metrics query: write MV2;<unit>;metricSelector=…, with unit {UNITS}")]
    Mv2Shape,
    #[error("unknown unit \"{0}\" in MV2;{0};…: use {UNITS}")]
    UnknownUnit(String),
    #[error("\"{0}\" is not a key=value pair (both non-empty): write {FORMS}")]
    NotAPair(String),
    #[error("unknown key \"{key}\" in the {kind} query: use {}", .allowed.join(", "))]
    UnknownKey {
        key: String,
        kind: &'static str,
        allowed: &'static [&'static str],
    },
    #[error("the key \"{0}\" appears twice: give it once")]
    DuplicateKey(String),
    #[error("the metrics query has no metricSelector: write metricSelector=<metric key>:<transformations>[&entitySelector=…]")]
    NoMetricSelector,
    #[error("\"{0}\" is not a query this provider reads: if it is a metric selector, write metricSelector={0}[&entitySelector=…]; the forms are {FORMS}")]
    Bare(String),
}

/// Split at `sep` outside quotes and parentheses (selectors quote values with `"`, `~` escaping),
/// so `entityName.equals("a&b")` stays whole where Keptn's plain split would cut it.
fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut depth, mut quoted, mut escaped) =
        (vec![], 0, 0i32, false, false);
    for (i, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '~' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `key=value&key=value` into pairs, every key allowed and given once (Keptn's `SLIParser`).
fn key_values(
    text: &str,
    kind: &'static str,
    allowed: &'static [&'static str],
) -> Result<Vec<(String, String)>, QueryError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for chunk in split_top_level(text, '&') {
        let chunk = chunk.trim();
        if chunk.is_empty() {
            continue;
        }
        let (key, value) = match chunk.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => (k.trim(), v.trim()),
            _ => return Err(QueryError::NotAPair(chunk.to_string())),
        };
        if !allowed.contains(&key) {
            return Err(QueryError::UnknownKey {
                key: key.to_string(),
                kind,
                allowed,
            });
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(QueryError::DuplicateKey(key.to_string()));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

fn take(pairs: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let i = pairs.iter().position(|(k, _)| k == key)?;
    Some(pairs.remove(i).1)
}

fn metrics_query(text: &str, unit: Option<UnitScale>) -> Result<SliQuery, QueryError> {
    let text = text.trim();
    // Keptn's oldest form: a bare metric selector, perhaps with an empty `?` after it.
    let bare = text.strip_suffix('?').unwrap_or(text);
    if !bare.is_empty() && !bare.contains('=') && !bare.contains('?') {
        return Ok(SliQuery::Metrics {
            metric_selector: bare.trim().to_string(),
            entity_selector: None,
            mz_selector: None,
            resolution: Some("Inf".into()),
            unit,
        });
    }
    // Keptn's older form: `<metric selector>?scope=<entity selector>`.
    if let Some((selector, scope)) = text.split_once("?scope=") {
        if !selector.contains('=') && !selector.trim().is_empty() && !scope.trim().is_empty() {
            let mut entity = scope.trim().to_string();
            // As Keptn: the old API implied services; v2 needs the type said.
            if !entity.contains("type(SERVICE)") {
                entity.push_str(",type(SERVICE)");
            }
            return Ok(SliQuery::Metrics {
                metric_selector: selector.trim().to_string(),
                entity_selector: Some(entity),
                mz_selector: None,
                resolution: Some("Inf".into()),
                unit,
            });
        }
    }
    if !text.is_empty() && !text.contains('=') {
        return Err(QueryError::Bare(text.to_string()));
    }
    let mut pairs = key_values(text, "metrics", METRIC_KEYS)?;
    Ok(SliQuery::Metrics {
        resolution: take(&mut pairs, "resolution"),
        metric_selector: take(&mut pairs, "metricSelector").ok_or(QueryError::NoMetricSelector)?,
        entity_selector: take(&mut pairs, "entitySelector"),
        mz_selector: take(&mut pairs, "mzSelector"),
        unit,
    })
}

fn unit(text: &str) -> Result<UnitScale, QueryError> {
    // Keptn's patterns: [Mm]icro[Ss]econd and [Bb]yte.
    match text.trim() {
        "MicroSecond" | "Microsecond" | "microSecond" | "microsecond" => Ok(UnitScale::MicroSecond),
        "Byte" | "byte" => Ok(UnitScale::Byte),
        other => Err(QueryError::UnknownUnit(other.to_string())),
    }
}

/// Read an sli.yaml query (placeholders already substituted).
pub fn parse_query(query: &str) -> Result<SliQuery, QueryError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(QueryError::Empty);
    }
    // A prefix is what comes before the first `;`, when no `=` comes before it.
    let prefixed = query
        .split_once(';')
        .filter(|(prefix, _)| !prefix.contains('='));
    let Some((prefix, rest)) = prefixed else {
        return metrics_query(query, None);
    };
    match prefix.trim() {
        "MV2" => {
            let (unit_text, metrics) = rest.split_once(';').ok_or(QueryError::Mv2Shape)?;
            if unit_text.trim().is_empty() {
                return Err(QueryError::Mv2Shape);
            }
            let unit = unit(unit_text)?;
            if metrics.trim().is_empty() {
                return Err(QueryError::Mv2Shape);
            }
            metrics_query(metrics, Some(unit))
        }
        "PV2" => {
            let mut pairs = key_values(rest, "problems", PROBLEM_KEYS)?;
            Ok(SliQuery::Problems {
                problem_selector: take(&mut pairs, "problemSelector"),
                entity_selector: take(&mut pairs, "entitySelector"),
            })
        }
        "USQL" => Err(QueryError::Unsupported {
            prefix: "USQL".into(),
            what: "user sessions",
        }),
        "SLO" => Err(QueryError::Unsupported {
            prefix: "SLO".into(),
            what: "Dynatrace service-level objectives",
        }),
        "SECPV2" => Err(QueryError::Unsupported {
            prefix: "SECPV2".into(),
            what: "security problems",
        }),
        other => Err(QueryError::UnknownPrefix(other.to_string())),
    }
}
