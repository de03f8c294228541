//! `unbreakable`: lint monspecs and run the quality gate from any shell or CI.
//!
//! Exit codes: 0 approved (or lint clean), 1 rejected (or lint problems), 2 usage, config or
//! API error.

mod local;
mod output;
mod remediation;
mod slo;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};
use unbreakable_shared::time::now_ms;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use unbreakable_shared::dynatrace::{self, ApiToken, ApiVersion, ClientOptions};
use unbreakable_shared::evaluation::{plan, Timeframe};
use unbreakable_shared::monspec::{lint_monspec, schema::monspec_schema, MonspecError};
use unbreakable_shared::quality_gate::run_validation;

#[derive(Parser)]
#[command(
    name = "unbreakable",
    version,
    about = "Performance quality gates for delivery pipelines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check monspec files and print every problem (exit 0 when clean, 1 otherwise).
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compare a build's key metrics as a monspec comparison says, and approve or reject it.
    Validate(ValidateArgs),
    /// Print the monspec JSON Schema.
    Schema,
    /// Run the whole pipeline on this machine: builds 1-4 through staging, approvals,
    /// production, a problem and its rollback, with the real functions.
    ///
    /// Needs a checkout of this repository: it builds the workspace's binaries (the
    /// functions, the sample app) in its own profile and reads cloudformation/ and monspec/.
    /// Run it from the checkout with `cargo run -p unbreakable-cli -- local`.
    Local(local::LocalArgs),
    /// Keptn-style SLO quality gates: slo.yaml scoring as Keptn's lighthouse does it.
    #[command(subcommand)]
    Slo(slo::SloCommand),
    /// Prometheus alerting rules from an slo.yaml's absolute pass criteria (Keptn's
    /// `configure monitoring prometheus`); relative criteria are skipped with a note.
    AlertRules(slo::AlertRulesArgs),
    /// Keptn-style self-healing: check remediation.yaml files.
    #[command(subcommand)]
    Remediation(remediation::RemediationCommand),
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The monspec file.
    #[arg(long)]
    monspec: PathBuf,
    /// The comparison to run, e.g. StagingToProduction.
    #[arg(long)]
    comparison: String,
    /// Start of the build's window (RFC 3339 such as 2026-11-21T10:00:00Z, or epoch ms).
    #[arg(long, conflicts_with = "window", requires = "end")]
    start: Option<String>,
    /// End of the window (RFC 3339, epoch ms or `now`).
    #[arg(long)]
    end: Option<String>,
    /// Window length ending at --end (default now), e.g. 5m, 30s, 1h.
    #[arg(long, required_unless_present = "start")]
    window: Option<String>,
    /// Dynatrace tenant URL, e.g. https://abc12345.live.dynatrace.com.
    #[arg(long, env = "DT_TENANT_URL")]
    dynatrace_url: String,
    /// Which Dynatrace API to use.
    #[arg(long, default_value = "v2", value_parser = parse_api)]
    api: ApiVersion,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the monspec filled with the results (the original tutorial's output format).
    #[arg(long)]
    filled_monspec: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Per-request timeout, e.g. 30s.
    #[arg(long, default_value = "30s")]
    timeout: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn parse_api(text: &str) -> Result<ApiVersion, String> {
    text.parse()
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UNBREAKABLE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint { files } => Ok(lint(&files)),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&monspec_schema()).expect("schema serialises")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(validate(args))),
        Command::Slo(command) => slo::run(command),
        Command::Remediation(command) => remediation::run(command),
        Command::AlertRules(args) => slo::alert_rules(&args),
        Command::Local(args) => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(local::run(args))),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

fn lint(files: &[PathBuf]) -> ExitCode {
    let mut clean = true;
    for file in files {
        let (result, warnings) = lint_file(file);
        // Warnings are printed but never fail the lint: the monspec is valid as written.
        for warning in warnings {
            println!("{}: warning: {warning}", file.display());
        }
        match result {
            Ok(_) => println!("{}: ok", file.display()),
            Err(e) => {
                clean = false;
                for problem in e.problems {
                    println!("{}: {problem}", file.display());
                }
            }
        }
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

struct ReadFailure {
    problems: Vec<String>,
}

type ReadResult =
    std::result::Result<(unbreakable_shared::monspec::Monspec, serde_json::Value), ReadFailure>;

/// Read and check a monspec file: the monspec and its JSON, or every problem; and warnings.
fn lint_file(path: &Path) -> (ReadResult, Vec<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let problems = vec![format!("cannot read the file: {e}")];
            return (Err(ReadFailure { problems }), vec![]);
        }
    };
    let (result, warnings) = lint_monspec(&text);
    let result = result
        .map(|monspec| (monspec, serde_json::from_str(&text).expect("parsed above")))
        .map_err(|e: MonspecError| ReadFailure {
            problems: e.problems(),
        });
    (result, warnings.iter().map(ToString::to_string).collect())
}

