//! [`ProblemNotifier`]: comments go to the problem's source when it takes them (Dynatrace);
//! an escalation is also POSTed to the remediation file's webhook.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::ports::monitoring::MonitoringEvents;
use crate::ports::remediation::{NotifyError, ProblemNotifier};
use crate::remediation::sequence::{Problem, ProblemSource};
use crate::text::printable;

pub struct SourceNotifier {
    /// Dynatrace, when the worker has a tenant: its problems get the comments.
    pub dynatrace: Option<Arc<dyn MonitoringEvents>>,
    pub http: reqwest::Client,
}

impl SourceNotifier {
    pub fn new(dynatrace: Option<Arc<dyn MonitoringEvents>>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A webhook answers; it does not send us elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls");
        SourceNotifier { dynatrace, http }
    }
}

#[async_trait]
impl ProblemNotifier for SourceNotifier {
    async fn comment(&self, problem: &Problem, text: &str) -> Result<(), NotifyError> {
        match (problem.source, &self.dynatrace) {
            (ProblemSource::Dynatrace, Some(dynatrace)) => dynatrace
                .comment(&problem.id, &printable(text))
                .await
                .map_err(|e| NotifyError(format!("commenting on problem {}: {e}", problem.id))),
            // Alertmanager takes no comments: the step is in the log and on the timeline.
            _ => Ok(()),
        }
    }

    async fn escalate(
        &self,
        problem: &Problem,
        comment: &str,
        webhook: Option<&str>,
    ) -> Result<(), NotifyError> {
        let commented = self.comment(problem, comment).await;
        if let Some(url) = webhook {
            let body = json!({
                "problemId": problem.id,
                "title": problem.title,
                "source": problem.source,
                "comment": printable(comment),
            });
            let answer = self
                .http
                .post(url)
                .json(&body)
                .send()
                .await
                // A chat webhook's URL is its secret: never in a message or a log line.
                .map_err(|e| {
                    NotifyError(format!(
                        "the escalation webhook of remediation.yaml did not answer: {}",
                        e.without_url()
                    ))
                })?;
            if !answer.status().is_success() {
                return Err(NotifyError(format!(
                    "the escalation webhook of remediation.yaml answered {}",
                    answer.status()
                )));
            }
        }
        commented
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_escalation_webhook_is_reported_without_its_url() {
        let notifier = SourceNotifier::new(None, Duration::from_secs(2));
        let problem = Problem {
            id: "fp@2026-11-22T01:00:00.000Z".into(),
            source: ProblemSource::Alertmanager,
            title: "error_rate".into(),
            opened_ms: 0,
            link: None,
        };
        // Port 9 on loopback: nothing listens; the path stands for a chat webhook's secret.
        let url = "http://127.0.0.1:9/services/T000/B000/SECRETPART";
        let err = notifier
            .escalate(&problem, "a person must look", Some(url))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("escalation webhook of remediation.yaml did not answer"),
            "{err}"
        );
        assert!(
            !err.contains("SECRETPART") && !err.contains("127.0.0.1:9"),
            "{err}"
        );
    }
}
