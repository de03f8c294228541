//! The self-healing sequence, as a pure state machine: a problem opens, its remediation
//! entry is matched, the actions run one by one, each followed by a wait and an evaluation,
//! until the problem is resolved or no action is left and a person is told.
//!
//! [`advance`] takes the state of one service and stage (a [`Lane`]), one [`Input`] and the
//! time, and returns the new state, the [`Effect`]s to perform and why. It does no I/O and
//! reads no clock, so the scheduled worker stores the lane (with [`Lane::ready_at_ms`] as the
//! table's `ReadyAt`) and then performs the effects.
//!
//! At most once: an action's "started" step is in the state the worker stores *before* it runs
//! the action, and the effect carries that step's [`StepKey`]. Replaying an input to the
//! stored state finds the step recorded and starts nothing; re-running an input on the old
//! state (the store write was lost) yields the same effects with the same keys, for the
//! adapters to deduplicate. An action whose result never comes counts as failed after
//! [`Settings::action_timeout_ms`]; it is never started again.
//!
//! Here: [`advance`] and the steps that move a lane (open, close, drive). `lane`: the state
//! kept; `events`: the inputs and effects; `actions`: starting, holding, finishing and
//! escalating actions.

use std::time::{Duration, UNIX_EPOCH};

use super::file::{plan_for, RemediationFile};

mod actions;
mod events;
mod lane;

pub use events::{Effect, Input, Transition};
pub use lane::{
    End, EvaluationResult, Lane, Phase, Problem, ProblemSource, Sequence, Settings, Step, StepKey,
    StepKind,
};

const HOUR_MS: i64 = 3_600_000;
/// Problem ids the lane itself remembers after their sequence ended, so a re-sent OPEN
/// (Alertmanager repeats firing alerts) does not start the actions again. The store remembers
/// every ended problem for as long as its sequence is kept; this list covers the moment
/// between the lane's write and the store's.
const REMEMBERED_PROBLEMS: usize = 100;
/// The most problems waiting behind the active one on a lane; a problem beyond it ends at once
/// as refused, with the reason, so the lane stays small enough to store.
pub const MAX_QUEUED: usize = 20;

/// The problem webhook's own rollback as an ended sequence, so the timeline shows every
/// rollback whoever asked: who, why, and what was redeployed (`what`).
pub fn webhook_rollback(
    problem: &Problem,
    service: &str,
    stage: &str,
    what: &str,
    now_ms: i64,
) -> Sequence {
    let mut plan = super::file::rollback_only_plan();
    plan.why = "no remediation.yaml: the problem webhook rolls the last deployment back".into();
    let step = |number: u32, kind: StepKind, why: String| Step {
        number,
        at_ms: now_ms,
        kind,
        why,
    };
    Sequence {
        problem: problem.clone(),
        plan,
        phase: Phase::Ended {
            end: End::RolledBack,
        },
        closed_ms: None,
        steps: vec![
            step(
                1,
                StepKind::Opened,
                format!("problem \"{}\" opened on {service}/{stage}", problem.title),
            ),
            step(
                2,
                StepKind::ActionStarted {
                    action: 0,
                    dry_run: false,
                },
                what.to_string(),
            ),
            step(
                3,
                StepKind::Ended {
                    end: End::RolledBack,
                },
                "rolled back by the problem webhook; CodeDeploy carries the deployment out".into(),
            ),
        ],
    }
}

/// Apply `input`, which the worker learned at `now_ms`, to `lane`.
pub fn advance(lane: &Lane, input: Input, now_ms: i64, settings: &Settings) -> Transition {
    let mut run = Run {
        lane: lane.clone(),
        effects: Vec::new(),
        ended: Vec::new(),
        now: now_ms,
        settings,
    };
    run.lane.action_starts_ms.retain(|&t| t > now_ms - HOUR_MS);
    let ignored = run.apply(input).err();
    run.drive();
    run.lane.ready_at_ms = run.lane.active.as_ref().and_then(|s| match &s.phase {
        Phase::Held { until_ms, .. } => Some(*until_ms),
        Phase::Waiting { until_ms, .. } => Some(until_ms + settings.evaluation_delay_ms),
        Phase::Running { started_ms, .. } => Some(started_ms + settings.action_timeout_ms),
        Phase::Evaluating { requested_ms, .. } => {
            Some(requested_ms + settings.evaluation_timeout_ms)
        }
        Phase::Queued | Phase::Ended { .. } => None,
    });
    Transition {
        lane: run.lane,
        effects: run.effects,
        ended: run.ended,
        ignored,
    }
}

fn at(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

fn span(ms: i64) -> String {
    humantime::format_duration(Duration::from_millis(ms.max(0) as u64)).to_string()
}

#[derive(Clone, Copy)]
enum Awaited {
    Action,
    Evaluation,
}

struct Run<'a> {
    lane: Lane,
    effects: Vec<Effect>,
    ended: Vec<Sequence>,
    now: i64,
    settings: &'a Settings,
}

