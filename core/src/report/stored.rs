//! The stored result JSON as the report reads it: parsed once, straight into the few fields
//! the page shows, instead of into a `serde_json::Value` tree. Reading 1,000 stored results
//! into trees was most of the report's time (`report_render` benchmark); the JSON mode passes
//! each result on as the text it was stored as.

use std::borrow::Cow;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::canary::CanaryResult;
use super::slo::Evaluation;

/// A stored result that is JSON, passed on unchanged in the JSON mode. Kept as its text: the
/// HTML page never needs it as JSON, so it is scanned as such only when the JSON is written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJson(Box<str>);

impl StoredJson {
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl Serialize for StoredJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `read` admitted only text that parsed as JSON, so this cannot fail on our own data.
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A monspec validation's result (README, "Result JSON"): what the charts and the failing
/// checks need. Read leniently: a missing field is empty.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MonspecResult {
    /// None in a monspec result: read to tell it from the other shapes in one pass.
    pub gate: Option<String>,
    pub configurations: Vec<ConfigurationResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConfigurationResult {
    pub key: String,
    pub signatures: Vec<SignatureResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SignatureResult {
    pub path: String,
    pub label: String,
    pub unit: String,
    pub validate: String,
    pub outcome: Option<String>,
    pub source_value: Option<f64>,
    pub compare_value: Option<f64>,
    pub upper_limit: Option<f64>,
    pub lower_limit: Option<f64>,
    pub blocks_approval: bool,
    pub reason: String,
}

impl SignatureResult {
    /// The limit the check held the value to: the lower one for `validate: lower`.
    pub fn limit(&self) -> Option<f64> {
        if self.validate == "lower" {
            self.lower_limit
        } else {
            self.upper_limit
        }
    }
}

/// What a stored result is: an SLO evaluation (`"gate": "slo"`), a canary judgement
/// (`"gate": "canary"`) or a monspec result.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadResult {
    Slo(Evaluation),
    Canary(CanaryResult),
    Monspec(MonspecResult),
}

/// Only the gate, to pick the shape; serde skips the rest without building anything. A text
/// this reads is JSON (serde checks what it skips, and that nothing follows).
#[derive(Deserialize)]
struct GateProbe<'a> {
    #[serde(default, borrow)]
    gate: Option<Cow<'a, str>>,
}

/// The three shapes, by their `gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Slo,
    Canary,
    Monspec,
}

impl Shape {
    fn of(gate: Option<&str>) -> Shape {
        match gate {
            Some("slo") => Shape::Slo,
            Some("canary") => Shape::Canary,
            _ => Shape::Monspec,
        }
    }

    /// The text read as this shape, with the gate it says it has.
    fn parse(self, text: &str) -> Option<(Shape, ReadResult)> {
        match self {
            Shape::Slo => serde_json::from_str::<Evaluation>(text)
                .ok()
                .map(|e| (Shape::of(e.gate.as_deref()), ReadResult::Slo(e))),
            Shape::Canary => serde_json::from_str::<CanaryResult>(text)
                .ok()
                .map(|c| (Shape::of(c.gate.as_deref()), ReadResult::Canary(c))),
            Shape::Monspec => serde_json::from_str::<MonspecResult>(text)
                .ok()
                .map(|m| (Shape::of(m.gate.as_deref()), ReadResult::Monspec(m))),
        }
    }
}

/// The shape a stored result most likely has: our writers put the gate first or second
/// (`{"schemaVersion":1,"gate":"slo",…`); a monspec result has none. Only a guess, which the
/// parse confirms: every shape reads its own `gate`.
fn likely_shape(text: &str) -> Shape {
    const KEY: &[u8] = br#""gate":""#;
    let head = &text.as_bytes()[..text.len().min(64)];
    let Some(at) = head.windows(KEY.len()).position(|w| w == KEY) else {
        return Shape::Monspec;
    };
    let value = &text.as_bytes()[at + KEY.len()..];
    if value.starts_with(br#"slo""#) {
        Shape::Slo
    } else if value.starts_with(br#"canary""#) {
        Shape::Canary
    } else {
        Shape::Monspec
    }
}

