//! register-build-validation: a CodePipeline Invoke action. Checks the monspec, the
//! comparison and the window, stores the validation request, and answers the job.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::config::{ConfigError, Env, Setting};
use super::job::{execution_id, run_job, Job, JobAnswer, JobError};
use super::{FunctionManifest, LambdaError, LOG_ACTIONS, VALIDATION_TABLE};
use crate::compare::canary_file::{parse_canary_file, parse_scope, CanaryFile, PointsQuery};
use crate::evaluation::{plan, Timeframe};
use crate::monspec::{lint_monspec, without_bom};
use crate::ports::artifacts::{
    zipped_file_text, ArtifactStore, CANARY_FILE, CANARY_JSON_FILE, MAX_FILE_BYTES, SLI_FILE,
    SLO_FILE,
};
use crate::ports::pipeline::{
    parse_registration_params, ApprovalStep, Pipeline, RegistrationParams,
};
use crate::ports::store::{
    CanaryGate, RequestStatus, SloGate, StoreError, ValidationRequest, ValidationStore,
};
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::slo::{parse_sli, parse_slo};
use crate::text::redacted_url;
use crate::time::now_ms;
use crate::validation::params::{CanaryParams, IngestionDelays, SloParams, MAX_INGESTION_DELAY};

/// A monspec larger than this is refused (the old import path of the contract's).
pub use crate::contract::MAX_MONSPEC_BYTES;

pub struct Register {
    pub pipeline: Arc<dyn Pipeline>,
    pub store: Arc<dyn ValidationStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub http: reqwest::Client,
    /// How long finished requests stay in the table (TTL).
    pub retention: Duration,
    /// Whether `monspecUrl` may be plain http ([`ALLOW_HTTP_MONSPEC_URL`]).
    pub allow_http_monspec_url: bool,
    /// How long after its window's end a validation's data is complete, per provider.
    pub ingestion_delays: IngestionDelays,
    /// The validation asks for the worker at its window's end plus the delay through these.
    pub wakeups: Arc<dyn Wakeups>,
}

/// Whether `monspecUrl` may be fetched: https, or plain http only where explicitly allowed
/// (the tests and `unbreakable local` serve monspecs from loopback). In Lambda, http to
/// loopback would reach the Runtime API, and http anywhere can be read or altered on the way.
pub fn check_monspec_url_scheme(url: &str, allow_http: bool) -> Result<(), String> {
    match url::Url::parse(url).map(|u| u.scheme().to_string()) {
        Ok(scheme) if scheme == "https" || (scheme == "http" && allow_http) => Ok(()),
        _ => Err(format!(
            "\"monspecUrl\" must be an https URL, got \"{}\" (plain http only where {} is true: tests and unbreakable local)",
            redacted_url(url),
            ALLOW_HTTP_MONSPEC_URL.variable
        )),
    }
}

/// The client that fetches `monspecUrl`: a redirect may not lead off https either.
pub fn monspec_http_client(allow_http: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else if check_monspec_url_scheme(attempt.url().as_str(), allow_http).is_err() {
                attempt.error("a redirect to a URL that is not https")
            } else {
                attempt.follow()
            }
        }))
        .build()
}

impl Register {
    pub async fn handle(&self, event: Value, request_id: &str) -> Result<JobAnswer, LambdaError> {
        run_job(
            self.pipeline.as_ref(),
            event,
            request_id,
            |job| async move { self.register(&job, now_ms()).await },
        )
        .await
    }

