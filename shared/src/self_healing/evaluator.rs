//! [`LaneEvaluator`] by the lane's slo.yaml and sli.yaml, with Keptn's scoring: the same
//! gate a build passes, over the wait after an action.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::lanes::{LaneConfigs, LaneKey};
use crate::ports::metrics::TimeWindow;
use crate::ports::remediation::{LaneEvaluation, LaneEvaluator};
use crate::ports::sli::SliProviders;
use crate::ports::store::SliProviderKind;
use crate::quality_gate::run_slo_gate;
use crate::remediation::sequence::EvaluationResult;
use crate::slo::context::SliContext;
use crate::slo::summary::approval_summary;
use crate::slo::{parse_sli, parse_slo, Outcome};

pub struct SloLaneEvaluator {
    pub configs: Arc<dyn LaneConfigs>,
    pub providers: SliProviders,
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
        let (Some(slo_text), Some(sli_text)) = (&config.slo_yaml, &config.sli_yaml) else {
            return fail(format!(
                "nothing to judge: {lane} has no {} stored; store both with `unbreakable remediation apply --slo slo.yaml --sli sli.yaml`",
                if config.slo_yaml.is_none() { "slo.yaml" } else { "sli.yaml" }
            ));
        };
        let slo = match parse_slo("slo.yaml", slo_text) {
            Ok(s) => s,
            Err(e) => return fail(format!("the stored {e}")),
        };
        let indicators = match parse_sli("sli.yaml", sli_text) {
            Ok(s) => s,
            Err(e) => return fail(format!("the stored {e}")),
        };
        let provider = match self
            .providers
            .get(config.provider.unwrap_or(SliProviderKind::Prometheus))
        {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        };
        let context = SliContext {
            project: String::new(),
            stage: lane.stage.clone(),
            service: lane.service.clone(),
            deployment: String::new(),
            labels: Default::default(),
        };
        let window = TimeWindow { from_ms, to_ms };
        // No baselines: a remediation is judged by the absolute objectives; a relative one
        // has nothing to compare with and counts as Keptn counts it.
        let outcome = run_slo_gate(provider, &slo, &indicators, &context, window, &[]).await;
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
