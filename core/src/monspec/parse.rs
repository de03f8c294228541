//! Reading a monspec: JSON text → [`Monspec`], collecting every problem with its JSON path and
//! a hint on how to fix it. Nothing half-read is ever returned: either the whole file is valid,
//! or the caller gets the full list of problems.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::model::*;

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

/// Response-time limits below this many µs (1 ms) are almost always meant in ms.
const SUSPICIOUS_RESPONSE_TIME_LIMIT_US: f64 = 1000.0;

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

    fn monspec(&mut self, document: &Value) -> Monspec {
        let Some(root) = document.as_object() else {
            self.problem(
                "",
                format!(
                    "a monspec is an object of configurations keyed by name (e.g. {{\"SampleJSonService\": {{…}}}}), found {}",
                    json_type(document)
                ),
            );
            return Monspec {
                configurations: vec![],
            };
        };
        let configurations: Vec<Configuration> = root
            .iter()
            .filter(|(key, _)| !key.starts_with('_'))
            .filter_map(|(key, value)| self.configuration(key, value))
            .collect();
        if configurations.is_empty() && self.problems.is_empty() {
            self.problem(
                "",
                "no configuration found: add one keyed by name, e.g. {\"SampleJSonService\": {\"etype\": \"SERVICE\", …}}",
            );
        }
        Monspec { configurations }
    }

    fn configuration(&mut self, key: &str, value: &Value) -> Option<Configuration> {
        let path = key.to_string();
        let object = self.object(value, &path, &CONFIGURATION_FIELDS)?;
        let problems_before = self.problems.len();

        let etype = match self.string(object, &path, "etype", true) {
            Some(text) => match EntityType::parse(&text) {
                Some(t) => Some(t),
                None => {
                    let supported: Vec<_> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
                    self.problem(
                        &join(&path, "etype"),
                        format!(
                            "unsupported entity type \"{text}\" (supported: {})",
                            supported.join(", ")
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let name = self.string(object, &path, "name", false);
        let owner = self.string(object, &path, "owner", false);
        let environments = self.environments(object, &path);
        let env_names: Vec<String> = environments.iter().map(|e| e.name.clone()).collect();
        let comparisons = self.comparisons(object, &path, &env_names);

        let perfsignature = match self.array(object, &path, "perfsignature") {
            Some(items) => self.signatures(items, &join(&path, "perfsignature")),
            None => Vec::new(),
        };
        let servicemethods = self.service_methods(object, &path, etype);
        if perfsignature.is_empty()
            && servicemethods.is_empty()
            && self.problems.len() == problems_before
        {
            self.problem(
                &join(&path, "perfsignature"),
                "no signature to check: add at least one entry to perfsignature or servicemethods",
            );
        }
        if let Some(etype) = etype {
            self.check_metric_scopes(&path, etype, &perfsignature, &servicemethods);
        }
        self.check_relative_signatures_have_baseline(
            &path,
            &comparisons,
            &perfsignature,
            &servicemethods,
        );
        self.check_scale_factors(&path, &comparisons, &perfsignature, &servicemethods);

        (self.problems.len() == problems_before).then(|| Configuration {
            key: key.to_string(),
            etype: etype.expect("checked above"),
            name,
            owner,
            environments,
            comparisons,
            perfsignature,
            servicemethods,
        })
    }

    fn environments(&mut self, object: &Map<String, Value>, path: &str) -> Vec<Environment> {
        let env_path = join(path, "environments");
        let Some(value) = object.get("environments") else {
            self.problem(
                &env_path,
                "is required but missing: define at least one environment with its tags",
            );
            return Vec::new();
        };
        let Some(map) = self.object(value, &env_path, &[]).cloned() else {
            return Vec::new();
        };
        // `object` reported every non-comment key as unknown: environments are free-form names,
        // so take those problems back.
        self.problems
            .retain(|p| !(p.path.starts_with(&env_path) && p.message.starts_with("unknown field")));
        let mut environments = Vec::new();
        for (name, env_value) in map.iter().filter(|(k, _)| !k.starts_with('_')) {
            let path = join(&env_path, name);
            let Some(env) = self.object(env_value, &path, &["tags"]) else {
                continue;
            };
            let tags_path = join(&path, "tags");
            let mut tags = Vec::new();
            match self.array(env, &path, "tags") {
                None => self.problem(&tags_path, "is required: list the tags that identify this environment's entities"),
                Some(items) if items.is_empty() => self.problem(
                    &tags_path,
                    "is empty: an environment without tags would match every entity; add e.g. {\"key\": \"DeploymentGroup\", \"value\": \"Staging\"}",
                ),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(tag) = self.tag(item, &format!("{tags_path}[{i}]")) {
                            tags.push(tag);
                        }
                    }
                }
            }
            environments.push(Environment {
                name: name.clone(),
                tags,
            });
        }
        if environments.is_empty() {
            self.problem(
                &env_path,
                "is empty: define at least one environment with its tags",
            );
        }
        environments
    }

    fn tag(&mut self, value: &Value, path: &str) -> Option<Tag> {
        let object = self.object(value, path, &TAG_FIELDS)?;
        let context = self.string(object, path, "context", false);
        let value = self.string(object, path, "value", false);
        let key = match object.get("key") {
            None | Some(Value::Null) => {
                self.problem(
                    &join(path, "key"),
                    "a tag needs a key, e.g. \"key\": \"DeploymentGroup\"",
                );
                None
            }
            _ => self.string(object, path, "key", true),
        }?;
        Some(Tag {
            context: context.unwrap_or_else(|| Tag::CONTEXTLESS.to_string()),
            key,
            value,
        })
    }

    fn comparisons(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        env_names: &[String],
    ) -> Vec<Comparison> {
        let list_path = join(path, "comparisons");
        let Some(items) = self.array(object, path, "comparisons") else {
            self.problem(&list_path, "is required: define at least one comparison, e.g. {\"name\": \"StagingToProduction\", \"source\": \"Staging\", \"compare\": \"Production\"}");
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut comparisons = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            let Some(cmp) = self.object(item, &path, &COMPARISON_FIELDS) else {
                continue;
            };
            let before = self.problems.len();
            let name = self.string(cmp, &path, "name", true);
            if let Some(name) = &name {
                if !seen.insert(name.clone()) {
                    self.problem(
                        &join(&path, "name"),
                        format!("comparison name \"{name}\" is used twice: each comparison needs its own name"),
                    );
                }
            }
            let source = self.string(cmp, &path, "source", true);
            let compare = self.string(cmp, &path, "compare", false);
            for (field, env) in [("source", &source), ("compare", &compare)] {
                if let Some(env) = env {
                    if !env_names.contains(env) {
                        self.problem(
                            &join(&path, field),
                            format!(
                                "environment \"{env}\" is not defined (defined: {})",
                                env_names.join(", ")
                            ),
                        );
                    }
                }
            }
            let scale_factors = self.scale_factors(cmp, &path);
            let shift_source_secs = self.shift(cmp, &path, "shiftsourcetimeframe");
            let shift_compare_secs = self.shift(cmp, &path, "shiftcomparetimeframe");
            if source.is_some() && source == compare && shift_source_secs == shift_compare_secs {
                self.problem(
                    &path,
                    "source and compare are the same environment over the same timeframe, so the check can never fail: set shiftcomparetimeframe (e.g. 3600 for the last hour)",
                );
            }
            let on_missing_data = self.policy(cmp, &path);
            if self.problems.len() == before {
                comparisons.push(Comparison {
                    name: name.expect("checked"),
                    source: source.expect("checked"),
                    compare,
                    scale_factors,
                    shift_source_secs,
                    shift_compare_secs,
                    on_missing_data,
                });
            }
        }
        if items.is_empty() {
            self.problem(&list_path, "is empty: define at least one comparison");
        }
        comparisons
    }

    fn scale_factors(&mut self, cmp: &Map<String, Value>, path: &str) -> ScaleFactors {
        let mut factors = ScaleFactors::default();
        let Some(value) = cmp.get("scalefactorperc") else {
            return factors;
        };
        let sf_path = join(path, "scalefactorperc");
        let Some(map) = value.as_object() else {
            self.problem(
                &sf_path,
                format!(
                    "expected an object such as {{\"default\": 15}}, found {}",
                    json_type(value)
                ),
            );
            return factors;
        };
        for (key, v) in map.iter().filter(|(k, _)| !k.starts_with('_')) {
            let entry_path = join(&sf_path, key);
            let Some(n) = v.as_f64() else {
                self.problem(
                    &entry_path,
                    format!("expected a percentage number, found {}", json_type(v)),
                );
                continue;
            };
            if n < 0.0 {
                self.problem(
                    &entry_path,
                    format!("{n} is negative: the tolerance is a distance in percent and `validate` gives its side; write {}", -n),
                );
                continue;
            }
            if n > MAX_SCALE_FACTOR_PERC {
                self.problem(
                    &entry_path,
                    format!("{n}% is absurd (at most {MAX_SCALE_FACTOR_PERC}%)"),
                );
                continue;
            }
            if key == "default" {
                factors.default = Some(n);
            } else {
                factors.per_metric.push((key.clone(), n));
            }
        }
        factors
    }

    fn shift(&mut self, cmp: &Map<String, Value>, path: &str, key: &str) -> u64 {
        let field = join(path, key);
        match cmp.get(key) {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(secs), _) if secs <= MAX_SHIFT_SECS => secs,
                (Some(secs), _) => {
                    self.problem(
                        &field,
                        format!(
                            "shift of {secs} s is absurd (more than {} days; shifts are in seconds, not milliseconds)",
                            MAX_SHIFT_SECS / 86400
                        ),
                    );
                    0
                }
                (None, Some(f)) if f < 0.0 => {
                    self.problem(&field, format!("shift {f} is negative: shifts go back in time, in seconds (e.g. 3600 for one hour ago)"));
                    0
                }
                _ => {
                    self.problem(
                        &field,
                        format!("shift {n} must be a whole number of seconds"),
                    );
                    0
                }
            },
            Some(other) => {
                self.problem(
                    &field,
                    format!("expected a number of seconds, found {}", json_type(other)),
                );
                0
            }
        }
    }

    fn policy(&mut self, object: &Map<String, Value>, path: &str) -> Option<MissingDataPolicy> {
        let text = self.string(object, path, "onmissingdata", false)?;
        let policy = MissingDataPolicy::parse(&text);
        if policy.is_none() {
            self.problem(
                &join(path, "onmissingdata"),
                format!("unknown policy \"{text}\" (use fail, warn or pass)"),
            );
        }
        policy
    }

    fn signatures(&mut self, items: &[Value], path: &str) -> Vec<Signature> {
        if items.is_empty() {
            self.problem(path, "is empty: list at least one metric, e.g. {\"timeseries\": \"com.dynatrace.builtin:service.responsetime\", \"aggregate\": \"avg\"}");
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.signature(item, &format!("{path}[{i}]")))
            .collect()
    }

    fn signature(&mut self, value: &Value, path: &str) -> Option<Signature> {
        let object = self.object(value, path, &SIGNATURE_FIELDS)?;
        let before = self.problems.len();
        let timeseries = self.string(object, path, "timeseries", false);
        let smartscape = self.string(object, path, "smartscape", false);
        let subject = match (timeseries, smartscape) {
            (Some(_), Some(_)) => {
                self.problem(
                    path,
                    "has both timeseries and smartscape: a signature checks one of them",
                );
                None
            }
            (None, None) => {
                if self.problems.len() == before {
                    self.problem(path, "needs either \"timeseries\" (a metric id) or \"smartscape\" (e.g. \"toRelationships:calls\")");
                }
                None
            }
            (Some(id), None) => Some(SignatureSubject::Timeseries(id)),
            (None, Some(text)) => match parse_relationship(&text) {
                Some(rel) => Some(SignatureSubject::Smartscape(rel)),
                None => {
                    self.problem(
                        &join(path, "smartscape"),
                        format!("\"{text}\" is not a relationship: write fromRelationships:<name> or toRelationships:<name>, e.g. toRelationships:calls"),
                    );
                    None
                }
            },
        };
        let aggregate = match self.string(object, path, "aggregate", false) {
            Some(text) => {
                let aggregate = Aggregate::parse(&text);
                if aggregate.is_none() {
                    self.problem(
                        &join(path, "aggregate"),
                        format!("unknown aggregate \"{text}\" (use avg, min, max, sum, count, median, or pNN with NN from 1 to 99)"),
                    );
                }
                aggregate
            }
            None => match &subject {
                Some(SignatureSubject::Smartscape(_)) => Some(Aggregate::Count),
                _ => {
                    if subject.is_some() {
                        self.problem(&join(path, "aggregate"), "is required for a timeseries: avg, min, max, sum, count, median or pNN");
                    }
                    None
                }
            },
        };
        if let (Some(SignatureSubject::Smartscape(_)), Some(agg)) = (&subject, aggregate) {
            if agg != Aggregate::Count {
                self.problem(&join(path, "aggregate"), format!("a smartscape signature counts related entities: use \"count\", not \"{agg}\""));
            }
        }
        let validate = match self.string(object, path, "validate", false) {
            Some(text) => Direction::parse(&text).or_else(|| {
                self.problem(
                    &join(path, "validate"),
                    format!("unknown validate \"{text}\" (use upper or lower)"),
                );
                None
            }),
            None => Some(Direction::Upper),
        };
        let upper_limit = self.number(object, path, "upperlimit");
        let lower_limit = self.number(object, path, "lowerlimit");
        if let (Some(upper), Some(lower)) = (upper_limit, lower_limit) {
            if lower >= upper {
                self.problem(
                    path,
                    format!(
                        "lowerlimit {lower} is not below upperlimit {upper}: no value could pass"
                    ),
                );
            }
        }
        if let Some(SignatureSubject::Timeseries(id)) = &subject {
            // The count of a response-time metric is a number of requests, not µs.
            let in_microseconds = super::catalog::unit_of(id) == super::catalog::Unit::Microseconds
                && aggregate != Some(Aggregate::Count);
            for (key, limit) in [("upperlimit", upper_limit), ("lowerlimit", lower_limit)] {
                match limit {
                    Some(l) if in_microseconds && l < SUSPICIOUS_RESPONSE_TIME_LIMIT_US => self.warning(
                        &join(path, key),
                        format!(
                            "{l} µs is {} ms: response-time limits are in µs (the API's unit), and one below 1,000 is almost always a limit meant in ms; for {l} ms write {}",
                            l / 1000.0,
                            l * 1000.0
                        ),
                    ),
                    _ => {}
                }
            }
        }
        let on_missing_data = self.policy(object, path);
        if self.problems.len() != before {
            return None;
        }
        Some(Signature {
            subject: subject?,
            aggregate: aggregate?,
            validate: validate?,
            upper_limit,
            lower_limit,
            on_missing_data,
        })
    }

    fn service_methods(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        etype: Option<EntityType>,
    ) -> Vec<ServiceMethod> {
        let list_path = join(path, "servicemethods");
        let Some(items) = self.array(object, path, "servicemethods") else {
            return Vec::new();
        };
        if !items.is_empty() && etype.is_some_and(|t| t != EntityType::Service) {
            self.problem(&list_path, "service methods exist only on SERVICE entities: set etype to SERVICE or remove servicemethods");
        }
        let mut methods = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            let Some(method) = self.object(item, &path, &SERVICE_METHOD_FIELDS) else {
                continue;
            };
            let name = self.string(method, &path, "name", true);
            let signatures = match self.array(method, &path, "perfsignature") {
                Some(items) => self.signatures(items, &join(&path, "perfsignature")),
                None => {
                    self.problem(
                        &join(&path, "perfsignature"),
                        "is required: list the metrics to check for this method",
                    );
                    Vec::new()
                }
            };
            if let Some(name) = name {
                methods.push(ServiceMethod {
                    name,
                    perfsignature: signatures,
                });
            }
        }
        methods
    }

    /// Service-method metrics only make sense under `servicemethods`, and the other way round.
    fn check_metric_scopes(
        &mut self,
        path: &str,
        etype: EntityType,
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        for (i, sig) in service.iter().enumerate() {
            if let SignatureSubject::Timeseries(id) = &sig.subject {
                if crate::monspec::catalog::is_service_method_metric(id) {
                    self.problem(
                        &format!("{path}.perfsignature[{i}].timeseries"),
                        format!("\"{id}\" is a service-method metric: move it under servicemethods[].perfsignature"),
                    );
                } else if let Some(expected) = crate::monspec::catalog::entity_type_of(id) {
                    if expected != etype {
                        self.problem(
                            &format!("{path}.perfsignature[{i}].timeseries"),
                            format!(
                                "\"{id}\" is measured on {expected} entities, but etype is {etype}"
                            ),
                        );
                    }
                }
            }
        }
        for (m, method) in methods.iter().enumerate() {
            for (i, sig) in method.perfsignature.iter().enumerate() {
                match &sig.subject {
                    SignatureSubject::Timeseries(id) if !crate::monspec::catalog::is_service_method_metric(id) => self.problem(
                        &format!("{path}.servicemethods[{m}].perfsignature[{i}].timeseries"),
                        format!("\"{id}\" is not a service-method metric (use e.g. com.dynatrace.builtin:servicemethod.responsetime)"),
                    ),
                    SignatureSubject::Smartscape(_) => self.problem(
                        &format!("{path}.servicemethods[{m}].perfsignature[{i}].smartscape"),
                        "smartscape signatures apply to the configuration's entities: move it to the top-level perfsignature",
                    ),
                    _ => {}
                }
            }
        }
    }

    /// A relative check needs a baseline. A comparison without `compare` can only be used with
    /// signatures that have static limits.
    fn check_relative_signatures_have_baseline(
        &mut self,
        path: &str,
        comparisons: &[Comparison],
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        let relative_count = service
            .iter()
            .chain(methods.iter().flat_map(|m| m.perfsignature.iter()))
            .filter(|s| !s.has_static_limits())
            .count();
        if relative_count == 0 {
            return;
        }
        for (i, cmp) in comparisons.iter().enumerate() {
            if cmp.compare.is_none() {
                self.problem(
                    &format!("{path}.comparisons[{i}].compare"),
                    format!(
                        "is missing, but {relative_count} signature(s) have no upperlimit/lowerlimit and need a baseline: name the compare environment or set static limits"
                    ),
                );
            }
        }
    }
}