    async fn register(&self, job: &Job, now: i64) -> Result<String, JobError> {
        let params = parse_registration_params(job.user_parameters())
            .map_err(|e| JobError::configuration(e.to_string()))?;
        let window_ms = params.window.as_millis() as i64;
        // Judged only once the provider has the window's last minute: the worker waits for
        // `ready_ms` however it is invoked.
        let delay_ms = self.ingestion_delays.of(&params).as_millis() as i64;
        let (text, slo, canary) = match (&params.slo, &params.canary) {
            (Some(slo_params), _) => (
                String::new(),
                Some(self.slo_gate(job, slo_params).await?),
                None,
            ),
            (None, Some(canary_params)) => (
                String::new(),
                None,
                Some(self.canary_gate(job, canary_params).await?),
            ),
            (None, None) => (self.checked_monspec(job, &params, now).await?, None, None),
        };
        let context = job.context(self.pipeline.as_ref()).await?;
        let definition = self
            .pipeline
            .definition(&context.pipeline)
            .await
            .map_err(|e| JobError::failed(e.to_string()))?;
        if let ApprovalStep::Missing { reason } = crate::validation::approval::approval_step(
            &definition,
            &Default::default(),
            &params.approval_action,
            "",
            &context.stage,
        ) {
            return Err(JobError::configuration(format!(
                "UserParameters: {reason}; name the approval action that should receive the verdict"
            )));
        }
        let execution_id = match &params.execution_id {
            Some(id) => id.clone(),
            None => execution_id(self.pipeline.as_ref(), &context).await?,
        };

        let mut request = ValidationRequest {
            pipeline: context.pipeline.clone(),
            timestamp_ms: now,
            comparison: params.comparison.clone(),
            window_ms,
            ready_ms: now + window_ms + delay_ms,
            monspec: text,
            slo,
            canary,
            stage: context.stage.clone(),
            action: context.action.clone(),
            approval_action: params.approval_action.clone(),
            job_id: job.id.clone(),
            execution_id,
            status: RequestStatus::Waiting,
            status_msg: if delay_ms > 0 {
                format!(
                    "waiting for the validation window to close and for {} of ingestion delay",
                    humantime::format_duration(Duration::from_millis(delay_ms as u64))
                )
            } else {
                "waiting for the validation window to close".into()
            },
            attempts: 0,
            next_check_ms: Some(now + window_ms + delay_ms),
            lease_owner: None,
            result_json: None,
            filled_monspec: None,
            decision: None,
            expires_at_s: (now + window_ms + delay_ms) / 1000 + self.retention.as_secs() as i64,
        };
        // Two registrations of one pipeline in the same millisecond would share a key.
        let mut attempt = 0;
        loop {
            match self.store.create(&request).await {
                Ok(()) => break,
                Err(StoreError::Conflict(_)) if attempt < 5 => {
                    attempt += 1;
                    request.timestamp_ms += 1;
                }
                Err(e) => {
                    return Err(JobError::failed(format!(
                        "cannot store the validation: {e}"
                    )))
                }
            }
        }
        if let Some(due_ms) = request.next_check_ms {
            let wake = WakeUp::new(WakeTarget::validation(&request.key()), due_ms);
            send_or_log(self.wakeups.as_ref(), wake, now_ms()).await;
        }
        tracing::info!(
            pipeline = %request.pipeline,
            timestamp = request.timestamp_ms,
            comparison = %request.comparison,
            execution_id = %request.execution_id,
            "validation registered"
        );
        Ok(format!(
            "Registered {} over {} for {}; the verdict goes to {} after the window closes",
            params.comparison,
            humantime::format_duration(Duration::from_secs(params.window.as_secs())),
            request.execution_id,
            params.approval_action
        ))
    }

