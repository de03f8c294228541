//! One action of an entry: its kind, its value in each form the action takes, its wait and
//! whether it runs unconfirmed.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::raw::{RawAction, Scalarish};
use super::{Action, FlagToggle, RemediationAction, DEFAULT_WAIT};
use crate::yaml_file::Problems;

const ACTIONS: &str =
    "scaling, featuretoggle (also toggle-feature, togglefeature), rollback or escalate";

pub(super) fn parse_action(
    raw: &Spanned<RawAction>,
    path: &str,
    problems: &mut Problems,
) -> Option<RemediationAction> {
    let a = &raw.value;
    let Some(kind) = &a.action else {
        problems.add(
            raw.referenced,
            format!("{path}.action"),
            format!("is missing: name one of {ACTIONS}"),
        );
        return None;
    };
    let value_at = a.value.as_ref().map_or(kind.referenced, |v| v.referenced);
    let value = a.value.as_ref().map_or(&Scalarish::Null, |v| &v.value);
    let value_path = format!("{path}.value");
    let mut bad = |message: String| {
        problems.add(value_at, value_path.clone(), message);
        None
    };
    let action = match kind.value.as_str() {
        "scaling" => match scaling(value) {
            Ok(by) => Some(Action::Scaling { by }),
            Err(message) => bad(message),
        },
        "featuretoggle" | "toggle-feature" | "togglefeature" => match toggles(value) {
            Ok(toggles) => Some(Action::FeatureToggle { toggles }),
            Err(message) => bad(message),
        },
        "rollback" => match value {
            Scalarish::Null => Some(Action::Rollback),
            Scalarish::Text(t) if t.trim().is_empty() => Some(Action::Rollback),
            other => bad(format!(
                "is {}, but rollback takes no value (it redeploys the last good revision): remove `value`",
                other.shown()
            )),
        },
        "escalate" => match escalation(value, a.description.as_deref()) {
            Ok(action) => Some(action),
            Err(message) => bad(message),
        },
        other => {
            problems.add(
                kind.referenced,
                format!("{path}.action"),
                format!("\"{other}\" is not an action this engine runs: use {ACTIONS}"),
            );
            None
        }
    };
    let wait = match &a.wait {
        None => Some(DEFAULT_WAIT),
        Some(w) => match wait(&w.value) {
            Ok(d) => Some(d),
            Err(message) => {
                problems.add(w.referenced, format!("{path}.wait"), message);
                None
            }
        },
    };
    let allow_unconfirmed = match &a.allow_unconfirmed {
        None => Some(false),
        Some(v) => match &v.value {
            Scalarish::Bool(b) => Some(*b),
            other => {
                problems.add(
                    v.referenced,
                    format!("{path}.allowUnconfirmed"),
                    format!(
                        "is {}, not true or false: write `allowUnconfirmed: true` to let this action run for an alert its source cannot confirm",
                        other.shown()
                    ),
                );
                None
            }
        },
    };
    Some(RemediationAction {
        name: a.name.clone().unwrap_or_default(),
        description: a.description.clone().unwrap_or_default(),
        action: action?,
        wait_ms: wait?.as_millis() as u64,
        allow_unconfirmed: allow_unconfirmed?,
    })
}

/// `+1`, `1`, `"1"`, `"+2"`, `-1`: whole instances to add or remove.
fn scaling(value: &Scalarish) -> Result<i64, String> {
    const FORM: &str =
        "write the number of instances to add or remove, e.g. `value: +1` or `value: -1`";
    let n = match value {
        Scalarish::Int(n) => *n,
        Scalarish::Text(t) => {
            let t = t.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(if t.parse::<f64>().is_ok() {
                    format!("\"{t}\" is a fraction, but scaling adds or removes whole instances; {FORM}")
                } else {
                    format!("\"{t}\" is not a whole number; {FORM}")
                });
            }
            t.parse::<i64>()
                .map_err(|_| format!("\"{t}\" is too large; {FORM}"))?
        }
        Scalarish::Float(f) => {
            return Err(format!(
                "{f} is a fraction, but scaling adds or removes whole instances; {FORM}"
            ))
        }
        Scalarish::Null => return Err(format!("is missing: {FORM}")),
        other => return Err(format!("is {}, not a whole number; {FORM}", other.shown())),
    };
    if n == 0 {
        return Err(format!("0 changes nothing; {FORM}"));
    }
    Ok(n)
}