impl Reader {
    /// Tolerances that would silently not do what they say: a key naming no signature falls
    /// back to `default`; a `lower` relative check with 100 % or more has a limit of 0 or
    /// less and can never fail on a non-negative metric.
    fn check_scale_factors(
        &mut self,
        path: &str,
        comparisons: &[Comparison],
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        let signatures: Vec<&Signature> = service
            .iter()
            .chain(methods.iter().flat_map(|m| m.perfsignature.iter()))
            .collect();
        let mut ids: Vec<String> = signatures.iter().map(|s| s.metric_id()).collect();
        ids.sort();
        ids.dedup();
        for (i, cmp) in comparisons.iter().enumerate() {
            let sf_path = format!("{path}.comparisons[{i}].scalefactorperc");
            for (key, _) in &cmp.scale_factors.per_metric {
                if !ids.contains(key) {
                    self.problem(
                        &join(&sf_path, key),
                        format!(
                            "names no signature of {path}, so it would silently fall back to default (signatures: {}); fix the metric id or remove the entry",
                            ids.join(", ")
                        ),
                    );
                }
            }
            let mut reported = BTreeSet::new();
            for s in signatures
                .iter()
                .filter(|s| s.validate == Direction::Lower && !s.has_static_limits())
            {
                let id = s.metric_id();
                let factor = cmp.scale_factors.for_metric(&id);
                let key = if cmp.scale_factors.per_metric.iter().any(|(k, _)| *k == id) {
                    id.clone()
                } else {
                    "default".to_string()
                };
                if factor >= 100.0 && reported.insert(key.clone()) {
                    self.problem(
                        &join(&sf_path, &key),
                        format!(
                            "{factor}% makes the lower limit of {id} the baseline minus {factor}%, 0 or less, so the check can never fail; use less than 100"
                        ),
                    );
                }
            }
        }
    }
}

fn parse_relationship(text: &str) -> Option<Relationship> {
    let (direction, name) = text.split_once(':')?;
    let direction = match direction {
        "fromRelationships" => RelationshipDirection::From,
        "toRelationships" => RelationshipDirection::To,
        _ => return None,
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| Relationship {
        direction,
        name: name.to_string(),
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
