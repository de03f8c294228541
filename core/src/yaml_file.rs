//! YAML files people write (slo.yaml, sli.yaml, remediation.yaml), read with spans: every
//! problem names the file, line, column and path, and says how to fix it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Options};

use crate::text::size_text;

/// The largest YAML file read (slo.yaml, sli.yaml, remediation.yaml): what one file of a
/// pipeline artifact may weigh ([`crate::model::artifacts::MAX_FILE_BYTES`]). The stored copy
/// must fit in a DynamoDB item (400 KB) beside the others; a larger file is refused before it
/// is parsed, with its size, instead of running into the parser's own budget.
pub const MAX_YAML_BYTES: usize = crate::model::artifacts::MAX_FILE_BYTES;

/// One problem of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: u64,
    pub column: u64,
    /// Where in the document, e.g. `objectives[2].pass[0].criteria[1]`.
    pub path: String,
    pub message: String,
}

/// Every problem of a file, each as `file:line:column: path: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| format!("{}:{}:{}: {}{}", .file, p.line, p.column, if p.path.is_empty() { String::new() } else { format!("{}: ", p.path) }, p.message)).collect::<Vec<_>>().join("\n"))]
pub struct FileErrors {
    pub file: String,
    pub problems: Vec<FileProblem>,
}

/// Parse `text` into the raw (spanned) form of a file. A syntax or shape error becomes one
/// problem at its place, followed by `hint` (what the file should look like). A file over
/// [`MAX_YAML_BYTES`] and a second YAML document are refused with their own messages.
pub(crate) fn parse_yaml<'a, T: Deserialize<'a>>(
    file: &str,
    text: &'a str,
    hint: impl Fn(&serde_saphyr::Error) -> String,
) -> Result<T, FileErrors> {
    let one = |line: u64, column: u64, message: String| FileErrors {
        file: file.to_string(),
        problems: vec![FileProblem {
            line,
            column,
            path: String::new(),
            message,
        }],
    };
    if let Some(message) = too_large(text.len()) {
        return Err(one(1, 1, message));
    }
    let mut options = Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let at = e.location();
        let (line, column) = (at.map_or(1, |l| l.line()), at.map_or(1, |l| l.column()));
        let second_document = matches!(e, serde_saphyr::Error::MultipleDocuments { .. })
            || e.to_string().contains("multiple YAML documents");
        if second_document {
            let line = document_start(text, line).unwrap_or(line);
            return one(
                line,
                1,
                "a second YAML document starts here; keep one document per file (remove this `---` and what follows it, or move that into a file of its own)".into(),
            );
        }
        one(
            line.max(1),
            column.max(1),
            format!("{}; {}", without_location(&e.to_string()), hint(&e)),
        )
    })
}

/// Why a file of `bytes` is not read, if it is over [`MAX_YAML_BYTES`].
fn too_large(bytes: usize) -> Option<String> {
    (bytes > MAX_YAML_BYTES).then(|| {
        format!(
            "the file is {}; the limit is {} (its stored copy must fit in a DynamoDB item of 400 KB beside the others): a file this size is not a hand-written configuration; check that this is the right file",
            size_text(bytes),
            size_text(MAX_YAML_BYTES)
        )
    })
}

/// The 1-based line of the `---` that starts the document the parser stopped in: the last
/// document marker at or before `line` (the parser reports the place after it).
fn document_start(text: &str, line: u64) -> Option<u64> {
    text.lines()
        .enumerate()
        .take(line as usize)
        .filter(|(_, l)| *l == "---" || l.starts_with("--- ") || l.starts_with("---\t"))
        .map(|(i, _)| i as u64 + 1)
        .last()
}

/// The parser's message without its own " at line L, column C": the problem is already
/// prefixed with `file:line:column`.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(", column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

/// A YAML value whose type the reader checks itself, so that a wrong type is one problem at
/// its place with its path (`objectives[0].weight: "high" is not a number`) and the rest of
/// the file is still checked, where a typed field would end the reading at the first one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Loose {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List,
    Map,
}

