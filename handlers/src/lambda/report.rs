//! build-validation-report: API Gateway GET (REST proxy or HTTP API). HTML with charts, or
//! JSON with `json=true`.

use std::sync::Arc;

use lambda_http::{Body, Response};

use super::{FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
use crate::ports::lanes::LaneStore;
use crate::ports::store::ValidationStore;
use crate::report::timeline::{parse_timeline_request, LaneSequence, Timeline};
use crate::report::{
    parse_request, render_form, render_report, ReportModel, ReportRequest, CONTENT_SECURITY_POLICY,
};
use crate::time::now_ms;

pub struct Report {
    pub store: Arc<dyn ValidationStore>,
    /// The self-healing lanes, for the timeline.
    pub lanes: Arc<dyn LaneStore>,
    pub limits: ReportLimits,
}

/// The path of the remediation timeline (Keptn's Bridge view; the old import path of the
/// contract's).
pub use crate::contract::TIMELINE_PATH;
/// Ended sequences shown per lane, newest first.
const TIMELINE_ENDED_PER_LANE: usize = 50;
/// The most lanes one timeline page reads (two calls each), newest activity first: well
/// inside API Gateway's 29 s however many lanes exist.
const TIMELINE_LANES: usize = 25;

/// How much one report reads and answers.
#[derive(Debug, Clone, Copy)]
pub struct ReportLimits {
    /// The most validations read: the newest, whatever the timespan.
    pub max_validations: usize,
    /// Lambda's response limit is 6 MB, and API Gateway's envelope escapes the body inside a
    /// JSON string: keep the body well under it.
    pub max_body_bytes: usize,
}

impl Default for ReportLimits {
    fn default() -> Self {
        ReportLimits {
            max_validations: 1_000,
            max_body_bytes: 4_500_000,
        }
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
        .body(Body::from(body))
        .expect("static response parts")
}

impl Report {
    /// `GET /RemediationSequences[?service&stage&json=true]`: every problem's remediation,
    /// newest first, with each step.
    pub async fn timeline(&self, get: impl Fn(&str) -> Option<String>) -> Response<Body> {
        let wants_json = get("json").as_deref() == Some("true");
        let error = |status: u16, message: &str| {
            if wants_json {
                respond(
                    status,
                    "application/json",
                    serde_json::json!({"error": message}).to_string(),
                )
            } else {
                respond(status, "text/plain; charset=utf-8", message.to_string())
            }
        };
        let request = match parse_timeline_request(&get) {
            Ok(r) => r,
            Err(message) => return error(400, &message),
        };
        let page = match self
            .lanes
            .lane_histories(TIMELINE_LANES, TIMELINE_ENDED_PER_LANE)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "reading the lanes failed");
                return error(
                    502,
                    "cannot read the remediation sequences just now; try again, or see the function's log",
                );
            }
        };
        let histories = &page.histories;
        let lanes: Vec<_> = histories.iter().filter_map(|h| h.lane.clone()).collect();
        let mut sequences = LaneSequence::of_lanes(&lanes);
        for history in histories {
            sequences.extend(history.ended.iter().map(|sequence| LaneSequence {
                service: &history.key.service,
                stage: &history.key.stage,
                sequence,
            }));
        }
        sequences.retain(|s| request.includes(s.service, s.stage));
        let mut timeline = Timeline::build(&request, &sequences, |p| p.link.clone());
        timeline.older_left_out = page.older_left_out;
        tracing::info!(problems = timeline.problems.len(), "remediation timeline");
        if request.json {
            respond(200, "application/json", timeline.to_json())
        } else {
            respond(200, "text/html; charset=utf-8", timeline.to_html())
        }
    }

    /// Answer one query (the parameters come in through `get`).
    pub async fn answer(&self, get: impl Fn(&str) -> Option<String>) -> Response<Body> {
        let wants_json = get("json").as_deref() == Some("true");
        let request = match parse_request(&get) {
            Ok(r) => r,
            Err(message) if wants_json => {
                return respond(
                    400,
                    "application/json",
                    serde_json::json!({"error": message}).to_string(),
                )
            }
            Err(message) => {
                return respond(400, "text/html; charset=utf-8", render_form(Some(&message)))
            }
        };
        let ReportRequest::Report {
            pipeline,
            comparison,
            timespan_minutes,
            json,
        } = request
        else {
            return respond(200, "text/html; charset=utf-8", render_form(None));
        };
        let since = now_ms() - timespan_minutes * 60_000;
        let history = match self
            .store
            .report_history(&pipeline, since, self.limits.max_validations)
            .await
        {
            Ok(h) => h,
            Err(e) => {
                // The page is public: the AWS error stays in the log.
                tracing::error!(error = %e, "reading the history failed");
                let message =
                    "cannot read the validations just now; try again, or see the function's log";
                return if json {
                    respond(
                        502,
                        "application/json",
                        serde_json::json!({"error": message}).to_string(),
                    )
                } else {
                    respond(502, "text/html; charset=utf-8", render_form(Some(message)))
                };
            }
        };
        for item in &history.skipped {
            // Shown without it rather than not at all; the worker quarantines it.
            tracing::warn!(pipeline = %item.key.pipeline, timestamp = item.key.timestamp_ms, reason = %item.reason, "an item cannot be read; left out of the report");
        }
        let pages = history.pages;
        let mut requests = history.requests;
        let mut older_left_out = history.truncated;
        // Lambda answers at most 6 MB; leave out the older half until the page fits.
        let (model, body) = loop {
            let mut model = ReportModel::build(
                &pipeline,
                comparison.as_deref(),
                timespan_minutes,
                &requests,
            );
            model.older_left_out = older_left_out;
            let body = if json {
                model.to_json_string()
            } else {
                render_report(&model)
            };
            if body.len() <= self.limits.max_body_bytes || requests.len() <= 1 {
                break (model, body);
            }
            requests.drain(..requests.len() / 2);
            older_left_out = true;
        };
        tracing::info!(pipeline = %pipeline, validations = model.validations.len(), builds = model.builds.len(), pages, older_left_out, bytes = body.len(), "report");
        if json {
            respond(200, "application/json", body)
        } else {
            respond(200, "text/html; charset=utf-8", body)
        }
    }
}

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "build-validation-report",
    settings: &[VALIDATION_TABLE],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:Query",
        "dynamodb:GetItem",
    ],
};

