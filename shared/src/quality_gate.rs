//! The quality gate: plan → observe every environment concurrently → judge.

use futures::future::join_all;

use crate::evaluation::{evaluate, ConfigurationObservations, ValidationPlan, Verdict};
use crate::ports::metrics::MetricsSource;

/// Run every query of `plan` against `source` (all configurations and environments at once;
/// the source bounds its own request concurrency) and return the verdict.
pub async fn run_validation(source: &dyn MetricsSource, plan: &ValidationPlan) -> Verdict {
    let observations = join_all(plan.configurations.iter().map(|cp| async move {
        let compare = async {
            match &cp.compare {
                Some(query) => Some(source.observe(query).await),
                None => None,
            }
        };
        let (source, compare) = tokio::join!(source.observe(&cp.source), compare);
        ConfigurationObservations { source, compare }
    }))
    .await;
    evaluate(plan, &observations)
}
