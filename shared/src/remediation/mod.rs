//! Remediation decisions, pure: Alertmanager's webhook read as problems ([`alertmanager`]),
//! the CodeDeploy rollback of the deployment behind a problem ([`rollback`]), remediation.yaml
//! and matching a problem to its actions ([`file`]), and the self-healing sequence as a state
//! machine ([`sequence`]).
//! Decisions are data; the handlers carry them out.

pub mod alertmanager;
pub mod file;
pub mod rollback;
pub mod scaling;
pub mod sequence;

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod sequence_tests;

pub use file::{parse_remediation, plan_for, rollback_only_plan, RemediationFile, RemediationPlan};
