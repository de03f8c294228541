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

/// One measured SLI, and the provider's error when there is no value.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredSli {
    pub value: crate::slo::SliValue,
    pub error: Option<crate::ports::sli::SliError>,
}

/// Measure the SLIs an slo.yaml judges, each with its sli.yaml query (placeholders filled)
/// at the window's end. A missing query or a provider error is a failed SLI with the reason.
pub async fn measure_slis(
    provider: &dyn crate::ports::sli::SliProvider,
    slo: &crate::slo::Slo,
    indicators: &crate::slo::SliFile,
    context: &crate::slo::context::SliContext,
    window: crate::ports::metrics::TimeWindow,
) -> Vec<MeasuredSli> {
    let measurements = slo.objectives.iter().map(|o| async move {
        let failed = |error: crate::ports::sli::SliError| MeasuredSli {
            value: crate::slo::SliValue {
                metric: o.sli.clone(),
                value: 0.0,
                compared_value: 0.0,
                success: false,
                message: error.to_string(),
            },
            error: Some(error),
        };
        let Some(query) = indicators.indicators.get(&o.sli) else {
            return failed(crate::ports::sli::SliError::Provider(format!(
                "sli.yaml has no indicator \"{}\": add its query under indicators",
                o.sli
            )));
        };
        let options = crate::slo::context::FillOptions {
            deployment_fallback: provider.deployment_fallback(),
        };
        let query = match crate::slo::context::fill(
            query,
            context,
            &slo.filter,
            window.to_ms - window.from_ms,
            options,
        ) {
            Ok(filled) => filled.query,
            Err(e) => {
                return failed(crate::ports::sli::SliError::Provider(format!(
                    "sli.yaml indicator \"{}\": {e}",
                    o.sli
                )))
            }
        };
        match provider.value(&query, window).await {
            Ok(value) => MeasuredSli {
                value: crate::slo::SliValue {
                    metric: o.sli.clone(),
                    value,
                    compared_value: 0.0,
                    success: true,
                    message: String::new(),
                },
                error: None,
            },
            Err(e) => failed(e),
        }
    });
    join_all(measurements).await
}

/// An SLO gate's evaluation, and the provider errors that made it fail (empty when the
/// provider answered every query, with a value or with "no data").
#[derive(Debug, Clone, PartialEq)]
pub struct SloGateOutcome {
    pub evaluation: crate::slo::Evaluation,
    pub provider_errors: Vec<String>,
}

/// Measure, then score with Keptn's rules. A query the provider refused or could not
/// answer, or one that matched several series, fails the evaluation whatever the score:
/// it is never judged around (no data is an SLI failure Keptn's rules already score).
pub async fn run_slo_gate(
    provider: &dyn crate::ports::sli::SliProvider,
    slo: &crate::slo::Slo,
    indicators: &crate::slo::SliFile,
    context: &crate::slo::context::SliContext,
    window: crate::ports::metrics::TimeWindow,
    previous: &[crate::slo::PreviousEvaluation],
) -> SloGateOutcome {
    use crate::ports::sli::SliError;
    let measured = measure_slis(provider, slo, indicators, context, window).await;
    let provider_errors: Vec<String> = measured
        .iter()
        .filter(|m| {
            matches!(
                m.error,
                Some(SliError::Provider(_))
                    | Some(SliError::Ambiguous(_))
                    | Some(SliError::Unavailable(_))
            )
        })
        .map(|m| format!("{}: {}", m.value.metric, m.value.message))
        .collect();
    let values: Vec<crate::slo::SliValue> = measured.into_iter().map(|m| m.value).collect();
    let mut evaluation = crate::slo::evaluate(slo, &values, previous);
    if !provider_errors.is_empty() {
        evaluation.result = crate::slo::Outcome::Fail;
        evaluation.reason = format!("SLI provider error: {}", provider_errors.join("; "));
    }
    SloGateOutcome {
        evaluation,
        provider_errors,
    }
}
