//! The build validation report: a pure model of a pipeline's validations across builds,
//! rendered as HTML (askama, inline SVG charts, no scripts) or as JSON.

pub mod chart;

use serde::Serialize;
use serde_json::{json, Value};

use crate::ports::store::ValidationRequest;
use crate::validation::params::is_pipeline_name;

pub const REPORT_SCHEMA_VERSION: u32 = 1;
pub const DEFAULT_TIMESPAN_MINUTES: i64 = 10_080;

/// What the report was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportRequest {
    /// No pipeline named: show the form.
    Form,
    Report {
        pipeline: String,
        comparison: Option<String>,
        timespan_minutes: i64,
        json: bool,
    },
}

/// Read the query parameters; the error says which one is wrong and how.
pub fn parse_request(get: impl Fn(&str) -> Option<String>) -> Result<ReportRequest, String> {
    let pipeline = get("pipelineName")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let comparison = get("comparisonName")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let json = match get("json").as_deref() {
        None | Some("false") | Some("") => false,
        Some("true") => true,
        Some(other) => return Err(format!("json must be true or false, got \"{other}\"")),
    };
    let timespan_minutes = match get("timespan").filter(|s| !s.is_empty()) {
        None => DEFAULT_TIMESPAN_MINUTES,
        Some(text) => match text.parse::<i64>() {
            Ok(m) if (1..=525_600).contains(&m) => m,
            _ => {
                return Err(format!(
                    "timespan must be a whole number of minutes from 1 to 525600, got \"{text}\""
                ))
            }
        },
    };
    let Some(pipeline) = pipeline else {
        return if json {
            Err("pipelineName is required with json=true".into())
        } else {
            Ok(ReportRequest::Form)
        };
    };
    if !is_pipeline_name(&pipeline) {
        return Err(format!(
            "pipelineName \"{pipeline}\" is not a pipeline name (1-100 characters of A-Z a-z 0-9 . @ _ -)"
        ));
    }
    Ok(ReportRequest::Report {
        pipeline,
        comparison,
        timespan_minutes,
        json,
    })
}

/// One validation, as a row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRow {
    pub timestamp: i64,
    pub registered_at: String,
    pub comparison: String,
    pub stage: String,
    pub execution_id: String,
    pub approval_action: String,
    pub status: String,
    pub status_message: String,
    pub decision: Option<String>,
    pub summary: Option<String>,
    /// Labels of the signatures that blocked approval.
    #[serde(skip)]
    pub failing: Vec<String>,
    pub result: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportModel {
    pub pipeline: String,
    pub comparison: Option<String>,
    pub timespan_minutes: i64,
    pub builds: Vec<BuildRow>,
    pub charts: Vec<chart::MetricChart>,
}

fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

impl ReportModel {
    pub fn build(
        pipeline: &str,
        comparison: Option<&str>,
        timespan_minutes: i64,
        requests: &[ValidationRequest],
    ) -> Self {
        let mut builds: Vec<BuildRow> = requests
            .iter()
            .filter(|r| comparison.is_none_or(|c| r.comparison == c))
            .map(|r| {
                let result: Option<Value> = r
                    .result_json
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok());
                let failing = result
                    .as_ref()
                    .map(|v| {
                        chart::signatures(v)
                            .filter(|s| s["blocksApproval"] == true)
                            .map(|s| s["reason"].as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                BuildRow {
                    timestamp: r.timestamp_ms,
                    registered_at: rfc3339(r.timestamp_ms),
                    comparison: r.comparison.clone(),
                    stage: r.stage.clone(),
                    execution_id: r.execution_id.clone(),
                    approval_action: r.approval_action.clone(),
                    status: r.status.as_str().to_string(),
                    status_message: r.status_msg.clone(),
                    decision: r
                        .decision
                        .as_ref()
                        .map(|d| if d.approve { "Approved" } else { "Rejected" }.to_string()),
                    summary: r.decision.as_ref().map(|d| d.summary.clone()),
                    failing,
                    result,
                }
            })
            .collect();
        builds.sort_by_key(|b| b.timestamp);
        let charts = chart::charts(&builds);
        ReportModel {
            pipeline: pipeline.to_string(),
            comparison: comparison.map(str::to_string),
            timespan_minutes,
            builds,
            charts,
        }
    }

    /// The JSON mode's document (README, "Report JSON").
    pub fn to_json(&self) -> Value {
        json!({
            "schemaVersion": REPORT_SCHEMA_VERSION,
            "pipeline": self.pipeline,
            "comparison": self.comparison,
            "timespanMinutes": self.timespan_minutes,
            "validations": self.builds,
        })
    }
}

#[derive(askama::Template)]
#[template(path = "report.html")]
pub struct ReportPage<'a> {
    pub model: &'a ReportModel,
    pub json_link: String,
}

#[derive(askama::Template)]
#[template(path = "form.html")]
pub struct FormPage<'a> {
    pub error: Option<&'a str>,
}

/// Query-string encoding for links built into the page.
pub fn query_link(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    format!("?{}", serializer.finish())
}

pub fn render_report(model: &ReportModel) -> String {
    use askama::Template;
    let timespan = model.timespan_minutes.to_string();
    let mut pairs = vec![
        ("pipelineName", model.pipeline.as_str()),
        ("timespan", timespan.as_str()),
    ];
    if let Some(c) = &model.comparison {
        pairs.push(("comparisonName", c.as_str()));
    }
    pairs.push(("json", "true"));
    ReportPage {
        model,
        json_link: query_link(&pairs),
    }
    .render()
    .expect("the report template renders")
}

pub fn render_form(error: Option<&str>) -> String {
    use askama::Template;
    FormPage { error }
        .render()
        .expect("the form template renders")
}

/// Responses carry this policy: no scripts, no external resources, forms only to us.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_form_shows_without_a_pipeline_and_defaults_apply() {
        assert_eq!(parse_request(get(&[])).unwrap(), ReportRequest::Form);
        assert_eq!(
            parse_request(get(&[("pipelineName", "Sample")])).unwrap(),
            ReportRequest::Report {
                pipeline: "Sample".into(),
                comparison: None,
                timespan_minutes: 10_080,
                json: false
            }
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            (
                vec![("pipelineName", "<script>")],
                "pipelineName \"<script>\" is not a pipeline name",
            ),
            (
                vec![("pipelineName", "A"), ("timespan", "-1")],
                "timespan must be a whole number of minutes",
            ),
            (
                vec![("pipelineName", "A"), ("timespan", "1e9")],
                "timespan must be a whole number of minutes",
            ),
            (
                vec![("pipelineName", "A"), ("json", "yes")],
                "json must be true or false, got \"yes\"",
            ),
            (
                vec![("json", "true")],
                "pipelineName is required with json=true",
            ),
        ];
        for (pairs, expected) in cases {
            let e = parse_request(get(&pairs)).unwrap_err();
            assert!(e.contains(expected), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn the_form_escapes_the_error() {
        let html = render_form(Some("pipelineName \"<script>alert(1)</script>\" is bad"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
    }
}
