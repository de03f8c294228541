//! The worker's canary gate: when the window has closed, take every metric's points on both
//! scopes from the gate's provider, judge them, store the judgement, decide. Only the I/O
//! is here; what the judgement means is `crate::validation::canary`, the judge is
//! `crate::compare`.

use super::worker::Worker;
use crate::canary::gather;
use crate::compare::canary_file::{parse_canary_file, parse_scope};
use crate::compare::judge;
use crate::ports::metrics::TimeWindow;
use crate::ports::sli::SliError;
use crate::ports::store::{CanaryGate, Decision, ValidationRequest};
use crate::slo::record::file_hash;
use crate::validation::canary::{
    approval_summary, canary_decision, distributions, outcome, CanaryRecord, RecordWindow,
    CANARY_GATE, RECORD_SCHEMA_VERSION,
};
use crate::validation::lifecycle::Measurement;

impl Worker {
    /// A canary gate. [`Measurement::Incomplete`]: try again later (the provider could not
    /// be asked, and `may_retry`: attempts are left). A provider that stays unavailable
    /// rejects the build as an error: no judgement is ever made without the points.
    pub(super) async fn evaluate_canary(
        &self,
        request: &ValidationRequest,
        gate: &CanaryGate,
        may_retry: bool,
    ) -> Measurement {
        // What registration checked cannot break later; if the stored item was changed by
        // hand, the build is rejected with the reason rather than judged by a guess.
        let file = match parse_canary_file(&gate.file) {
            Ok(f) => f,
            Err(e) => return Measurement::failed(format!("the stored canary file: {e}")),
        };
        let scope = |side: &str, text: &str| {
            parse_scope(text).map_err(|e| format!("the stored {side} scope \"{text}\": {e}"))
        };
        let (control, experiment) = match (
            scope("control", &gate.control),
            scope("experiment", &gate.experiment),
        ) {
            (Ok(c), Ok(e)) => (c, e),
            (Err(e), _) | (_, Err(e)) => return Measurement::failed(e),
        };
        let source = match self.samples.get(gate.provider) {
            Ok(s) => s,
            Err(e) => return Measurement::failed(e.to_string()),
        };
        let window = TimeWindow {
            from_ms: request.timestamp_ms,
            to_ms: request.timestamp_ms + request.window_ms,
        };
        let gathered = match gather(source, &file, &control, &experiment, window).await {
            Ok(g) => g,
            Err(e @ SliError::Unavailable(_)) if may_retry => {
                tracing::warn!(attempt = request.attempts, error = %e, "canary points unavailable; will retry");
                return Measurement::Incomplete {
                    failure: format!(
                        "could not take the canary's points from {} ({e})",
                        gate.provider.as_str()
                    ),
                    summary: None,
                };
            }
            Err(e) => {
                return Measurement::failed(format!(
                    "the canary's points could not be taken from {}: {e}",
                    gate.provider.as_str()
                ))
            }
        };
        let judgement = judge(&file.config, &gathered.control, &gathered.experiment);
        let result = outcome(&judgement);
        let summary = approval_summary(
            &judgement,
            result,
            &gate.control,
            self.settings.report_url.as_deref(),
        );
        let (approve, status) = canary_decision(result, gate.on_marginal);
        let record = CanaryRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            gate: CANARY_GATE,
            distributions: distributions(&file.config, &gathered.control, &gathered.experiment),
            judgement,
            outcome: result,
            window: RecordWindow {
                start_ms: window.from_ms,
                end_ms: window.to_ms,
            },
            control_scope: gate.control.clone(),
            experiment_scope: gate.experiment.clone(),
            provider: gate.provider.as_str().into(),
            canary_hash: file_hash(&gate.file),
            step_ms: file.step.as_millis() as u64,
            requests: gathered.requests,
            notes: gathered.notes,
        };
        tracing::info!(approve, outcome = status.as_str(), summary = %summary, "canary judgement");
        Measurement::Judged {
            decision: Decision {
                approve,
                summary,
                outcome: status,
            },
            result_json: Some(serde_json::to_string(&record).expect("JSON serialises")),
            filled_monspec: None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The canary gate on the in-memory doubles, with a sample source that answers each
    //! filled query with fixed points.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::super::worker::tests::{request, worker_with};
    use super::*;
    use crate::ports::memory::{MemoryPipeline, MemoryStore};
    use crate::ports::samples::SampleSources;
    use crate::ports::samples::{Merge, SampleSource};
    use crate::ports::sli::SliError;
    use crate::ports::store::{
        OnWarning, RequestStatus, SliProviderKind, ValidationStore, CANARY_COMPARISON,
    };

    /// Answers a query with its points repeated over the window's steps; a query it was not
    /// given has no data, as a provider answers a selector that matches nothing.
    #[derive(Default)]
    struct Points {
        answers: Mutex<HashMap<String, Result<Vec<f64>, SliError>>>,
        asked: Mutex<Vec<(String, TimeWindow)>>,
    }

    impl Points {
        fn answer(&self, query: &str, answer: Result<Vec<f64>, SliError>) {
            self.answers
                .lock()
                .unwrap()
                .insert(query.to_string(), answer);
        }

        fn asked(&self) -> Vec<(String, TimeWindow)> {
            self.asked.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl SampleSource for Points {
        async fn samples(
            &self,
            query: &str,
            window: TimeWindow,
            step: Duration,
            _merge: Merge,
        ) -> Result<Vec<Option<f64>>, SliError> {
            self.asked.lock().unwrap().push((query.to_string(), window));
            let step_ms = (step.as_millis() as i64).max(1);
            let steps = ((window.to_ms - window.from_ms) / step_ms + 1).max(0) as usize;
            match self.answers.lock().unwrap().get(query) {
                None => Err(SliError::NoData(format!("no series matched {query}"))),
                Some(Err(e)) => Err(e.clone()),
                Some(Ok(values)) => {
                    Ok((0..steps).map(|i| Some(values[i % values.len()])).collect())
                }
            }
        }
    }

    const FILE: &str = r#"
step: 1s
metrics:
  - name: latency
    query: latency{job="$SCOPE"}
    direction: increase
    groups: [latency]
  - name: error_rate
    errors: errors{job="$SCOPE"}
    requests: requests{job="$SCOPE"}
    direction: increase
    groups: [errors]
"#;

    fn latency(job: &str) -> String {
        format!("latency{{job=\"{job}\"}}")
    }

    fn errors(job: &str) -> String {
        format!("errors{{job=\"{job}\"}}")
    }

    fn requests(job: &str) -> String {
        format!("requests{{job=\"{job}\"}}")
    }

    /// 23 distinct values from `base` up: a noisy but steady latency.
    fn around(base: f64) -> Vec<f64> {
        (0..23).map(|i| base + ((i * 37) % 23) as f64).collect()
    }

    /// Both scopes healthy: the same latencies (the experiment's 1 ms up), no errors.
    fn healthy(points: &Points, control: &str, experiment: &str) {
        points.answer(&latency(control), Ok(around(300.0)));
        points.answer(&latency(experiment), Ok(around(301.0)));
        for job in [control, experiment] {
            points.answer(&errors(job), Ok(vec![0.0]));
            points.answer(&requests(job), Ok(vec![10.0]));
        }
    }

    fn canary_request(
        control: &str,
        experiment: &str,
        on_marginal: OnWarning,
        file: &str,
    ) -> ValidationRequest {
        ValidationRequest {
            comparison: CANARY_COMPARISON.into(),
            monspec: String::new(),
            canary: Some(CanaryGate {
                file: file.into(),
                provider: SliProviderKind::Prometheus,
                control: control.into(),
                experiment: experiment.into(),
                on_marginal,
            }),
            ..request("")
        }
    }

    async fn canary_worker(
        points: Option<Arc<Points>>,
        request: ValidationRequest,
    ) -> (Worker, Arc<MemoryStore>, Arc<MemoryPipeline>) {
        let (mut worker, store, pipeline) = worker_with(true).await;
        // Only the canary request: drop the monspec one worker_with stored.
        store.clear();
        store.create(&request).await.unwrap();
        worker.samples = SampleSources {
            prometheus: points.map(|p| p as Arc<dyn SampleSource>),
            dynatrace: None,
        };
        (worker, store, pipeline)
    }

    const STAGING: &str = "sample-Staging";
    const PRODUCTION: &str = "sample-Production";

    fn stored_record(store: &MemoryStore) -> serde_json::Value {
        serde_json::from_str(store.requests()[0].result_json.as_deref().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_canary_gate_judges_its_window_stores_every_statistic_and_approves() {
        let points = Arc::new(Points::default());
        healthy(&points, PRODUCTION, STAGING);
        let (worker, store, pipeline) = canary_worker(
            Some(points.clone()),
            canary_request(PRODUCTION, STAGING, OnWarning::Manual, FILE),
        )
        .await;
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!((report.evaluated, report.approved), (1, 1), "{report:?}");
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(approval.approved);
        assert!(
            approval.summary.starts_with("canary PASS (score 100): "),
            "{}",
            approval.summary
        );
        // Both sides over the registered window, every query filled with its scope.
        let asked = points.asked();
        assert!(
            asked
                .iter()
                .all(|(_, w)| w.from_ms == 1_000 && w.to_ms == 61_000),
            "{asked:?}"
        );
        for query in [latency(PRODUCTION), latency(STAGING), requests(STAGING)] {
            assert!(asked.iter().any(|(q, _)| *q == query), "{query}: {asked:?}");
        }
        let stored = &store.requests()[0];
        assert_eq!(stored.status, RequestStatus::Ok);
        let record = stored_record(&store);
        assert_eq!(record["gate"], "canary");
        assert_eq!(record["result"], "pass");
        assert_eq!(record["outcome"], "pass");
        assert_eq!(record["controlScope"], PRODUCTION);
        assert_eq!(record["provider"], "prometheus");
        assert_eq!(record["window"]["startMs"], 1_000);
        assert_eq!(record["stepMs"], 1_000);
        let latency_result = &record["metrics"][0];
        assert_eq!(latency_result["name"], "latency");
        assert!(
            latency_result["mannWhitney"]["pValue"].is_number(),
            "{latency_result:#}"
        );
        assert_eq!(latency_result["power"]["detectable"], true);
        let spread = &record["distributions"][0];
        assert!(
            spread["control"]["count"].as_u64().unwrap() > 30,
            "{spread:#}"
        );
        assert_eq!(spread["experiment"]["min"], 301.0);
    }

    #[tokio::test]
    async fn a_regression_is_rejected_naming_each_failed_metric_with_p_and_effect() {
        let points = Arc::new(Points::default());
        healthy(&points, PRODUCTION, STAGING);
        points.answer(&latency(STAGING), Ok(around(600.0)));
        points.answer(&errors(STAGING), Ok(vec![2.0, 1.0]));
        let (worker, store, pipeline) = canary_worker(
            Some(points),
            canary_request(PRODUCTION, STAGING, OnWarning::Approve, FILE),
        )
        .await;
        let report = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(report.rejected, 1, "{report:?}");
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval
                .summary
                .starts_with("canary FAIL (score 0): latency HIGH p="),
            "{}",
            approval.summary
        );
        assert!(
            approval.summary.contains(" mean ratio 1.9"),
            "{}",
            approval.summary
        );
        assert!(
            approval.summary.contains("; error_rate HIGH p="),
            "{}",
            approval.summary
        );
        assert_eq!(store.requests()[0].status, RequestStatus::Violation);
        assert_eq!(
            stored_record(&store)["metrics"][1]["classification"],
            "high"
        );
    }

    #[tokio::test]
    async fn a_marginal_result_follows_on_marginal() {
        // The latency group weighs 20, the errors 80: a slower build scores 80, marginal.
        let weighted = format!("{FILE}classifier: {{groupWeights: {{latency: 20, errors: 80}}}}\n");
        for (policy, sent, status) in [
            (OnWarning::Manual, None, RequestStatus::Manual),
            (OnWarning::Approve, Some(true), RequestStatus::Ok),
            (OnWarning::Reject, Some(false), RequestStatus::Violation),
        ] {
            let points = Arc::new(Points::default());
            healthy(&points, PRODUCTION, STAGING);
            points.answer(&latency(STAGING), Ok(around(600.0)));
            let (worker, store, pipeline) = canary_worker(
                Some(points),
                canary_request(PRODUCTION, STAGING, policy, &weighted),
            )
            .await;
            worker.tick("owner", None).await.unwrap();
            let approvals = pipeline.approvals.lock().unwrap().clone();
            assert_eq!(approvals.first().map(|a| a.approved), sent, "{policy:?}");
            let stored = &store.requests()[0];
            assert_eq!(stored.status, status, "{policy:?}");
            assert!(
                stored
                    .status_msg
                    .contains("canary MARGINAL (score 80): latency HIGH"),
                "{policy:?}: {}",
                stored.status_msg
            );
        }
    }

    #[tokio::test]
    async fn no_control_data_is_no_comparison_and_follows_on_marginal() {
        let points = Arc::new(Points::default());
        healthy(&points, PRODUCTION, STAGING);
        // Nothing ran in production yet: none of its queries matches a series.
        points
            .answers
            .lock()
            .unwrap()
            .retain(|q, _| q.contains(STAGING));
        let (worker, store, pipeline) = canary_worker(
            Some(points),
            canary_request(PRODUCTION, STAGING, OnWarning::Approve, FILE),
        )
        .await;
        worker.tick("owner", None).await.unwrap();
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(approval.approved, "onMarginal: approve");
        assert!(
            approval.summary.starts_with(
                "canary NO CONTROL (as marginal): the control sample-Production had no points for any metric"
            ),
            "{}",
            approval.summary
        );
        let record = stored_record(&store);
        assert_eq!(record["outcome"], "noControl");
        assert_eq!(record["result"], "fail", "the judge's own result is kept");
    }

    #[tokio::test]
    async fn production_against_itself_an_hour_earlier_asks_the_shifted_window() {
        let points = Arc::new(Points::default());
        healthy(&points, PRODUCTION, PRODUCTION);
        points.answer(&latency(PRODUCTION), Ok(around(300.0)));
        let (worker, _store, pipeline) = canary_worker(
            Some(points.clone()),
            canary_request("sample-Production@-1h", PRODUCTION, OnWarning::Manual, FILE),
        )
        .await;
        worker.tick("owner", None).await.unwrap();
        assert!(pipeline.approvals.lock().unwrap()[0].approved);
        let windows: Vec<(i64, i64)> = points
            .asked()
            .into_iter()
            .filter(|(q, _)| *q == latency(PRODUCTION))
            .map(|(_, w)| (w.from_ms, w.to_ms))
            .collect();
        assert!(windows.contains(&(1_000, 61_000)), "{windows:?}");
        assert!(
            windows.contains(&(1_000 - 3_600_000, 61_000 - 3_600_000)),
            "{windows:?}"
        );
    }

    #[tokio::test]
    async fn an_unavailable_provider_is_retried_then_rejects_the_build_as_an_error() {
        let points = Arc::new(Points::default());
        healthy(&points, PRODUCTION, STAGING);
        points.answer(
            &latency(PRODUCTION),
            Err(SliError::Unavailable("connection refused".into())),
        );
        let (mut worker, store, pipeline) = canary_worker(
            Some(points),
            canary_request(PRODUCTION, STAGING, OnWarning::Approve, FILE),
        )
        .await;
        worker.settings.max_attempts = 2;
        worker.settings.recheck = Duration::ZERO;
        let first = worker.tick("owner-1", None).await.unwrap();
        assert_eq!(first.retried, 1, "{first:?}");
        assert!(pipeline.approvals.lock().unwrap().is_empty());
        // The provider's reason is kept (gather may name the metric and side around it).
        let waiting = store.requests()[0].status_msg.clone();
        assert!(
            waiting
                .starts_with("attempt 1 of 2 could not take the canary's points from prometheus (")
                && waiting.contains("connection refused")
                && waiting.ends_with("), retrying"),
            "{waiting}"
        );
        worker.tick("owner-2", None).await.unwrap();
        let approvals = pipeline.approvals.lock().unwrap().clone();
        assert_eq!(approvals.len(), 1);
        assert!(!approvals[0].approved, "never a pass without the points");
        let summary = &approvals[0].summary;
        assert!(
            summary.contains(
                "could not be completed: the canary's points could not be taken from prometheus: "
            ) && summary.contains("connection refused"),
            "{summary}"
        );
        assert_eq!(store.requests()[0].status, RequestStatus::Error);
    }

    #[tokio::test]
    async fn a_canary_gate_without_its_provider_or_with_a_broken_stored_file_is_rejected_with_the_reason(
    ) {
        let (worker, store, pipeline) = canary_worker(
            None,
            canary_request(PRODUCTION, STAGING, OnWarning::Approve, FILE),
        )
        .await;
        worker.tick("owner", None).await.unwrap();
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval.summary.contains("set PROMETHEUS_URL"),
            "{}",
            approval.summary
        );
        assert_eq!(store.requests()[0].status, RequestStatus::Error);

        let points = Arc::new(Points::default());
        let (worker, _store, pipeline) = canary_worker(
            Some(points.clone()),
            canary_request(PRODUCTION, STAGING, OnWarning::Approve, "metrics: 7\n"),
        )
        .await;
        worker.tick("owner", None).await.unwrap();
        let approval = pipeline.approvals.lock().unwrap()[0].clone();
        assert!(!approval.approved);
        assert!(
            approval.summary.contains("the stored canary file: "),
            "{}",
            approval.summary
        );
        assert!(points.asked().is_empty(), "nothing asked");
    }
}
