//! build-validation-report: API Gateway GET (REST proxy or HTTP API). HTML with charts, or
//! JSON with `json=true`.

use std::sync::Arc;

use lambda_http::{Body, Response};

use super::{FunctionManifest, LOG_ACTIONS, VALIDATION_TABLE};
use crate::ports::store::ValidationStore;
use crate::report::{
    parse_request, render_form, render_report, ReportModel, ReportRequest, CONTENT_SECURITY_POLICY,
};
use crate::time::now_ms;

pub struct Report {
    pub store: Arc<dyn ValidationStore>,
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
        let history = match self.store.history(&pipeline, since).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "reading the history failed");
                let message = format!("cannot read the validations: {e}");
                return if json {
                    respond(
                        502,
                        "application/json",
                        serde_json::json!({"error": message}).to_string(),
                    )
                } else {
                    respond(502, "text/html; charset=utf-8", render_form(Some(&message)))
                };
            }
        };
        for item in &history.skipped {
            // Shown without it rather than not at all; the worker quarantines it.
            tracing::warn!(pipeline = %item.key.pipeline, timestamp = item.key.timestamp_ms, reason = %item.reason, "an item cannot be read; left out of the report");
        }
        let model = ReportModel::build(
            &pipeline,
            comparison.as_deref(),
            timespan_minutes,
            &history.requests,
        );
        tracing::info!(pipeline = %pipeline, validations = model.validations.len(), builds = model.builds.len(), pages = history.pages, "report");
        if json {
            respond(200, "application/json", model.to_json_string())
        } else {
            respond(200, "text/html; charset=utf-8", render_report(&model))
        }
    }
}

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "build-validation-report",
    settings: &[VALIDATION_TABLE],
    aws_actions: &[LOG_ACTIONS[0], LOG_ACTIONS[1], "dynamodb:Query"],
};

/// What build-validation-report reads at cold start: the table only.
pub use super::TableConfig as Config;
