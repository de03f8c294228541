//! `unbreakable`: lint monspecs and run the quality gate from any shell or CI.
//!
//! Exit codes: 0 approved (or lint clean), 1 rejected (or lint problems), 2 usage, config or
//! API error. Whatever goes to stdout goes through `outln!`/`out!`, which a closed reader
//! (`| head -1`) ends quietly, keeping the exit code.

/// `println!` to stdout that stops quietly when the reader has gone (see `stdout.rs`).
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), true)
    };
}

/// `print!` to stdout that stops quietly when the reader has gone (see `stdout.rs`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), false)
    };
}

mod compare;
mod local;
mod output;
mod remediation;
mod slo;
mod stdout;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use unbreakable_shared::time::now_ms;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use unbreakable_shared::contract::MAX_MONSPEC_BYTES;
use unbreakable_shared::dynatrace::{self, ApiToken, ApiVersion, ClientOptions};
use unbreakable_shared::evaluation::{plan, Timeframe};
use unbreakable_shared::monspec::{
    lint_monspec, schema::monspec_schema, without_bom, MonspecError,
};
use unbreakable_shared::quality_gate::run_validation;
use unbreakable_shared::text::size_text;

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
    /// Check monspec files and print every problem (exit 0 when clean, 1 otherwise); what
    /// the pipeline refuses (a monspec over 100 KiB) fails here too.
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compare a build's key metrics as a monspec comparison says, and approve or reject it.
    ///
    /// Asks the Dynatrace tenant (--dynatrace-url or DT_TENANT_URL) with the API token in
    /// the environment variable DT_API_TOKEN (scopes: metrics.read and entities.read for API
    /// v2, DataExport for v1). Exit codes: 0 approved, 1 rejected, 2 usage, configuration or
    /// API error.
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
    /// Judge an experiment's samples against a control's, metric by metric: Kayenta's
    /// Mann–Whitney judge done exactly, with what change could not have been detected.
    ///
    /// The samples come from files (--control, --experiment, --config: our config or Kayenta's
    /// canary config), or are measured first from Prometheus or Dynatrace as a canary file
    /// says (--provider, --canary-config, --control-scope, --experiment-scope, --window).
    /// Exit codes: 0 pass, 1 marginal or fail, 2 a file that cannot be used or a provider that
    /// cannot be asked.
    Compare(compare::CompareArgs),
    /// Keptn-style SLO quality gates: slo.yaml scoring as Keptn's lighthouse does it.
    #[command(subcommand)]
    Slo(slo::SloCommand),
    /// Prometheus alerting rules from an slo.yaml's absolute pass criteria (Keptn's
    /// `configure monitoring prometheus`); relative criteria are skipped with a note.
    AlertRules(slo::AlertRulesArgs),
    /// Keptn-style self-healing: check remediation.yaml files (lint), and check then store a
    /// service's files for a stage in the stack's table (apply).
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
    /// Start of the build's window: RFC 3339 such as 2026-11-21T10:00:00Z, or epoch seconds
    /// or milliseconds (a number below 10^11 is seconds, e.g. 1795255200).
    #[arg(long, conflicts_with = "window", requires = "end")]
    start: Option<String>,
    /// End of the window: RFC 3339, epoch seconds or milliseconds (as --start), or `now`.
    #[arg(long)]
    end: Option<String>,
    /// Window length ending at --end (default now), e.g. 5m, 30s, 1h.
    #[arg(long, required_unless_present = "start")]
    window: Option<String>,
    /// Dynatrace tenant URL, e.g. https://abc12345.live.dynatrace.com. The API token is read
    /// from DT_API_TOKEN, never from a flag (a flag shows in the process list).
    #[arg(long, env = "DT_TENANT_URL")]
    dynatrace_url: String,
    /// Which Dynatrace API to use.
    #[arg(long, default_value = "v2", value_parser = parse_api)]
    api: ApiVersion,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the monspec filled with the results (the original tutorial's output format)
    /// to this file; never the --monspec file itself.
    #[arg(long)]
    filled_monspec: Option<PathBuf>,
    /// Requests in flight at once (1 or more).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Per-request timeout, e.g. 30s (more than 0).
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

/// The log filter without UNBREAKABLE_LOG: warnings, but not the AWS SDK's own about each
/// place it looked for a region or credentials (four IMDS lines on a laptop); a missing
/// region or credentials is said once, as the command's error.
const DEFAULT_LOG_FILTER: &str = "warn,aws_config=error,aws_runtime=error,aws_smithy_runtime=error";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UNBREAKABLE_LOG")
                .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint { files } => Ok(lint(&files)),
        Command::Schema => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&monspec_schema()).expect("schema serialises")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(validate(args))),
        Command::Compare(args) => compare::run(&args),
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
            outln!("{}: warning: {warning}", file.display());
        }
        match result {
            Ok(_) => outln!("{}: ok", file.display()),
            Err(e) => {
                clean = false;
                for problem in e.problems {
                    outln!("{}: {problem}", file.display());
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
/// A file over the register's limit is refused by its size, before it is read.
fn lint_file(path: &Path) -> (ReadResult, Vec<String>) {
    let failed = |problem: String| -> (ReadResult, Vec<String>) {
        (
            Err(ReadFailure {
                problems: vec![problem],
            }),
            vec![],
        )
    };
    if let Ok(meta) = std::fs::metadata(path) {
        let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if meta.is_file() && size > MAX_MONSPEC_BYTES {
            return failed(format!(
                "the file is {}; the pipeline's limit for a monspec is {} (the stored validation must fit in a DynamoDB item of 400 KB): split it into several monspecs",
                size_text(size),
                size_text(MAX_MONSPEC_BYTES)
            ));
        }
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return failed(format!("cannot read the file: {e}")),
    };
    let text = without_bom(&text);
    let (result, warnings) = lint_monspec(text);
    let result = match result {
        Ok(monspec) => Ok((monspec, serde_json::from_str(text).expect("parsed above"))),
        Err(e @ MonspecError::Syntax { .. }) => match keptn_file_kind(text) {
            Some(kind) => Err(ReadFailure {
                problems: vec![format!(
                    "looks like {kind}, not a monspec: use `unbreakable {}`",
                    kind_command(kind)
                )],
            }),
            None => Err(ReadFailure {
                problems: e.problems(),
            }),
        },
        Err(e) => Err(ReadFailure {
            problems: e.problems(),
        }),
    };
    (result, warnings.iter().map(ToString::to_string).collect())
}

/// Which of Keptn's YAML files `text` looks like, by its top-level keys, when it is not JSON:
/// `unbreakable lint slo.yaml` is a wrong command, not a file full of syntax errors.
fn keptn_file_kind(text: &str) -> Option<&'static str> {
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']))
        .filter_map(|l| l.split_once(':').map(|(key, _)| key.trim()))
        .collect();
    let has = |key: &str| keys.contains(&key);
    if has("objectives") || has("total_score") {
        Some("an slo.yaml")
    } else if has("indicators") {
        Some("an sli.yaml")
    } else if has("remediations") || (has("apiVersion") && has("spec")) {
        Some("a remediation.yaml")
    } else {
        None
    }
}

/// The command that checks a file of `kind` (see [`keptn_file_kind`]).
fn kind_command(kind: &str) -> &'static str {
    match kind {
        "a remediation.yaml" => "remediation lint",
        _ => "slo lint",
    }
}

/// [`lint_file`] with its warnings on stderr, where they do not mix with a JSON verdict.
fn read_monspec(path: &Path) -> ReadResult {
    let (result, warnings) = lint_file(path);
    for warning in warnings {
        eprintln!("{}: warning: {warning}", path.display());
    }
    result
}

/// Whether `a` and `b` name the same file: the same path once resolved (the file need not
/// exist yet), or the same inode (a hard link).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| -> Option<PathBuf> {
        if let Ok(full) = p.canonicalize() {
            return Some(full);
        }
        let parent = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Some(parent.canonicalize().ok()?.join(p.file_name()?))
    };
    if matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return (x.dev(), x.ino()) == (y.dev(), y.ino());
        }
    }
    false
}

