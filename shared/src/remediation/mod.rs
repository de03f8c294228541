//! Remediation decisions, pure: today the CodeDeploy rollback of the deployment behind a
//! problem; the remediation engine's state machine comes next. Decisions are data; the
//! handlers carry them out.

pub mod rollback;
