//! Running the plan, one action at a time: start it or hold it (cooldown, hourly cap), take
//! its outcome, wait, take the evaluation's, and escalate when no action is left.

use super::{at, span, Effect, End, EvaluationResult, Phase, Run, Sequence, StepKind, HOUR_MS};
use crate::remediation::file::Action;

impl Run<'_> {
    pub(super) fn action_finished(
        &mut self,
        seq: &mut Sequence,
        action: usize,
        ok: bool,
        details: &str,
    ) {
        let description = seq.plan.actions[action].action.describe();
        let result = if ok { "finished" } else { "failed" };
        self.record(
            seq,
            StepKind::ActionFinished { action, ok },
            format!("action {} ({description}) {result}: {details}", action + 1),
        );
        if !ok {
            if seq.closed_ms.is_some() {
                self.end(
                    seq,
                    End::Closed,
                    "the source closed the problem and the action failed: nothing left to evaluate"
                        .into(),
                );
            } else {
                // Nothing changed, so there is nothing to wait for (Keptn: next action at once).
                self.start_action(seq, action + 1);
            }
            return;
        }
        self.lane.last_action_ok_ms = Some(self.now);
        let until_ms = self.now + seq.plan.actions[action].wait_ms as i64;
        let delay = self.settings.evaluation_delay_ms;
        let judged = if delay > 0 {
            format!(
                "; judged at {}, once the monitoring system has the data (ingestion delay {})",
                at(until_ms + delay),
                span(delay)
            )
        } else {
            String::new()
        };
        self.record(
            seq,
            StepKind::Waiting { until_ms },
            format!(
                "waiting {} until {} for the action to take effect{judged}",
                span(until_ms - self.now),
                at(until_ms)
            ),
        );
        seq.phase = Phase::Waiting {
            action,
            finished_ms: self.now,
            until_ms,
        };
    }

    pub(super) fn evaluated(
        &mut self,
        seq: &mut Sequence,
        action: usize,
        result: EvaluationResult,
        details: &str,
    ) {
        let word = match result {
            EvaluationResult::Pass => "passed",
            EvaluationResult::Warning => "warned",
            EvaluationResult::Fail => "failed",
        };
        self.record(
            seq,
            StepKind::Evaluated { result },
            format!(
                "the evaluation after action {} {word}: {details}",
                action + 1
            ),
        );
        match (result, seq.closed_ms) {
            (EvaluationResult::Pass | EvaluationResult::Warning, _) => self.end(
                seq,
                End::Resolved,
                format!("resolved after {} action(s)", action + 1),
            ),
            (EvaluationResult::Fail, Some(_)) => self.end(
                seq,
                End::Closed,
                format!("closed by the source; the last evaluation still failed: {details}"),
            ),
            (EvaluationResult::Fail, None) => self.start_action(seq, action + 1),
        }
    }

    /// Start action `index` of the plan, or hold it, or end the sequence when none is left.
    pub(super) fn start_action(&mut self, seq: &mut Sequence, index: usize) {
        if seq.closed_ms.is_some() {
            self.end(
                seq,
                End::Closed,
                "closed by the source: no further action".into(),
            );
            return;
        }
        let Some(action) = seq.plan.actions.get(index).cloned() else {
            if seq.plan.actions.is_empty() {
                let why = seq.plan.why.clone();
                self.end(seq, End::NoRemediation, why);
            } else {
                let comment = format!(
                    "\"{}\" is still open after all {} action(s) of remediation.yaml: a person must look",
                    seq.problem.title,
                    seq.plan.actions.len()
                );
                self.escalate(seq, comment, None);
            }
            return;
        };
        if let Action::Escalate { comment, webhook } = &action.action {
            // Telling a person changes nothing in the system: no cooldown, no cap, no wait.
            self.escalate(seq, comment.clone(), webhook.clone());
            return;
        }
        let hold = self.hold_until(index);
        if let Some((until_ms, why)) = hold {
            self.record(
                seq,
                StepKind::Held {
                    action: index,
                    until_ms,
                },
                why,
            );
            seq.phase = Phase::Held {
                action: index,
                until_ms,
            };
            return;
        }
        self.lane.action_starts_ms.push(self.now);
        let dry_run = self.settings.dry_run;
        let description = action.action.describe();
        let why = if dry_run {
            format!(
                "dry run: would start action {} of {} ({description})",
                index + 1,
                seq.plan.actions.len()
            )
        } else {
            format!(
                "starting action {} of {} ({description})",
                index + 1,
                seq.plan.actions.len()
            )
        };
        // Recorded before the worker runs it: a replay finds the step and starts nothing.
        let key = self.record(
            seq,
            StepKind::ActionStarted {
                action: index,
                dry_run,
            },
            why,
        );
        seq.phase = Phase::Running {
            action: index,
            key: key.clone(),
            started_ms: self.now,
        };
        if dry_run {
            self.action_finished(seq, index, true, "dry run: not run");
        } else {
            self.effects.push(Effect::RunAction { key, action });
        }
    }

    /// When the cooldown or the hourly cap lets the next action start, if not now.
    fn hold_until(&self, index: usize) -> Option<(i64, String)> {
        let s = self.settings;
        let lane = format!("{}/{}", self.lane.service, self.lane.stage);
        let starts = &self.lane.action_starts_ms;
        if starts.len() >= s.max_actions_per_hour {
            let until = starts.iter().min().copied().unwrap_or(self.now) + HOUR_MS;
            return Some((
                until,
                format!(
                    "action {} held until {}: {} actions started on {lane} in the last hour, the most allowed",
                    index + 1,
                    at(until),
                    starts.len()
                ),
            ));
        }
        let last = self.lane.last_action_ok_ms?;
        let until = last + s.cooldown_ms;
        (until > self.now).then(|| {
            (
                until,
                format!(
                    "action {} held until {}: cooldown of {} after the last action on {lane} (finished {})",
                    index + 1,
                    at(until),
                    span(s.cooldown_ms),
                    at(last)
                ),
            )
        })
    }

    fn escalate(&mut self, seq: &mut Sequence, comment: String, webhook: Option<String>) {
        let key = self.record(
            seq,
            StepKind::Ended {
                end: End::Escalated,
            },
            if self.settings.dry_run {
                format!("dry run: would escalate: {comment}")
            } else {
                format!("escalated: {comment}")
            },
        );
        seq.phase = Phase::Ended {
            end: End::Escalated,
        };
        if !self.settings.dry_run {
            self.effects.push(Effect::Escalate {
                key,
                problem_id: seq.problem.id.clone(),
                comment,
                webhook,
            });
        }
    }
}
