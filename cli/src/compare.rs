//! `unbreakable compare`: judge an experiment's samples against a control's with the
//! Mann–Whitney judge of [`unbreakable_shared::compare`] (Kayenta's, done exactly, with a
//! statement of power). The samples are read from files (`--control`, `--experiment`,
//! `--config`), or measured first from Prometheus or Dynatrace as a canary file says
//! (`--provider`, `--canary-config`, `--control-scope`, `--experiment-scope`, `--window`).
//!
//! Exit codes: 0 pass, 1 fail (and marginal, unless `--marginal-exits 0`), 2 a file that
//! cannot be used or a provider that cannot be asked, with one line on stderr naming the file
//! and the field (or the provider), and nothing on stdout.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use unbreakable_shared::canary::gather;
use unbreakable_shared::compare::canary_file::{parse_canary_file, parse_scope, CanaryFile};
use unbreakable_shared::compare::format::num;
use unbreakable_shared::compare::{
    judge, parse_config, parse_samples, Classification, CompareConfig, EffectMeasure, Judgement,
    MetricResult, RunResult, Samples,
};
use unbreakable_shared::dynatrace::{self, ClientOptions, DynatraceHttp, DynatraceSli};
use unbreakable_shared::ports::metrics::TimeWindow;
use unbreakable_shared::ports::samples::SampleSource;
use unbreakable_shared::prometheus::samples::RangeGrid;
use unbreakable_shared::prometheus::Prometheus;
use unbreakable_shared::time::rfc3339;

use crate::slo::Provider;
use crate::Format;

/// The flags of the measured form; none of them goes with the files of samples.
const MEASURED: [&str; 6] = [
    "provider",
    "canary_config",
    "control_scope",
    "experiment_scope",
    "window",
    "end",
];

/// The two forms, for messages.
const FORMS: &str = "judge files with --control, --experiment and --config, or measure the samples with --provider, --canary-config, --control-scope, --experiment-scope and --window";

