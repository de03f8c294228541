//! `unbreakable remediation`: Keptn's remediation.yaml (both generations): `lint` checks
//! files, `apply` stores a service's files for a stage in the stack's table (Keptn's
//! `keptn add-resource`), where the worker's self-healing reads them.
//! Exit codes as `lint`: 0 clean, 1 problems, 2 usage or a failed call.

use std::path::PathBuf;
use std::process::ExitCode;

use unbreakable_shared::aws::dynamodb::DynamoValidationStore;
use unbreakable_shared::evaluation::{plan, Timeframe};
use unbreakable_shared::monspec::parse_monspec;
use unbreakable_shared::ports::lanes::{LaneConfig, LaneConfigs, LaneKey};
use unbreakable_shared::ports::store::SliProviderKind;
use unbreakable_shared::remediation::file::Generation;
use unbreakable_shared::remediation::{is_lane_name, parse_remediation, LANE_NAME_LIMIT};
use unbreakable_shared::slo::{parse_sli, parse_slo};

#[derive(clap::Subcommand)]
pub enum RemediationCommand {
    /// Check remediation.yaml files and print every problem with its line, column and path
    /// (exit 0 when clean, 1 otherwise).
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check, then store what the self-healing of one service in one stage runs by: its
    /// remediation.yaml, and the slo.yaml/sli.yaml that judge whether an action helped.
    /// The table and endpoint come from the AWS environment (AWS_REGION, AWS_ENDPOINT_URL…).
    Apply(ApplyArgs),
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The stack's validation table (VALIDATION_TABLE of its functions).
    #[arg(long, env = "VALIDATION_TABLE")]
    pub table: String,
    /// The service: the CodeDeploy application (Alertmanager's `service` label).
    #[arg(long)]
    pub service: String,
    /// The stage: the CodeDeploy deployment group (Alertmanager's `stage` label).
    #[arg(long)]
    pub stage: String,
    /// remediation.yaml; without it, a problem gets the CodeDeploy rollback alone.
    #[arg(long)]
    pub remediation: Option<PathBuf>,
    /// slo.yaml: the objectives an action must restore (with --sli).
    #[arg(long, requires = "sli")]
    pub slo: Option<PathBuf>,
    /// sli.yaml: the queries of the SLIs (with --slo).
    #[arg(long, requires = "slo")]
    pub sli: Option<PathBuf>,
    /// Which provider answers the sli.yaml's queries: prometheus or dynatrace.
    #[arg(long, default_value = "prometheus")]
    pub provider: String,
    /// Without slo.yaml: a monspec whose comparison judges the wait after an action
    /// (through Dynatrace, as the tutorial's gate), with --comparison.
    #[arg(long, requires = "comparison", conflicts_with = "slo")]
    pub monspec: Option<PathBuf>,
    /// The monspec comparison, e.g. ProductionToProductionLastHour.
    #[arg(long, requires = "monspec")]
    pub comparison: Option<String>,
}

pub fn run(command: RemediationCommand) -> anyhow::Result<ExitCode> {
    match command {
        RemediationCommand::Lint { files } => Ok(lint(&files)),
        RemediationCommand::Apply(args) => {
            let config = match checked_config(&args) {
                Ok(config) => config,
                Err(problems) => {
                    for p in &problems {
                        println!("{p}");
                    }
                    println!("nothing was stored");
                    return Ok(ExitCode::from(1));
                }
            };
            let key = LaneKey {
                service: args.service.clone(),
                stage: args.stage.clone(),
            };
            tokio::runtime::Runtime::new()?.block_on(async {
                let sdk = unbreakable_shared::aws::sdk_config_loader().load().await;
                let store = DynamoValidationStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    args.table.clone(),
                );
                store.put_config(&key, &config).await.map_err(|e| {
                    anyhow::anyhow!("storing the files of {key} in table {}: {e}", args.table)
                })
            })?;
            let stored: Vec<&str> = [
                config.remediation_yaml.as_ref().map(|_| "remediation.yaml"),
                config.slo_yaml.as_ref().map(|_| "slo.yaml"),
                config.sli_yaml.as_ref().map(|_| "sli.yaml"),
                config.monspec_json.as_ref().map(|_| "monspec"),
            ]
            .into_iter()
            .flatten()
            .collect();
            println!(
                "stored for {key}: {}",
                if stored.is_empty() {
                    "nothing (a problem gets the rollback alone)".to_string()
                } else {
                    stored.join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Every file read and checked, or every problem found (nothing is stored then).
fn checked_config(args: &ApplyArgs) -> Result<LaneConfig, Vec<String>> {
    let mut problems = Vec::new();
    for (what, name) in [("--service", &args.service), ("--stage", &args.stage)] {
        if !is_lane_name(name) {
            problems.push(format!(
                "{what} \"{name}\" is not a name of 1-{LANE_NAME_LIMIT} characters of A-Z a-z 0-9 . _ -"
            ));
        }
    }
    let provider = SliProviderKind::parse(&args.provider);
    if provider.is_none() {
        problems.push(format!(
            "--provider \"{}\" is not prometheus or dynatrace",
            args.provider
        ));
    }
    let mut read = |path: &Option<PathBuf>| -> Option<(String, String)> {
        let path = path.as_ref()?;
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Some((name, text)),
            Err(e) => {
                problems.push(format!("{name}: cannot read the file: {e}"));
                None
            }
        }
    };
    let remediation = read(&args.remediation);
    let slo = read(&args.slo);
    let sli = read(&args.sli);
    let monspec = read(&args.monspec);
    if let (Some((name, text)), Some(comparison)) = (&monspec, &args.comparison) {
        match parse_monspec(text) {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(m) => {
                let timeframe = Timeframe {
                    start_ms: 0,
                    window_ms: 60_000,
                };
                if let Err(e) = plan(&m, comparison, timeframe) {
                    problems.push(format!("{name}: {e}"));
                }
            }
        }
    }
    if let Some((name, text)) = &remediation {
        if let Err(e) = parse_remediation(name, text) {
            problems.push(e.to_string());
        }
    }
    if let Some((name, text)) = &slo {
        if let Err(e) = parse_slo(name, text) {
            problems.push(e.to_string());
        }
    }
    if let Some((name, text)) = &sli {
        if let Err(e) = parse_sli(name, text) {
            problems.push(e.to_string());
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(LaneConfig {
        remediation_yaml: remediation.map(|(_, t)| t),
        slo_yaml: slo.map(|(_, t)| t),
        sli_yaml: sli.map(|(_, t)| t),
        provider,
        monspec_json: monspec.map(|(_, t)| t),
        comparison: args.comparison.clone(),
        updated_ms: unbreakable_shared::time::now_ms(),
    })
}

fn lint(files: &[PathBuf]) -> ExitCode {
    let mut clean = true;
    for file in files {
        let name = file.display().to_string();
        let checked = std::fs::read_to_string(file)
            .map_err(|e| format!("{name}: cannot read the file: {e}"))
            .and_then(|text| parse_remediation(&name, &text).map_err(|e| e.to_string()));
        match checked {
            Ok(parsed) => {
                let layout = match parsed.generation {
                    Generation::Legacy => "legacy layout",
                    Generation::Spec014 => "spec.keptn.sh/0.1.4",
                };
                let entries: Vec<String> = parsed
                    .entries
                    .iter()
                    .map(|e| {
                        let actions: Vec<String> =
                            e.actions.iter().map(|a| a.action.describe()).collect();
                        format!("\"{}\": {}", e.problem_type, actions.join(" → "))
                    })
                    .collect();
                println!("{name}: ok ({layout}; {})", entries.join("; "));
            }
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