    /// The monspec, read and checked against the comparison and window it will be planned with.
    async fn checked_monspec(
        &self,
        job: &Job,
        params: &RegistrationParams,
        now: i64,
    ) -> Result<String, JobError> {
        // Stored without a byte-order mark: the worker reads the stored text as JSON.
        let text = without_bom(&self.monspec_text(job, params).await?).to_string();
        if text.len() > MAX_MONSPEC_BYTES {
            return Err(JobError::configuration(format!(
                "monspec.json is {} KB; the limit is {} KB (the stored validation must stay under DynamoDB's 400 KB item limit). Split it into several monspecs",
                text.len() / 1024,
                MAX_MONSPEC_BYTES / 1024
            )));
        }
        let (monspec, warnings) = lint_monspec(&text);
        // Warnings do not fail the job: they go to the function's log for the monspec's owner.
        for warning in &warnings {
            tracing::warn!(%warning, "monspec.json looks wrong but is valid");
        }
        let monspec = monspec.map_err(|e| {
            JobError::configuration(format!("monspec.json: {}", e.problems().join("; ")))
        })?;
        plan(
            &monspec,
            &params.comparison,
            Timeframe {
                start_ms: now,
                window_ms: params.window.as_millis() as i64,
            },
        )
        .map_err(|e| JobError::configuration(format!("monspec.json: {e}")))?;
        Ok(text)
    }

    /// slo.yaml and sli.yaml from the input artifact (a ZIP), checked as `unbreakable slo
    /// lint` checks them, every objective with a query: a broken file fails the job now,
    /// not the approval later.
    async fn slo_gate(&self, job: &Job, params: &SloParams) -> Result<SloGate, JobError> {
        let (location, body) = job
            .input_artifact_body(
                self.artifacts.as_ref(),
                "no slo.yaml: an SLO gate reads slo.yaml and sli.yaml from its input artifact; give the action the artifact (a ZIP) that holds them",
            )
            .await?;
        let read = |name: &str| {
            zipped_file_text(&location, &body, name)
                .map_err(|e| JobError::configuration(e.to_string()))
        };
        let (slo_text, sli_text) = (read(SLO_FILE)?, read(SLI_FILE)?);
        if slo_text.len() + sli_text.len() > MAX_MONSPEC_BYTES {
            return Err(JobError::configuration(format!(
                "slo.yaml and sli.yaml are {} KB together; the limit is {} KB (the stored validation must stay under DynamoDB's 400 KB item limit)",
                (slo_text.len() + sli_text.len()) / 1024,
                MAX_MONSPEC_BYTES / 1024
            )));
        }
        let slo =
            parse_slo(SLO_FILE, &slo_text).map_err(|e| JobError::configuration(e.to_string()))?;
        let indicators =
            parse_sli(SLI_FILE, &sli_text).map_err(|e| JobError::configuration(e.to_string()))?;
        // An SLI sli.yaml leaves out is measured with the peer's default query where Keptn
        // used one (crate::slo::defaults), as the worker will.
        let missing: Vec<&str> = slo
            .objectives
            .iter()
            .map(|o| o.sli.as_str())
            .filter(|sli| {
                crate::slo::defaults::query_for(params.provider, sli, &indicators, &slo.filter)
                    .is_err()
            })
            .collect();
        if !missing.is_empty() {
            return Err(JobError::configuration(format!(
                "{SLI_FILE} has no query for {} that {SLO_FILE} judges: add each under indicators",
                missing.join(", ")
            )));
        }
        Ok(SloGate {
            slo: slo_text,
            sli: sli_text,
            provider: params.provider,
            service: params.service.clone(),
            on_warning: params.on_warning,
        })
    }

