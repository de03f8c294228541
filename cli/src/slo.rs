//! `unbreakable slo`: Keptn-style SLO quality gates from files.
//!
//! `evaluate` scores already measured SLI values; `query` measures them with a provider first;
//! `lint` checks slo.yaml and sli.yaml files.
//! Exit codes as `validate`: 0 pass, 1 fail (and warning, unless `--warning-exits 0`), 2 usage,
//! file or provider error.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use unbreakable_shared::dynatrace::{ClientOptions, DynatraceHttp, DynatraceSli};
use unbreakable_shared::ports::metrics::TimeWindow;
use unbreakable_shared::ports::sli::SliProvider;
use unbreakable_shared::ports::store::SliProviderKind;
use unbreakable_shared::prometheus::Prometheus;
use unbreakable_shared::quality_gate::run_slo_gate;
use unbreakable_shared::slo::context::{ContextOrigin, SliContext};
use unbreakable_shared::slo::previous::previous_from_json;
use unbreakable_shared::slo::score::{failed, Status};
use unbreakable_shared::slo::summary::{number, result_word};
use unbreakable_shared::slo::{
    criteria::parse_criterion, query_form::is_dynatrace_query, score::TargetResult,
};
use unbreakable_shared::slo::{
    evaluate, lint_slo, missing_queries, parse_sli, parse_slo, Evaluation, Outcome,
    PreviousEvaluation, SliFile, SliValue,
};

use unbreakable_shared::contract::MAX_MONSPEC_BYTES;
use unbreakable_shared::text::size_text;

use crate::Format;

#[derive(clap::Subcommand)]
pub enum SloCommand {
    /// Score measured SLI values against an slo.yaml, as Keptn's lighthouse does.
    Evaluate(EvaluateArgs),
    /// Measure the SLIs with a provider over a window, then score them as `evaluate` does.
    Query(Box<QueryArgs>),
    /// Check an slo.yaml (and the sli.yaml files given after it) and print every problem
    /// with its line, column and path; with sli.yaml files, every objective must find its
    /// query in one of them (exit 0 when clean, 1 otherwise).
    Lint {
        /// The slo.yaml, then any sli.yaml files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// The slo.yaml (or JSON).
    #[arg(long)]
    slo: PathBuf,
    /// The measured values: a JSON array of {"metric", "value", "success", "message"}
    /// (`--sli`, its old name, still works for this release).
    #[arg(long = "values", alias = "sli")]
    values: PathBuf,
    /// Earlier evaluations, newest first, before filtering: a JSON array of this command's
    /// JSON output (at least "result", "score" and "indicatorResults"), a JSON array of
    /// Keptn's sh.keptn.event.evaluation.finished events, or Keptn's {"events": [...]} list.
    #[arg(long)]
    previous: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The exit code of a warning: 1 (the default) stops a pipeline, 0 lets it go on.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    warning_exits: u8,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Provider {
    Prometheus,
    /// Dynatrace API v2 (Keptn's dynatrace-service queries); the token comes from DT_API_TOKEN.
    Dynatrace,
}

impl Provider {
    fn kind(self) -> SliProviderKind {
        match self {
            Provider::Prometheus => SliProviderKind::Prometheus,
            Provider::Dynatrace => SliProviderKind::Dynatrace,
        }
    }
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The slo.yaml (or JSON).
    #[arg(long)]
    slo: PathBuf,
    /// The sli.yaml with the provider's queries. Without it (or for an SLI it leaves out),
    /// Keptn's default queries are used where Keptn used them (docs/slo-gates.md, "Default queries").
    #[arg(long)]
    sli_file: Option<PathBuf>,
    #[arg(long, value_enum)]
    provider: Provider,
    /// The provider's URL: Prometheus (e.g. http://prometheus:9090) or the Dynatrace tenant
    /// (e.g. https://abc12345.live.dynatrace.com).
    #[arg(long)]
    url: String,
    /// Window length ending at --end (default now), e.g. 5m.
    #[arg(long, required_unless_present = "start", conflicts_with = "start")]
    window: Option<String>,
    /// Start of the window (RFC 3339, epoch ms, or epoch seconds below 10^11).
    #[arg(long, requires = "end")]
    start: Option<String>,
    /// End of the window (RFC 3339, epoch ms, epoch seconds below 10^11, or `now`).
    #[arg(long)]
    end: Option<String>,
    /// Earlier evaluations, newest first (see `evaluate`).
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Values for $PROJECT, $STAGE, $SERVICE and $DEPLOYMENT in the queries. A query that
    /// uses one not given is refused, naming it (`--deployment ''` gives an empty one).
    #[arg(long)]
    project: Option<String>,
    #[arg(long)]
    stage: Option<String>,
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    deployment: Option<String>,
    /// The value of $CONTEXT (Keptn's context id; the pipeline uses its execution id).
    #[arg(long)]
    context: Option<String>,
    /// A label for $LABEL.<key>, as key=value; repeat for more.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    warning_exits: u8,
    /// Per-query timeout, e.g. 30s.
    #[arg(long, default_value = "30s")]
    timeout: String,
}

fn parse_label(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "\"{text}\" is not key=value, e.g. --label version=4"
        )),
    }
}

