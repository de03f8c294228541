//! What happens during a local run, as events: the progress view prints them as a step list
//! (one line per step, not a log), and the run keeps them for its summary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Setting up the local stack.
    Setup(String),
    ExecutionStarted {
        build: u32,
        execution_id: String,
    },
    ActionDone {
        build: u32,
        stage: String,
        action: String,
        detail: String,
        seconds: f64,
    },
    ActionFailed {
        build: u32,
        stage: String,
        action: String,
        message: String,
    },
    ApprovalWaiting {
        build: u32,
        stage: String,
        action: String,
    },
    ApprovalDecided {
        build: u32,
        stage: String,
        action: String,
        approved: bool,
        summary: String,
    },
    ExecutionFinished {
        build: u32,
        succeeded: bool,
        detail: String,
    },
    Deployed {
        group: String,
        deployment_id: String,
        build: Option<u32>,
        rollback: bool,
        error: Option<String>,
    },
    ProblemOpened {
        problem_id: String,
        display_id: String,
        title: String,
        entity: String,
    },
    ProblemNotified {
        display_id: String,
        state: String,
        answer: String,
    },
    ProblemClosed {
        problem_id: String,
        display_id: String,
    },
    /// A step of a self-healing sequence, as the timeline (`/RemediationSequences`) shows it.
    Remediation(String),
}

/// Hands events to the view and keeps them, with the seconds since the run started.
#[derive(Clone)]
pub struct ProgressSender {
    started: Instant,
    log: Arc<Mutex<Vec<(f64, Progress)>>>,
    quiet: bool,
}

impl ProgressSender {
    pub fn new(quiet: bool) -> Self {
        ProgressSender {
            started: Instant::now(),
            log: Arc::default(),
            quiet,
        }
    }

    pub fn send(&self, event: Progress) {
        let at = self.started.elapsed().as_secs_f64();
        if !self.quiet {
            if let Some(line) = render(&event) {
                let minutes = at as u64 / 60;
                let seconds = at as u64 % 60;
                // A closed stdout (`| head`) only ends the view: the run goes on, and
                // `println!` would panic.
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{minutes:>3}:{seconds:02}  {line}");
            }
        }
        self.log.lock().expect("progress").push((at, event));
    }

    pub fn events(&self) -> Vec<(f64, Progress)> {
        self.log.lock().expect("progress").clone()
    }
}

/// One short line per step.
fn render(event: &Progress) -> Option<String> {
    Some(match event {
        Progress::Setup(text) => format!("· {text}"),
        Progress::ExecutionStarted {
            build,
            execution_id,
        } => format!("▶ build {build}: pipeline execution {execution_id}"),
        Progress::ActionDone {
            build,
            stage,
            action,
            detail,
            seconds,
        } => format!(
            "  build {build} {stage:<15} ✓ {action} ({seconds:.1} s){}",
            suffix(detail)
        ),
        Progress::ActionFailed {
            build,
            stage,
            action,
            message,
        } => format!("  build {build} {stage:<15} ✗ {action}: {message}"),
        Progress::ApprovalWaiting {
            build,
            stage,
            action,
        } => format!("  build {build} {stage:<15} … {action} waits for the build validation"),
        Progress::ApprovalDecided {
            build,
            stage,
            action,
            approved,
            summary,
        } => format!(
            "  build {build} {stage:<15} {} {action} {}: {}",
            if *approved { "✓" } else { "✗" },
            if *approved { "APPROVED" } else { "REJECTED" },
            first_sentence(summary)
        ),
        Progress::ExecutionFinished {
            build,
            succeeded,
            detail,
        } => format!(
            "{} build {build} {}: {detail}",
            if *succeeded { "■" } else { "□" },
            if *succeeded { "released" } else { "stopped" }
        ),
        Progress::Deployed {
            group,
            deployment_id,
            build,
            rollback: true,
            error,
        } => match error {
            None => format!(
                "↺ ROLLBACK {group}: {deployment_id} put build {} back",
                build.map_or("?".into(), |b| b.to_string())
            ),
            Some(e) => format!("↺ ROLLBACK {group}: {deployment_id} failed: {e}"),
        },
        Progress::Deployed { error: None, .. } => return None,
        Progress::Deployed {
            group,
            deployment_id,
            error: Some(e),
            ..
        } => format!("  ✗ deployment {deployment_id} to {group} failed: {e}"),
        Progress::ProblemOpened {
            display_id,
            title,
            entity,
            ..
        } => format!("⚠ PROBLEM {display_id} OPEN: {title} on {entity}"),
        Progress::ProblemNotified {
            display_id,
            state,
            answer,
        } => format!("  problem {display_id} {state} → handle-problem-notification: {answer}"),
        Progress::ProblemClosed { display_id, .. } => {
            format!("✓ PROBLEM {display_id} CLOSED")
        }
        Progress::Remediation(line) => format!("⚕ {line}"),
    })
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" {detail}")
    }
}

/// The verdict line of an approval summary, without the report link and details.
pub fn first_sentence(summary: &str) -> String {
    let line = summary.lines().next().unwrap_or_default();
    let line = line.split(" Report: ").next().unwrap_or_default();
    let cut: String = line.chars().take(160).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}
