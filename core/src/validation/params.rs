//! `UserParameters` of the register action: the original CSV form
//! `Comparison,WindowMinutes,ApprovalAction[,ExecutionId]` or a JSON object.

use std::time::Duration;

use serde_json::Value;

use crate::compare::canary_file::parse_scope;
use crate::model::store::{OnWarning, SliProviderKind, CANARY_COMPARISON, SLO_COMPARISON};

/// What a register action asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationParams {
    pub comparison: String,
    pub window: Duration,
    pub approval_action: String,
    /// `#{codepipeline.PipelineExecutionId}`, substituted by CodePipeline.
    pub execution_id: Option<String>,
    /// Read the monspec from this https URL instead of the input artifact (JSON form only).
    pub monspec_url: Option<String>,
    /// `"gate": "slo"`: judge with the artifact's slo.yaml and sli.yaml (JSON form only).
    pub slo: Option<SloParams>,
    /// `"ingestionDelay"`: how long after the window's end its data is complete in the
    /// provider; `None` takes the register function's setting for the gate's provider.
    pub ingestion_delay: Option<Duration>,
    /// `"gate": "canary"`: judge with the artifact's canary.yaml (JSON form only).
    pub canary: Option<CanaryParams>,
}

/// The longest ingestion delay we accept: beyond it a delay is almost certainly a unit
/// mistake, and the approval would wait that long for nothing.
pub const MAX_INGESTION_DELAY: Duration = Duration::from_secs(3600);

/// How long after a window's end each provider has all of the window's data: a window is
/// judged only once its end plus this delay has passed, whatever invokes the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestionDelays {
    pub dynatrace: Duration,
    pub prometheus: Duration,
}

impl Default for IngestionDelays {
    /// Dynatrace ingests with a delay of a minute or more (Keptn's dynatrace-service waited
    /// for it the same way); Prometheus has a sample of the window's last second, and the
    /// recording rules over it, within one scrape and one rule evaluation interval (1m each
    /// at Prometheus' defaults).
    fn default() -> Self {
        IngestionDelays {
            dynatrace: Duration::from_secs(120),
            prometheus: Duration::from_secs(120),
        }
    }
}

impl IngestionDelays {
    /// The delay of a registration: its own `ingestionDelay`, else the setting of the
    /// provider it is measured with (a monspec gate is measured in Dynatrace).
    pub fn of(&self, params: &RegistrationParams) -> Duration {
        params.ingestion_delay.unwrap_or(
            match params
                .slo
                .as_ref()
                .map(|s| s.provider)
                .or(params.canary.as_ref().map(|c| c.provider))
            {
                Some(SliProviderKind::Prometheus) => self.prometheus,
                Some(SliProviderKind::Dynatrace) | None => self.dynatrace,
            },
        )
    }
}

/// What an SLO gate needs beyond the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloParams {
    pub service: String,
    pub provider: SliProviderKind,
    pub on_warning: OnWarning,
}

/// What a canary gate needs beyond its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryParams {
    pub provider: SliProviderKind,
    /// The scopes as given (checked with `parse_scope`; the worker parses them again).
    pub control: String,
    pub experiment: String,
    pub on_marginal: OnWarning,
}

/// The longest window we accept: a manual approval expires after 7 days, and a window
/// longer than a day is almost always a unit mistake (minutes vs seconds).
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Shorter windows hold too few datapoints to judge (Dynatrace has 1-minute resolution,
/// but the local pipeline measures tens of seconds).
pub const MIN_WINDOW: Duration = Duration::from_secs(10);

const FORMS: &str = "use \"Comparison,WindowMinutes,ApprovalAction[,#{codepipeline.PipelineExecutionId}]\" \
or {\"comparison\": \"StagingToProduction\", \"window\": \"5m\", \"approvalAction\": \"ApproveStaging\", \"executionId\": \"#{codepipeline.PipelineExecutionId}\"} \
or, for an SLO gate, {\"gate\": \"slo\", \"service\": \"sample\", \"sliProvider\": \"prometheus\", \"onWarning\": \"manual\", \"window\": \"5m\", \"approvalAction\": \"ApproveStaging\"} \
or, for a canary gate, {\"gate\": \"canary\", \"control\": \"sample-Production\", \"experiment\": \"sample-Staging\", \"sliProvider\": \"prometheus\", \"onMarginal\": \"manual\", \"window\": \"5m\", \"approvalAction\": \"ApproveStaging\"}";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("UserParameters: {message}; {FORMS}")]
pub struct ParamsError {
    pub message: String,
}