impl Loose {
    /// The value as a message shows it: `"high"`, `2`, `true`, `a list`.
    pub fn shown(&self) -> String {
        match self {
            Loose::Null => "empty".into(),
            Loose::Bool(b) => b.to_string(),
            Loose::Number(n) => n.to_string(),
            Loose::Text(t) => format!("\"{t}\""),
            Loose::List => "a list".into(),
            Loose::Map => "a mapping".into(),
        }
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Number(v as f64))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(Loose::Number(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Loose, E> {
        Ok(Loose::Number(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Text(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Text(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Map)
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

/// A field that must be a list: the list, or what was written instead (`criteria: "<=800"`),
/// for a problem at its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListOr<T> {
    List(Vec<T>),
    Other(Loose),
}

struct ListOrVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOrVisitor<T> {
    type Value = ListOr<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        LooseVisitor.visit_bool(v).map(ListOr::Other)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        LooseVisitor.visit_i64(v).map(ListOr::Other)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        LooseVisitor.visit_u64(v).map(ListOr::Other)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        LooseVisitor.visit_f64(v).map(ListOr::Other)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        LooseVisitor.visit_str(v).map(ListOr::Other)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        LooseVisitor.visit_string(v).map(ListOr::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(ListOr::Other(Loose::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(ListOr::Other(Loose::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            list.push(item);
        }
        Ok(ListOr::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        LooseVisitor.visit_map(map).map(ListOr::Other)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListOrVisitor(PhantomData))
    }
}

/// The problems found while checking a parsed file.
#[derive(Default)]
pub(crate) struct Problems {
    pub list: Vec<FileProblem>,
}

impl Problems {
    pub fn add(&mut self, at: Location, path: impl Into<String>, message: impl Into<String>) {
        // Problems of the whole document (a missing top-level key) point at its start.
        self.list.push(FileProblem {
            line: at.line().max(1),
            column: at.column().max(1),
            path: path.into(),
            message: message.into(),
        });
    }

    /// `Ok(value)` when nothing was found, else every problem in file order.
    pub fn finish<T>(mut self, file: &str, value: T) -> Result<T, FileErrors> {
        if self.list.is_empty() {
            return Ok(value);
        }
        self.list.sort_by_key(|p| (p.line, p.column));
        Err(FileErrors {
            file: file.to_string(),
            problems: self.list,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        a: Option<serde_saphyr::Spanned<Loose>>,
        b: Option<ListOr<String>>,
    }

    fn read(text: &str) -> Result<Doc, String> {
        parse_yaml("f.yaml", text, |_| "hint".into()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_second_document_or_a_trailing_marker_is_named_at_its_line() {
        for text in ["a: 1\nb: [x]\n---\na: 2\n", "a: 1\n---\n"] {
            let e = read(text).unwrap_err();
            let line = if text.starts_with("a: 1\nb") { 3 } else { 2 };
            assert_eq!(
                e,
                format!("f.yaml:{line}:1: a second YAML document starts here; keep one document per file (remove this `---` and what follows it, or move that into a file of its own)"),
                "{text:?}"
            );
            assert!(!e.contains("from_str_multiple"), "{e}");
        }
        assert!(
            read("---\na: 1\n").is_ok(),
            "a leading marker starts the one document"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_its_size_before_parsing() {
        let text = format!("a: \"{}\"\n", "x".repeat(MAX_YAML_BYTES));
        let e = read(&text).unwrap_err();
        assert!(
            e.starts_with("f.yaml:1:1: the file is 101 KiB; the limit is 100 KiB"),
            "{e}"
        );
        assert!(!e.contains("budget"), "{e}");
    }

    #[test]
    fn loose_values_keep_what_was_written() {
        let doc = read("a: \"high\"\nb: \"<=800\"\n").unwrap();
        assert_eq!(doc.a.unwrap().value, Loose::Text("high".into()));
        assert_eq!(doc.b, Some(ListOr::Other(Loose::Text("<=800".into()))));
        let doc = read("a: 2\nb: [x, y]\n").unwrap();
        assert_eq!(doc.a.unwrap().value, Loose::Number(2.0));
        assert_eq!(doc.b, Some(ListOr::List(vec!["x".into(), "y".into()])));
        assert_eq!(Loose::Number(2.0).shown(), "2");
        assert_eq!(Loose::Text("high".into()).shown(), "\"high\"");
    }

    #[test]
    fn the_parsers_own_location_is_not_repeated() {
        assert_eq!(
            without_location("invalid floating point at line 7, column 13"),
            "invalid floating point"
        );
        assert_eq!(without_location("no place here"), "no place here");
    }
}
