//! `unbreakable local`: the tutorial's pipeline end to end on this machine (see
//! `unbreakable_local`), with a step list while it runs and a summary table at the end.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use unbreakable_local::{
    scenario_builds, self_healing, LocalOptions, LocalStack, QualityGate, SCENARIOS,
    SELF_HEALING_SCENARIO,
};

#[derive(clap::Args)]
pub struct LocalArgs {
    /// Which story to run: tutorial (builds 1-4), regression (3, 4), rejection (1, 2), or
    /// self-healing (build 1, then the Production lane heals itself: scaling, a feature flag).
    #[arg(long, default_value = "tutorial", conflicts_with = "build")]
    scenario: String,
    /// Release this single build (1-4) instead of a scenario.
    #[arg(long)]
    build: Option<u32>,
    /// Each validation's window (the time a build is measured), e.g. 30s. At least 10s.
    /// Default: 20s; 30s for --gate canary, whose judge wants about 25 points a side.
    #[arg(long)]
    window: Option<String>,
    /// The validation worker's schedule, e.g. 3s (default: 3s; 1s for --scenario
    /// self-healing, whose waits are seconds).
    #[arg(long)]
    tick: Option<String>,
    /// Keep the stack (report, apps) running after the summary, until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
    /// What gates the approvals: monspec (the tutorial's comparison, through the Dynatrace
    /// simulator), slo (Keptn's slo.yaml/sli.yaml, measured by a real Prometheus) or canary
    /// (the statistical judge: each metric's points on a control and an experiment scope,
    /// from the same Prometheus).
    #[arg(long, value_enum, default_value_t = Gate::Monspec)]
    gate: Gate,
    /// The monspec released with each build (default: monspec/local.json).
    #[arg(long)]
    monspec: Option<std::path::PathBuf>,
    /// With --gate slo: the folder whose slo.yaml and sli.yaml are released with each build
    /// (default: slo/local).
    #[arg(long)]
    slo_dir: Option<std::path::PathBuf>,
    /// With --gate canary: the folder whose canary.yaml is released with each build
    /// (default: canary/local).
    #[arg(long)]
    canary_dir: Option<std::path::PathBuf>,
    /// With --scenario self-healing: the folder whose remediation.yaml, slo.yaml and sli.yaml
    /// are stored for the Production lane (default: remediation/local).
    #[arg(long)]
    remediation_dir: Option<std::path::PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Gate {
    Monspec,
    Slo,
    Canary,
}

fn duration(flag: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text)
        .with_context(|| format!("--{flag} \"{text}\" is not a duration like 30s or 2m"))
}

pub fn options(args: &LocalArgs) -> Result<LocalOptions> {
    let builds = match args.build {
        Some(b @ 1..=4) => vec![b],
        Some(b) => bail!("--build {b}: the sample app has builds 1 to 4"),
        None => scenario_builds(&args.scenario)?,
    };
    let default_window = if args.gate == Gate::Canary {
        "30s"
    } else {
        "20s"
    };
    let window_text = args.window.as_deref().unwrap_or(default_window);
    let window = duration("window", window_text)?;
    if window < Duration::from_secs(10) {
        bail!("--window {window_text}: validations need at least 10s of data");
    }
    let healing = args.build.is_none() && args.scenario == SELF_HEALING_SCENARIO;
    if args.remediation_dir.is_some() && !healing {
        bail!("--remediation-dir is for --scenario {SELF_HEALING_SCENARIO}; add it or drop --remediation-dir");
    }
    let default_tick = if healing { "1s" } else { "3s" };
    let tick = duration("tick", args.tick.as_deref().unwrap_or(default_tick))?;
    if tick.is_zero() {
        bail!("--tick must be more than 0s");
    }
    let defaults = LocalOptions::default();
    let gate = match args.gate {
        Gate::Monspec => QualityGate::Monspec,
        Gate::Slo => QualityGate::Slo,
        Gate::Canary => QualityGate::Canary,
    };
    if args.slo_dir.is_some() && gate != QualityGate::Slo {
        bail!("--slo-dir is for --gate slo; add --gate slo or drop it");
    }
    if args.canary_dir.is_some() && gate != QualityGate::Canary {
        bail!("--canary-dir is for --gate canary; add --gate canary or drop it");
    }
    Ok(LocalOptions {
        gate,
        slo_dir: args.slo_dir.clone().unwrap_or(defaults.slo_dir.clone()),
        canary_dir: args
            .canary_dir
            .clone()
            .unwrap_or(defaults.canary_dir.clone()),
        builds,
        window,
        tick,
        monspec: args.monspec.clone().unwrap_or(defaults.monspec.clone()),
        quiet: args.quiet,
        self_healing: healing.then(|| {
            args.remediation_dir
                .clone()
                .unwrap_or_else(self_healing::default_dir)
        }),
        // Problems open and close within seconds, so a sequence is seen end to end.
        problem_interval: if healing {
            Duration::from_secs(2)
        } else {
            defaults.problem_interval
        },
        problem_intervals: if healing {
            2
        } else {
            defaults.problem_intervals
        },
        ..defaults
    })
}

pub async fn run(args: LocalArgs) -> Result<ExitCode> {
    let options = options(&args)?;
    let builds = options.builds.clone();
    if !args.quiet {
        outln!(
            "unbreakable local: releasing build{} {} through the tutorial's pipeline ({} windows; {})",
            if builds.len() > 1 { "s" } else { "" },
            builds.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            humantime::format_duration(options.window),
            SCENARIOS
                .iter()
                .find(|(n, _, _)| args.build.is_none() && *n == args.scenario)
                .map_or("a single build", |(_, _, d)| d)
        );
    }
    let mut stack = tokio::select! {
        stack = LocalStack::start(options) => stack?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted while starting"),
    };
    let story = async {
        for build in &builds {
            stack.release(*build).await?;
        }
        if let Some(healing) = &stack.self_healing {
            self_healing::demonstrate(healing, &stack.progress).await?;
        }
        stack.settle().await;
        anyhow::Ok(())
    };
    let interrupted = tokio::select! {
        result = story => { result?; false }
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        eprintln!("\ninterrupted: stopping every process of this run");
        let killed = stack.shutdown().await;
        eprintln!("stopped ({killed} app and load-test processes)");
        return Ok(ExitCode::from(130));
    }
    let summary = stack.summary().await;
    outln!("\n{}", summary.render());
    if args.keep_running {
        outln!(
            "The stack keeps running: open {} — Ctrl-C stops it.",
            summary.report_url
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Local {
        #[command(flatten)]
        args: LocalArgs,
    }

    fn window(flags: &[&str]) -> Duration {
        let parsed = Local::try_parse_from(std::iter::once("local").chain(flags.iter().copied()))
            .expect("flags");
        options(&parsed.args).expect("options").window
    }

    #[test]
    fn the_window_is_20s_30s_for_the_canary_gate_and_a_given_one_wins() {
        assert_eq!(window(&[]), Duration::from_secs(20));
        assert_eq!(window(&["--gate", "slo"]), Duration::from_secs(20));
        assert_eq!(window(&["--gate", "canary"]), Duration::from_secs(30));
        assert_eq!(
            window(&["--gate", "canary", "--window", "45s"]),
            Duration::from_secs(45)
        );
    }
}