fn bad(message: impl Into<String>) -> ParamsError {
    ParamsError {
        message: message.into(),
    }
}

pub fn parse_registration_params(text: Option<&str>) -> Result<RegistrationParams, ParamsError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(bad("missing"));
    }
    let params = if text.starts_with('{') {
        from_json(text)?
    } else {
        from_csv(text)?
    };
    check(params)
}

fn from_csv(text: &str) -> Result<RegistrationParams, ParamsError> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    if !(3..=4).contains(&fields.len()) {
        return Err(bad(format!(
            "expected 3 or 4 comma-separated fields, got {} in \"{text}\"",
            fields.len()
        )));
    }
    let minutes: f64 = fields[1].parse().map_err(|_| {
        bad(format!(
            "field 2 (WindowMinutes) must be a number of minutes, got \"{}\"",
            fields[1]
        ))
    })?;
    if !minutes.is_finite() || minutes <= 0.0 {
        return Err(bad(format!(
            "field 2 (WindowMinutes) must be more than 0, got \"{}\"",
            fields[1]
        )));
    }
    Ok(RegistrationParams {
        comparison: fields[0].to_string(),
        window: Duration::from_secs_f64((minutes * 60.0).min(MAX_WINDOW.as_secs_f64() * 2.0)),
        approval_action: fields[2].to_string(),
        execution_id: fields.get(3).map(|s| s.to_string()),
        monspec_url: None,
        slo: None,
        ingestion_delay: None,
        canary: None,
    })
}

