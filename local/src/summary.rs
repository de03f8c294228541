//! What a local run did, read back from the emulators, the simulator and the report function,
//! and the closing table: each build, each stage, the verdict and the numbers behind it.

use serde_json::Value;
use unbreakable_shared::compare::format::num;
use unbreakable_shared::slo::record::{SloRecord, SLO_GATE};
use unbreakable_shared::slo::summary::{number, objective_values, result_word};
use unbreakable_shared::validation::canary::CANARY_GATE;

use super::executor::ExecutionOutcome;
use super::progress::Progress;
use unbreakable_emulators::aws::fake::{ApprovalCall, Deployment};

#[derive(Debug, Clone)]
pub struct LocalSummary {
    pub pipeline: String,
    pub report_url: String,
    pub executions: Vec<ExecutionOutcome>,
    /// Every PutApprovalResult call the worker made.
    pub approvals: Vec<ApprovalCall>,
    pub deployments: Vec<Deployment>,
    pub problems: Vec<Value>,
    /// (problem id, comment).
    pub comments: Vec<(String, Value)>,
    /// The report function's JSON (`json=true`).
    pub report: Value,
    pub events: Vec<(f64, Progress)>,
}

impl LocalSummary {
    /// Deployments the problem function made.
    pub fn rollbacks(&self) -> Vec<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| {
                d.description
                    .contains(unbreakable_shared::contract::ROLLBACK_MARKER)
            })
            .collect()
    }

    /// Every approval decision, in release order: (build, approval action, approved).
    pub fn decisions(&self) -> Vec<(u32, String, bool)> {
        self.executions
            .iter()
            .flat_map(|e| {
                e.approvals
                    .iter()
                    .map(move |a| (e.build, a.action.clone(), a.approved))
            })
            .collect()
    }

    /// The summary the worker sent to a build's approval, if it decided one.
    pub fn approval_summary(&self, build: u32, action: &str) -> Option<String> {
        self.executions
            .iter()
            .find(|e| e.build == build)
            .and_then(|e| e.approvals.iter().find(|a| a.action == action))
            .map(|a| a.summary.clone())
    }

    /// The report's validations of one execution.
    pub fn validations(&self, execution_id: &str) -> Vec<&Value> {
        self.report["validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["executionId"] == execution_id)
            .collect()
    }

    /// The build whose execution deployed `deployment_id`… or whose revision it carries.
    pub fn build_of_revision(&self, revision: &Value) -> Option<u32> {
        self.executions.iter().find_map(|e| {
            e.deployments.iter().find_map(|(_, id)| {
                let d = self.deployments.iter().find(|d| &d.id == id)?;
                (d.revision == *revision).then_some(e.build)
            })
        })
    }

    /// Seconds from the first pipeline execution to the last thing that happened.
    pub fn scenario_seconds(&self) -> Option<f64> {
        let start = self
            .events
            .iter()
            .find(|(_, e)| matches!(e, Progress::ExecutionStarted { .. }))?
            .0;
        let end = self.events.last()?.0;
        Some(end - start)
    }

    /// The closing table.
    pub fn render(&self) -> String {
        let mut rows: Vec<[String; 4]> = vec![[
            "build".into(),
            "stage".into(),
            "verdict".into(),
            "what decided it".into(),
        ]];
        for e in &self.executions {
            let validations = self.validations(&e.execution_id);
            for a in &e.approvals {
                let validation = validations
                    .iter()
                    .find(|v| v["approvalAction"] == a.action.as_str());
                rows.push([
                    e.build.to_string(),
                    a.stage.clone(),
                    if a.approved { "APPROVED" } else { "REJECTED" }.into(),
                    validation
                        .map(|v| decided_by(&v["result"]))
                        .unwrap_or_else(|| super::progress::first_sentence(&a.summary)),
                ]);
            }
            if let Some((stage, action, message)) = &e.stopped_at {
                if !e.approvals.iter().any(|a| &a.action == action) {
                    rows.push([
                        e.build.to_string(),
                        stage.clone(),
                        "FAILED".into(),
                        format!("{action}: {}", super::progress::first_sentence(message)),
                    ]);
                }
            }
        }
        for d in self.rollbacks() {
            let to = self
                .build_of_revision(&d.revision)
                .map_or("?".into(), |b| b.to_string());
            rows.push([
                "—".into(),
                d.group.clone(),
                "ROLLBACK".into(),
                format!("{} redeployed build {to}'s revision ({})", d.id, d.status),
            ]);
        }
        for p in &self.problems {
            let comments = self
                .comments
                .iter()
                .filter(|(id, _)| p["problemId"] == id.as_str())
                .count();
            rows.push([
                "—".into(),
                "Production".into(),
                format!("PROBLEM {}", p["status"].as_str().unwrap_or("?")),
                format!(
                    "{} {}; {comments} comment(s)",
                    p["displayId"].as_str().unwrap_or_default(),
                    p["title"].as_str().unwrap_or_default()
                ),
            ]);
        }
        let widths: Vec<usize> = (0..3)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (n, r) in rows.iter().enumerate() {
            out.push_str(&format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            ));
            if n == 0 {
                out.push_str(&format!(
                    "{}\n",
                    "─".repeat(widths.iter().sum::<usize>() + 6 + 40)
                ));
            }
        }
        if let Some(seconds) = self.scenario_seconds() {
            out.push_str(&format!(
                "\n{} build(s) in {}:{:02} from the first release to a quiet production (target: within 6:00 on 2 cores)",
                self.executions.len(),
                seconds as u64 / 60,
                seconds as u64 % 60
            ));
        }
        out.push_str(&format!("\nReport: {}\n", self.report_url));
        out
    }
}

