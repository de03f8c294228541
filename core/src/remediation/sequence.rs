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

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::file::{plan_for, Action, RemediationAction, RemediationFile, RemediationPlan};

const HOUR_MS: i64 = 3_600_000;
/// Problem ids the lane itself remembers after their sequence ended, so a re-sent OPEN
/// (Alertmanager repeats firing alerts) does not start the actions again. The store remembers
/// every ended problem for as long as its sequence is kept; this list covers the moment
/// between the lane's write and the store's.
const REMEMBERED_PROBLEMS: usize = 100;
/// The most problems waiting behind the active one on a lane; a problem beyond it ends at once
/// as refused, with the reason, so the lane stays small enough to store.
pub const MAX_QUEUED: usize = 20;

/// The limits of one lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// After an action that finished ok, no other action in the lane before this has passed.
    pub cooldown_ms: i64,
    /// At most this many actions started in the lane in any hour.
    pub max_actions_per_hour: usize,
    /// Record what would run without running it.
    pub dry_run: bool,
    /// An action without a result after this has failed (the worker may have died).
    pub action_timeout_ms: i64,
    /// An evaluation without a result after this counts as failed.
    pub evaluation_timeout_ms: i64,
    /// A wait's window is judged only this long after it ends: the monitoring system's
    /// ingestion delay (the window stays the wait; only the judging is later).
    #[serde(default)]
    pub evaluation_delay_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cooldown_ms: 5 * 60_000,
            max_actions_per_hour: 6,
            dry_run: false,
            action_timeout_ms: 15 * 60_000,
            evaluation_timeout_ms: 10 * 60_000,
            evaluation_delay_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemSource {
    Dynatrace,
    Alertmanager,
}

/// A problem as its source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Unique per source: Dynatrace's PID, or Alertmanager's fingerprint and startsAt.
    pub id: String,
    pub source: ProblemSource,
    pub title: String,
    pub opened_ms: i64,
    /// Where a person sees the problem (Alertmanager's generatorURL); http(s) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A second title remediation.yaml entries may name, tried after `title`: an alert's
    /// `annotations.summary`, which Keptn's prometheus-service made the problem title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_title: Option<String>,
}

/// Names one step of one sequence; effects carry the key of the step that asked for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepKey {
    pub problem_id: String,
    pub step: u32,
}

impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.problem_id, self.step)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EvaluationResult {
    Pass,
    Warning,
    Fail,
}

/// What happened, as the worker learned it. The time comes with [`advance`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "input",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Input {
    /// The source opened a problem; `remediation` is the service's file, if it has one.
    Opened {
        problem: Problem,
        remediation: Option<RemediationFile>,
    },
    /// The source closed (resolved) the problem.
    Closed { problem_id: String },
    ActionFinished {
        key: StepKey,
        ok: bool,
        details: String,
    },
    EvaluationFinished {
        key: StepKey,
        result: EvaluationResult,
        details: String,
    },
    /// Time passed: waits, holds and timeouts that are due now end.
    Tick,
}

/// Something the worker must do, after storing the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "effect",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Effect {
    /// Run the action; report [`Input::ActionFinished`] with this key.
    RunAction {
        key: StepKey,
        action: RemediationAction,
    },
    /// Evaluate the SLOs (or the monspec) over this window; report
    /// [`Input::EvaluationFinished`] with this key.
    Evaluate {
        key: StepKey,
        from_ms: i64,
        to_ms: i64,
    },
    /// Comment on the problem at its source (every step does).
    Comment {
        key: StepKey,
        problem_id: String,
        text: String,
    },
    /// Tell a person.
    Escalate {
        key: StepKey,
        problem_id: String,
        comment: String,
        webhook: Option<String>,
    },
}

/// How a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum End {
    /// An evaluation passed (or warned) after an action.
    Resolved,
    /// No action was left, or an escalate action ran: a person was told.
    Escalated,
    /// The source closed the problem; no further action ran.
    Closed,
    /// No entry of remediation.yaml names the problem and there is no default.
    NoRemediation,
    /// Not taken: the lane's queue was full.
    Refused,
    /// The problem webhook rolled the group's last deployment back (no remediation.yaml):
    /// recorded for the timeline; CodeDeploy carries the deployment out.
    RolledBack,
}

/// Where a sequence is. `action` is the index in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "phase",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Phase {
    /// Behind another problem of the same service and stage.
    Queued,
    /// The action is due, but the cooldown or the hourly cap holds it until then.
    Held {
        action: usize,
        until_ms: i64,
    },
    Running {
        action: usize,
        key: StepKey,
        started_ms: i64,
    },
    Waiting {
        action: usize,
        finished_ms: i64,
        until_ms: i64,
    },
    Evaluating {
        action: usize,
        key: StepKey,
        requested_ms: i64,
    },
    Ended {
        end: End,
    },
}

/// One recorded step: what happened, when, and why, for the timeline and the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub number: u32,
    pub at_ms: i64,
    pub kind: StepKind,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum StepKind {
    Opened,
    Matched,
    Queued {
        behind: String,
    },
    /// The sequence before it ended; this one starts.
    Dequeued,
    Held {
        action: usize,
        until_ms: i64,
    },
    ActionStarted {
        action: usize,
        dry_run: bool,
    },
    ActionFinished {
        action: usize,
        ok: bool,
    },
    Waiting {
        until_ms: i64,
    },
    EvaluationRequested {
        from_ms: i64,
        to_ms: i64,
    },
    Evaluated {
        result: EvaluationResult,
    },
    SourceClosed,
    Ended {
        end: End,
    },
}

/// One problem's remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    pub problem: Problem,
    pub plan: RemediationPlan,
    pub phase: Phase,
    pub closed_ms: Option<i64>,
    pub steps: Vec<Step>,
}

/// Everything the engine keeps for one service and stage: one active sequence, the ones
/// queued behind it, and what the cooldown and the cap count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    pub service: String,
    pub stage: String,
    pub active: Option<Sequence>,
    pub queue: Vec<Sequence>,
    /// When actions started in the last hour (for the cap).
    pub action_starts_ms: Vec<i64>,
    /// When the last action finished ok (for the cooldown).
    pub last_action_ok_ms: Option<i64>,
    /// Problems whose sequence ended, newest last.
    pub ended_problem_ids: Vec<String>,
    /// When the worker must look again (the table's `ReadyAt`); `None`: only an input will.
    pub ready_at_ms: Option<i64>,
}

impl Lane {
    pub fn new(service: &str, stage: &str) -> Lane {
        Lane {
            service: service.into(),
            stage: stage.into(),
            active: None,
            queue: Vec::new(),
            action_starts_ms: Vec::new(),
            last_action_ok_ms: None,
            ended_problem_ids: Vec::new(),
            ready_at_ms: None,
        }
    }
}

/// The result of one input: the lane to store, then the effects to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub lane: Lane,
    pub effects: Vec<Effect>,
    /// Sequences that ended with this input, for the timeline's store.
    pub ended: Vec<Sequence>,
    /// Why the input changed nothing (a replay, a stale result, a duplicate), if it did not.
    pub ignored: Option<String>,
}

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

    fn action_finished(&mut self, seq: &mut Sequence, action: usize, ok: bool, details: &str) {
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

    fn evaluated(
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
    fn start_action(&mut self, seq: &mut Sequence, index: usize) {
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