fn from_json(text: &str) -> Result<RegistrationParams, ParamsError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("the JSON form must be an object"))?;
    const KNOWN: [&str; 13] = [
        "gate",
        "comparison",
        "window",
        "approvalAction",
        "executionId",
        "monspecUrl",
        "service",
        "sliProvider",
        "onWarning",
        "ingestionDelay",
        "control",
        "experiment",
        "onMarginal",
    ];
    for key in object.keys() {
        if !KNOWN.contains(&key.as_str()) {
            return Err(bad(format!(
                "unknown field \"{key}\" (known: {})",
                KNOWN.join(", ")
            )));
        }
    }
    let string = |key: &str| -> Result<Option<String>, ParamsError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(bad(format!("\"{key}\" must be a string, got {other}"))),
        }
    };
    let window = match object.get("window") {
        None => return Err(bad("\"window\" is missing")),
        Some(Value::Number(n)) => {
            let minutes = n.as_f64().unwrap_or(-1.0);
            if minutes <= 0.0 {
                return Err(bad(format!("\"window\" must be more than 0, got {n}")));
            }
            Duration::from_secs_f64((minutes * 60.0).min(MAX_WINDOW.as_secs_f64() * 2.0))
        }
        Some(Value::String(s)) => humantime::parse_duration(s.trim()).map_err(|e| {
            bad(format!(
                "\"window\" must be a duration like \"5m\" or \"30s\", got \"{s}\" ({e})"
            ))
        })?,
        Some(other) => {
            return Err(bad(format!(
            "\"window\" must be a duration string like \"5m\" or a number of minutes, got {other}"
        )))
        }
    };
    // A setting of another gate is refused rather than ignored: it says the author meant
    // a gate this registration does not run.
    let refuse = |keys: &[&str], owner: &str, gate: &str| -> Result<(), ParamsError> {
        match keys.iter().find(|k| object.contains_key(**k)) {
            Some(key) => Err(bad(format!(
                "\"{key}\" belongs to {owner}: add \"gate\": \"{gate}\", or drop it"
            ))),
            None => Ok(()),
        }
    };
    const SLO_KEYS: [&str; 2] = ["service", "onWarning"];
    const CANARY_KEYS: [&str; 3] = ["control", "experiment", "onMarginal"];
    let (slo, canary) = match string("gate")?.as_deref() {
        None | Some("monspec") => {
            refuse(&SLO_KEYS, "an SLO gate", "slo")?;
            refuse(&["sliProvider"], "an SLO or canary gate", "slo")?;
            refuse(&CANARY_KEYS, "a canary gate", "canary")?;
            (None, None)
        }
        Some("slo") => {
            refuse(&CANARY_KEYS, "a canary gate", "canary")?;
            (Some(slo_params(&string)?), None)
        }
        Some("canary") => {
            refuse(&SLO_KEYS, "an SLO gate", "slo")?;
            (None, Some(canary_params(&string, window)?))
        }
        Some(other) => {
            return Err(bad(format!(
                "\"gate\" must be \"monspec\", \"slo\" or \"canary\", got \"{other}\""
            )))
        }
    };
    let comparison = match (&slo, &canary, string("comparison")?) {
        (None, None, Some(c)) => c,
        (None, None, None) => return Err(bad("\"comparison\" is missing")),
        (Some(_), _, None) => SLO_COMPARISON.to_string(),
        (None, Some(_), None) => CANARY_COMPARISON.to_string(),
        (Some(_), _, Some(c)) => {
            return Err(bad(format!(
                "an SLO gate compares with its own earlier evaluations (slo.yaml's comparison); drop \"comparison\": \"{c}\""
            )))
        }
        (None, Some(_), Some(c)) => {
            return Err(bad(format!(
                "a canary gate compares its \"control\" with its \"experiment\"; drop \"comparison\": \"{c}\""
            )))
        }
    };
    let monspec_url = string("monspecUrl")?;
    if monspec_url.is_some() {
        if slo.is_some() {
            return Err(bad(
                "an SLO gate reads slo.yaml and sli.yaml from the input artifact; drop \"monspecUrl\"",
            ));
        }
        if canary.is_some() {
            return Err(bad(
                "a canary gate reads canary.yaml from the input artifact; drop \"monspecUrl\"",
            ));
        }
    }
    let ingestion_delay = match string("ingestionDelay")? {
        None => None,
        Some(text) => {
            let delay = humantime::parse_duration(&text).map_err(|e| {
                bad(format!(
                    "\"ingestionDelay\" must be a duration like \"2m\" or \"0s\", got \"{text}\" ({e})"
                ))
            })?;
            if delay > MAX_INGESTION_DELAY {
                return Err(bad(format!(
                    "\"ingestionDelay\" must be at most {}, got \"{text}\"",
                    humantime::format_duration(MAX_INGESTION_DELAY)
                )));
            }
            Some(delay)
        }
    };
    Ok(RegistrationParams {
        comparison,
        window,
        ingestion_delay,
        approval_action: string("approvalAction")?
            .ok_or_else(|| bad("\"approvalAction\" is missing"))?,
        execution_id: string("executionId")?,
        monspec_url,
        slo,
        canary,
    })
}

/// A canary gate's settings. The provider is required: the canary file's queries are written
/// in one provider's language, and a default would judge them with the other one's.
fn canary_params(
    string: &dyn Fn(&str) -> Result<Option<String>, ParamsError>,
    window: Duration,
) -> Result<CanaryParams, ParamsError> {
    let provider = match string("sliProvider")? {
        None => {
            return Err(bad(
                "a canary gate needs \"sliProvider\": \"prometheus\" or \"dynatrace\" (the language of canary.yaml's queries)",
            ))
        }
        Some(text) => SliProviderKind::parse(&text).ok_or_else(|| {
            bad(format!(
                "\"sliProvider\" must be \"prometheus\" or \"dynatrace\", got \"{text}\""
            ))
        })?,
    };
    let scope = |key: &str| -> Result<(String, crate::compare::canary_file::Scope), ParamsError> {
        let text = string(key)?.filter(|t| !t.is_empty()).ok_or_else(|| {
            bad(format!(
                "a canary gate needs \"{key}\": the scope its queries fill in for $SCOPE, e.g. \"sample-Production\" or \"sample-Production@-1h\" (an hour earlier)"
            ))
        })?;
        let parsed = parse_scope(&text).map_err(|e| bad(format!("\"{key}\": {e}")))?;
        Ok((text, parsed))
    };
    let (control, control_scope) = scope("control")?;
    let (experiment, experiment_scope) = scope("experiment")?;
    // The same place over overlapping windows compares the build with itself: every metric
    // would pass, whatever the build does.
    let same_place = control_scope.scope == experiment_scope.scope
        && control_scope.location == experiment_scope.location;
    let apart = control_scope.offset.abs_diff(experiment_scope.offset);
    if same_place && apart < window {
        return Err(bad(format!(
            "\"control\" and \"experiment\" are the same scope over overlapping windows ({} apart, the window is {}): offset the control by at least the window, e.g. \"{}@-{}\"",
            humantime::format_duration(apart),
            humantime::format_duration(window),
            control_scope.scope,
            humantime::format_duration(window)
        )));
    }
    let on_marginal = match string("onMarginal")? {
        None => OnWarning::default(),
        Some(text) => OnWarning::parse(&text).ok_or_else(|| {
            bad(format!(
                "\"onMarginal\" must be \"manual\", \"approve\" or \"reject\", got \"{text}\""
            ))
        })?,
    };
    Ok(CanaryParams {
        provider,
        control,
        experiment,
        on_marginal,
    })
}