#[derive(clap::Args)]
pub struct CompareArgs {
    /// The control's samples: a JSON object mapping each metric name to an array of numbers,
    /// null for a missing point, e.g. {"latency_p50": [212.0, null, 230.5]}.
    #[arg(long, conflicts_with_all = MEASURED)]
    control: Option<PathBuf>,
    /// The experiment's samples, in the same form as --control.
    #[arg(long, conflicts_with_all = MEASURED)]
    experiment: Option<PathBuf>,
    /// The comparison config: ours ({"metrics": [{"name": …, "direction": …}], "classifier":
    /// {…}, "power": 0.8}) or Kayenta's canary config (metrics[].analysisConfigurations.canary).
    #[arg(long, conflicts_with_all = MEASURED)]
    config: Option<PathBuf>,
    /// Measure the samples from this provider instead of reading them from files.
    #[arg(long, value_enum)]
    provider: Option<Provider>,
    /// The canary file (YAML or JSON): the comparison config plus each metric's query (or
    /// errors and requests for a rate), its merge and the step between points; see
    /// docs/compare.md, "Measuring from Prometheus or Dynatrace".
    #[arg(long)]
    canary_config: Option<PathBuf>,
    /// The control's scope, what $SCOPE is in its queries: a name (sample-production), a name
    /// with an offset back in time (sample-production@-1h) or
    /// scope=<name>,location=<location>,offset=<duration>.
    #[arg(long)]
    control_scope: Option<String>,
    /// The experiment's scope, in the same form as --control-scope.
    #[arg(long)]
    experiment_scope: Option<String>,
    /// The window measured, ending at --end (default now), e.g. 30m.
    #[arg(long)]
    window: Option<String>,
    /// The end of the window: RFC 3339, epoch seconds or milliseconds, or `now`.
    #[arg(long)]
    end: Option<String>,
    /// Prometheus' base URL, e.g. http://prometheus:9090 (--provider prometheus).
    #[arg(long, env = "PROMETHEUS_URL")]
    prometheus_url: Option<String>,
    /// The Dynatrace tenant URL, e.g. https://abc12345.live.dynatrace.com (--provider
    /// dynatrace). The API token (scope metrics.read) is read from DT_API_TOKEN, never from a
    /// flag (a flag shows in the process list).
    #[arg(long, env = "DT_TENANT_URL")]
    dynatrace_url: Option<String>,
    /// Per-request timeout of the provider, e.g. 30s.
    #[arg(long, default_value = "30s")]
    timeout: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The exit code of a marginal result: 1 (the default) stops a pipeline, 0 lets it go on.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    marginal_exits: u8,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_config(path: &Path) -> Result<CompareConfig> {
    parse_config(&read(path)?).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn read_samples(path: &Path, config: &CompareConfig) -> Result<Samples> {
    parse_samples(&read(path)?, config).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn read_canary(path: &Path) -> Result<CanaryFile> {
    parse_canary_file(&read(path)?).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The flags whose condition holds, as `--a, --b and --c`.
fn listed(flags: &[(&'static str, bool)]) -> String {
    let names: Vec<&str> = flags
        .iter()
        .filter(|(_, holds)| *holds)
        .map(|(flag, _)| *flag)
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    if let Some(provider) = args.provider {
        return measured(args, provider);
    }
    let measuring = [
        ("--canary-config", args.canary_config.is_some()),
        ("--control-scope", args.control_scope.is_some()),
        ("--experiment-scope", args.experiment_scope.is_some()),
        ("--window", args.window.is_some()),
        ("--end", args.end.is_some()),
    ];
    let measuring_flags = listed(&measuring);
    if !measuring_flags.is_empty() {
        let verb = if measuring.iter().filter(|(_, g)| *g).count() == 1 {
            "is"
        } else {
            "are"
        };
        bail!("{measuring_flags} {verb} for measuring the samples: add --provider prometheus or --provider dynatrace");
    }
    let (Some(control), Some(experiment), Some(config)) =
        (&args.control, &args.experiment, &args.config)
    else {
        let absent = listed(&[
            ("--control", args.control.is_none()),
            ("--experiment", args.experiment.is_none()),
            ("--config", args.config.is_none()),
        ]);
        bail!("missing {absent}: {FORMS}");
    };
    // Every file is read and checked before anything is printed.
    let config = read_config(config)?;
    let control = read_samples(control, &config)?;
    let experiment = read_samples(experiment, &config)?;
    let judgement = judge(&config, &control, &experiment);
    Ok(finish(&judgement, &config, args, &[], None))
}

/// `--provider`: read the canary file and the scopes, measure both sides, judge.
fn measured(args: &CompareArgs, provider: Provider) -> Result<ExitCode> {
    let (Some(path), Some(control), Some(experiment), Some(window_text)) = (
        args.canary_config.as_deref(),
        args.control_scope.as_deref(),
        args.experiment_scope.as_deref(),
        args.window.as_deref(),
    ) else {
        let absent = listed(&[
            ("--canary-config", args.canary_config.is_none()),
            ("--control-scope", args.control_scope.is_none()),
            ("--experiment-scope", args.experiment_scope.is_none()),
            ("--window", args.window.is_none()),
        ]);
        bail!("--provider needs {absent}: give the canary file, both scopes and the window, e.g. --canary-config canary.yaml --control-scope sample-production --experiment-scope sample-canary --window 30m");
    };
    // Everything is checked before the first request.
    let file = read_canary(path)?;
    let control_scope = parse_scope(control).map_err(|e| anyhow!("--control-scope: {e}"))?;
    let experiment_scope =
        parse_scope(experiment).map_err(|e| anyhow!("--experiment-scope: {e}"))?;
    let timeframe = crate::timeframe(None, args.end.as_deref(), Some(window_text))?;
    let window = TimeWindow {
        from_ms: timeframe.start_ms,
        to_ms: timeframe.start_ms + timeframe.window_ms,
    };
    let timeout = crate::request_timeout(&args.timeout)?;
    let mut notes = Vec::new();
    let (source, step): (Box<dyn SampleSource>, Duration) = match provider {
        Provider::Prometheus => {
            let url = given(args.prometheus_url.as_deref()).ok_or_else(|| {
                anyhow!("--provider prometheus needs Prometheus' URL: give --prometheus-url http://prometheus:9090 or set PROMETHEUS_URL")
            })?;
            // Refused here, with the flags to change, rather than for every metric.
            RangeGrid::new(window, file.step).map_err(|e| {
                anyhow!(
                    "--window {window_text} at the step of {}: {e}",
                    path.display()
                )
            })?;
            let prometheus: Box<dyn SampleSource> = Box::new(
                Prometheus::new(url, timeout).map_err(|e| anyhow!("--prometheus-url: {e}"))?,
            );
            (prometheus, file.step)
        }
        Provider::Dynatrace => {
            let url = given(args.dynatrace_url.as_deref()).ok_or_else(|| {
                anyhow!("--provider dynatrace needs the tenant URL: give --dynatrace-url https://abc12345.live.dynatrace.com or set DT_TENANT_URL")
            })?;
            let token = crate::api_token("metrics.read")?;
            let options = ClientOptions {
                request_timeout: timeout,
                ..ClientOptions::default()
            };
            let http = DynatraceHttp::new(url, token, options)
                .map_err(|e| anyhow!("--dynatrace-url: {e}"))?;
            let (minutes, rounded) = dynatrace::samples::resolution(file.step);
            notes.extend(rounded);
            let step = humantime::parse_duration(&minutes).unwrap_or(file.step);
            let tenant: Box<dyn SampleSource> = Box::new(DynatraceSli::new(http));
            (tenant, step)
        }
    };
    if Duration::from_millis(u64::try_from(timeframe.window_ms).unwrap_or(0)) < step {
        bail!(
            "--window {window_text} is shorter than one step ({}): give a window of many steps (30 points a side take 30 steps), or a smaller step in {}",
            humantime::format_duration(step),
            path.display()
        );
    }
    let gathered = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(gather(
            source.as_ref(),
            &file,
            &control_scope,
            &experiment_scope,
            window,
        ))
        .map_err(|e| anyhow!("the samples could not be measured, so nothing is judged: {e}"))?;
    notes.extend(gathered.notes.iter().cloned());
    let judgement = judge(&file.config, &gathered.control, &gathered.experiment);
    let provider_name = match provider {
        Provider::Prometheus => "Prometheus",
        Provider::Dynatrace => "Dynatrace",
    };
    let origin = format!(
        "Measured from {provider_name}, {} to {}, a point every {}: control {control}, experiment {experiment} ({} requests)",
        rfc3339(window.from_ms),
        rfc3339(window.to_ms),
        humantime::format_duration(step),
        gathered.requests
    );
    Ok(finish(
        &judgement,
        &file.config,
        args,
        &notes,
        Some(origin.as_str()),
    ))
}

/// A URL flag or its variable, when not blank.
fn given(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|u| !u.is_empty())
}

/// Print the judgement (the notes under the table, or on stderr beside a JSON document) and
/// give its exit code.
fn finish(
    judgement: &Judgement,
    config: &CompareConfig,
    args: &CompareArgs,
    notes: &[String],
    measured: Option<&str>,
) -> ExitCode {
    match args.format {
        Format::Json => {
            outln!(
                "{}",
                serde_json::to_string_pretty(judgement).expect("a judgement serialises")
            );
            for note in notes {
                eprintln!("note: {note}");
            }
        }
        Format::Table => {
            out!("{}", table(judgement, config));
            if let Some(measured) = measured {
                outln!();
                outln!("{measured}");
            }
            for note in notes {
                outln!("note: {note}");
            }
        }
    }
    match judgement.result {
        RunResult::Pass => ExitCode::SUCCESS,
        RunResult::Marginal => ExitCode::from(args.marginal_exits),
        RunResult::Fail => ExitCode::from(1),
    }
}

fn word(m: &MetricResult) -> String {
    let mut text = match m.classification {
        Classification::Pass => "pass".to_string(),
        other => other.as_str().to_uppercase(),
    };
    if m.critical {
        text.push_str(" CRITICAL");
    }
    if m.muted {
        text.push_str(" (muted)");
    }
    text
}

fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// The table a person reads: the result first, then per metric its classification, p, z
/// against the critical z, z at the band, the estimate with its interval, the band and the
/// effect; below each row why, and what could not have been detected.
pub fn table(j: &Judgement, config: &CompareConfig) -> String {
    let mut out = String::new();
    let t = config.score_thresholds;
    let _ = writeln!(
        out,
        "Canary comparison: {}, score {} (pass ≥ {}, marginal ≥ {})",
        j.result.as_str().to_uppercase(),
        num(j.score),
        num(t.pass),
        num(t.marginal)
    );
    if let Some(reason) = &j.reason {
        let _ = writeln!(out, "{reason}");
    }
    let _ = writeln!(out);
    let header = [
        "METRIC",
        "RESULT",
        "P",
        "Z (CRITICAL)",
        "Z AT BAND ↑ / ↓",
        "EXPERIMENT − CONTROL [INTERVAL]",
        "BAND",
        "EFFECT",
    ]
    .map(String::from);
    let rows: Vec<[String; 8]> = j
        .metrics
        .iter()
        .map(|m| {
            let dash = || "—".to_string();
            let effect = match (m.effect_size, m.effect_size_measure) {
                (Some(e), EffectMeasure::MeanRatio) => format!("mean ratio {}", num(e)),
                (Some(e), EffectMeasure::Cles) => format!("CLES {}", num(e)),
                (None, _) => dash(),
            };
            match &m.mann_whitney {
                None => [
                    m.name.clone(),
                    word(m),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    effect,
                ],
                Some(mw) => [
                    m.name.clone(),
                    word(m),
                    num(mw.p_value),
                    format!("{} (±{})", num(mw.z), num(mw.z_critical)),
                    format!("{} / {}", num(mw.z_high), num(mw.z_low)),
                    format!(
                        "{} [{}, {}] {} %",
                        signed(mw.estimate),
                        num(mw.ci_lower),
                        num(mw.ci_upper),
                        num(mw.confidence_level * 100.0)
                    ),
                    format!("±{}", num(mw.band)),
                    effect,
                ],
            }
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &[String; 8]| {
        r.iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "{}", line(&header));
    for (row, m) in rows.iter().zip(&j.metrics) {
        let _ = writeln!(out, "{}", line(row));
        let _ = writeln!(out, "  ↳ {}", m.reason);
        if let Some(mw) = m.mann_whitney.filter(|mw| !mw.ci_achievable) {
            let _ = writeln!(
                out,
                "  ↳ {} % cannot be reached with {} control and {} experiment points: the interval is clamped to the extreme differences",
                num(mw.confidence_level * 100.0),
                mw.n_control,
                mw.n_experiment
            );
        }
        if let Some(power) = &m.power {
            let _ = writeln!(
                out,
                "  ↳ {} (at {} % power)",
                power.sentence(),
                num(power.power * 100.0)
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Groups: {}", groups_line(j, config));
    out
}

/// Each scored group with its score and weight (configured, or its share of the rest).
fn groups_line(j: &Judgement, config: &CompareConfig) -> String {
    if j.groups.is_empty() {
        return "none scored".into();
    }
    let weights = &config.group_weights;
    let unweighted = j
        .groups
        .iter()
        .filter(|g| !weights.contains_key(&g.name))
        .count();
    let shared = (100.0 - weights.values().sum::<f64>()) / unweighted.max(1) as f64;
    j.groups
        .iter()
        .map(|g| {
            let score = if g.no_data {
                "no data (counts 100)".to_string()
            } else {
                num(g.score)
            };
            let weight = match weights.get(&g.name) {
                Some(w) => format!("weight {}", num(*w)),
                None => format!("shared weight {}", num(shared)),
            };
            format!("{} {score} ({weight})", g.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
