//! `unbreakable remediation`: Keptn's remediation.yaml (both generations).
//! Exit codes as `lint`: 0 clean, 1 problems, 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;

use unbreakable_shared::remediation::file::Generation;
use unbreakable_shared::remediation::parse_remediation;

#[derive(clap::Subcommand)]
pub enum RemediationCommand {
    /// Check remediation.yaml files and print every problem with its line, column and path
    /// (exit 0 when clean, 1 otherwise).
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(command: RemediationCommand) -> ExitCode {
    match command {
        RemediationCommand::Lint { files } => lint(&files),
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