fn slo_params(
    string: &dyn Fn(&str) -> Result<Option<String>, ParamsError>,
) -> Result<SloParams, ParamsError> {
    let service = string("service")?.unwrap_or_default();
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(bad(format!(
            "an SLO gate needs \"service\": the service its queries fill in for $SERVICE (letters, digits, . _ -), got \"{service}\""
        )));
    }
    let provider = match string("sliProvider")? {
        None => SliProviderKind::Dynatrace,
        Some(text) => SliProviderKind::parse(&text).ok_or_else(|| {
            bad(format!(
                "\"sliProvider\" must be \"prometheus\" or \"dynatrace\", got \"{text}\""
            ))
        })?,
    };
    let on_warning = match string("onWarning")? {
        None => OnWarning::default(),
        Some(text) => OnWarning::parse(&text).ok_or_else(|| {
            bad(format!(
                "\"onWarning\" must be \"manual\", \"approve\" or \"reject\", got \"{text}\""
            ))
        })?,
    };
    Ok(SloParams {
        service,
        provider,
        on_warning,
    })
}

/// CodePipeline names: 1–100 characters of `[A-Za-z0-9.@_-]`.
pub fn is_pipeline_name(text: &str) -> bool {
    (1..=100).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

fn check(params: RegistrationParams) -> Result<RegistrationParams, ParamsError> {
    if params.comparison.is_empty() {
        return Err(bad("the comparison name is empty"));
    }
    if params.window < MIN_WINDOW || params.window > MAX_WINDOW {
        return Err(bad(format!(
            "the window must be between {} and {}, got {}",
            humantime::format_duration(MIN_WINDOW),
            humantime::format_duration(MAX_WINDOW),
            humantime::format_duration(Duration::from_secs(params.window.as_secs()))
        )));
    }
    if !is_pipeline_name(&params.approval_action) {
        return Err(bad(format!(
            "the approval action \"{}\" is not a valid action name (1-100 characters of A-Z a-z 0-9 . @ _ -)",
            params.approval_action
        )));
    }
    if let Some(id) = &params.execution_id {
        if id.contains("#{") {
            return Err(bad(format!(
                "the execution id \"{id}\" is an unresolved variable: CodePipeline did not substitute it (use a V2 pipeline, or drop the field)"
            )));
        }
        if id.is_empty()
            || id.len() > 100
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(bad(format!(
                "the execution id \"{id}\" is not a pipeline execution id"
            )));
        }
    }
    if let Some(url) = &params.monspec_url {
        let parsed =
            url::Url::parse(url).map_err(|e| bad(format!("\"monspecUrl\" is not a URL ({e})")))?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(bad(format!(
                "\"monspecUrl\" must be an https URL, got \"{}\"",
                crate::text::redacted_url(url)
            )));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = "0d1c5a3e-8a0c-4c1e-9bde-6c3e5d3f2a10";

    #[test]
    fn the_original_csv_form_reads_every_field_in_order() {
        let p = parse_registration_params(Some("StagingToProduction,5,ApproveStaging")).unwrap();
        assert_eq!(p.comparison, "StagingToProduction");
        assert_eq!(p.window, Duration::from_secs(300));
        assert_eq!(p.approval_action, "ApproveStaging");
        assert_eq!(p.execution_id, None);
    }

    #[test]
    fn a_fourth_csv_field_carries_the_execution_id() {
        let p = parse_registration_params(Some(&format!(
            " ProductionToProductionLastHour , 0.5 , ApproveProduction , {EXEC} "
        )))
        .unwrap();
        assert_eq!(p.window, Duration::from_secs(30));
        assert_eq!(p.execution_id.as_deref(), Some(EXEC));
    }

    #[test]
    fn the_json_form_takes_duration_strings_and_minutes() {
        let p = parse_registration_params(Some(&format!(
            r#"{{"comparison":"StagingToProduction","window":"45s","approvalAction":"ApproveStaging","executionId":"{EXEC}"}}"#
        )))
        .unwrap();
        assert_eq!(p.window, Duration::from_secs(45));
        let p = parse_registration_params(Some(
            r#"{"comparison":"A","window":5,"approvalAction":"B"}"#,
        ))
        .unwrap();
        assert_eq!(p.window, Duration::from_secs(300));
    }

    #[test]
    fn the_ingestion_delay_is_the_gates_own_else_its_providers_setting() {
        let settings = IngestionDelays {
            dynatrace: Duration::from_secs(120),
            prometheus: Duration::from_secs(30),
        };
        let delay = |params: &str| settings.of(&parse_registration_params(Some(params)).unwrap());
        assert_eq!(
            delay(r#"{"comparison":"A","window":"5m","approvalAction":"B"}"#),
            Duration::from_secs(120),
            "a monspec gate is measured in Dynatrace"
        );
        assert_eq!(delay("A,5,B"), Duration::from_secs(120));
        assert_eq!(
            delay(
                r#"{"gate":"slo","service":"s","sliProvider":"prometheus","window":"1m","approvalAction":"B"}"#
            ),
            Duration::from_secs(30)
        );
        assert_eq!(
            delay(r#"{"gate":"slo","service":"s","window":"1m","approvalAction":"B"}"#),
            Duration::from_secs(120)
        );
        assert_eq!(
            delay(
                r#"{"gate":"slo","service":"s","sliProvider":"prometheus","window":"1m","approvalAction":"B","ingestionDelay":"5s"}"#
            ),
            Duration::from_secs(5)
        );
        assert_eq!(
            delay(r#"{"comparison":"A","window":"5m","approvalAction":"B","ingestionDelay":"0s"}"#),
            Duration::ZERO,
            "zero is a value, not a default"
        );
    }

    #[test]
    fn the_slo_form_names_service_provider_and_warning_policy() {
        let p = parse_registration_params(Some(
            r#"{"gate":"slo","service":"sample","sliProvider":"prometheus","onWarning":"approve","window":"1m","approvalAction":"ApproveStaging"}"#,
        ))
        .unwrap();
        assert_eq!(p.comparison, SLO_COMPARISON);
        assert_eq!(
            p.slo,
            Some(SloParams {
                service: "sample".into(),
                provider: SliProviderKind::Prometheus,
                on_warning: OnWarning::Approve,
            })
        );
        let defaults = parse_registration_params(Some(
            r#"{"gate":"slo","service":"sample","window":"1m","approvalAction":"B"}"#,
        ))
        .unwrap()
        .slo
        .unwrap();
        assert_eq!(defaults.provider, SliProviderKind::Dynatrace);
        assert_eq!(
            defaults.on_warning,
            OnWarning::Manual,
            "a warning waits for a person unless told otherwise"
        );
    }

    #[test]
    fn bad_slo_parameters_say_what_is_wrong() {
        let cases = [
            (
                r#"{"gate":"kayenta","window":"1m","approvalAction":"B"}"#,
                "\"gate\" must be \"monspec\", \"slo\" or \"canary\", got \"kayenta\"",
            ),
            (
                r#"{"gate":"slo","window":"1m","approvalAction":"B"}"#,
                "an SLO gate needs \"service\"",
            ),
            (
                r#"{"gate":"slo","service":"a b","window":"1m","approvalAction":"B"}"#,
                "got \"a b\"",
            ),
            (
                r#"{"gate":"slo","service":"s","sliProvider":"datadog","window":"1m","approvalAction":"B"}"#,
                "\"sliProvider\" must be \"prometheus\" or \"dynatrace\", got \"datadog\"",
            ),
            (
                r#"{"gate":"slo","service":"s","onWarning":"maybe","window":"1m","approvalAction":"B"}"#,
                "\"onWarning\" must be \"manual\", \"approve\" or \"reject\", got \"maybe\"",
            ),
            (
                r#"{"gate":"slo","service":"s","comparison":"StagingToProduction","window":"1m","approvalAction":"B"}"#,
                "drop \"comparison\": \"StagingToProduction\"",
            ),
            (
                r#"{"gate":"slo","service":"s","monspecUrl":"https://x/m.json","window":"1m","approvalAction":"B"}"#,
                "drop \"monspecUrl\"",
            ),
            (
                r#"{"comparison":"A","service":"s","window":"1m","approvalAction":"B"}"#,
                "\"service\" belongs to an SLO gate",
            ),
            (
                r#"{"gate":"slo","service":"s","control":"a","window":"1m","approvalAction":"B"}"#,
                "\"control\" belongs to a canary gate: add \"gate\": \"canary\", or drop it",
            ),
        ];
        for (text, expected) in cases {
            let e = parse_registration_params(Some(text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }

    const CANARY: &str = r#"{"gate":"canary","control":"sample-Production","experiment":"sample-Staging","sliProvider":"prometheus","onMarginal":"approve","window":"1m","approvalAction":"ApproveStaging"}"#;

    #[test]
    fn the_canary_form_names_scopes_provider_and_marginal_policy() {
        let p = parse_registration_params(Some(CANARY)).unwrap();
        assert_eq!(p.comparison, CANARY_COMPARISON);
        assert_eq!(p.slo, None);
        assert_eq!(
            p.canary,
            Some(CanaryParams {
                provider: SliProviderKind::Prometheus,
                control: "sample-Production".into(),
                experiment: "sample-Staging".into(),
                on_marginal: OnWarning::Approve,
            })
        );
        // Production now against production an hour earlier; marginal waits for a person.
        let p = parse_registration_params(Some(
            r#"{"gate":"canary","control":"sample-Production@-1h","experiment":"sample-Production","sliProvider":"dynatrace","window":"5m","approvalAction":"B"}"#,
        ))
        .unwrap()
        .canary
        .unwrap();
        assert_eq!(p.provider, SliProviderKind::Dynatrace);
        assert_eq!(p.control, "sample-Production@-1h");
        assert_eq!(p.on_marginal, OnWarning::Manual);
    }

    #[test]
    fn bad_canary_parameters_say_what_is_wrong() {
        let with = |key: &str, value: serde_json::Value| {
            let mut v: serde_json::Value = serde_json::from_str(CANARY).unwrap();
            if value.is_null() {
                v.as_object_mut().unwrap().remove(key);
            } else {
                v[key] = value;
            }
            v.to_string()
        };
        let cases = [
            (
                with("control", serde_json::Value::Null),
                "a canary gate needs \"control\": the scope its queries fill in for $SCOPE",
            ),
            (
                with("experiment", "".into()),
                "a canary gate needs \"experiment\"",
            ),
            (
                with("sliProvider", serde_json::Value::Null),
                "a canary gate needs \"sliProvider\": \"prometheus\" or \"dynatrace\"",
            ),
            (
                with("sliProvider", "datadog".into()),
                "\"sliProvider\" must be \"prometheus\" or \"dynatrace\", got \"datadog\"",
            ),
            (
                with("onMarginal", "maybe".into()),
                "\"onMarginal\" must be \"manual\", \"approve\" or \"reject\", got \"maybe\"",
            ),
            (
                with("comparison", "StagingToProduction".into()),
                "a canary gate compares its \"control\" with its \"experiment\"; drop \"comparison\": \"StagingToProduction\"",
            ),
            (
                with("monspecUrl", "https://x/m.json".into()),
                "a canary gate reads canary.yaml from the input artifact; drop \"monspecUrl\"",
            ),
            (
                with("onWarning", "approve".into()),
                "\"onWarning\" belongs to an SLO gate",
            ),
            (
                with("experiment", "sample-Production".into()),
                "\"control\" and \"experiment\" are the same scope over overlapping windows",
            ),
            (
                with("control", "sample-Staging@-30s".into()),
                "offset the control by at least the window, e.g. \"sample-Staging@-1m\"",
            ),
            (
                r#"{"comparison":"A","control":"c","window":"1m","approvalAction":"B"}"#.into(),
                "\"control\" belongs to a canary gate",
            ),
            (
                r#"{"comparison":"A","sliProvider":"prometheus","window":"1m","approvalAction":"B"}"#.into(),
                "\"sliProvider\" belongs to an SLO or canary gate",
            ),
        ];
        for (text, expected) in cases {
            let e = parse_registration_params(Some(&text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(!e.contains("Scope {"), "no Debug output: {e}");
        }
        // An hour apart, the same scope is a fair control.
        assert!(
            parse_registration_params(Some(&with("control", "sample-Staging@-1h".into()))).is_ok()
        );
    }

    #[test]
    fn bad_parameters_say_what_is_wrong_and_show_the_forms() {
        let cases = [
            (None, "UserParameters: missing"),
            (Some("A,5"), "expected 3 or 4 comma-separated fields, got 2"),
            (
                Some("A,five,B"),
                "field 2 (WindowMinutes) must be a number of minutes, got \"five\"",
            ),
            (Some("A,0,B"), "must be more than 0"),
            (Some("A,-3,B"), "must be more than 0"),
            (Some("A,5000,B"), "the window must be between 10s and 1day"),
            (Some(",5,B"), "the comparison name is empty"),
            (
                Some("A,5,Approve Staging"),
                "\"Approve Staging\" is not a valid action name",
            ),
            (
                Some("A,5,B,#{codepipeline.PipelineExecutionId}"),
                "is an unresolved variable",
            ),
            (Some("A,5,B,not/an/id"), "is not a pipeline execution id"),
            (Some("{\"comparison\":"), "not valid JSON"),
            (
                Some(r#"{"comparison":"A","approvalAction":"B"}"#),
                "\"window\" is missing",
            ),
            (
                Some(r#"{"comparison":"A","window":"5 parsecs","approvalAction":"B"}"#),
                "\"window\" must be a duration like \"5m\"",
            ),
            (
                Some(r#"{"comparison":"A","window":"5m","approvalAction":"B","typo":1}"#),
                "unknown field \"typo\"",
            ),
            (
                Some(r#"{"comparison":7,"window":"5m","approvalAction":"B"}"#),
                "\"comparison\" must be a string",
            ),
            (
                Some(r#"{"window":"5m","approvalAction":"B"}"#),
                "\"comparison\" is missing",
            ),
            (
                Some(
                    r#"{"comparison":"A","window":"5m","approvalAction":"B","monspecUrl":"http://example.com/m.json"}"#,
                ),
                "\"monspecUrl\" must be an https URL",
            ),
            (
                Some(
                    r#"{"comparison":"A","window":"5m","approvalAction":"B","ingestionDelay":"soon"}"#,
                ),
                "\"ingestionDelay\" must be a duration like \"2m\" or \"0s\", got \"soon\"",
            ),
            (
                Some(
                    r#"{"comparison":"A","window":"5m","approvalAction":"B","ingestionDelay":"2h"}"#,
                ),
                "\"ingestionDelay\" must be at most 1h, got \"2h\"",
            ),
            (
                Some(
                    r#"{"comparison":"A","window":"5m","approvalAction":"B","ingestionDelay":90}"#,
                ),
                "\"ingestionDelay\" must be a string",
            ),
        ];
        for (input, expected) in cases {
            let message = parse_registration_params(input).unwrap_err().to_string();
            assert!(message.contains(expected), "{input:?}: {message}");
            assert!(
                message.contains("Comparison,WindowMinutes,ApprovalAction"),
                "{message}"
            );
        }
    }
}
