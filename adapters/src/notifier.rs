//! [`ProblemNotifier`]: comments go to the problem's source when it takes them (Dynatrace);
//! an escalation is also POSTed to the remediation file's webhook.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::ports::monitoring::MonitoringEvents;
use crate::ports::remediation::{NotifyError, ProblemNotifier};
use crate::remediation::sequence::{Problem, ProblemSource};
use crate::remediation::webhook::{is_public, public_https_url};
use crate::text::printable;

pub struct SourceNotifier {
    /// Dynatrace, when the worker has a tenant: its problems get the comments.
    pub dynatrace: Option<Arc<dyn MonitoringEvents>>,
    pub timeout: Duration,
}

impl SourceNotifier {
    pub fn new(dynatrace: Option<Arc<dyn MonitoringEvents>>, timeout: Duration) -> Self {
        SourceNotifier { dynatrace, timeout }
    }

    /// A client bound to the addresses the webhook's host resolved to now, each checked
    /// public: a name that resolves to a private address (or changes to one between the check
    /// and the call) is refused. Built per escalation, which is rare, so the worker's cold
    /// start pays nothing for it.
    async fn pinned_client(&self, url: &url::Url) -> Result<reqwest::Client, NotifyError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| {
                NotifyError(format!(
                    "the escalation webhook's host {host} does not resolve"
                ))
            })?
            .collect();
        if addresses.is_empty() || addresses.iter().any(|a| !is_public(a.ip())) {
            return Err(NotifyError(format!(
                "the escalation webhook's host {host} resolves to a private, loopback or link-local address: not sent (it must be an https URL to a public host)"
            )));
        }
        reqwest::Client::builder()
            .timeout(self.timeout)
            // A webhook answers; it does not send us elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addresses)
            .build()
            .map_err(|e| NotifyError(format!("no HTTP client for the escalation webhook: {e}")))
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
            // Checked when the file was stored, and again here: the file may predate the rule.
            let url = public_https_url(url).map_err(|why| {
                NotifyError(format!(
                    "the escalation webhook of remediation.yaml {why}: not sent"
                ))
            })?;
            let client = self.pinned_client(&url).await?;
            let body = json!({
                "problemId": printable(&problem.id),
                "title": printable(&problem.title),
                "source": problem.source,
                "comment": printable(comment),
            });
            let answer = client
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

    fn alert() -> Problem {
        Problem {
            id: "fp@2026-11-22T01:00:00.000Z".into(),
            source: ProblemSource::Alertmanager,
            title: "error_rate".into(),
            opened_ms: 0,
            link: None,
            alt_title: None,
        }
    }

    #[tokio::test]
    async fn a_webhook_to_a_private_or_metadata_address_is_not_sent() {
        let notifier = SourceNotifier::new(None, Duration::from_secs(2));
        for (url, says) in [
            (
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "uses HTTP",
            ),
            (
                "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                "127.0.0.1 is a private",
            ),
            (
                "https://localhost:9/services/T/B/SECRETPART",
                "localhost names a local",
            ),
        ] {
            let err = notifier
                .escalate(&alert(), "a person must look", Some(url))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{url}: {err}");
            assert!(err.contains("not sent"), "{err}");
            assert!(
                !err.contains("SECRETPART") && !err.contains("security-credentials"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn a_failed_escalation_webhook_is_reported_without_its_url() {
        let notifier = SourceNotifier::new(None, Duration::from_secs(2));
        // A name that does not resolve (the .invalid TLD never does); the path stands for a
        // chat webhook's secret.
        let url = "https://hooks.unbreakable.invalid/services/T000/B000/SECRETPART";
        let err = notifier
            .escalate(&alert(), "a person must look", Some(url))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not resolve"), "{err}");
        assert!(!err.contains("SECRETPART"), "{err}");
    }
}