/// `"Flag:on"`, `"Flag:off"`, or a map `{Flag: "off"}` (unquoted off/on are YAML 1.1
/// booleans, so false/true are taken too).
fn toggles(value: &Scalarish) -> Result<Vec<FlagToggle>, String> {
    const FORM: &str = "write `value: EnablePromotion:off` or `value: {EnablePromotion: \"off\"}`";
    let state = |flag: &str, state: &Scalarish| -> Result<bool, String> {
        match state {
            Scalarish::Bool(b) => Ok(*b),
            Scalarish::Text(t) if t.trim().eq_ignore_ascii_case("on") => Ok(true),
            Scalarish::Text(t) if t.trim().eq_ignore_ascii_case("off") => Ok(false),
            other => Err(format!(
                "the state of {flag} is {}, not on or off; {FORM}",
                other.shown()
            )),
        }
    };
    let check_flag = |flag: &str| -> Result<String, String> {
        let flag = flag.trim();
        if !is_unleash_flag_name(flag) {
            return Err(format!(
                "\"{}\" is not an Unleash flag name (1-100 characters of A-Z a-z 0-9 . _ ~ -, not . or ..); {FORM}",
                crate::text::printable(&crate::text::truncate_chars(flag, 64))
            ));
        }
        Ok(flag.to_string())
    };
    match value {
        Scalarish::Text(t) => {
            let Some((flag, on_off)) = t.rsplit_once(':') else {
                return Err(format!("\"{t}\" names no state; {FORM}"));
            };
            Ok(vec![FlagToggle {
                enabled: state(flag, &Scalarish::Text(on_off.to_string()))?,
                flag: check_flag(flag)?,
            }])
        }
        Scalarish::Map(entries) if !entries.is_empty() => entries
            .iter()
            .map(|(flag, on_off)| {
                Ok(FlagToggle {
                    enabled: state(flag, on_off)?,
                    flag: check_flag(flag)?,
                })
            })
            .collect(),
        Scalarish::Null => Err(format!("is missing: name the flag and its state; {FORM}")),
        other => Err(format!(
            "is {}, not a flag and its state; {FORM}",
            other.shown()
        )),
    }
}

/// `""` or a comment text, or `{comment, webhook}`; the comment defaults to the description.
fn escalation(value: &Scalarish, description: Option<&str>) -> Result<Action, String> {
    const FORM: &str = "write a comment (`value: \"Tell the on-call team\"`) or `value: {comment: ..., webhook: https://...}`";
    let default_comment = || {
        description
            .filter(|d| !d.trim().is_empty())
            .unwrap_or("No remediation action resolved the problem: a person must look")
            .to_string()
    };
    match value {
        Scalarish::Null => Ok(Action::Escalate {
            comment: default_comment(),
            webhook: None,
        }),
        Scalarish::Text(t) => Ok(Action::Escalate {
            comment: if t.trim().is_empty() {
                default_comment()
            } else {
                t.clone()
            },
            webhook: None,
        }),
        Scalarish::Map(entries) => {
            let (mut comment, mut webhook) = (None, None);
            for (key, v) in entries {
                match (key.as_str(), v) {
                    ("comment", Scalarish::Text(t)) => comment = Some(t.clone()),
                    ("webhook", Scalarish::Text(u)) => {
                        // The URL is a secret (a chat webhook's token): named by its host only.
                        let url = crate::remediation::webhook::public_https_url(u.trim())
                            .map_err(|why| format!("webhook {why}; {FORM}"))?;
                        webhook = Some(url.to_string());
                    }
                    ("comment" | "webhook", other) => {
                        return Err(format!("{key} is {}, not a text; {FORM}", other.shown()))
                    }
                    (other, _) => {
                        return Err(format!("\"{other}\" is not a field of escalate; {FORM}"))
                    }
                }
            }
            Ok(Action::Escalate {
                comment: comment
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(default_comment),
                webhook,
            })
        }
        other => Err(format!("is {}; {FORM}", other.shown())),
    }
}

/// Unleash's rule for feature names (URL-friendly: letters, digits, `.`, `_`, `~`, `-`, at
/// most 100), and never `.` or `..`, which would walk the admin API's path.
pub fn is_unleash_flag_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
        && name != "."
        && name != ".."
}

/// A duration with its unit: `10m`, `90s`, `1h`.
fn wait(value: &Scalarish) -> Result<Duration, String> {
    const FORM: &str = "write a duration with its unit, e.g. `wait: 10m` or `wait: 90s`";
    match value {
        Scalarish::Text(t) => match humantime::parse_duration(t.trim()) {
            Ok(d) if d.is_zero() => Err(format!(
                "\"{t}\" would evaluate before the action can show any effect; {FORM}"
            )),
            Ok(d) => Ok(d),
            Err(_) => Err(format!("\"{t}\" is not a duration; {FORM}")),
        },
        Scalarish::Int(_) | Scalarish::Float(_) => {
            Err(format!("{} has no unit; {FORM}", value.shown()))
        }
        other => Err(format!("is {}; {FORM}", other.shown())),
    }
}
