//! Remediation decisions, pure: the CodeDeploy rollback of the deployment behind a problem
//! ([`rollback`]), remediation.yaml and matching a problem to its actions ([`file`]).
//! Decisions are data; the handlers carry them out.

pub mod file;
pub mod rollback;

#[cfg(test)]
mod file_tests;

pub use file::{parse_remediation, plan_for, rollback_only_plan, RemediationFile, RemediationPlan};