/// [`lint_file`] with its warnings on stderr, where they do not mix with a JSON verdict.
fn read_monspec(path: &Path) -> ReadResult {
    let (result, warnings) = lint_file(path);
    for warning in warnings {
        eprintln!("{}: warning: {warning}", path.display());
    }
    result
}

async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let (monspec, document) = read_monspec(&args.monspec).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid monspec:\n  {}",
            args.monspec.display(),
            e.problems.join("\n  ")
        )
    })?;
    let timeframe = timeframe(
        args.start.as_deref(),
        args.end.as_deref(),
        args.window.as_deref(),
    )?;
    let plan = plan(&monspec, &args.comparison, timeframe)
        .with_context(|| format!("{}", args.monspec.display()))?;
    let token = api_token("metrics.read and entities.read for v2, DataExport for v1")?;
    let options = ClientOptions {
        concurrency: args.concurrency.max(1),
        request_timeout: humantime::parse_duration(&args.timeout).with_context(|| {
            format!(
                "--timeout \"{}\" is not a duration such as 30s",
                args.timeout
            )
        })?,
        ..ClientOptions::default()
    };
    let source = dynatrace::metrics_source(args.api, &args.dynatrace_url, token, options)?;
    let verdict = run_validation(source.as_source(), &plan).await;

    if let Some(out) = &args.filled_monspec {
        let filled = serde_json::to_string_pretty(&verdict.fill_monspec(&document))
            .expect("JSON serialises");
        write_atomically(out, &filled)
            .with_context(|| format!("cannot write the filled monspec to {}", out.display()))?;
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&verdict.to_json()).expect("JSON serialises")
        ),
        Format::Table => print!("{}", output::table(&verdict)),
    }
    if verdict.has_errors() {
        let mut reasons: Vec<&str> = verdict
            .signatures()
            .filter(|s| s.outcome == unbreakable_shared::evaluation::Outcome::Error)
            .map(|s| s.reason.as_str())
            .collect();
        reasons.dedup();
        bail!(
            "{} signature(s) could not be measured, so no verdict can be trusted:\n  {}",
            verdict.counts.error,
            reasons.join("\n  ")
        );
    }
    Ok(if verdict.is_approved() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The Dynatrace API token from `DT_API_TOKEN` (shared by `validate` and `slo query`);
/// `scopes` names the scopes the command needs, for the message when it is missing.
pub(crate) fn api_token(scopes: &str) -> Result<ApiToken> {
    let token = std::env::var("DT_API_TOKEN").with_context(|| {
        format!("DT_API_TOKEN is not set: export the Dynatrace API token (scopes: {scopes})")
    })?;
    Ok(ApiToken::new(token)?)
}

/// The window from `--start`/`--end`/`--window` (shared by `validate` and `slo query`).
pub(crate) fn timeframe(
    start: Option<&str>,
    end: Option<&str>,
    window: Option<&str>,
) -> Result<Timeframe> {
    let end_ms = match end {
        None | Some("now") => now_ms(),
        Some(text) => parse_instant(text).context("--end")?,
    };
    let start_ms = match (start, window) {
        (Some(start), _) => parse_instant(start).context("--start")?,
        (None, Some(window)) => {
            let w = humantime::parse_duration(window).with_context(|| {
                format!("--window \"{window}\" is not a duration such as 5m or 90s")
            })?;
            end_ms - w.as_millis() as i64
        }
        (None, None) => bail!("give --window 5m, or --start and --end"),
    };
    if end_ms <= start_ms {
        bail!("the window is empty: --end must be after --start");
    }
    Ok(Timeframe {
        start_ms,
        window_ms: end_ms - start_ms,
    })
}

fn parse_instant(text: &str) -> Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339_weak(text).with_context(|| {
        format!(
            "\"{text}\" is not a time: use RFC 3339 (2026-11-21T10:00:00Z) or epoch milliseconds"
        )
    })?;
    Ok(time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64)
}

/// Write to a temporary file beside `path`, then rename: a crash never leaves half a file.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-unbreakable");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
