//! `unbreakable remediation`: Keptn's remediation.yaml (both generations): `lint` checks
//! files, `apply` stores a service's files for a stage in the stack's table (Keptn's
//! `keptn add-resource`), where the worker's self-healing reads them.
//! Exit codes as `lint`: 0 clean, 1 problems, 2 usage or a failed call.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use unbreakable_shared::aws::dynamodb::DynamoValidationStore;
use unbreakable_shared::aws::sdk_error::credentials_problem;
use unbreakable_shared::evaluation::{plan, Timeframe};
use unbreakable_shared::monspec::{parse_monspec, without_bom};
use unbreakable_shared::ports::lanes::{LaneConfig, LaneConfigs, LaneKey};
use unbreakable_shared::ports::store::SliProviderKind;
use unbreakable_shared::remediation::file::Generation;
use unbreakable_shared::remediation::{is_lane_name, parse_remediation, LANE_NAME_LIMIT};
use unbreakable_shared::slo::query_form::wrong_provider;
use unbreakable_shared::slo::{lint_slo, missing_queries, parse_sli};

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
    /// Nothing is stored when any check fails. The table and endpoint come from the AWS
    /// environment (AWS_REGION or --region, credentials, AWS_ENDPOINT_URL…).
    Apply(Box<ApplyArgs>),
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
    /// slo.yaml: the objectives an action must restore (with --sli-file).
    #[arg(long, requires = "sli_file")]
    pub slo: Option<PathBuf>,
    /// sli.yaml: the queries of the SLIs, one for each objective of --slo, written for
    /// --provider (`--sli`, its old name, still works for this release).
    #[arg(long = "sli-file", alias = "sli", requires = "slo")]
    pub sli_file: Option<PathBuf>,
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
    /// The AWS region of the table; without it, AWS_REGION or the profile's.
    #[arg(long)]
    pub region: Option<String>,
}

pub fn run(command: RemediationCommand) -> anyhow::Result<ExitCode> {
    match command {
        RemediationCommand::Lint { files } => Ok(lint(&files)),
        RemediationCommand::Apply(args) => {
            let config = match checked_config(&args) {
                Ok(config) => config,
                Err(problems) => {
                    for p in &problems {
                        outln!("{p}");
                    }
                    outln!("nothing was stored");
                    return Ok(ExitCode::from(1));
                }
            };
            let key = LaneKey {
                service: args.service.clone(),
                stage: args.stage.clone(),
            };
            tokio::runtime::Runtime::new()?.block_on(async {
                let mut loader = unbreakable_shared::aws::sdk_config_loader();
                if let Some(region) = &args.region {
                    loader = loader.region(aws_sdk_dynamodb::config::Region::new(region.clone()));
                }
                let sdk = loader.load().await;
                // Said before the call, once, with the fix: the SDK would fail the call with
                // its own structures after trying every place it knows.
                if sdk.region().is_none() {
                    bail!("no AWS region: set AWS_REGION or --region");
                }
                if let Some(problem) = credentials_problem(&sdk).await {
                    bail!("{problem}");
                }
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
            outln!(
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
    let sli = read(&args.sli_file);
    // Stored without a byte-order mark: the worker reads the stored text as JSON.
    let monspec = read(&args.monspec).map(|(name, text)| (name, without_bom(&text).to_string()));
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
    let slo_checked = slo.as_ref().map(|(name, text)| lint_slo(name, text));
    let sli_checked = sli.as_ref().map(|(name, text)| parse_sli(name, text));
    if let Some(Err(e)) = &slo_checked {
        problems.push(e.to_string());
    }
    if let Some(Err(e)) = &sli_checked {
        problems.push(e.to_string());
    }
    // The pair as the lane's evaluations will read it: a query for every objective, each
    // written for the provider that will answer it.
    if let (Some((slo_name, _)), Some((sli_name, _)), Some(Ok(slo)), Some(Ok(sli))) =
        (&slo, &sli, &slo_checked, &sli_checked)
    {
        if let Err(e) = missing_queries(slo_name, slo, sli_name, sli) {
            problems.push(e.to_string());
        }
        if let Some(provider) = provider {
            for wrong in wrong_provider(sli, provider) {
                problems.push(format!("{sli_name}: {wrong}"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let config = LaneConfig {
        remediation_yaml: remediation.map(|(_, t)| t),
        slo_yaml: slo.map(|(_, t)| t),
        sli_yaml: sli.map(|(_, t)| t),
        provider,
        monspec_json: monspec.map(|(_, t)| t),
        comparison: args.comparison.clone(),
        updated_ms: unbreakable_shared::time::now_ms(),
    };
    // DynamoDB refuses a larger item ("Item size has exceeded the maximum allowed size").
    match config.too_large() {
        Some(why) => Err(vec![why]),
        None => Ok(config),
    }
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
                outln!("{name}: ok ({layout}; {})", entries.join("; "));
            }
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
