//! A stored gate, judged again: what a validation request or a remediation lane stored (a
//! monspec and its comparison, or an slo.yaml with its sli.yaml) read back, measured over a
//! window through the ports, and scored. The worker and the lane evaluator share it; each
//! turns the result into its own outcome (a decision on an approval, a lane's
//! `EvaluationResult`) and says the errors in its own words.
//!
//! Fail closed: a stored file that no longer reads, a comparison that cannot be planned or a
//! port that is not configured is an error, never a pass; what was measured comes back as the
//! quality gate's verdict or evaluation, which fails what could not be measured.

use crate::evaluation::{plan, PlanError, Timeframe, Verdict};
use crate::monspec::{parse_monspec, MonspecError};
use crate::ports::artifacts::{SLI_FILE, SLO_FILE};
use crate::ports::metrics::{MetricsSource, TimeWindow};
use crate::ports::sli::{SliProvider, SliProviders};
use crate::ports::store::SliProviderKind;
use crate::quality_gate::{run_slo_gate, run_validation, SloGateOutcome};
use crate::slo::context::SliContext;
use crate::slo::{parse_sli, parse_slo, FileErrors, PreviousEvaluation, SliFile, Slo};

/// The ports a stored gate is measured through, borrowed from the caller that holds them.
#[derive(Clone, Copy)]
pub struct StoredGateJudge<'a> {
    /// What a monspec comparison is measured with (Dynatrace); `None` when not configured.
    pub metrics: Option<&'a dyn MetricsSource>,
    /// What an SLO gate is measured with, one provider per kind.
    pub sli: &'a SliProviders,
}

/// Why a stored monspec comparison was not measured. The worker and the lane evaluator word
/// these differently, so each variant keeps the underlying error.
#[derive(Debug, thiserror::Error)]
pub enum MonspecGateError {
    #[error("no metrics source is configured: a monspec comparison cannot be measured")]
    NoMetricsSource,
    /// The stored monspec no longer reads.
    #[error(transparent)]
    Invalid(MonspecError),
    /// The stored comparison cannot be planned over the window.
    #[error(transparent)]
    Plan(PlanError),
}

/// Why a stored SLO gate cannot be measured; every caller says it in these words.
#[derive(Debug, thiserror::Error)]
pub enum SloGateError {
    /// The stored slo.yaml or sli.yaml no longer reads (the errors name the file).
    #[error("the stored {0}")]
    File(FileErrors),
    /// No provider of the gate's kind is configured: what to set.
    #[error("{0}")]
    NoProvider(&'static str),
}

/// A stored SLO gate as its caller keeps it.
#[derive(Debug, Clone, Copy)]
pub struct StoredSlo<'s> {
    pub slo: &'s str,
    pub sli: &'s str,
    pub provider: SliProviderKind,
}

/// A stored SLO gate read back with its provider found: all that can fail before a
/// request. Measured with [`ReadySloGate::judge`]; a caller may do its own I/O in between
/// (the worker reads the earlier evaluations only for files that still read).
pub struct ReadySloGate<'a> {
    kind: SliProviderKind,
    provider: &'a dyn SliProvider,
    slo: Slo,
    indicators: SliFile,
}

impl<'a> StoredGateJudge<'a> {
    /// Measure a stored monspec's `comparison` over `window` and judge it. The metrics source
    /// is checked first, then the monspec is read and planned; nothing is asked before all
    /// three hold.
    pub async fn monspec(
        &self,
        monspec: &str,
        comparison: &str,
        window: TimeWindow,
    ) -> Result<Verdict, MonspecGateError> {
        let metrics = self.metrics.ok_or(MonspecGateError::NoMetricsSource)?;
        let monspec = parse_monspec(monspec).map_err(MonspecGateError::Invalid)?;
        let timeframe = Timeframe {
            start_ms: window.from_ms,
            window_ms: window.to_ms - window.from_ms,
        };
        let plan = plan(&monspec, comparison, timeframe).map_err(MonspecGateError::Plan)?;
        Ok(run_validation(metrics, &plan).await)
    }

