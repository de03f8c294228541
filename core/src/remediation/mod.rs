//! Remediation decisions, pure: the CodeDeploy rollback of the deployment behind a problem
//! ([`rollback`]), remediation.yaml and matching a problem to its actions ([`file`]), and the
//! self-healing sequence as a state machine ([`sequence`]). (Alertmanager's webhook is read
//! in [`crate::inbound::alertmanager`], re-exported here as [`alertmanager`].)
//! Decisions are data; the handlers carry them out.

/// Alertmanager's webhook read as problems; it lives with the other webhook readers.
pub use crate::inbound::alertmanager;
pub mod file;
pub mod rollback;
pub mod scaling;
pub mod sequence;
pub mod webhook;

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod sequence_tests;

/// The longest service or stage name.
pub const LANE_NAME_LIMIT: usize = 100;

/// Service and stage key a lane (and the table's keys, where `#` separates them):
/// `[A-Za-z0-9._-]`, 1 to [`LANE_NAME_LIMIT`] characters, not `.` or `..`.
pub fn is_lane_name(text: &str) -> bool {
    (1..=LANE_NAME_LIMIT).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && text.chars().any(|c| c != '.')
}

pub use file::{parse_remediation, plan_for, rollback_only_plan, RemediationFile, RemediationPlan};
