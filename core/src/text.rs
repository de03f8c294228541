//! Text limits of the APIs we write to (CodePipeline summaries, messages, ids), and the
//! checks on text we are sent.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// At most `limit` characters (the APIs count characters, not bytes); a cut text ends with
/// `…` so a reader sees that something is missing.
pub fn truncate_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some(_) if limit == 0 => String::new(),
        Some(_) => {
            let keep = limit.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

/// A URL as it may appear in a message or a log: without user information, query or
/// fragment, where tokens ride (a presigned URL's signature, `?token=`, `user:pass@`).
pub fn redacted_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            let hidden = url.query().is_some() || url.fragment().is_some();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            if hidden {
                format!("{url}?(query not shown)")
            } else {
                url.to_string()
            }
        }
        Err(_) => "(not shown: it may hold a token)".to_string(),
    }
}

/// Control characters (NUL, escapes, line breaks) and Unicode bidirectional formatting
/// characters (U+202E and its kin), which can make a text read as something else in a UI.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` on one line for a description or a comment we write: every control or bidi
/// character becomes U+FFFD (visible, so a reader sees that something was there).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_hidden_or_control(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Parse JSON, refusing an object that names a key twice (serde_json keeps the last,
/// so `{"State": "RESOLVED", "State": "OPEN"}` would read as OPEN).
pub fn parse_json_unique_keys(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = UniqueKeys.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueKeys)? {
            list.push(v);
        }
        Ok(Value::Array(list))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the key \"{key}\" appears twice in one object"
                )));
            }
            let value = map.next_value_seed(UniqueKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A size as a person reads it in a message: bytes below 1 KiB, then KiB, then MiB with one
/// decimal (`1.2 MiB`). Limits are said the same way, so the two compare at a glance.
pub fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} bytes")
    } else if bytes < MIB {
        // Rounded up: a file one byte over 100 KiB must not read as "100 KiB".
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// A measured value as people read it: whole numbers without decimals, others with at most
/// three, trailing zeros dropped.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A value-axis label: whole numbers from 10 up, one decimal below, more only when the
/// step needs them (so levels never print alike).
pub fn level_label(v: f64, step: f64) -> String {
    let decimals = if v.abs() >= 10.0 && step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else {
        (-step.log10()).ceil().clamp(1.0, 6.0) as usize
    };
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_bytes_kib_or_mib_and_never_round_down_to_the_limit() {
        assert_eq!(size_text(512), "512 bytes");
        assert_eq!(size_text(100 * 1024), "100 KiB");
        assert_eq!(size_text(100 * 1024 + 1), "101 KiB");
        assert_eq!(size_text(3_774_873), "3.6 MiB");
    }

    #[test]
    fn a_url_in_a_message_never_carries_its_token() {
        let cases = [
            ("https://h.example/m.json", "https://h.example/m.json"),
            (
                "https://h.example/m.json?X-Amz-Signature=abc&token=t0k",
                "https://h.example/m.json?(query not shown)",
            ),
            (
                "https://user:s3cret@h.example/m.json#frag",
                "https://h.example/m.json?(query not shown)",
            ),
            ("not a url?token=t0k", "(not shown: it may hold a token)"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_with_the_key_and_place() {
        let e = parse_json_unique_keys(r#"{"State":"RESOLVED","State":"OPEN"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("the key \"State\" appears twice in one object at line 1"),
            "{e}"
        );
        let e = parse_json_unique_keys(r#"{"a":[{"entity":"x","entity":"y"}]}"#).unwrap_err();
        assert!(e.to_string().contains("\"entity\" appears twice"), "{e}");
        let v = parse_json_unique_keys(r#"{"a":[1,-2,2.5,true,null,"s"],"b":{"a":1}}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":[1,-2,2.5,true,null,"s"],"b":{"a":1}})
        );
        assert!(parse_json_unique_keys(r#"{"a":1} trailing"#).is_err());
    }

    #[test]
    fn control_and_bidi_characters_become_visible_replacements() {
        assert_eq!(
            printable("build\u{202E}4piz.exe\0\nnext"),
            "build\u{FFFD}4piz.exe\u{FFFD}\u{FFFD}next"
        );
        assert_eq!(printable("P-7 ünïcode ok"), "P-7 ünïcode ok");
    }

    #[test]
    fn cuts_by_characters_and_marks_the_cut() {
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("exactly", 7), "exactly");
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("ééééé", 3).chars().count(), 3);
        assert_eq!(truncate_chars("abc", 0), "");
    }
}