/// `--timeout` as a duration of more than zero (`0s` would end every request unanswered).
pub(crate) fn request_timeout(text: &str) -> Result<Duration> {
    let timeout = humantime::parse_duration(text.trim())
        .with_context(|| format!("--timeout \"{text}\" is not a duration such as 30s"))?;
    if timeout.is_zero() {
        bail!("--timeout {text} would end every request before it is answered: give e.g. 30s");
    }
    Ok(timeout)
}

async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    // Every flag is checked before the first request, and before anything is written.
    if let Some(out) = &args.filled_monspec {
        if same_file(&args.monspec, out) {
            bail!(
                "--filled-monspec {} is the monspec itself (--monspec {}): the results would overwrite it; give another file, e.g. --filled-monspec filled-monspec.json",
                out.display(),
                args.monspec.display()
            );
        }
    }
    if args.concurrency == 0 {
        bail!("--concurrency 0 would send no request: give 1 or more (the default is 8)");
    }
    let request_timeout = request_timeout(&args.timeout)?;
    let (monspec, document) = read_monspec(&args.monspec).map_err(|e| match &e.problems[..] {
        [one] => anyhow::anyhow!("{}: {one}", args.monspec.display()),
        many => anyhow::anyhow!(
            "{} is not a valid monspec:\n  {}",
            args.monspec.display(),
            many.join("\n  ")
        ),
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
        concurrency: args.concurrency,
        request_timeout,
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
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&verdict.to_json()).expect("JSON serialises")
        ),
        Format::Table => out!("{}", output::table(&verdict)),
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