pub fn run(command: SloCommand) -> Result<ExitCode> {
    match command {
        SloCommand::Lint { files } => Ok(lint(&files)),
        SloCommand::Evaluate(args) => evaluate_files(&args),
        SloCommand::Query(args) => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")?
            .block_on(query(&args)),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The indicators of every sli.yaml given, as one file for the check of an slo.yaml against
/// them, and their names (`a.yaml or b.yaml`) for its messages.
pub(crate) fn all_indicators<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a SliFile)>,
) -> (String, SliFile) {
    let mut names = Vec::new();
    let mut indicators = BTreeMap::new();
    for (name, sli) in files {
        names.push(name);
        indicators.extend(sli.indicators.clone());
    }
    let file = SliFile {
        spec_version: None,
        indicators,
    };
    (names.join(" or "), file)
}

fn lint(files: &[PathBuf]) -> ExitCode {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let text = |i: usize| read(&files[i]).map_err(|e| format!("{}: {e:#}", names[i]));
    let slo = text(0).and_then(|t| lint_slo(&names[0], &t).map_err(|e| e.to_string()));
    let slis: Vec<Result<SliFile, String>> = (1..files.len())
        .map(|i| text(i).and_then(|t| parse_sli(&names[i], &t).map_err(|e| e.to_string())))
        .collect();
    // The pair, once every file reads: each objective needs a query in one of the sli.yaml.
    let slo = match slo {
        Ok(slo) if !slis.is_empty() && slis.iter().all(Result::is_ok) => {
            let (sli_names, indicators) = all_indicators(
                names[1..]
                    .iter()
                    .map(String::as_str)
                    .zip(slis.iter().flatten()),
            );
            missing_queries(&names[0], &slo, &sli_names, &indicators)
                .map(|()| slo)
                .map_err(|e| e.to_string())
        }
        other => other,
    };
    let results = std::iter::once(slo.map(|_| ())).chain(slis.into_iter().map(|r| r.map(|_| ())));
    let mut clean = true;
    // What the pipeline's register refuses for an SLO gate: the files over its limit together.
    let together: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if files.len() > 1 && together > MAX_MONSPEC_BYTES as u64 {
        clean = false;
        outln!(
            "{}: the files are {} together; the pipeline's limit for an SLO gate's slo.yaml and sli.yaml is {} (the stored validation must fit in a DynamoDB item of 400 KB)",
            names.join(", "),
            size_text(usize::try_from(together).unwrap_or(usize::MAX)),
            size_text(MAX_MONSPEC_BYTES)
        );
    }
    for (name, checked) in names.iter().zip(results) {
        match checked {
            Ok(()) => outln!("{name}: ok"),
            Err(problems) => {
                clean = false;
                outln!("{problems}");
            }
        }
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn json_array<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>> {
    let text = read(path)?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not {what}: fix the JSON at the line and column named",
            path.display()
        )
    })
}