    /// canary.yaml (or canary.json) from the input artifact (a ZIP), checked as `unbreakable
    /// compare` checks it, and every query filled for both scopes: a file the worker could
    /// not measure fails the job now, not the approval later.
    async fn canary_gate(&self, job: &Job, params: &CanaryParams) -> Result<CanaryGate, JobError> {
        let (location, body) = job
            .input_artifact_body(
                self.artifacts.as_ref(),
                "no canary.yaml: a canary gate reads canary.yaml from its input artifact; give the action the artifact (a ZIP) that holds it",
            )
            .await?;
        // canary.json only where the ZIP has no canary.yaml; any other problem (not a ZIP,
        // too large) is the YAML file's.
        let missing = |e: &crate::ports::artifacts::ArtifactError, name: &str| {
            e.to_string().contains(&format!("the ZIP has no {name} "))
        };
        let (name, text) = match zipped_file_text(&location, &body, CANARY_FILE) {
            Ok(text) => (CANARY_FILE, text),
            Err(yaml) if missing(&yaml, CANARY_FILE) => {
                match zipped_file_text(&location, &body, CANARY_JSON_FILE) {
                    Ok(text) => (CANARY_JSON_FILE, text),
                    Err(json) if missing(&json, CANARY_JSON_FILE) => {
                        return Err(JobError::configuration(format!(
                            "{yaml} (or {CANARY_JSON_FILE})"
                        )))
                    }
                    Err(json) => return Err(JobError::configuration(json.to_string())),
                }
            }
            Err(yaml) => return Err(JobError::configuration(yaml.to_string())),
        };
        // Stored without a byte-order mark, as the monspec is.
        let text = without_bom(&text).to_string();
        let file = parse_canary_file(&text)
            .map_err(|e| JobError::configuration(format!("{name}: {e}")))?;
        check_scopes(&file, params).map_err(|e| JobError::configuration(format!("{name}: {e}")))?;
        Ok(CanaryGate {
            file: text,
            provider: params.provider,
            control: params.control.clone(),
            experiment: params.experiment.clone(),
            on_marginal: params.on_marginal,
        })
    }

    async fn monspec_text(
        &self,
        job: &Job,
        params: &RegistrationParams,
    ) -> Result<String, JobError> {
        if let Some(url) = &params.monspec_url {
            check_monspec_url_scheme(url, self.allow_http_monspec_url)
                .map_err(|e| JobError::configuration(format!("UserParameters: {e}")))?;
            return self.monspec_from_url(url).await;
        }
        job.monspec_from_artifact(
            self.artifacts.as_ref(),
            "no monspec: the action has no input artifact and UserParameters has no monspecUrl. Give it the artifact that holds monspec.json",
        )
        .await
    }
}

