//! The typed monspec: what a configuration file means once it has been validated.
//!
//! The file format is the original tutorial's (`monspec/monspec.json`). Keys that start with `_`
//! are comments, and the fields the original worker wrote back (`status`, `actualSourceValue`…)
//! are accepted and ignored, so a filled monspec can be validated again.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A whole monspec file: configurations keyed by name, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Monspec {
    pub configurations: Vec<Configuration>,
}

impl Monspec {
    pub fn configuration(&self, key: &str) -> Option<&Configuration> {
        self.configurations.iter().find(|c| c.key == key)
    }

    /// Every comparison name defined anywhere, sorted and de-duplicated (for "did you mean" lists).
    pub fn comparison_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .configurations
            .iter()
            .flat_map(|c| c.comparisons.iter().map(|cmp| cmp.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// One monitored thing (a service, application, host or process) and how to judge it.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// The top-level key, e.g. `SampleJSonService`.
    pub key: String,
    pub etype: EntityType,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub environments: Vec<Environment>,
    pub comparisons: Vec<Comparison>,
    pub perfsignature: Vec<Signature>,
    pub servicemethods: Vec<ServiceMethod>,
}

impl Configuration {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
    pub fn comparison(&self, name: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    Service,
    Application,
    Host,
    ProcessGroupInstance,
}

impl EntityType {
    pub const ALL: [EntityType; 4] = [
        EntityType::Service,
        EntityType::Application,
        EntityType::Host,
        EntityType::ProcessGroupInstance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Service => "SERVICE",
            EntityType::Application => "APPLICATION",
            EntityType::Host => "HOST",
            EntityType::ProcessGroupInstance => "PROCESS_GROUP_INSTANCE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An environment is the set of entities that carry all of its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub tags: Vec<Tag>,
}

/// A Dynatrace tag rule entry: `{context, key, value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default = "Tag::default_context")]
    pub context: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Tag {
    pub const CONTEXTLESS: &'static str = "CONTEXTLESS";

    fn default_context() -> String {
        Self::CONTEXTLESS.to_string()
    }

    pub fn new(context: &str, key: &str, value: Option<&str>) -> Self {
        Tag {
            context: context.to_string(),
            key: key.to_string(),
            value: value.map(str::to_string),
        }
    }

    pub fn is_contextless(&self) -> bool {
        self.context.eq_ignore_ascii_case(Self::CONTEXTLESS)
    }
}

impl fmt::Display for Tag {
    /// The tag filter syntax both API versions understand: `key`, `key:value` or
    /// `[context]key:value`. The original dropped the context; we never do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_contextless() {
            write!(f, "[{}]", self.context)?;
        }
        f.write_str(&self.key)?;
        if let Some(value) = &self.value {
            write!(f, ":{value}")?;
        }
        Ok(())
    }
}

/// A named way to judge a build: which environment is measured (`source`), against which
/// baseline (`compare`), with which tolerance and time shifts.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub name: String,
    pub source: String,
    pub compare: Option<String>,
    pub scale_factors: ScaleFactors,
    pub shift_source_secs: u64,
    pub shift_compare_secs: u64,
    pub on_missing_data: Option<MissingDataPolicy>,
}

/// `scalefactorperc`: the allowed deviation in percent, per metric id with a default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScaleFactors {
    pub default: Option<f64>,
    pub per_metric: Vec<(String, f64)>,
}

impl ScaleFactors {
    /// The per-metric entry, else `default`, else 0.
    pub fn for_metric(&self, metric_id: &str) -> f64 {
        self.per_metric
            .iter()
            .find(|(id, _)| id == metric_id)
            .map(|(_, v)| *v)
            .or(self.default)
            .unwrap_or(0.0)
    }
}

/// What to do when a signature has no data (no entity matched, or no datapoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingDataPolicy {
    /// The build is not approved (the default: fail closed).
    #[default]
    Fail,
    /// The build may be approved, and the verdict carries a warning.
    Warn,
    /// The original tutorial's lenient behaviour: treated as a pass, still shown as `nodata`.
    Pass,
}

impl MissingDataPolicy {
    pub const ALL: [MissingDataPolicy; 3] = [Self::Fail, Self::Warn, Self::Pass];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Pass => "pass",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// One key metric of a performance signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub subject: SignatureSubject,
    pub aggregate: Aggregate,
    pub validate: Direction,
    pub upper_limit: Option<f64>,
    pub lower_limit: Option<f64>,
    pub on_missing_data: Option<MissingDataPolicy>,
}

impl Signature {
    /// The id `scalefactorperc` entries are keyed by: the timeseries id, or the smartscape
    /// relationship text.
    pub fn metric_id(&self) -> String {
        match &self.subject {
            SignatureSubject::Timeseries(id) => id.clone(),
            SignatureSubject::Smartscape(rel) => rel.to_string(),
        }
    }

    pub fn has_static_limits(&self) -> bool {
        self.upper_limit.is_some() || self.lower_limit.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignatureSubject {
    /// A timeseries id: a v1 id such as `com.dynatrace.builtin:service.responsetime`, or a v2
    /// metric key such as `builtin:service.response.time`.
    Timeseries(String),
    /// Count of distinct entities related to the resolved entities.
    Smartscape(Relationship),
}

/// `toRelationships:calls`, `fromRelationships:runsOn`, …
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relationship {
    pub direction: RelationshipDirection,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationshipDirection {
    From,
    To,
}

impl RelationshipDirection {
    pub fn field(self) -> &'static str {
        match self {
            Self::From => "fromRelationships",
            Self::To => "toRelationships",
        }
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.direction.field(), self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Median,
    /// `pNN` with 1 ≤ NN ≤ 99 (the range the Dynatrace API accepts).
    Percentile(u8),
}

impl Aggregate {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "count" => Self::Count,
            "median" => Self::Median,
            p => {
                let digits = p.strip_prefix('p')?;
                if digits.is_empty()
                    || digits.len() > 2
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let n: u8 = digits.parse().ok()?;
                if !(1..=99).contains(&n) {
                    return None;
                }
                Self::Percentile(n)
            }
        })
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Avg => f.write_str("avg"),
            Self::Min => f.write_str("min"),
            Self::Max => f.write_str("max"),
            Self::Sum => f.write_str("sum"),
            Self::Count => f.write_str("count"),
            Self::Median => f.write_str("median"),
            Self::Percentile(n) => write!(f, "p{n}"),
        }
    }
}

/// `validate`: which side of the tolerance band is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The source must not exceed the limit (response time, failure rate). The default.
    #[default]
    Upper,
    /// The source must not fall below the limit (throughput, dependencies).
    Lower,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upper => "upper",
            Self::Lower => "lower",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "upper" => Some(Self::Upper),
            "lower" => Some(Self::Lower),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceMethod {
    pub name: String,
    pub perfsignature: Vec<Signature>,
}
