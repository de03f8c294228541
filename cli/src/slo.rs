//! `unbreakable slo`: Keptn-style SLO quality gates from files.
//!
//! `evaluate` scores already measured SLI values; `lint` checks slo.yaml and sli.yaml files.
//! Exit codes as `validate`: 0 pass, 1 fail (and warning, unless `--warning-exits 0`), 2 usage,
//! file or provider error.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use unbreakable_shared::slo::score::{failed, Status};
use unbreakable_shared::slo::{
    evaluate, parse_sli, parse_slo, Evaluation, Outcome, PreviousEvaluation, SliValue,
};

use crate::Format;

#[derive(clap::Subcommand)]
pub enum SloCommand {
    /// Score measured SLI values against an slo.yaml, as Keptn's lighthouse does.
    Evaluate(EvaluateArgs),
    /// Check slo.yaml files (and sli.yaml files given after them) and print every problem
    /// with its line, column and path (exit 0 when clean, 1 otherwise).
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
    /// The measured values: a JSON array of {"metric", "value", "success", "message"}.
    #[arg(long)]
    sli: PathBuf,
    /// Earlier evaluations, newest first, before filtering: a JSON array of this command's
    /// JSON output (at least "result", "score" and "indicatorResults").
    #[arg(long)]
    previous: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The exit code of a warning: 1 (the default) stops a pipeline, 0 lets it go on.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    warning_exits: u8,
}

pub fn run(command: SloCommand) -> Result<ExitCode> {
    match command {
        SloCommand::Lint { files } => Ok(lint(&files)),
        SloCommand::Evaluate(args) => evaluate_files(&args),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn lint(files: &[PathBuf]) -> ExitCode {
    let mut clean = true;
    for (i, file) in files.iter().enumerate() {
        let name = file.display().to_string();
        let checked = read(file)
            .map_err(|e| format!("{name}: {e:#}"))
            .and_then(|text| {
                if i == 0 {
                    parse_slo(&name, &text)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    parse_sli(&name, &text)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            });
        match checked {
            Ok(()) => println!("{name}: ok"),
            Err(problems) => {
                clean = false;
                println!("{problems}");
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

fn evaluate_files(args: &EvaluateArgs) -> Result<ExitCode> {
    let loaded = (|| -> Result<Evaluation> {
        let name = args.slo.display().to_string();
        let slo = parse_slo(&name, &read(&args.slo)?).map_err(anyhow::Error::from)?;
        let measured: Vec<SliValue> = json_array(
            &args.sli,
            "a JSON array of SLI results ({\"metric\", \"value\", \"success\", \"message\"})",
        )?;
        let previous: Vec<PreviousEvaluation> = match &args.previous {
            Some(path) => json_array(
                path,
                "a JSON array of earlier evaluations (newest first; each with \"result\", \"score\" and \"indicatorResults\")",
            )?,
            None => Vec::new(),
        };
        Ok(evaluate(&slo, &measured, &previous))
    })();
    let (evaluation, file_error) = match loaded {
        Ok(e) => (e, None),
        // Keptn passes without a readable SLO; we fail, with the reason.
        Err(e) => (failed(format!("{e:#}")), Some(e)),
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&evaluation).expect("JSON serialises")
        ),
        Format::Table => print!("{}", table(&evaluation)),
    }
    if let Some(e) = file_error {
        eprintln!("error: {e:#}");
        return Ok(ExitCode::from(2));
    }
    Ok(match evaluation.result {
        Outcome::Pass => ExitCode::SUCCESS,
        Outcome::Warning => ExitCode::from(args.warning_exits),
        Outcome::Fail => ExitCode::from(1),
    })
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{:.3}", v).trim_end_matches('0').to_string()
    }
}

/// The table a person reads: result and score first, then each objective.
pub fn table(e: &Evaluation) -> String {
    let mut out = String::new();
    let result = match e.result {
        Outcome::Pass => "PASS",
        Outcome::Warning => "WARNING",
        Outcome::Fail => "FAIL",
    };
    let _ = writeln!(out, "SLO evaluation: {result}, score {}", number(e.score));
    let _ = writeln!(out, "{}", e.reason);
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
                    "{} (baseline {})",
                    number(v.value),
                    number(v.compared_value)
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
        let targets = |list: &[unbreakable_shared::slo::score::TargetResult]| {
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