    /// Read a stored SLO gate back (slo.yaml, then sli.yaml) and find its provider.
    pub fn prepare_slo(&self, stored: StoredSlo<'_>) -> Result<ReadySloGate<'a>, SloGateError> {
        let slo = parse_slo(SLO_FILE, stored.slo).map_err(SloGateError::File)?;
        let indicators = parse_sli(SLI_FILE, stored.sli).map_err(SloGateError::File)?;
        let providers: &'a SliProviders = self.sli;
        let provider = providers
            .get(stored.provider)
            .map_err(SloGateError::NoProvider)?;
        Ok(ReadySloGate {
            kind: stored.provider,
            provider,
            slo,
            indicators,
        })
    }
}

impl ReadySloGate<'_> {
    /// Measure the gate's SLIs over `window` with the placeholders of `context` and score
    /// them against `previous` (Keptn's rules, see [`run_slo_gate`]): a provider that could
    /// not be asked, or objectives that cannot all be measured, fail the evaluation.
    pub async fn judge(
        &self,
        context: &SliContext,
        window: TimeWindow,
        previous: &[PreviousEvaluation],
    ) -> SloGateOutcome {
        run_slo_gate(
            self.kind,
            self.provider,
            &self.slo,
            &self.indicators,
            context,
            window,
            previous,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::MemorySliProvider;
    use crate::ports::metrics::{EnvironmentQuery, Observation};
    use crate::slo::Outcome;

    /// A metrics source that must not be asked: the cases here fail before measuring.
    struct Unreachable;

    #[async_trait::async_trait]
    impl MetricsSource for Unreachable {
        async fn observe(&self, _query: &EnvironmentQuery) -> Observation {
            panic!("measured although the stored gate could not be read")
        }
    }

    const WINDOW: TimeWindow = TimeWindow {
        from_ms: 1_000,
        to_ms: 61_000,
    };
    const SLO: &str = "objectives:\n  - sli: error_rate\n    key_sli: true\n    pass: [{criteria: [\"<=1\"]}]\ntotal_score: {pass: \"90%\"}\n";
    const SLI: &str = "indicators:\n  error_rate: errors{service=\"$SERVICE\"}\n";

    fn stored<'s>(slo: &'s str, sli: &'s str) -> StoredSlo<'s> {
        StoredSlo {
            slo,
            sli,
            provider: SliProviderKind::Prometheus,
        }
    }

    #[tokio::test]
    async fn a_monspec_without_a_metrics_source_is_not_even_read() {
        let providers = SliProviders::default();
        let judge = StoredGateJudge {
            metrics: None,
            sli: &providers,
        };
        let judged = judge.monspec("{not a monspec", "StagingToProduction", WINDOW);
        assert!(matches!(
            judged.await,
            Err(MonspecGateError::NoMetricsSource)
        ));
    }

    #[tokio::test]
    async fn a_stored_monspec_that_no_longer_reads_is_an_error_and_nothing_is_asked() {
        let providers = SliProviders::default();
        let judge = StoredGateJudge {
            metrics: Some(&Unreachable as &dyn MetricsSource),
            sli: &providers,
        };
        let judged = judge.monspec("{not a monspec", "StagingToProduction", WINDOW);
        assert!(matches!(judged.await, Err(MonspecGateError::Invalid(_))));
    }

    #[test]
    fn stored_slo_files_that_no_longer_read_name_the_file() {
        let providers = SliProviders::default();
        let judge = StoredGateJudge {
            metrics: None,
            sli: &providers,
        };
        let error = judge.prepare_slo(stored("objectives: [\n", SLI)).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("the stored slo.yaml"), "{message}");
        let error = judge.prepare_slo(stored(SLO, "indicators: [\n")).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("the stored sli.yaml"), "{message}");
    }

    #[test]
    fn an_slo_gate_without_its_provider_says_what_to_configure() {
        let providers = SliProviders::default();
        let judge = StoredGateJudge {
            metrics: None,
            sli: &providers,
        };
        let error = judge.prepare_slo(stored(SLO, SLI)).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("set PROMETHEUS_URL"), "{message}");
    }

    #[tokio::test]
    async fn a_prepared_slo_gate_is_measured_over_the_window_with_the_context() {
        let provider = std::sync::Arc::new(MemorySliProvider::default());
        provider.answer("errors{service=\"carts\"}", Ok(0.0));
        let providers = SliProviders {
            prometheus: Some(provider.clone() as std::sync::Arc<dyn SliProvider>),
            dynatrace: None,
        };
        let judge = StoredGateJudge {
            metrics: None,
            sli: &providers,
        };
        let Ok(gate) = judge.prepare_slo(stored(SLO, SLI)) else {
            panic!("the stored files read");
        };
        let context = SliContext {
            service: Some("carts".into()),
            ..SliContext::default()
        };
        let outcome = gate.judge(&context, WINDOW, &[]).await;
        assert_eq!(
            outcome.evaluation.result,
            Outcome::Pass,
            "{}",
            outcome.evaluation.reason
        );
        let asked = provider.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].1, WINDOW);
    }
}