/// What build-validation-report reads at cold start: the table only.
pub use super::TableConfig as Config;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::MemoryStore;
    use crate::ports::store::RequestStatus;
    use crate::report::test_data::{monspec_result, request};

    /// `count` validations of pipeline Sample, one a minute up to now, newest last.
    fn store_with(count: usize) -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore::default());
        let now = now_ms();
        for i in 0..count {
            let mut r = request(
                &format!("{i:08}-0000-4000-8000-000000000000"),
                0,
                "StagingToProduction",
                RequestStatus::Ok,
                Some(monspec_result(Some(100.0 + i as f64), 100.0, 2.0)),
            );
            r.timestamp_ms = now - (count - i) as i64 * 60_000;
            store.put(r);
        }
        store
    }

    async fn body(report: &Report, json: bool) -> (u16, String) {
        let response = report
            .answer(|k| match k {
                "pipelineName" => Some("Sample".into()),
                "json" => json.then(|| "true".into()),
                _ => None,
            })
            .await;
        let status = response.status().as_u16();
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            other => String::from_utf8_lossy(other.as_ref()).into_owned(),
        };
        (status, text)
    }

    #[tokio::test]
    async fn the_report_keeps_to_the_newest_validations_and_says_older_ones_are_left_out() {
        let report = Report {
            store: store_with(12),
            lanes: Arc::new(crate::ports::lanes::MemoryLanes::new()),
            limits: ReportLimits {
                max_validations: 5,
                ..ReportLimits::default()
            },
        };
        let (status, json) = body(&report, true).await;
        assert_eq!(status, 200);
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        let shown: Vec<&str> = doc["validations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["executionId"].as_str().unwrap())
            .collect();
        assert_eq!(shown.len(), 5, "{shown:?}");
        assert!(shown[4].starts_with("00000011"), "newest kept: {shown:?}");
        assert!(shown[0].starts_with("00000007"), "oldest kept: {shown:?}");
        assert_eq!(doc["olderLeftOut"], true);
        let (_, html) = body(&report, false).await;
        assert!(html.contains("Older validations in this timespan are left out"));
        // Within the limit nothing is said.
        let all = Report {
            store: store_with(5),
            lanes: Arc::new(crate::ports::lanes::MemoryLanes::new()),
            limits: ReportLimits {
                max_validations: 5,
                ..ReportLimits::default()
            },
        };
        let (_, html) = body(&all, false).await;
        assert!(
            !html.contains("left out"),
            "no note when nothing was left out"
        );
    }

    #[tokio::test]
    async fn a_page_too_big_for_lambda_leaves_out_the_older_half_until_it_fits() {
        let limits = ReportLimits {
            max_validations: 1_000,
            max_body_bytes: 30_000,
        };
        let report = Report {
            store: store_with(40),
            lanes: Arc::new(crate::ports::lanes::MemoryLanes::new()),
            limits,
        };
        for json in [true, false] {
            let (status, text) = body(&report, json).await;
            assert_eq!(status, 200);
            assert!(
                text.len() <= limits.max_body_bytes,
                "json={json}: {} bytes",
                text.len()
            );
            assert!(
                text.contains("00000039"),
                "json={json}: the newest build is shown"
            );
            assert!(
                !text.contains("00000000-0000"),
                "json={json}: the oldest is left out"
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_table_answers_a_generic_error_without_the_aws_text() {
        let store = Arc::new(MemoryStore::default());
        store.fail_history_reads(
            "AccessDeniedException: User arn:aws:sts::123456789012:assumed-role/x",
        );
        let report = Report {
            store,
            lanes: Arc::new(crate::ports::lanes::MemoryLanes::new()),
            limits: ReportLimits::default(),
        };
        for json in [true, false] {
            let (status, text) = body(&report, json).await;
            assert_eq!(status, 502);
            assert!(
                text.contains("cannot read the validations just now"),
                "{text}"
            );
            assert!(
                !text.contains("AccessDenied") && !text.contains("arn:aws"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn the_timeline_shows_each_lanes_sequences_and_refuses_a_bad_filter() {
        use crate::ports::lanes::{LaneKey, LaneStore, MemoryLanes, Notice};
        use crate::remediation::sequence::{advance, Input, Problem, ProblemSource, Settings};
        let lanes = Arc::new(MemoryLanes::new());
        let key = LaneKey {
            service: "carts".into(),
            stage: "production".into(),
        };
        let problem = Problem {
            id: "fp@2026-11-22T01:00:00.000Z".into(),
            source: ProblemSource::Alertmanager,
            title: "<script>alert(1)</script>".into(),
            opened_ms: 1_000,
            link: Some("http://prometheus:9090/graph".into()),
            alt_title: None,
        };
        lanes
            .notify(
                &key,
                &Notice::Opened {
                    problem: problem.clone(),
                },
                1_000,
            )
            .await
            .unwrap();
        let mut record = lanes.claim(&key, "w", 1_000, 2_000).await.unwrap().unwrap();
        let t = advance(
            &record.lane,
            Input::Opened {
                problem,
                remediation: None,
            },
            1_000,
            &Settings::default(),
        );
        record.lane = t.lane;
        lanes.save(&record, 1, &t.ended, "w", false).await.unwrap();
        let report = Report {
            store: Arc::new(MemoryStore::default()),
            lanes,
            limits: ReportLimits::default(),
        };
        let answer = |q: &'static [(&'static str, &'static str)]| {
            let report = &report;
            async move {
                let response = report
                    .timeline(|k| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
                    .await;
                let text = match response.body() {
                    Body::Text(t) => t.clone(),
                    other => String::from_utf8_lossy(other.as_ref()).into_owned(),
                };
                (response.status().as_u16(), text)
            }
        };
        let (status, json) = answer(&[("json", "true")]).await;
        assert_eq!(status, 200, "{json}");
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["problems"].as_array().unwrap().len(), 1, "{doc}");
        let (status, html) = answer(&[]).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script>alert(1)"), "escaped");
        let (status, _) = answer(&[("service", "other"), ("json", "true")]).await;
        assert_eq!(status, 200);
        let (status, message) = answer(&[("service", "<x>"), ("json", "true")]).await;
        assert_eq!(status, 400);
        assert!(message.contains("is not a service name"), "{message}");
    }
}
