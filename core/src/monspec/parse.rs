//! Reading a monspec: JSON text → [`Monspec`], collecting every problem with its JSON path and
//! a hint on how to fix it. Nothing half-read is ever returned: either the whole file is valid,
//! or the caller gets the full list of problems.
//!
//! Here: the entry points and the reader's primitives. `configuration`: configurations,
//! environments and comparisons; `signature`: signatures and service methods; `checks`: the
//! checks across them.

use std::fmt;

use serde_json::{Map, Value};

use super::model::Monspec;

mod checks;
mod configuration;
mod signature;

/// The longest time shift we accept: a little over a year. Dynatrace keeps metric data for
/// at most that long, so a larger shift can only be a typo (milliseconds instead of seconds).
pub const MAX_SHIFT_SECS: u64 = 366 * 24 * 3600;
/// A tolerance band wider than this is almost certainly a mistake, not a policy.
pub const MAX_SCALE_FACTOR_PERC: f64 = 1000.0;

pub const CONFIGURATION_FIELDS: [&str; 7] = [
    "etype",
    "name",
    "owner",
    "environments",
    "comparisons",
    "perfsignature",
    "servicemethods",
];
pub const COMPARISON_FIELDS: [&str; 7] = [
    "name",
    "source",
    "compare",
    "scalefactorperc",
    "shiftsourcetimeframe",
    "shiftcomparetimeframe",
    "onmissingdata",
];
pub const SIGNATURE_FIELDS: [&str; 7] = [
    "timeseries",
    "smartscape",
    "aggregate",
    "validate",
    "upperlimit",
    "lowerlimit",
    "onmissingdata",
];
pub const TAG_FIELDS: [&str; 3] = ["context", "key", "value"];
pub const SERVICE_METHOD_FIELDS: [&str; 2] = ["name", "perfsignature"];
/// Output fields the original worker wrote into the monspec. Accepted on input and ignored.
pub const OUTPUT_FIELDS: [&str; 6] = [
    "status",
    "actualSourceValue",
    "actualCompareValue",
    "actualUpperLimit",
    "actualLowerLimit",
    "violations",
];

/// One thing wrong with a monspec, located by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// e.g. `SampleJSonService.comparisons[1].source`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a monspec could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MonspecError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl MonspecError {
    pub fn problems(&self) -> Vec<String> {
        match self {
            MonspecError::Syntax { .. } => vec![self.to_string()],
            MonspecError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Parse and validate monspec text.
pub fn parse_monspec(text: &str) -> Result<Monspec, MonspecError> {
    lint_monspec(text).0
}

/// Validate an already-parsed JSON document.
pub fn from_value(document: &Value) -> Result<Monspec, MonspecError> {
    lint_value(document).0
}

/// The text without a UTF-8 byte-order mark, which some Windows editors put at the start of
/// a file they save as UTF-8 and which JSON does not allow.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parse and validate monspec text (a byte-order mark is skipped), and say what looks wrong
/// but is allowed. Warnings never make a monspec invalid: they come with the monspec or with
/// its problems.
pub fn lint_monspec(text: &str) -> (Result<Monspec, MonspecError>, Vec<Problem>) {
    let text = without_bom(text);
    match serde_json::from_str::<Value>(text) {
        Ok(document) => lint_value(&document),
        Err(e) => (Err(syntax_error(text, e)), vec![]),
    }
}

/// [`lint_monspec`] for an already-parsed JSON document.
pub fn lint_value(document: &Value) -> (Result<Monspec, MonspecError>, Vec<Problem>) {
    let mut reader = Reader::default();
    let monspec = reader.monspec(document);
    let result = if reader.problems.is_empty() {
        Ok(monspec)
    } else {
        Err(MonspecError::Invalid(reader.problems))
    };
    (result, reader.warnings)
}

fn syntax_error(text: &str, error: serde_json::Error) -> MonspecError {
    let mut message = error.to_string();
    // serde_json appends " at line L column C"; we report those separately.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    let line_text = text
        .lines()
        .nth(error.line().saturating_sub(1))
        .unwrap_or("");
    if line_text.trim_start().starts_with("//")
        || text.contains("\n//")
        || line_text.contains(" //")
    {
        message.push_str(
            " (JSON has no comments: turn a `// note` into a key such as \"_comment\": \"note\")",
        );
    } else if error.classify() == serde_json::error::Category::Syntax
        && (message.contains("trailing comma") || message.contains("expected value"))
    {
        message.push_str(" (look for a trailing comma before `}` or `]`)");
    }
    MonspecError::Syntax {
        line: error.line(),
        column: error.column(),
        message,
    }
}

fn is_ignored_key(key: &str) -> bool {
    key.starts_with('_') || OUTPUT_FIELDS.contains(&key)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Reader {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Reader {
    fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// The object at `path`, reporting unknown keys (keys not in `known`, not comments).
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(object) = value.as_object() else {
            self.problem(
                path,
                format!("expected an object, found {}", json_type(value)),
            );
            return None;
        };
        for key in object.keys() {
            if !is_ignored_key(key) && !known.contains(&key.as_str()) {
                self.problem(
                    &join(path, key),
                    format!(
                        "unknown field (known fields: {}; start a key with `_` to keep it as a comment)",
                        known.join(", ")
                    ),
                );
            }
        }
        Some(object)
    }

    fn string(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        match object.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(&join(path, key), "is required but missing");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.problem(&join(path, key), "must not be empty");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(
                    &join(path, key),
                    format!("expected a string, found {}", json_type(other)),
                );
                None
            }
        }
    }

    fn number(&mut self, object: &Map<String, Value>, path: &str, key: &str) -> Option<f64> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                self.problem(
                    &join(path, key),
                    format!("expected a number, found {}", json_type(other)),
                );
                None
            }
        }
    }

    fn array<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Vec<Value>> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.problem(
                    &join(path, key),
                    format!("expected an array, found {}", json_type(other)),
                );
                None
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
