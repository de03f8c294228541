//! Dynatrace's problem notification (the custom integration's payload), read and checked
//! without I/O: only `PID` is acted on (the handler reads the problem from Dynatrace), and a
//! body that is not a notification is refused with what is wrong and how to fix it
//! ([`BadNotification`]). The handler checks the secret header and picks the HTTP status.

use std::collections::HashSet;

use serde_json::Value;

use crate::model::monitoring::ProblemStatus;
use crate::text::{parse_json_unique_keys, printable, truncate_chars};

/// Dynatrace's "Send test notification" uses these.
const TEST_ENTITY_MARK: &str = "XXXXXXXXXXXXX";
const TEST_PID: &str = "99999";
/// A notification is a few KB; with `{ProblemDetailsJSON}` and thousands of entities a few
/// hundred. Anything larger is not a Dynatrace notification.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// A problem title longer than this is cut (remediation.yaml entries name short titles).
const TITLE_LIMIT: usize = 200;

/// The parts of the notification we read. Only `pid` is acted on: the rest comes from
/// Dynatrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub pid: String,
    pub display_id: Option<String>,
    /// `OPEN` or `RESOLVED`; any other UPPER_CASE word is kept as `Other`.
    pub state: ProblemStatus,
    /// `ProblemTitle`, if sent; the title Dynatrace gives when reading the problem wins.
    pub title: Option<String>,
    /// The impacted entity ids sent, each once.
    pub entities: Vec<String>,
}

impl Notification {
    /// Dynatrace's test notification: its PID, or only test entities. One test entity among
    /// real ones does not make a real notification a test.
    pub fn is_test(&self) -> bool {
        self.pid == TEST_PID
            || (!self.entities.is_empty()
                && self.entities.iter().all(|e| e.contains(TEST_ENTITY_MARK)))
    }
}

/// A refused body: larger than any notification ([`TooBig`](Self::TooBig)) or not a
/// notification ([`Invalid`](Self::Invalid)). The message says what to fix; the handler
/// picks the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadNotification {
    #[error("the body is {bytes} bytes, more than the {MAX_BODY_BYTES} a problem notification needs; use the payload template from the README")]
    TooBig { bytes: usize },
    #[error("{0}")]
    Invalid(String),
}

fn bad(message: impl Into<String>) -> BadNotification {
    BadNotification::Invalid(message.into())
}

/// `-6478017825120311599_1641223491837V2`, older `4617456891066163917_1530097500000`, or
/// digits only with an optional `-`: the test notification's `99999`, and older
/// notifications' `-175196579159161496` (Keptn's dynatrace-service test requests). Each id
/// that is not the test one is looked up in Dynatrace before anything is done.
fn valid_pid(pid: &str) -> bool {
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let body = pid.strip_prefix('-').unwrap_or(pid);
    let body = body.strip_suffix("V2").unwrap_or(body);
    match body.split_once('_') {
        Some((id, time)) => digits(id, 20) && digits(time, 16),
        None => digits(body, 20) && !pid.ends_with("V2"),
    }
}

/// `P-22013994`, or digits only: the test notification's `999`, older notifications' `496`.
fn valid_display_id(id: &str) -> bool {
    let number = id.strip_prefix("P-").unwrap_or(id);
    !number.is_empty() && number.len() <= 16 && number.bytes().all(|b| b.is_ascii_digit())
}

