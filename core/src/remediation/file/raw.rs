//! The file as written: what serde reads before anything is checked, every value with its
//! place in the file.

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(rename = "apiVersion")]
    pub(super) api_version: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    #[allow(dead_code)]
    metadata: Option<IgnoredAny>,
    pub(super) spec: Option<Spanned<RawSpec>>,
    pub(super) remediations: Option<Spanned<Vec<Spanned<RawEntry>>>>,
    /// Only ever here by mistake: seed 001's `actions:` slipped to the top level.
    pub(super) actions: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub(super) remediations: Option<Spanned<Vec<Spanned<RawEntry>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) name: Option<Spanned<String>>,
    #[serde(rename = "problemType")]
    pub(super) problem_type: Option<Spanned<String>>,
    pub(super) actions: Option<Spanned<Vec<Spanned<RawAction>>>>,
    #[serde(rename = "actionsOnOpen")]
    pub(super) actions_on_open: Option<Spanned<Vec<Spanned<RawAction>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    pub(super) name: Option<String>,
    pub(super) action: Option<Spanned<String>>,
    pub(super) description: Option<String>,
    pub(super) value: Option<Spanned<Scalarish>>,
    pub(super) wait: Option<Spanned<Scalarish>>,
    #[serde(rename = "allowUnconfirmed")]
    pub(super) allow_unconfirmed: Option<Spanned<Scalarish>>,
}

/// A value as YAML typed it. `value` is a number, a string or a map depending on the action
/// (and unquoted `off` reads as false in YAML 1.1), so the action decides what it accepts.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalarish {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Map(Vec<(String, Scalarish)>),
    List,
}

impl Scalarish {
    /// What a person would call it, for messages.
    pub(super) fn shown(&self) -> String {
        match self {
            Scalarish::Null => "empty".into(),
            Scalarish::Bool(b) => b.to_string(),
            Scalarish::Int(n) => n.to_string(),
            Scalarish::Float(f) => f.to_string(),
            Scalarish::Text(t) => format!("\"{t}\""),
            Scalarish::Map(_) => "a map".into(),
            Scalarish::List => "a list".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalarish {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarishVisitor)
    }
}

struct ScalarishVisitor;

impl<'de> Visitor<'de> for ScalarishVisitor {
    type Value = Scalarish;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, a string or a map")
    }
    fn visit_unit<E>(self) -> Result<Scalarish, E> {
        Ok(Scalarish::Null)
    }
    fn visit_none<E>(self) -> Result<Scalarish, E> {
        Ok(Scalarish::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalarish, E> {
        Ok(Scalarish::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalarish, E> {
        Ok(Scalarish::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalarish, E> {
        Ok(i64::try_from(v).map_or(Scalarish::Float(v as f64), Scalarish::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalarish, E> {
        Ok(Scalarish::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalarish, E> {
        Ok(Scalarish::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalarish, E> {
        Ok(Scalarish::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalarish, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalarish::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalarish, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value::<Scalarish>()?));
        }
        Ok(Scalarish::Map(entries))
    }
}
