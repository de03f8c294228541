//! The quality gate: plan → observe every environment concurrently → judge.

use futures::future::join_all;

use crate::evaluation::{evaluate, ConfigurationObservations, ValidationPlan, Verdict};
use crate::ports::metrics::MetricsSource;
use crate::ports::sli::{SliError, SliProvider};
use crate::ports::store::SliProviderKind;
use crate::slo::defaults::query_for;

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

/// One measured SLI, the provider's error when there is no value, and what a reader of the
/// result should know about how it was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredSli {
    pub value: crate::slo::SliValue,
    pub error: Option<SliError>,
    /// Said under the result (the evaluation's `notes`): a peer's default query was used, a
    /// placeholder took the peer's fallback value.
    pub notes: Vec<String>,
}

/// The problems that keep the objectives from being measured at all, found before any
/// request: an objective with neither an sli.yaml query nor a default of `kind`'s peer, and a
/// query with a placeholder that has no value (never filled with nothing).
pub fn configuration_errors(
    kind: SliProviderKind,
    provider: &dyn SliProvider,
    slo: &crate::slo::Slo,
    indicators: &crate::slo::SliFile,
    context: &crate::slo::context::SliContext,
    window_ms: i64,
) -> Vec<String> {
    let options = crate::slo::context::FillOptions {
        deployment_fallback: provider.deployment_fallback(),
    };
    slo.objectives
        .iter()
        .filter_map(|o| match query_for(kind, &o.sli, indicators, &slo.filter) {
            Err(e) => Some(e),
            Ok(chosen) => {
                crate::slo::context::fill(&chosen.text, context, &slo.filter, window_ms, options)
                    .err()
                    .map(|e| format!("sli.yaml indicator \"{}\": {e}", o.sli))
            }
        })
        .collect()
}

/// Measure the SLIs an slo.yaml judges, each with its sli.yaml query (or the default query of
/// `kind`'s peer, said in the notes), placeholders filled, at the window's end. A missing
/// query or a provider error is a failed SLI with the reason.
pub async fn measure_slis(
    kind: SliProviderKind,
    provider: &dyn SliProvider,
    slo: &crate::slo::Slo,
    indicators: &crate::slo::SliFile,
    context: &crate::slo::context::SliContext,
    window: crate::ports::metrics::TimeWindow,
) -> Vec<MeasuredSli> {
    let measurements = slo.objectives.iter().map(|o| async move {
        let failed = |error: SliError, notes: Vec<String>| MeasuredSli {
            value: crate::slo::SliValue {
                metric: o.sli.clone(),
                value: 0.0,
                compared_value: 0.0,
                success: false,
                message: error.to_string(),
            },
            error: Some(error),
            notes,
        };
        let chosen = match query_for(kind, &o.sli, indicators, &slo.filter) {
            Ok(chosen) => chosen,
            Err(e) => return failed(SliError::Provider(e), Vec::new()),
        };
        let filled = match crate::slo::context::fill(
            &chosen.text,
            context,
            &slo.filter,
            window.to_ms - window.from_ms,
            crate::slo::context::FillOptions {
                deployment_fallback: provider.deployment_fallback(),
            },
        ) {
            Ok(filled) => filled,
            Err(e) => {
                return failed(
                    SliError::Provider(format!("sli.yaml indicator \"{}\": {e}", o.sli)),
                    Vec::new(),
                )
            }
        };
        let query = filled.query;
        let mut notes = filled.notes;
        notes.extend(chosen.note(&o.sli, &query));
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
                notes,
            },
            Err(e) => failed(e, notes),
        }
    });
    join_all(measurements).await
}

/// An SLO gate's evaluation, and why it failed whatever the score, if it did.
#[derive(Debug, Clone, PartialEq)]
pub struct SloGateOutcome {
    pub evaluation: crate::slo::Evaluation,
    /// Queries the provider could not be asked (unreachable, timed out, credentials
    /// refused): empty when it answered every query, with a value or a reason. A retry
    /// may help.
    pub provider_errors: Vec<String>,
    /// Why nothing was measured (see [`configuration_errors`]); no request was sent, and
    /// only a change of the files helps.
    pub configuration_errors: Vec<String>,
}

