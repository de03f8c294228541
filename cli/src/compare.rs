//! `unbreakable compare`: judge an experiment's samples against a control's with the
//! Mann–Whitney judge of [`unbreakable_shared::compare`] (Kayenta's, done exactly, with a
//! statement of power).
//!
//! Exit codes: 0 pass, 1 fail (and marginal, unless `--marginal-exits 0`), 2 a file that
//! cannot be used, with one line on stderr naming the file and the field, and nothing on
//! stdout.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use unbreakable_shared::compare::format::num;
use unbreakable_shared::compare::{
    judge, parse_config, parse_samples, Classification, CompareConfig, EffectMeasure, Judgement,
    MetricResult, RunResult, Samples,
};

use crate::Format;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// The control's samples: a JSON object mapping each metric name to an array of numbers,
    /// null for a missing point, e.g. {"latency_p50": [212.0, null, 230.5]}.
    #[arg(long)]
    control: PathBuf,
    /// The experiment's samples, in the same form as --control.
    #[arg(long)]
    experiment: PathBuf,
    /// The comparison config: ours ({"metrics": [{"name": …, "direction": …}], "classifier":
    /// {…}, "power": 0.8}) or Kayenta's canary config (metrics[].analysisConfigurations.canary).
    #[arg(long)]
    config: PathBuf,
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

pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    // Every file is read and checked before anything is printed.
    let config = read_config(&args.config)?;
    let control = read_samples(&args.control, &config)?;
    let experiment = read_samples(&args.experiment, &config)?;
    let judgement = judge(&config, &control, &experiment);
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&judgement).expect("a judgement serialises")
        ),
        Format::Table => out!("{}", table(&judgement, &config)),
    }
    Ok(match judgement.result {
        RunResult::Pass => ExitCode::SUCCESS,
        RunResult::Marginal => ExitCode::from(args.marginal_exits),
        RunResult::Fail => ExitCode::from(1),
    })
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