/// The window from `--start`/`--end`/`--window` (shared by `validate` and `slo query`), as
/// the library reads typed times ([`unbreakable_shared::time::window`]).
pub(crate) fn timeframe(
    start: Option<&str>,
    end: Option<&str>,
    window: Option<&str>,
) -> Result<Timeframe> {
    let (start_ms, end_ms) = unbreakable_shared::time::window(start, end, window, now_ms())
        .map_err(anyhow::Error::msg)?;
    Ok(Timeframe {
        start_ms,
        window_ms: end_ms - start_ms,
    })
}

/// Write to a temporary file beside `path`, then rename: a crash never leaves half a file.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-unbreakable");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keptn_files_are_told_from_a_broken_monspec() {
        let slo = "spec_version: \"1.0\"\nobjectives:\n  - sli: a\ntotal_score:\n  pass: \"90%\"\n";
        assert_eq!(keptn_file_kind(slo), Some("an slo.yaml"));
        assert_eq!(
            keptn_file_kind("spec_version: '1.0'\nindicators:\n  a: up\n"),
            Some("an sli.yaml")
        );
        assert_eq!(
            keptn_file_kind(
                "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations: []\n"
            ),
            Some("a remediation.yaml")
        );
        assert_eq!(
            keptn_file_kind("{\"Svc\": {\"etype\": \"SERVICE\",}}"),
            None
        );
    }

    #[test]
    fn a_timeout_of_zero_is_refused() {
        assert!(request_timeout("30s").is_ok());
        let e = request_timeout("0s").unwrap_err().to_string();
        assert_eq!(
            e,
            "--timeout 0s would end every request before it is answered: give e.g. 30s"
        );
    }

    #[test]
    fn the_same_file_under_another_name_is_the_same_file() {
        let dir =
            std::env::temp_dir().join(format!("unbreakable-same-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("monspec.json");
        std::fs::write(&file, "{}").unwrap();
        assert!(same_file(&file, &dir.join(".").join("monspec.json")));
        assert!(
            !same_file(&file, &dir.join("filled.json")),
            "a new file elsewhere"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