/// `--previous`: this command's results, or Keptn's evaluation.finished events as exported.
fn previous_evaluations(path: Option<&PathBuf>) -> Result<Vec<PreviousEvaluation>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let json: serde_json::Value = serde_json::from_str(&read(path)?).with_context(|| {
        format!(
            "{} is not JSON: fix it at the line and column named",
            path.display()
        )
    })?;
    previous_from_json(&json).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Print the evaluation; exit 2 with the error when the inputs could not be used.
fn finish(
    evaluation: &Evaluation,
    format: Format,
    error: Option<anyhow::Error>,
    warning_exits: u8,
) -> ExitCode {
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(evaluation).expect("JSON serialises")
        ),
        Format::Table => out!("{}", table(evaluation)),
    }
    if let Some(e) = error {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    match evaluation.result {
        Outcome::Pass => ExitCode::SUCCESS,
        Outcome::Warning => ExitCode::from(warning_exits),
        Outcome::Fail => ExitCode::from(1),
    }
}

async fn query(args: &QueryArgs) -> Result<ExitCode> {
    let inputs = (|| -> Result<_> {
        let name = args.slo.display().to_string();
        let slo = parse_slo(&name, &read(&args.slo)?).map_err(anyhow::Error::from)?;
        let indicators = match &args.sli_file {
            Some(path) => {
                parse_sli(&path.display().to_string(), &read(path)?).map_err(anyhow::Error::from)?
            }
            // As Keptn's providers without an sli.yaml: only their default queries.
            None => SliFile {
                spec_version: None,
                indicators: Default::default(),
            },
        };
        let previous = previous_evaluations(args.previous.as_ref())?;
        let timeframe = crate::timeframe(
            args.start.as_deref(),
            args.end.as_deref(),
            args.window.as_deref(),
        )?;
        let timeout = crate::request_timeout(&args.timeout)?;
        let provider: Box<dyn SliProvider> = match args.provider {
            Provider::Prometheus => Box::new(
                Prometheus::new(&args.url, timeout).map_err(|e| anyhow::anyhow!("--url: {e}"))?,
            ),
            Provider::Dynatrace => {
                let token = crate::api_token(
                    "metrics.read for metric queries, problems.read and entities.read for PV2; queries",
                )?;
                let options = ClientOptions {
                    request_timeout: timeout,
                    ..ClientOptions::default()
                };
                let http = DynatraceHttp::new(&args.url, token, options)
                    .map_err(|e| anyhow::anyhow!("--url: {e}"))?;
                Box::new(DynatraceSli::new(http))
            }
        };
        Ok((slo, indicators, previous, timeframe, provider))
    })();
    let (slo, indicators, previous, timeframe, provider) = match inputs {
        Ok(i) => i,
        Err(e) => {
            return Ok(finish(
                &failed(format!("{e:#}")),
                args.format,
                Some(e),
                args.warning_exits,
            ))
        }
    };
    let context = SliContext {
        project: args.project.clone(),
        stage: args.stage.clone(),
        service: args.service.clone(),
        deployment: args.deployment.clone(),
        context: args.context.clone(),
        labels: args.labels.iter().cloned().collect(),
        env: Some(|name| std::env::var(name).ok()),
        origin: ContextOrigin::Cli,
    };
    let window = TimeWindow {
        from_ms: timeframe.start_ms,
        to_ms: timeframe.start_ms + timeframe.window_ms,
    };
    let outcome = run_slo_gate(
        args.provider.kind(),
        provider.as_ref(),
        &slo,
        &indicators,
        &context,
        window,
        &previous,
    )
    .await;
    // Fail closed: a provider that could not be asked, or objectives that cannot all be
    // measured, are never judged around.
    let error = (!outcome.provider_errors.is_empty() || !outcome.configuration_errors.is_empty())
        .then(|| anyhow::anyhow!("{}", outcome.evaluation.reason));
    Ok(finish(
        &outcome.evaluation,
        args.format,
        error,
        args.warning_exits,
    ))
}

