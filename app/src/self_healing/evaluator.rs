//! [`LaneEvaluator`] by the lane's slo.yaml and sli.yaml, with Keptn's scoring: the same
//! gate a build passes, over the wait after an action. Without slo.yaml, the lane's monspec
//! comparison (the tutorial's gate, e.g. production against its last hour) judges the wait.

use std::sync::Arc;

use async_trait::async_trait;

use crate::evaluation::VerdictStatus;
use crate::gate::{MonspecGateError, StoredGateJudge, StoredSlo};
use crate::ports::lanes::{LaneConfigs, LaneKey};
use crate::ports::metrics::{MetricsSource, TimeWindow};
use crate::ports::remediation::{LaneEvaluation, LaneEvaluator};
use crate::ports::sli::SliProviders;
use crate::ports::store::SliProviderKind;
use crate::remediation::sequence::EvaluationResult;
use crate::slo::context::SliContext;
use crate::slo::summary::approval_summary;
use crate::slo::Outcome;

pub struct SloLaneEvaluator {
    pub configs: Arc<dyn LaneConfigs>,
    pub providers: SliProviders,
    /// The monspec's metrics source (Dynatrace), when the worker has one.
    pub metrics: Option<Arc<dyn MetricsSource>>,
}

impl SloLaneEvaluator {
    /// The lane's gate is measured through the monspec's metrics source, when there is one,
    /// and the SLI providers.
    fn judge(&self) -> StoredGateJudge<'_> {
        StoredGateJudge {
            metrics: self.metrics.as_deref(),
            sli: &self.providers,
        }
    }

    async fn by_monspec(
        &self,
        lane: &LaneKey,
        monspec_text: &str,
        comparison: &str,
        window: TimeWindow,
    ) -> LaneEvaluation {
        let judged = self.judge().monspec(monspec_text, comparison, window).await;
        let verdict = match judged {
            Ok(v) => v,
            Err(MonspecGateError::NoMetricsSource) => {
                return fail(format!(
                    "{lane} is judged by its monspec, but the worker has no Dynatrace connection: set DT_TENANT_URL and the token secret"
                ))
            }
            // A monspec that no longer reads and a comparison that cannot be planned are
            // said alike here.
            Err(e) => return fail(format!("the stored monspec of {lane}: {e}")),
        };
        LaneEvaluation {
            result: match verdict.status {
                VerdictStatus::Approved => EvaluationResult::Pass,
                VerdictStatus::Rejected => EvaluationResult::Fail,
            },
            details: format!("monspec {comparison}: {}", verdict.summary),
        }
    }
}

fn fail(details: String) -> LaneEvaluation {
    LaneEvaluation {
        result: EvaluationResult::Fail,
        details,
    }
}

#[async_trait]
impl LaneEvaluator for SloLaneEvaluator {
    async fn evaluate(&self, lane: &LaneKey, from_ms: i64, to_ms: i64) -> LaneEvaluation {
        let config = match self.configs.config(lane).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return fail(format!(
                    "nothing to judge: no slo.yaml is stored for {lane}, so no fix can be proven; store one with `unbreakable remediation apply --service {} --stage {} --slo slo.yaml --sli sli.yaml`",
                    lane.service, lane.stage
                ))
            }
            Err(e) => return fail(format!("cannot read the configuration of {lane}: {e}")),
        };
        let window = TimeWindow { from_ms, to_ms };
        let (Some(slo_text), Some(sli_text)) = (&config.slo_yaml, &config.sli_yaml) else {
            if let (Some(monspec), Some(comparison)) = (&config.monspec_json, &config.comparison) {
                return self.by_monspec(lane, monspec, comparison, window).await;
            }
            return fail(format!(
                "nothing to judge: {lane} has no {} stored; store slo.yaml and sli.yaml (or a monspec and its comparison) with `unbreakable remediation apply`",
                if config.slo_yaml.is_none() { "slo.yaml" } else { "sli.yaml" }
            ));
        };
        let stored = StoredSlo {
            slo: slo_text,
            sli: sli_text,
            provider: config.provider.unwrap_or(SliProviderKind::Prometheus),
        };
        let gate = match self.judge().prepare_slo(stored) {
            Ok(g) => g,
            Err(e) => return fail(e.to_string()),
        };
        let context = SliContext {
            project: None,
            stage: Some(lane.stage.clone()),
            service: Some(lane.service.clone()),
            deployment: None,
            context: None,
            labels: Default::default(),
            env: Some(|name| std::env::var(name).ok()),
            origin: crate::slo::context::ContextOrigin::Lane,
        };
        // No baselines: a remediation is judged by the absolute objectives; a relative one
        // has nothing to compare with and counts as Keptn counts it.
        let outcome = gate.judge(&context, window, &[]).await;
        let result = match outcome.evaluation.result {
            Outcome::Pass => EvaluationResult::Pass,
            Outcome::Warning => EvaluationResult::Warning,
            Outcome::Fail => EvaluationResult::Fail,
        };
        LaneEvaluation {
            result,
            details: approval_summary(&outcome.evaluation, None),
        }
    }
}