/// Read a stored result text. `None` when it is not JSON or not in either shape: the row
/// then shows no figures (the JSON mode still passes on what was stored, when it is JSON).
///
/// One pass when the guess of [`likely_shape`] holds, which is every result our worker
/// wrote (a successful parse also proves the text is JSON); otherwise the gate is read
/// first, then the shape it names.
pub fn read(text: &str) -> (Option<StoredJson>, Option<ReadResult>) {
    let guess = likely_shape(text);
    if let Some((shape, result)) = guess.parse(text) {
        if shape == guess {
            return (Some(StoredJson(text.into())), Some(result));
        }
    }
    let Ok(GateProbe { gate }) = serde_json::from_str::<GateProbe>(text) else {
        // Not an object with a text gate: JSON of another shape is still passed on.
        let json = serde_json::from_str::<&RawValue>(text).is_ok();
        return (json.then(|| StoredJson(text.into())), None);
    };
    let read = Shape::of(gate.as_deref())
        .parse(text)
        .map(|(_, result)| result);
    (Some(StoredJson(text.into())), read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_slo_result_reads_as_an_evaluation_and_passes_on_unchanged() {
        let text = r#"{"gate":"slo","result":"pass","score":90.0,"indicatorResults":[],"extra":{"kept":[1,2]}}"#;
        let (raw, read) = read(text);
        assert_eq!(raw.unwrap().text(), text);
        match read {
            Some(ReadResult::Slo(e)) => {
                assert_eq!(e.result, "pass");
                assert_eq!(e.score, Some(90.0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_monspec_result_reads_its_signatures_with_the_limit_of_its_direction() {
        let text = r#"{"schemaVersion":1,"configurations":[{"key":"Svc","signatures":[
            {"path":"p","label":"l","unit":"microseconds","validate":"lower","outcome":"violation",
             "sourceValue":5.0,"compareValue":10.0,"upperLimit":null,"lowerLimit":8.0,
             "blocksApproval":true,"reason":"r"}]}]}"#;
        let (_, read) = read(text);
        let Some(ReadResult::Monspec(m)) = read else {
            panic!("{read:?}")
        };
        let s = &m.configurations[0].signatures[0];
        assert_eq!(s.limit(), Some(8.0));
        assert!(s.blocks_approval);
        assert_eq!(s.outcome.as_deref(), Some("violation"));
    }

    #[test]
    fn a_canary_result_reads_as_a_judgement_not_as_an_empty_monspec_result() {
        let text = r#"{"gate":"canary","result":"fail","outcome":"fail","score":0.0,"metrics":[{"name":"latency","classification":"high","mannWhitney":{"pValue":1e-6}}],"distributions":[]}"#;
        match read(text).1 {
            Some(ReadResult::Canary(c)) => {
                assert_eq!((c.result.as_str(), c.score), ("fail", Some(0.0)));
                assert_eq!(c.metrics[0].classification, "high");
                assert_eq!(
                    c.metrics[0].mann_whitney.as_ref().unwrap().p_value,
                    Some(1e-6)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_gate_decides_the_shape_wherever_it_stands() {
        // Last, past where the guess looks: read anyway.
        let text = format!(
            r#"{{"result":"pass","score":90.0,"reason":"{}","gate":"slo"}}"#,
            "x".repeat(100)
        );
        assert!(matches!(read(&text).1, Some(ReadResult::Slo(_))));
        // A gate in the head that is not the result's own: the result's gate wins.
        let text = r#"{"note":{"gate":"slo"},"gate":"canary","result":"fail","metrics":[]}"#;
        assert!(matches!(read(text).1, Some(ReadResult::Canary(_))));
        // A gate that is not text: JSON, passed on, but no shape.
        let (raw, read) = read(r#"{"gate":5,"configurations":[]}"#);
        assert!(raw.is_some());
        assert_eq!(read, None);
    }

    #[test]
    fn text_that_is_not_json_reads_as_nothing() {
        assert_eq!(read("x"), (None, None));
        // JSON in neither shape: passed on, no figures.
        let (raw, read) = read(r#"{"configurations":"nope"}"#);
        assert!(raw.is_some());
        assert_eq!(read, None);
    }
}