impl Run<'_> {
    /// Record a step (and its comment on the problem); its key names what it asks for.
    fn record(&mut self, seq: &mut Sequence, kind: StepKind, why: String) -> StepKey {
        let number = seq.steps.len() as u32 + 1;
        let key = StepKey {
            problem_id: seq.problem.id.clone(),
            step: number,
        };
        self.effects.push(Effect::Comment {
            key: key.clone(),
            problem_id: seq.problem.id.clone(),
            text: why.clone(),
        });
        seq.steps.push(Step {
            number,
            at_ms: self.now,
            kind,
            why,
        });
        key
    }

    fn end(&mut self, seq: &mut Sequence, end: End, why: String) {
        self.record(seq, StepKind::Ended { end }, why);
        seq.phase = Phase::Ended { end };
    }

    fn apply(&mut self, input: Input) -> Result<(), String> {
        match input {
            Input::Opened {
                problem,
                remediation,
            } => self.open(problem, remediation.as_ref()),
            Input::Closed { problem_id } => self.close(&problem_id),
            Input::ActionFinished { key, ok, details } => {
                let (mut seq, action) = self.take_active_at(&key, Awaited::Action)?;
                self.action_finished(&mut seq, action, ok, &details);
                self.lane.active = Some(seq);
                Ok(())
            }
            Input::EvaluationFinished {
                key,
                result,
                details,
            } => {
                let (mut seq, action) = self.take_active_at(&key, Awaited::Evaluation)?;
                self.evaluated(&mut seq, action, result, &details);
                self.lane.active = Some(seq);
                Ok(())
            }
            Input::Tick => Ok(()),
        }
    }

    /// The active sequence and its action, if `key` is the step it waits for; a replayed
    /// or late result finds the step over and changes nothing.
    fn take_active_at(
        &mut self,
        key: &StepKey,
        awaited: Awaited,
    ) -> Result<(Sequence, usize), String> {
        let action = self
            .lane
            .active
            .as_ref()
            .and_then(|s| match (&s.phase, awaited) {
                (Phase::Running { key: k, action, .. }, Awaited::Action)
                | (Phase::Evaluating { key: k, action, .. }, Awaited::Evaluation)
                    if k == key =>
                {
                    Some(*action)
                }
                _ => None,
            });
        match action {
            Some(action) => Ok((self.lane.active.take().expect("checked above"), action)),
            None => Err(format!(
                "the result of {} for step {key} came, but that step is not in progress (already recorded, or from an ended sequence): nothing to do",
                match awaited {
                    Awaited::Action => "an action",
                    Awaited::Evaluation => "an evaluation",
                }
            )),
        }
    }

    fn open(&mut self, problem: Problem, file: Option<&RemediationFile>) -> Result<(), String> {
        let id = &problem.id;
        if self
            .lane
            .active
            .as_ref()
            .is_some_and(|s| &s.problem.id == id)
        {
            return Err(format!("already remediating problem {id}"));
        }
        if self.lane.queue.iter().any(|s| &s.problem.id == id) {
            return Err(format!("problem {id} is already queued"));
        }
        if self.lane.ended_problem_ids.contains(id) {
            return Err(format!(
                "problem {id} was remediated already; a repeated notification starts nothing"
            ));
        }
        let plan = plan_for(file, &problem.title, problem.alt_title.as_deref());
        let mut seq = Sequence {
            problem,
            plan,
            phase: Phase::Queued,
            closed_ms: None,
            steps: Vec::new(),
        };
        let opened = format!(
            "problem \"{}\" opened on {}/{}",
            seq.problem.title, self.lane.service, self.lane.stage
        );
        self.record(&mut seq, StepKind::Opened, opened);
        let actions: Vec<String> = seq
            .plan
            .actions
            .iter()
            .map(|a| a.action.describe())
            .collect();
        let matched = if actions.is_empty() {
            seq.plan.why.clone()
        } else {
            format!("{}: {}", seq.plan.why, actions.join(" → "))
        };
        self.record(&mut seq, StepKind::Matched, matched);
        match &self.lane.active {
            Some(_) if self.lane.queue.len() >= MAX_QUEUED => {
                let why = format!(
                    "the queue of {}/{} is full ({MAX_QUEUED} problems wait behind the active one): \"{}\" is not queued and no action runs for it; a person must look",
                    self.lane.service, self.lane.stage, seq.problem.title
                );
                self.end(&mut seq, End::Refused, why);
                self.finish(seq);
            }
            Some(active) => {
                let behind = active.problem.id.clone();
                let why = format!(
                    "queued behind problem {behind} (\"{}\"): one sequence at a time per service and stage",
                    active.problem.title
                );
                self.record(&mut seq, StepKind::Queued { behind }, why);
                self.lane.queue.push(seq);
            }
            None => self.lane.active = Some(seq),
        }
        Ok(())
    }

    fn close(&mut self, problem_id: &str) -> Result<(), String> {
        if let Some(i) = self
            .lane
            .queue
            .iter()
            .position(|s| s.problem.id == problem_id)
        {
            let mut seq = self.lane.queue.remove(i);
            seq.closed_ms = Some(self.now);
            self.record(
                &mut seq,
                StepKind::SourceClosed,
                "the source closed the problem".into(),
            );
            self.end(
                &mut seq,
                End::Closed,
                "closed before its turn: no action ran".into(),
            );
            self.finish(seq);
            return Ok(());
        }
        let Some(mut seq) = self.lane.active.take_if(|s| s.problem.id == problem_id) else {
            return Err(format!(
                "no open sequence for problem {problem_id} on {}/{}: nothing to stop",
                self.lane.service, self.lane.stage
            ));
        };
        if seq.closed_ms.is_some() {
            self.lane.active = Some(seq);
            return Err(format!("problem {problem_id} is closed already"));
        }
        seq.closed_ms = Some(self.now);
        let why = match &seq.phase {
            Phase::Running { .. } => {
                "the source closed the problem: no further action; the running action finishes, and its wait and evaluation are still recorded"
            }
            Phase::Waiting { .. } | Phase::Evaluating { .. } => {
                "the source closed the problem: no further action; the pending evaluation still runs and is recorded"
            }
            _ => "the source closed the problem: no further action",
        };
        self.record(&mut seq, StepKind::SourceClosed, why.into());
        if matches!(seq.phase, Phase::Queued | Phase::Held { .. }) {
            self.end(&mut seq, End::Closed, "closed by the source".into());
        }
        self.lane.active = Some(seq);
        Ok(())
    }

    fn finish(&mut self, seq: Sequence) {
        self.lane.ended_problem_ids.push(seq.problem.id.clone());
        let excess = self
            .lane
            .ended_problem_ids
            .len()
            .saturating_sub(REMEMBERED_PROBLEMS);
        self.lane.ended_problem_ids.drain(..excess);
        self.ended.push(seq);
    }

    /// Move the active sequence on as far as the time allows, then the queued ones.
    fn drive(&mut self) {
        loop {
            let Some(mut seq) = self.lane.active.take() else {
                if self.lane.queue.is_empty() {
                    return;
                }
                let mut next = self.lane.queue.remove(0);
                self.record(
                    &mut next,
                    StepKind::Dequeued,
                    "its turn: the sequence before it on this service and stage ended".into(),
                );
                self.lane.active = Some(next);
                continue;
            };
            let now = self.now;
            match seq.phase.clone() {
                Phase::Queued => self.start_action(&mut seq, 0),
                Phase::Held { action, until_ms } if now >= until_ms => {
                    self.start_action(&mut seq, action)
                }
                Phase::Running {
                    action, started_ms, ..
                } if now >= started_ms + self.settings.action_timeout_ms => {
                    let details = format!(
                        "no result within {}; not started again, as it may have run",
                        span(self.settings.action_timeout_ms)
                    );
                    self.action_finished(&mut seq, action, false, &details);
                }
                Phase::Waiting {
                    action,
                    finished_ms,
                    until_ms,
                } if now >= until_ms + self.settings.evaluation_delay_ms => {
                    // The window is the wait; it is judged only once the monitoring system
                    // has ingested it (`evaluation_delay_ms` after it ended).
                    let key = self.record(
                        &mut seq,
                        StepKind::EvaluationRequested {
                            from_ms: finished_ms,
                            to_ms: until_ms,
                        },
                        format!(
                            "evaluating {} to {}, the wait after action {}",
                            at(finished_ms),
                            at(until_ms),
                            action + 1
                        ),
                    );
                    self.effects.push(Effect::Evaluate {
                        key: key.clone(),
                        from_ms: finished_ms,
                        to_ms: until_ms,
                    });
                    seq.phase = Phase::Evaluating {
                        action,
                        key,
                        requested_ms: now,
                    };
                }
                Phase::Evaluating {
                    action,
                    requested_ms,
                    ..
                } if now >= requested_ms + self.settings.evaluation_timeout_ms => {
                    // Fail closed: an evaluation that never answered proves nothing resolved.
                    let details = format!(
                        "no result within {}; counted as failed",
                        span(self.settings.evaluation_timeout_ms)
                    );
                    self.evaluated(&mut seq, action, EvaluationResult::Fail, &details);
                }
                Phase::Ended { .. } => {
                    self.finish(seq);
                    continue;
                }
                _ => {
                    self.lane.active = Some(seq);
                    return;
                }
            }
            self.lane.active = Some(seq);
        }
    }
}