impl Register {
    /// The monspec from `monspecUrl`: refused when its declared length is over the limit,
    /// and never more than the limit + 1 bytes read. Messages show the URL without its query
    /// (a presigned URL's signature is a credential).
    async fn monspec_from_url(&self, url: &str) -> Result<String, JobError> {
        let shown = redacted_url(url);
        let fail = |m: String| JobError::failed(format!("monspecUrl {shown}: {m}"));
        let too_large = |size: u64| {
            JobError::configuration(format!(
                "monspecUrl {shown}: the body is {size} bytes; the limit is {MAX_FILE_BYTES} bytes (the stored validation must stay under DynamoDB's 400 KB item limit; split the monspec)"
            ))
        };
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status())));
        }
        if let Some(size) = response
            .content_length()
            .filter(|n| *n > MAX_FILE_BYTES as u64)
        {
            return Err(too_large(size));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(format!("reading the body failed: {}", e.without_url())))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_FILE_BYTES {
                return Err(too_large(body.len() as u64));
            }
        }
        String::from_utf8(body).map_err(|e| {
            JobError::configuration(format!(
                "monspecUrl {shown}: the body is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })
    }
}

/// Every query of every metric filled for both scopes: a placeholder a scope does not give
/// (`${location}` without a location) is named with its metric and side.
fn check_scopes(file: &CanaryFile, params: &CanaryParams) -> Result<(), String> {
    for (side, text) in [
        ("control", &params.control),
        ("experiment", &params.experiment),
    ] {
        let scope = parse_scope(text).map_err(|e| format!("the {side} scope: {e}"))?;
        for source in &file.sources {
            let queries: Vec<&String> = match &source.points {
                PointsQuery::Value(query) => vec![query],
                PointsQuery::Ratio { errors, requests } => vec![errors, requests],
            };
            for query in queries {
                CanaryFile::fill(query, &scope).map_err(|e| {
                    format!(
                        "metric {} cannot be measured on the {side} \"{text}\": {e}",
                        source.name
                    )
                })?;
            }
        }
    }
    Ok(())
}

pub const ALLOW_HTTP_MONSPEC_URL: Setting = Setting::optional(
    "MONSPEC_URL_ALLOW_HTTP",
    "\"true\" lets monspecUrl be plain http (tests and unbreakable local only; never in a deployed stack)",
);

pub const INGESTION_DELAY_DYNATRACE: Setting = Setting::optional(
    "INGESTION_DELAY_DYNATRACE_SECONDS",
    "how long after a window's end Dynatrace has its data, in seconds (default 120); a gate's \"ingestionDelay\" overrides it",
);
pub const INGESTION_DELAY_PROMETHEUS: Setting = Setting::optional(
    "INGESTION_DELAY_PROMETHEUS_SECONDS",
    "how long after a window's end Prometheus has its data (one scrape and one rule interval), in seconds (default 120); a gate's \"ingestionDelay\" overrides it",
);
const RETENTION_DAYS: Setting = Setting::optional(
    "VALIDATION_RETENTION_DAYS",
    "how many days finished validations are kept",
);

pub const MANIFEST: FunctionManifest = FunctionManifest {
    name: "register-build-validation",
    settings: &[
        VALIDATION_TABLE,
        RETENTION_DAYS,
        ALLOW_HTTP_MONSPEC_URL,
        INGESTION_DELAY_DYNATRACE,
        INGESTION_DELAY_PROMETHEUS,
        super::job::S3_ENDPOINTS[0],
        super::job::S3_ENDPOINTS[1],
        super::WAKE_QUEUE_URL,
    ],
    aws_actions: &[
        LOG_ACTIONS[0],
        LOG_ACTIONS[1],
        "dynamodb:PutItem",
        "codepipeline:GetJobDetails",
        "codepipeline:GetPipeline",
        "codepipeline:GetPipelineState",
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
        super::WAKE_SEND_ACTION,
    ],
};

/// What register-build-validation reads at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub retention: Duration,
    pub allow_http_monspec_url: bool,
    pub ingestion_delays: IngestionDelays,
    /// Where wake-ups go; `None`: sweep only.
    pub wake_queue_url: Option<String>,
}

impl Config {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Config {
            table: env.required(&VALIDATION_TABLE)?,
            wake_queue_url: env.optional_url(&super::WAKE_QUEUE_URL)?,
            retention: Duration::from_secs_f64(env.number(&RETENTION_DAYS, 90.0)? * 86_400.0),
            ingestion_delays: {
                let d = IngestionDelays::default();
                IngestionDelays {
                    dynatrace: env.delay(
                        &INGESTION_DELAY_DYNATRACE,
                        d.dynatrace,
                        MAX_INGESTION_DELAY,
                    )?,
                    prometheus: env.delay(
                        &INGESTION_DELAY_PROMETHEUS,
                        d.prometheus,
                        MAX_INGESTION_DELAY,
                    )?,
                }
            },
            allow_http_monspec_url: match env.optional(&ALLOW_HTTP_MONSPEC_URL).as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ALLOW_HTTP_MONSPEC_URL
                        .error(format!("must be true or false, got \"{other}\"")))
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monspec_url_is_https_unless_http_is_explicitly_allowed() {
        let cases = [
            ("https://h.example/m.json", false, true),
            ("http://h.example/m.json", false, false),
            (
                "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                false,
                false,
            ),
            ("http://127.0.0.1:8080/m.json", true, true),
            ("ftp://h.example/m.json", true, false),
        ];
        for (url, allow, ok) in cases {
            assert_eq!(
                check_monspec_url_scheme(url, allow).is_ok(),
                ok,
                "{url} {allow}"
            );
        }
        let e = check_monspec_url_scheme("http://h.example/m.json?token=t0k", false).unwrap_err();
        assert_eq!(
            e,
            "\"monspecUrl\" must be an https URL, got \"http://h.example/m.json?(query not shown)\" (plain http only where MONSPEC_URL_ALLOW_HTTP is true: tests and unbreakable local)"
        );
    }
}