/// Measure, then score with Keptn's rules. Objectives that cannot all be measured fail the
/// evaluation before any request. A provider that could not be asked fails it whatever the
/// score: it is never judged around. A query it answered without one value (no data,
/// several series, refused) fails that SLI with the reason, as in Keptn; a key SLI then
/// fails the evaluation through the scoring.
pub async fn run_slo_gate(
    kind: SliProviderKind,
    provider: &dyn SliProvider,
    slo: &crate::slo::Slo,
    indicators: &crate::slo::SliFile,
    context: &crate::slo::context::SliContext,
    window: crate::ports::metrics::TimeWindow,
    previous: &[crate::slo::PreviousEvaluation],
) -> SloGateOutcome {
    let configuration_errors = configuration_errors(
        kind,
        provider,
        slo,
        indicators,
        context,
        window.to_ms - window.from_ms,
    );
    if !configuration_errors.is_empty() {
        return SloGateOutcome {
            evaluation: crate::slo::score::failed(format!(
                "nothing was measured: {}",
                configuration_errors.join("; ")
            )),
            provider_errors: Vec::new(),
            configuration_errors,
        };
    }
    let measured = measure_slis(kind, provider, slo, indicators, context, window).await;
    let provider_errors: Vec<String> = measured
        .iter()
        .filter(|m| m.error.as_ref().is_some_and(SliError::fails_the_evaluation))
        .map(|m| format!("{}: {}", m.value.metric, m.value.message))
        .collect();
    let mut notes: Vec<String> = Vec::new();
    for note in measured.iter().flat_map(|m| &m.notes) {
        // One placeholder fallback used by every query is said once.
        if !notes.contains(note) {
            notes.push(note.clone());
        }
    }
    let values: Vec<crate::slo::SliValue> = measured.into_iter().map(|m| m.value).collect();
    let mut evaluation = crate::slo::evaluate(slo, &values, previous);
    evaluation.notes = notes;
    if !provider_errors.is_empty() {
        evaluation.result = crate::slo::Outcome::Fail;
        evaluation.reason = format!("SLI provider error: {}", provider_errors.join("; "));
    }
    SloGateOutcome {
        evaluation,
        provider_errors,
        configuration_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::MemorySliProvider;
    use crate::ports::metrics::TimeWindow;
    use crate::slo::context::SliContext;
    use crate::slo::score::Status;
    use crate::slo::{parse_sli, parse_slo, Outcome};

    const SLO: &str = "objectives:\n  - sli: throughput\n    pass: [{criteria: [\">=1\"]}]\n  - sli: error_rate\n    key_sli: true\n    pass: [{criteria: [\"<=1\"]}]\n  - sli: response_time\n    pass: [{criteria: [\"<=600\"]}]\ntotal_score: {pass: \"60%\"}\n";
    const SLI: &str = "indicators:\n  throughput: t\n  error_rate: e\n  response_time: r\n";
    const WINDOW: TimeWindow = TimeWindow {
        from_ms: 0,
        to_ms: 76_000,
    };

    fn context() -> SliContext {
        SliContext {
            project: Some("sockshop".into()),
            stage: Some("staging".into()),
            service: Some("carts".into()),
            ..SliContext::default()
        }
    }

    async fn gate(
        kind: SliProviderKind,
        provider: &MemorySliProvider,
        sli: &str,
    ) -> SloGateOutcome {
        let slo = parse_slo("slo.yaml", SLO).unwrap();
        let sli = parse_sli("sli.yaml", sli).unwrap();
        run_slo_gate(kind, provider, &slo, &sli, &context(), WINDOW, &[]).await
    }

    fn answered(errors: [(&str, Result<f64, SliError>); 3]) -> MemorySliProvider {
        let provider = MemorySliProvider::default();
        for (query, answer) in errors {
            provider.answer(query, answer);
        }
        provider
    }

    #[tokio::test]
    async fn a_query_answered_without_one_value_fails_its_sli_and_the_evaluation_goes_on() {
        for error in [
            SliError::Ambiguous("the query returned 2 series, not one".into()),
            SliError::Provider("Prometheus refused the query: bad_data: parse error".into()),
            SliError::NoData("the query returned no series".into()),
        ] {
            let provider = answered([("t", Ok(5.0)), ("e", Ok(0.0)), ("r", Err(error.clone()))]);
            let outcome = gate(SliProviderKind::Prometheus, &provider, SLI).await;
            let e = &outcome.evaluation;
            assert!(outcome.provider_errors.is_empty(), "{error:?}");
            assert_eq!(e.result, Outcome::Pass, "{error:?}: {}", e.reason);
            assert!((e.score - 200.0 / 3.0).abs() < 1e-9, "{}", e.score);
            let response_time = &e.indicator_results[2];
            assert_eq!(response_time.status, Status::Fail);
            assert_eq!(
                response_time.value.as_ref().unwrap().message,
                error.to_string()
            );
        }
    }

    #[tokio::test]
    async fn a_key_sli_without_a_value_fails_the_evaluation_through_the_score() {
        let ambiguous = SliError::Ambiguous("the query returned 2 series, not one".into());
        let provider = answered([("t", Ok(5.0)), ("e", Err(ambiguous)), ("r", Ok(100.0))]);
        let outcome = gate(SliProviderKind::Prometheus, &provider, SLI).await;
        assert!(outcome.provider_errors.is_empty());
        assert_eq!(outcome.evaluation.result, Outcome::Fail);
        assert_eq!(
            outcome.evaluation.reason,
            "key SLI error_rate has no value: the query returned 2 series, not one"
        );
    }

    #[tokio::test]
    async fn a_provider_that_cannot_be_asked_fails_the_evaluation_whatever_the_score() {
        let unreachable = SliError::Unavailable(
            "cannot reach Prometheus at http://prometheus:9090: connection refused".into(),
        );
        let provider = answered([("t", Ok(5.0)), ("e", Ok(0.0)), ("r", Err(unreachable))]);
        let outcome = gate(SliProviderKind::Prometheus, &provider, SLI).await;
        assert_eq!(
            outcome.provider_errors,
            ["response_time: cannot reach Prometheus at http://prometheus:9090: connection refused"]
        );
        assert_eq!(outcome.evaluation.result, Outcome::Fail);
        assert_eq!(
            outcome.evaluation.reason,
            "SLI provider error: response_time: cannot reach Prometheus at http://prometheus:9090: connection refused"
        );
    }

    #[tokio::test]
    async fn objectives_that_cannot_all_be_measured_fail_before_any_request() {
        let provider = MemorySliProvider::default();
        let outcome = gate(
            SliProviderKind::Dynatrace,
            &provider,
            "indicators:\n  throughput: metricSelector=t\n",
        )
        .await;
        assert_eq!(
            outcome.configuration_errors,
            [
                "sli.yaml has no indicator \"error_rate\": add its query under indicators (dynatrace-service's default query for it applies only to an sli.yaml without indicators, as in Keptn)",
                "sli.yaml has no indicator \"response_time\": add its query under indicators",
            ]
        );
        assert_eq!(outcome.evaluation.result, Outcome::Fail);
        assert!(
            outcome
                .evaluation
                .reason
                .starts_with("nothing was measured: sli.yaml has no indicator \"error_rate\""),
            "{}",
            outcome.evaluation.reason
        );
        assert!(provider.asked.lock().unwrap().is_empty(), "no request sent");
    }

    #[tokio::test]
    async fn a_default_query_is_measured_and_said_in_the_notes() {
        let throughput = "sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))";
        let error_rate = "sum(rate(http_requests_total{job='carts-sockshop-staging-canary',status!~'2..'}[76s]))/sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))";
        let provider = answered([
            (throughput, Ok(5.0)),
            (error_rate, Ok(0.5)),
            ("r", Ok(100.0)),
        ]);
        let outcome = gate(
            SliProviderKind::Prometheus,
            &provider,
            "indicators:\n  response_time: r\n",
        )
        .await;
        let e = &outcome.evaluation;
        assert_eq!((e.result, e.score), (Outcome::Pass, 100.0), "{e:?}");
        assert_eq!(
            e.notes,
            [
                format!("sli.yaml has no indicator \"throughput\": prometheus-service's default query was used: {throughput}"),
                format!("sli.yaml has no indicator \"error_rate\": prometheus-service's default query was used: {error_rate}"),
            ]
        );
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["notes"].as_array().unwrap().len(), 2);
        let without: crate::slo::Evaluation = serde_json::from_value(
            serde_json::json!({"result": "pass", "score": 100, "indicatorResults": []}),
        )
        .unwrap();
        assert!(
            without.notes.is_empty(),
            "records written before notes still read"
        );
        assert!(serde_json::to_value(&without)
            .unwrap()
            .get("notes")
            .is_none());
    }
}