fn evaluate_files(args: &EvaluateArgs) -> Result<ExitCode> {
    let loaded = (|| -> Result<Evaluation> {
        let name = args.slo.display().to_string();
        let slo = parse_slo(&name, &read(&args.slo)?).map_err(anyhow::Error::from)?;
        let measured: Vec<SliValue> = json_array(
            &args.values,
            "a JSON array of SLI results ({\"metric\", \"value\", \"success\", \"message\"})",
        )?;
        let previous = previous_evaluations(args.previous.as_ref())?;
        Ok(evaluate(&slo, &measured, &previous))
    })();
    Ok(match loaded {
        Ok(e) => finish(&e, args.format, None, args.warning_exits),
        // Keptn passes without a readable SLO; we fail, with the reason.
        Err(e) => finish(
            &failed(format!("{e:#}")),
            args.format,
            Some(e),
            args.warning_exits,
        ),
    })
}

/// The baseline after a value, when one was used: an objective with a relative criterion
/// that had one. Without (no earlier evaluation, or only absolute criteria) nothing: Keptn's
/// `comparedValue` 0 is no baseline, and each relative target says "(no baseline)" itself.
fn baseline(value: &SliValue, pass: &[TargetResult], warning: &[TargetResult]) -> String {
    let used = pass
        .iter()
        .chain(warning)
        .any(|t| !t.no_baseline && parse_criterion(&t.criteria).is_ok_and(|c| c.is_relative()));
    if used {
        format!(" (baseline {})", number(value.compared_value))
    } else {
        String::new()
    }
}