/// The counts of a result and the reasons that decided it: the failing signatures, or a
/// couple of passing ones; for an SLO gate, the result, score and every objective; for a
/// canary gate, the outcome, score and every metric with its p and mean ratio.
pub fn decided_by(result: &Value) -> String {
    if result["gate"] == CANARY_GATE {
        let metrics: Vec<String> = result["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let mut text = format!(
                    "{} {}",
                    m["name"].as_str().unwrap_or("?"),
                    m["classification"].as_str().unwrap_or("?")
                );
                if let Some(p) = m["mannWhitney"]["pValue"].as_f64() {
                    text.push_str(&format!(" p={}", num(p)));
                }
                if let Some(ratio) = m["deviation"].as_f64() {
                    text.push_str(&format!(" ratio {}", num(ratio)));
                }
                text
            })
            .collect();
        return format!(
            "canary {}, score {}: {}",
            result["outcome"].as_str().unwrap_or("?"),
            result["score"]
                .as_f64()
                .map(number)
                .unwrap_or_else(|| "?".into()),
            metrics.join("; ")
        );
    }
    if let Some(record) = serde_json::from_value::<SloRecord>(result.clone())
        .ok()
        .filter(|r| r.gate == SLO_GATE)
    {
        let e = &record.evaluation;
        return format!(
            "SLO {}, score {}: {}",
            result_word(e.result),
            number(e.score),
            objective_values(e)
        );
    }
    let c = &result["counts"];
    let mut text = format!(
        "{} signatures: {} pass, {} violation, {} nodata, {} error",
        c["signatures"], c["pass"], c["violation"], c["nodata"], c["error"]
    );
    let signatures: Vec<&Value> = result["configurations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|conf| conf["signatures"].as_array().into_iter().flatten())
        .collect();
    let failing: Vec<&&Value> = signatures
        .iter()
        .filter(|s| s["outcome"] != "pass")
        .collect();
    let reason = |s: &&Value| s["reason"].as_str().map(str::to_string);
    let shown: Vec<String> = if failing.is_empty() {
        signatures.iter().take(2).filter_map(reason).collect()
    } else if failing.iter().all(|s| s["outcome"] == "nodata") {
        // One missing baseline explains the rest.
        failing.iter().take(1).copied().filter_map(reason).collect()
    } else {
        failing
            .iter()
            .filter(|s| s["outcome"] == "violation")
            .take(2)
            .copied()
            .filter_map(reason)
            .collect()
    };
    if !shown.is_empty() {
        text.push_str(" — ");
        text.push_str(&shown.join("; "));
    }
    text
}
