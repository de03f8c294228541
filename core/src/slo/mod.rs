//! Keptn-style SLO quality gates, pure: slo.yaml and sli.yaml ([`file`]), criteria
//! ([`criteria`]) and the lighthouse scoring ([`score`]). Same files, same scores as Keptn,
//! apart from the differences that fail closed (README: "SLO quality gates").

pub mod alert_rules;
pub mod context;
pub mod criteria;
pub mod defaults;
pub mod dynatrace_query;
pub mod file;
pub mod previous;
pub mod query_form;
pub mod record;
pub mod score;
pub mod summary;

#[cfg(test)]
mod tests;

pub use file::{lint_slo, missing_queries, parse_sli, parse_slo, FileErrors, SliFile, Slo};
pub use score::{evaluate, Evaluation, Outcome, PreviousEvaluation, SliValue};