/// The table a person reads: result and score first, then each objective.
pub fn table(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SLO evaluation: {}, score {}",
        result_word(e.result),
        number(e.score)
    );
    let _ = writeln!(out, "{}", e.reason);
    for note in &e.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for i in &e.indicator_results {
        let status = match i.status {
            Status::Pass => "pass",
            Status::Warning => "warning",
            Status::Fail => "fail",
            Status::Info => "info",
        };
        let (name, value) = match &i.value {
            Some(v) if v.success => (
                v.metric.clone(),
                format!(
                    "{}{}",
                    number(v.value),
                    baseline(v, &i.pass_targets, &i.warning_targets)
                ),
            ),
            Some(v) => (v.metric.clone(), format!("no value: {}", v.message)),
            None => (String::new(), "no value".into()),
        };
        let shown = if i.display_name.is_empty() {
            name
        } else {
            i.display_name.clone()
        };
        let targets = |list: &[TargetResult]| {
            list.iter()
                .map(|t| {
                    format!(
                        "{} → {}{}{}",
                        t.criteria.trim(),
                        number(t.target_value),
                        if t.violated { " ✗" } else { " ✓" },
                        if t.no_baseline { " (no baseline)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "  {status:<8} {shown}{}: {value}; score {}",
            if i.key_sli { " [key]" } else { "" },
            number(i.score)
        );
        if !i.pass_targets.is_empty() {
            let _ = writeln!(out, "           pass: {}", targets(&i.pass_targets));
        }
        if !i.warning_targets.is_empty() {
            let _ = writeln!(out, "           warning: {}", targets(&i.warning_targets));
        }
    }
    out
}

#[derive(clap::Args)]
pub struct AlertRulesArgs {
    /// The slo.yaml whose absolute pass criteria become alerts.
    #[arg(long)]
    slo: PathBuf,
    /// The sli.yaml with the Prometheus queries (`--sli`, its old name, still works for this
    /// release).
    #[arg(long = "sli-file", alias = "sli")]
    sli_file: PathBuf,
    /// How long a violation lasts before the alert fires (Prometheus `for`), e.g. 1m.
    #[arg(long = "for", default_value = "10m")]
    for_duration: String,
    /// What $DURATION_SECONDS stands for in the queries (the rate window), e.g. 5m.
    #[arg(long, default_value = "5m")]
    window: String,
    /// Values for $PROJECT, $SERVICE and $STAGE, and the alerts' labels.
    #[arg(long)]
    project: Option<String>,
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    stage: Option<String>,
}

/// Prometheus' duration syntax: units ms, s, m, h, d, w, y, largest first (`1h30m`).
fn prometheus_duration(text: &str) -> bool {
    let mut rest = text;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
        any = true;
    }
    any
}

/// Print the Prometheus rules for the slo.yaml's absolute pass criteria; notes on stderr.
pub fn alert_rules(args: &AlertRulesArgs) -> Result<ExitCode> {
    use unbreakable_shared::slo::alert_rules::{alert_rules, AlertRuleOptions};
    if !prometheus_duration(&args.for_duration) {
        anyhow::bail!(
            "--for \"{}\" is not a Prometheus duration: write a number and a unit (ms, s, m, h, d), e.g. 1m or 1h30m",
            args.for_duration
        );
    }
    let window = humantime::parse_duration(&args.window)
        .with_context(|| format!("--window \"{}\" is not a duration such as 5m", args.window))?;
    // A rule without them watches job="-" (the sample's $SERVICE-$STAGE) and never fires.
    let unnamed: Vec<&str> = [("--service", &args.service), ("--stage", &args.stage)]
        .into_iter()
        .filter(|(_, value)| value.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(flag, _)| flag)
        .collect();
    if !unnamed.is_empty() {
        anyhow::bail!(
            "alert-rules needs {}: the rules' queries ($SERVICE, $STAGE) and labels name the service and stage they watch; without them a rule matches nothing and never fires",
            unnamed.join(" and ")
        );
    }
    let slo_name = args.slo.display().to_string();
    let sli_name = args.sli_file.display().to_string();
    let slo = lint_slo(&slo_name, &read(&args.slo)?)?;
    let sli = parse_sli(&sli_name, &read(&args.sli_file)?)?;
    let dynatrace: Vec<String> = sli
        .indicators
        .iter()
        .filter(|(_, query)| is_dynatrace_query(query))
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    match dynatrace.as_slice() {
        [] => {}
        [one] => anyhow::bail!(
            "alert-rules makes Prometheus rules; {sli_name} indicator {one} is a Dynatrace query: give an sli.yaml with PromQL queries (Dynatrace alerts on its own metrics)"
        ),
        many => anyhow::bail!(
            "alert-rules makes Prometheus rules; {sli_name} indicators {} are Dynatrace queries: give an sli.yaml with PromQL queries (Dynatrace alerts on its own metrics)",
            many.join(", ")
        ),
    }
    let options = AlertRuleOptions {
        for_duration: args.for_duration.clone(),
        window_ms: window.as_millis() as i64,
        context: SliContext {
            project: args.project.clone(),
            stage: args.stage.clone(),
            service: args.service.clone(),
            env: Some(|name| std::env::var(name).ok()),
            ..SliContext::default()
        },
    };
    let rules = alert_rules(&slo, &sli, &options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.slo.display()))?;
    for note in &rules.skipped {
        eprintln!("note: {note}");
    }
    if rules.rules == 0 {
        eprintln!("note: no absolute pass criterion, so no rule: the file has no alerts");
    }
    out!("{}", rules.yaml);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_shown_under_the_result() {
        let mut evaluation = failed("key SLI error_rate failed");
        evaluation.notes = vec![
            "sli.yaml has no indicator \"throughput\": prometheus-service's default query was used: sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))".into(),
        ];
        assert_eq!(
            table(&evaluation),
            "SLO evaluation: FAIL, score 0\nkey SLI error_rate failed\nnote: sli.yaml has no indicator \"throughput\": prometheus-service's default query was used: sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))\n"
        );
    }
}