/// `SERVICE-596877472CDAA92E`, `HOST-XXXXXXXXXXXXX`: letters, digits, `_` and `-`.
fn valid_entity_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Check the payload; the error says which field is wrong and how to fix it.
pub fn parse_notification(body: &[u8]) -> Result<Notification, BadNotification> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BadNotification::TooBig { bytes: body.len() });
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        bad(format!(
            "the body is not UTF-8 text (invalid byte at offset {}); send the notification as JSON",
            e.valid_up_to()
        ))
    })?;
    let value = parse_json_unique_keys(text).map_err(|e| {
        bad(format!(
            "the body is not JSON with each key once ({e}); use the payload template from the README"
        ))
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object"))?;
    let text = |key: &str| -> Option<String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let pid =
        text("PID").ok_or_else(|| bad("PID is missing: add \"PID\": \"{PID}\" to the payload"))?;
    if !valid_pid(&pid) {
        return Err(bad(format!(
            "PID \"{}\" is not a Dynatrace problem id (like -6478017825120311599_1641223491837V2, or digits only as older and test notifications send): send \"PID\": \"{{PID}}\"",
            printable(&truncate_chars(&pid, 64))
        )));
    }
    let display_id = text("ProblemID");
    if let Some(id) = display_id.as_deref().filter(|id| !valid_display_id(id)) {
        return Err(bad(format!(
            "ProblemID \"{}\" is not a problem number (like P-22013994, or digits only as older and test notifications send): send \"ProblemID\": \"{{ProblemID}}\"",
            printable(&truncate_chars(id, 32))
        )));
    }
    let state = text("State")
        .ok_or_else(|| bad("State is missing: add \"State\": \"{State}\" to the payload"))?;
    if state.len() > 32 || !state.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return Err(bad(format!(
            "State \"{}\" is not a problem state (OPEN, RESOLVED): send \"State\": \"{{State}}\"",
            printable(&truncate_chars(&state, 32))
        )));
    }
    let state = ProblemStatus::parse(&state);
    let list = match object.get("ImpactedEntities") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("ImpactedEntities must be a JSON array: use {ImpactedEntities} without quotes")),
        None => return Err(bad("ImpactedEntities is missing: add \"ImpactedEntities\": {ImpactedEntities} to the payload")),
    };
    let mut seen = HashSet::new();
    let mut entities = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let id = e
            .get("entity")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(format!("ImpactedEntities[{i}] has no \"entity\" id")))?;
        if !valid_entity_id(id) {
            return Err(bad(format!(
                "ImpactedEntities[{i}].entity \"{}\" is not a Dynatrace entity id (like SERVICE-596877472CDAA92E)",
                printable(&truncate_chars(id, 64))
            )));
        }
        if seen.insert(id) {
            entities.push(id.to_string());
        }
    }
    let title = match object.get("ProblemTitle") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.trim().is_empty() => {
            Some(truncate_chars(&printable(t.trim()), TITLE_LIMIT))
        }
        Some(_) => return Err(bad(
            "ProblemTitle must be a non-empty string: send \"ProblemTitle\": \"{ProblemTitle}\"",
        )),
    };
    Ok(Notification {
        pid,
        display_id,
        state,
        title,
        entities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_payload_parses() {
        let n = parse_notification(br#"{"State":"OPEN","ProblemID":"P-42","PID":"-123_456V2","ProblemTitle":"Slow","ImpactedEntities":[{"type":"SERVICE","name":"app","entity":"SERVICE-ABC"},{"entity":"SERVICE-ABC"}]}"#).unwrap();
        assert_eq!(n.pid, "-123_456V2");
        assert_eq!(n.state, ProblemStatus::Open);
        assert_eq!(n.entities, vec!["SERVICE-ABC"], "each entity once");
        for pid in [
            "-6478017825120311599_1641223491837V2",
            "4617456891066163917_1530097500000",
            "99999",
        ] {
            assert!(valid_pid(pid), "{pid}");
        }
    }

    /// keptn-contrib/dynatrace-service's `test-events/test-requests.http`, as an older
    /// Dynatrace sent it: digits-only ids.
    const OLDER: &str = r#"{"State":"OPEN","ProblemID":"496","PID":"-175196579159161496","ProblemTitle":"Response time degradation","ImpactedEntities":[{"type":"SERVICE","name":"carts","entity":"SERVICE-ABC"}]}"#;

    #[test]
    fn digits_only_ids_are_accepted_and_are_not_a_test() {
        let n = parse_notification(OLDER.as_bytes()).unwrap();
        assert_eq!(
            (n.pid.as_str(), n.display_id.as_deref()),
            ("-175196579159161496", Some("496"))
        );
        assert!(!n.is_test(), "only 99999 or test entities make a test");
        let long = "1".repeat(21);
        for pid in ["P-7", "-7_1V2x", "12ab", "7V2", "--7", long.as_str()] {
            let body = format!(r#"{{"PID":"{pid}","State":"OPEN","ImpactedEntities":[]}}"#);
            let e = parse_notification(body.as_bytes()).unwrap_err();
            assert!(matches!(e, BadNotification::Invalid(_)), "{pid}: {e:?}");
            assert!(
                e.to_string().starts_with(&format!("PID \"{pid}\" is not a Dynatrace problem id (like -6478017825120311599_1641223491837V2, or digits only as older and test notifications send)")),
                "{pid}: {e}"
            );
        }
    }

    #[test]
    fn bad_payloads_say_which_field() {
        let long_pid = format!(
            r#"{{"State":"OPEN","PID":"{}","ImpactedEntities":[]}}"#,
            "1".repeat(200_000)
        );
        let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        // (name, body, whether it is refused as too big, what the message says)
        let cases: Vec<(&str, &[u8], bool, &str)> = vec![
            (
                "title_not_a_string",
                br#"{"State":"OPEN","PID":"1","ProblemTitle":7,"ImpactedEntities":[]}"#,
                false,
                "ProblemTitle must be a non-empty string: send \"ProblemTitle\": \"{ProblemTitle}\"",
            ),
            (
                "not_json",
                b"not json",
                false,
                "the body is not JSON with each key once",
            ),
            (
                "not_an_object",
                b"[1]",
                false,
                "the body must be a JSON object",
            ),
            (
                "no_pid",
                br#"{"State":"OPEN","ImpactedEntities":[]}"#,
                false,
                "PID is missing",
            ),
            (
                "no_state",
                br#"{"PID":"1","ImpactedEntities":[]}"#,
                false,
                "State is missing",
            ),
            (
                "no_entities",
                br#"{"PID":"1","State":"OPEN"}"#,
                false,
                "ImpactedEntities is missing",
            ),
            (
                "entities_quoted",
                br#"{"PID":"1","State":"OPEN","ImpactedEntities":"[..]"}"#,
                false,
                "ImpactedEntities must be a JSON array",
            ),
            (
                "entity_without_id",
                br#"{"PID":"1","State":"OPEN","ImpactedEntities":[{"type":"SERVICE"}]}"#,
                false,
                "ImpactedEntities[0] has no \"entity\" id",
            ),
            (
                "duplicate_state_key",
                br#"{"PID":"1","State":"RESOLVED","State":"OPEN","ImpactedEntities":[]}"#,
                false,
                "the key \"State\" appears twice in one object",
            ),
            (
                "invalid_utf8",
                b"{\"PID\":\"1\xff\"}",
                false,
                "the body is not UTF-8 text (invalid byte at offset 9)",
            ),
            (
                "pid_200000_characters",
                long_pid.as_bytes(),
                false,
                "is not a Dynatrace problem id",
            ),
            (
                "pid_with_bidi",
                "{\"PID\":\"-1_2V2\u{202E}\",\"State\":\"OPEN\",\"ImpactedEntities\":[]}"
                    .as_bytes(),
                false,
                "PID \"-1_2V2\u{FFFD}\" is not a Dynatrace problem id",
            ),
            (
                "problem_id_not_a_number",
                br#"{"PID":"1","ProblemID":"P-1; DROP","State":"OPEN","ImpactedEntities":[]}"#,
                false,
                "ProblemID \"P-1; DROP\" is not a problem number",
            ),
            (
                "state_with_nul",
                b"{\"PID\":\"1\",\"State\":\"OPEN\\u0000\",\"ImpactedEntities\":[]}",
                false,
                "State \"OPEN\u{FFFD}\" is not a problem state",
            ),
            (
                "entity_id_with_spaces",
                br#"{"PID":"1","State":"OPEN","ImpactedEntities":[{"entity":"SERVICE 1"}]}"#,
                false,
                "ImpactedEntities[0].entity \"SERVICE 1\" is not a Dynatrace entity id",
            ),
            (
                "body_over_the_cap",
                huge.as_bytes(),
                true,
                "more than the 524288 a problem notification needs",
            ),
        ];
        for (name, body, too_big, expected) in cases {
            let e = parse_notification(body).unwrap_err();
            assert_eq!(
                matches!(e, BadNotification::TooBig { .. }),
                too_big,
                "{name}: {e}"
            );
            assert!(e.to_string().contains(expected), "{name}: {e}");
        }
    }
}
