//! The self-healing half of the scheduled worker: each tick claims the lanes that are due,
//! feeds the pure state machine ([`crate::remediation::sequence::advance`]) what happened
//! (the webhooks' notices, finished actions and evaluations, the time), stores the lane, and
//! only then performs what the machine asked for.
//!
//! At most once: an action's "started" step is stored before the action runs; a lane found
//! running an action the worker has no record of (it died between the two writes) reports
//! that action failed, and it is never started again.

use std::collections::VecDeque;
use std::sync::Arc;

use super::config::{ConfigError, Env, Setting};
use crate::ports::lanes::{LaneConfigs, LaneKey, LaneRecord, LaneStore, Notice, StoreError};
use crate::ports::remediation::{
    ActionProgress, AlertConfirmation, AlertSource, LaneEvaluator, ProblemNotifier,
    RemediationActions,
};
use crate::ports::wakeups::{send_or_log, WakeTarget, WakeUp, Wakeups};
use crate::remediation::file::{parse_remediation, RemediationFile};
use crate::remediation::sequence::{
    advance, Effect, Input, Phase, ProblemSource, Sequence, Settings, StepKey,
};

pub const DRY_RUN: Setting = Setting::optional(
    "REMEDIATION_DRY_RUN",
    "true: record what the self-healing would run without running it",
);
pub const COOLDOWN: Setting = Setting::optional(
    "REMEDIATION_COOLDOWN_SECONDS",
    "the least time after a successful remediation action before the next on the same service and stage",
);
pub const MAX_ACTIONS_PER_HOUR: Setting = Setting::optional(
    "REMEDIATION_MAX_ACTIONS_PER_HOUR",
    "the most remediation actions started per service and stage in any hour",
);
pub const ACTION_TIMEOUT: Setting = Setting::optional(
    "REMEDIATION_ACTION_TIMEOUT_SECONDS",
    "a remediation action without a result after this has failed",
);
pub const EVALUATION_DELAY: Setting = Setting::optional(
    "REMEDIATION_EVALUATION_DELAY_SECONDS",
    "how long after a wait ends its window is judged: the monitoring system's ingestion delay, in seconds (default 120)",
);
/// The evaluation delay when `REMEDIATION_EVALUATION_DELAY_SECONDS` is not set: the
/// validations' default ingestion delay ([`crate::validation::params::IngestionDelays`]).
pub const DEFAULT_EVALUATION_DELAY: std::time::Duration = std::time::Duration::from_secs(120);
pub const POLL: Setting = Setting::optional(
    "REMEDIATION_POLL_SECONDS",
    "how often an action in progress (instances launching, a rollback deploying) is checked",
);
pub const UNLEASH_URL: Setting = Setting::optional(
    "UNLEASH_URL",
    "the Unleash server feature-toggle actions switch flags in (unset: those actions fail with this reason)",
);
pub const UNLEASH_PROJECT: Setting = Setting::optional(
    "UNLEASH_PROJECT",
    "the Unleash project of the flags (default: default)",
);
pub const UNLEASH_ENVIRONMENT: Setting = Setting::optional(
    "UNLEASH_ENVIRONMENT",
    "the Unleash environment flags are switched in (default: production)",
);
pub const ALERTMANAGER_URL: Setting = Setting::optional(
    "ALERTMANAGER_URL",
    "the Alertmanager whose API confirms an alert is still firing before its actions run (unset: an alert runs only escalate and actions marked allowUnconfirmed)",
);
pub const UNLEASH_TOKEN_SECRET: Setting = Setting::optional(
    "UNLEASH_TOKEN_SECRET_ID",
    "the Secrets Manager secret holding an Unleash admin API token (required with UNLEASH_URL)",
);

/// The settings the worker's remediation reads.
pub const SETTINGS: [Setting; 13] = [
    ALERTMANAGER_URL,
    super::config::ROLLBACK_LOOKBACK,
    super::config::ROLLBACK_COOLDOWN,
    DRY_RUN,
    COOLDOWN,
    MAX_ACTIONS_PER_HOUR,
    ACTION_TIMEOUT,
    POLL,
    UNLEASH_URL,
    UNLEASH_PROJECT,
    UNLEASH_ENVIRONMENT,
    UNLEASH_TOKEN_SECRET,
    EVALUATION_DELAY,
];

/// What the worker's remediation reads at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct RemediationConfig {
    pub settings: RemediationSettings,
    pub unleash: Option<crate::settings::unleash::UnleashSettings>,
    /// Where alerts are confirmed (`ALERTMANAGER_URL`).
    pub alertmanager_url: Option<String>,
    /// The rollback action's limits, the same as the problem webhook's.
    pub rollback: crate::rollback::RollbackSettings,
}

impl RemediationConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let defaults = RemediationSettings::default();
        let d = &defaults.sequence;
        let sequence = Settings {
            cooldown_ms: (env.number(&COOLDOWN, d.cooldown_ms as f64 / 1000.0)? * 1000.0) as i64,
            max_actions_per_hour: env
                .number(&MAX_ACTIONS_PER_HOUR, d.max_actions_per_hour as f64)?
                as usize,
            dry_run: env.flag(&DRY_RUN, false)?,
            action_timeout_ms: (env.number(&ACTION_TIMEOUT, d.action_timeout_ms as f64 / 1000.0)?
                * 1000.0) as i64,
            evaluation_timeout_ms: d.evaluation_timeout_ms,
            evaluation_delay_ms: env
                .delay(
                    &EVALUATION_DELAY,
                    DEFAULT_EVALUATION_DELAY,
                    crate::validation::params::MAX_INGESTION_DELAY,
                )?
                .as_millis() as i64,
        };
        // Each read whether or not a URL is set, so the template test sees every variable.
        let url = env.optional_url(&UNLEASH_URL)?;
        let secret = env.optional(&UNLEASH_TOKEN_SECRET);
        let project = env.optional(&UNLEASH_PROJECT);
        let environment = env.optional(&UNLEASH_ENVIRONMENT);
        let unleash = match url {
            None => None,
            Some(url) => {
                let secret = secret.ok_or_else(|| {
                    UNLEASH_TOKEN_SECRET.error(
                        "is not set, but UNLEASH_URL is: feature toggles need an admin token"
                            .into(),
                    )
                })?;
                let mut settings = crate::settings::unleash::UnleashSettings::new(&url, &secret);
                if let Some(p) = project {
                    settings.project = p;
                }
                if let Some(e) = environment {
                    settings.environment = e;
                }
                Some(settings)
            }
        };
        let alertmanager_url = env.optional_url(&ALERTMANAGER_URL)?;
        let rollback = super::config::rollback_settings(env)?;
        Ok(RemediationConfig {
            alertmanager_url,
            rollback,
            settings: RemediationSettings {
                sequence,
                poll_ms: (env.number(&POLL, defaults.poll_ms as f64 / 1000.0)? * 1000.0) as i64,
                ..defaults
            },
            unleash,
        })
    }
}

/// How many times a lane is read again when a notice arrives while it is being saved.
const SAVE_ATTEMPTS: usize = 5;
/// A lane step that keeps producing work is cut off here (and picked up at the next tick).
const MAX_ROUNDS: usize = 32;

/// The worker's remediation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationSettings {
    pub sequence: Settings,
    /// How long a claimed lane is ours.
    pub lease_ms: i64,
    /// Most lanes taken per tick.
    pub batch: usize,
    /// How often an action in progress is checked (instances launching).
    pub poll_ms: i64,
    /// No lane is claimed with less than this left before the invocation's deadline (the
    /// worker's `WORKER_DEADLINE_MARGIN_SECONDS`): a step fits well within it.
    pub deadline_margin_ms: i64,
}

impl Default for RemediationSettings {
    fn default() -> Self {
        RemediationSettings {
            sequence: Settings::default(),
            lease_ms: 120_000,
            batch: 50,
            poll_ms: 30_000,
            deadline_margin_ms: 30_000,
        }
    }
}

/// What one tick did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationReport {
    pub lanes: usize,
    pub actions_started: usize,
    pub evaluations: usize,
    pub ended: usize,
    /// Due lanes not claimed because the invocation's deadline was near.
    pub left_for_next_tick: usize,
    pub errors: Vec<String>,
}

pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct Remediator {
    pub lanes: Arc<dyn LaneStore>,
    pub configs: Arc<dyn LaneConfigs>,
    pub actions: Arc<dyn RemediationActions>,
    pub evaluator: Arc<dyn LaneEvaluator>,
    pub notifier: Arc<dyn ProblemNotifier>,
    /// Alertmanager's API, when `ALERTMANAGER_URL` is set: alerts are confirmed there.
    pub alerts: Option<Arc<dyn AlertSource>>,
    pub settings: RemediationSettings,
    pub clock: Clock,
    /// Where a lane saved with a later check (an action's progress, a wait, a hold) asks to
    /// be looked at again then.
    pub wakeups: Arc<dyn Wakeups>,
}

/// The remediation.yaml of a lane, if it has one; a stored file that no longer parses is an
/// error in words (the sequence records it and runs nothing rather than guess).
fn remediation_of(key: &LaneKey, text: Option<&str>) -> Result<Option<RemediationFile>, String> {
    match text {
        None => Ok(None),
        Some(text) => parse_remediation("remediation.yaml", text)
            .map(Some)
            .map_err(|e| format!("the remediation.yaml stored for {key} cannot be read: {e}")),
    }
}

impl Remediator {
    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Advance every due lane once. `owner` names this invocation (lease owner); no lane is
    /// claimed within the lease of `deadline_ms` (the invocation's end), so a lane is never
    /// left half-stepped by a timeout when it can be helped.
    pub async fn tick(&self, owner: &str, deadline_ms: Option<i64>) -> RemediationReport {
        let mut report = RemediationReport::default();
        let now = self.now();
        let due = match self.lanes.due(now, self.settings.batch).await {
            Ok(due) => due,
            Err(e) => {
                report
                    .errors
                    .push(format!("cannot read the due lanes: {e}"));
                return report;
            }
        };
        for key in due {
            self.take(&key, owner, deadline_ms, &mut report).await;
        }
        report
    }

    /// A wake-up for one lane: the same claim, lease and deadline rules as a tick, for that
    /// lane only. Not due, or held by another worker: its claim fails and nothing happens.
    pub async fn serve_lane(
        &self,
        key: &LaneKey,
        owner: &str,
        deadline_ms: Option<i64>,
    ) -> RemediationReport {
        let mut report = RemediationReport::default();
        self.take(key, owner, deadline_ms, &mut report).await;
        report
    }

    /// Claim one due lane and work it.
    async fn take(
        &self,
        key: &LaneKey,
        owner: &str,
        deadline_ms: Option<i64>,
        report: &mut RemediationReport,
    ) {
        let now = self.now();
        if deadline_ms.is_some_and(|d| now + self.settings.deadline_margin_ms > d) {
            report.left_for_next_tick += 1;
            return;
        }
        let claimed = match self
            .lanes
            .claim(key, owner, now, now + self.settings.lease_ms)
            .await
        {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                report.errors.push(format!("cannot claim lane {key}: {e}"));
                return;
            }
        };
        report.lanes += 1;
        if let Err(e) = self.work(claimed, owner, deadline_ms, report).await {
            tracing::error!(lane = %key, error = %e, "a lane step failed; its lease lapses and the next tick retries");
            report.errors.push(format!("lane {key}: {e}"));
        }
    }

    /// After a lane is saved and let go: be woken when it is due again, not a sweep later.
    async fn wake_when_due(&self, key: &LaneKey, ready_at_ms: Option<i64>) {
        if let Some(due_ms) = ready_at_ms {
            let wake = WakeUp::new(WakeTarget::lane(key), due_ms);
            send_or_log(self.wakeups.as_ref(), wake, self.now()).await;
        }
    }

    /// The inputs a claimed lane starts with: its notices (a problem that ended before on
    /// this lane is a replay and left out), then what became of an action or evaluation in
    /// progress.
    async fn notices_to_inputs(&self, record: &LaneRecord) -> Result<Vec<Input>, StoreError> {
        let opened: Vec<String> = record
            .inbox
            .iter()
            .filter_map(|n| match n {
                Notice::Opened { problem } => Some(problem.id.clone()),
                _ => None,
            })
            .collect();
        let ended = if opened.is_empty() {
            Default::default()
        } else {
            self.lanes.ended_problems(&record.key, &opened).await?
        };
        let mut inputs = Vec::new();
        for notice in &record.inbox {
            match notice {
                Notice::Opened { problem } if ended.contains(&problem.id) => {
                    tracing::info!(lane = %record.key, problem = %problem.id, "a problem that ended before is notified again: a replay starts nothing");
                }
                Notice::Opened { problem } => {
                    let remediation = self.remediation_for(&record.key, problem).await?;
                    inputs.push(Input::Opened {
                        problem: problem.clone(),
                        remediation,
                    });
                }
                Notice::Closed { problem_id, .. } => inputs.push(Input::Closed {
                    problem_id: problem_id.clone(),
                }),
                Notice::ActionFinished { key, ok, details } => inputs.push(Input::ActionFinished {
                    key: key.clone(),
                    ok: *ok,
                    details: details.clone(),
                }),
                Notice::EvaluationFinished {
                    key,
                    result,
                    details,
                } => inputs.push(Input::EvaluationFinished {
                    key: key.clone(),
                    result: *result,
                    details: details.clone(),
                }),
                // Taken into the lane's actions in flight when it was claimed.
                Notice::ActionPending { .. } => {}
            }
        }
        Ok(inputs)
    }

    /// The remediation.yaml a problem is matched against: the lane's; for an alert, only
    /// what may run unless Alertmanager confirms it, and never the implicit rollback of a
    /// lane without a file.
    async fn remediation_for(
        &self,
        key: &LaneKey,
        problem: &crate::remediation::sequence::Problem,
    ) -> Result<Option<RemediationFile>, StoreError> {
        let config = self.configs.config(key).await?;
        let text = config.as_ref().and_then(|c| c.remediation_yaml.as_deref());
        let empty = || RemediationFile {
            generation: crate::remediation::file::Generation::Spec014,
            entries: Vec::new(),
            unconfirmed: None,
        };
        let file = match remediation_of(key, text) {
            Ok(file) => file,
            Err(why) => {
                tracing::error!(lane = %key, %why, "unreadable remediation.yaml");
                if let Err(e) = self.notifier.comment(problem, &why).await {
                    tracing::warn!(error = %e, "commenting on the problem failed");
                }
                // An empty file: the sequence ends with "no remediation" and says so in its
                // comment; nothing is guessed.
                Some(empty())
            }
        };
        if problem.source != ProblemSource::Alertmanager {
            return Ok(file);
        }
        let file = file.unwrap_or_else(empty);
        let confirmation = match &self.alerts {
            None => AlertConfirmation::Unconfirmed(
                "ALERTMANAGER_URL is not set, so the worker cannot ask Alertmanager whether the alert fires".into(),
            ),
            Some(alerts) => alerts.confirm(key, problem).await,
        };
        Ok(Some(match confirmation {
            AlertConfirmation::Firing => file,
            AlertConfirmation::Unconfirmed(why) => {
                tracing::warn!(lane = %key, problem = %problem.id, %why, "alert not confirmed");
                file.unconfirmed(why)
            }
        }))
    }

    /// What became of the active sequence's step in progress, found at claim time.
    async fn progress_inputs(&self, record: &mut LaneRecord, now: i64) -> Vec<Input> {
        let Some(active) = &record.lane.active else {
            return Vec::new();
        };
        match &active.phase {
            Phase::Running { key, .. } | Phase::Evaluating { key, .. }
                if handed_over_result(&record.inbox, key) =>
            {
                Vec::new()
            }
            Phase::Running {
                key, started_ms, ..
            } => {
                let name = key.to_string();
                match record.in_flight.iter().find(|f| f.key == name) {
                    None => vec![Input::ActionFinished {
                        key: key.clone(),
                        ok: false,
                        details: "the worker stopped while starting this action; it is not started again, as it may have run".into(),
                    }],
                    Some(flight) => match self
                        .actions
                        .check(&record.key, &flight.handle, *started_ms, now)
                        .await
                    {
                        ActionProgress::Finished { ok, details } => vec![Input::ActionFinished {
                            key: key.clone(),
                            ok,
                            details,
                        }],
                        ActionProgress::Pending { handle, details } => {
                            tracing::info!(lane = %record.key, step = %key, %details, "action still in progress");
                            if let Some(f) = record.in_flight.iter_mut().find(|f| f.key == name) {
                                f.handle = handle;
                            }
                            Vec::new()
                        }
                    },
                }
            }
            // The worker died between storing the request and the answer: evaluating reads
            // only, so it is simply asked again.
            Phase::Evaluating { key, .. } => {
                let Some(Effect::Evaluate { from_ms, to_ms, .. }) = evaluation_window(active, key)
                else {
                    return Vec::new();
                };
                let evaluation = self.evaluator.evaluate(&record.key, from_ms, to_ms).await;
                vec![Input::EvaluationFinished {
                    key: key.clone(),
                    result: evaluation.result,
                    details: evaluation.details,
                }]
            }
            _ => Vec::new(),
        }
    }

    async fn work(
        &self,
        claimed: LaneRecord,
        owner: &str,
        deadline_ms: Option<i64>,
        report: &mut RemediationReport,
    ) -> Result<(), StoreError> {
        let mut record = claimed;
        take_handed_over_handles(&mut record);
        let mut pending: Vec<Input> = self.progress_inputs(&mut record, self.now()).await;
        for round in 1..=MAX_ROUNDS {
            let (saved, effects) = self
                .apply_and_save(&mut record, &mut pending, owner)
                .await?;
            report.ended += saved;
            if effects.is_empty() {
                self.wake_when_due(&record.key, record.lane.ready_at_ms)
                    .await;
                return Ok(());
            }
            for effect in effects {
                self.perform(&mut record, effect, &mut pending, report)
                    .await;
            }
            let out_of_time =
                deadline_ms.is_some_and(|d| self.now() + self.settings.deadline_margin_ms / 2 > d);
            if round == MAX_ROUNDS || out_of_time {
                // What was done is never dropped: its results go to the lane's inbox, the
                // lease ends, and the next tick goes on from there at once.
                let notices = hand_over_notices(&record, &pending);
                tracing::info!(lane = %record.key, results = notices.len(), "a lane step is handed to the next tick");
                self.lanes
                    .hand_over(&record.key, &notices, owner, self.now())
                    .await?;
                self.wake_when_due(&record.key, Some(self.now())).await;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Apply the inbox, `pending` and the time to the lane and store it (with the ended
    /// sequences). A notice that arrived meanwhile makes the save fail: the lane is read
    /// again and everything applied anew (nothing was performed yet). Returns how many
    /// sequences ended and the effects to perform, in order.
    async fn apply_and_save(
        &self,
        record: &mut LaneRecord,
        pending: &mut Vec<Input>,
        owner: &str,
    ) -> Result<(usize, Vec<Effect>), StoreError> {
        let mut last_conflict = None;
        for _ in 0..SAVE_ATTEMPTS {
            let now = self.now();
            let mut inputs: VecDeque<Input> = self.notices_to_inputs(record).await?.into();
            inputs.extend(pending.iter().cloned());
            inputs.push_back(Input::Tick);
            let mut lane = record.lane.clone();
            let mut effects = Vec::new();
            let mut ended: Vec<Sequence> = Vec::new();
            for input in inputs {
                let described = describe_input(&input);
                let transition = advance(&lane, input, now, &self.settings.sequence);
                if let Some(why) = &transition.ignored {
                    tracing::info!(lane = %record.key, input = %described, %why, "input changed nothing");
                }
                lane = transition.lane;
                effects.extend(transition.effects);
                ended.extend(transition.ended);
            }
            if running_key(&lane).is_some() {
                // The machine looks again at the action's timeout; its progress sooner.
                lane.ready_at_ms = lane.ready_at_ms.map(|t| t.min(now + self.settings.poll_ms));
            }
            let in_flight = record
                .in_flight
                .iter()
                .filter(|f| running_key(&lane).is_some_and(|k| k.to_string() == f.key))
                .cloned()
                .collect();
            let next = LaneRecord {
                key: record.key.clone(),
                lane,
                inbox: Vec::new(),
                in_flight,
            };
            let keep_lease = !effects.is_empty();
            match self
                .lanes
                .save(&next, record.inbox.len(), &ended, owner, keep_lease)
                .await
            {
                Ok(()) => {
                    *record = next;
                    pending.clear();
                    for sequence in &ended {
                        tracing::info!(lane = %record.key, problem = %sequence.problem.id, phase = ?sequence.phase, "sequence ended");
                    }
                    return Ok((ended.len(), effects));
                }
                Err(StoreError::Conflict(why)) => {
                    // A notice came in (or the lease was lost: then reading again finds it
                    // held by another worker, and the save fails again).
                    last_conflict = Some(why);
                    match self.lanes.lane(&record.key).await? {
                        Some(fresh) => {
                            record.inbox = fresh.inbox;
                        }
                        None => return Err(StoreError::Conflict("the lane disappeared".into())),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!(
            "the lane kept changing while it was saved ({})",
            last_conflict.unwrap_or_default()
        )))
    }

    async fn perform(
        &self,
        record: &mut LaneRecord,
        effect: Effect,
        pending: &mut Vec<Input>,
        report: &mut RemediationReport,
    ) {
        let problem_of = |id: &str| {
            record
                .lane
                .active
                .iter()
                .chain(record.lane.queue.iter())
                .find(|s| s.problem.id == id)
                .map(|s| s.problem.clone())
        };
        match effect {
            Effect::Comment {
                problem_id, text, ..
            } => {
                tracing::info!(lane = %record.key, problem = %problem_id, step = %text, "remediation step");
                // An ended sequence is no longer in the lane; its comment still goes out.
                let problem = problem_of(&problem_id).unwrap_or_else(|| placeholder(&problem_id));
                if let Err(e) = self.notifier.comment(&problem, &text).await {
                    tracing::warn!(problem = %problem_id, error = %e, "commenting on the problem failed");
                }
            }
            Effect::RunAction { key, action } => {
                report.actions_started += 1;
                let problem =
                    problem_of(&key.problem_id).unwrap_or_else(|| placeholder(&key.problem_id));
                match self.actions.start(&record.key, &problem, &action).await {
                    ActionProgress::Finished { ok, details } => {
                        pending.push(Input::ActionFinished { key, ok, details })
                    }
                    ActionProgress::Pending { handle, details } => {
                        tracing::info!(lane = %record.key, step = %key, %details, "action started");
                        record.in_flight.push(crate::ports::lanes::InFlight {
                            key: key.to_string(),
                            handle,
                        });
                    }
                }
            }
            Effect::Evaluate {
                key,
                from_ms,
                to_ms,
                ..
            } => {
                report.evaluations += 1;
                let evaluation = self.evaluator.evaluate(&record.key, from_ms, to_ms).await;
                pending.push(Input::EvaluationFinished {
                    key,
                    result: evaluation.result,
                    details: evaluation.details,
                });
            }
            Effect::Escalate {
                problem_id,
                comment,
                webhook,
                ..
            } => {
                let problem = problem_of(&problem_id).unwrap_or_else(|| placeholder(&problem_id));
                if let Err(e) = self
                    .notifier
                    .escalate(&problem, &comment, webhook.as_deref())
                    .await
                {
                    tracing::error!(problem = %problem_id, error = %e, "escalating failed");
                    report
                        .errors
                        .push(format!("escalating problem {problem_id} failed: {e}"));
                }
            }
        }
    }
}

/// The problem an effect names when its sequence already left the lane (it ended in the
/// same step): only the id is needed to comment.
fn placeholder(problem_id: &str) -> crate::remediation::sequence::Problem {
    crate::remediation::sequence::Problem {
        id: problem_id.to_string(),
        source: problem_source_of(problem_id),
        title: String::new(),
        opened_ms: 0,
        link: None,
        alt_title: None,
    }
}

/// Alertmanager problem ids are `<fingerprint>@<startsAt>`; Dynatrace's never hold `@`.
fn problem_source_of(problem_id: &str) -> crate::remediation::sequence::ProblemSource {
    if problem_id.contains('@') {
        crate::remediation::sequence::ProblemSource::Alertmanager
    } else {
        crate::remediation::sequence::ProblemSource::Dynatrace
    }
}

/// Whether the inbox holds the result of step `key`, handed over by an earlier invocation.
fn handed_over_result(inbox: &[Notice], key: &StepKey) -> bool {
    inbox.iter().any(|n| match n {
        Notice::ActionFinished { key: k, .. } | Notice::EvaluationFinished { key: k, .. } => {
            k == key
        }
        _ => false,
    })
}

/// Actions an earlier invocation started and handed over: checked from here on.
fn take_handed_over_handles(record: &mut LaneRecord) {
    for notice in &record.inbox {
        if let Notice::ActionPending { key, handle } = notice {
            let name = key.to_string();
            record.in_flight.retain(|f| f.key != name);
            record.in_flight.push(crate::ports::lanes::InFlight {
                key: name,
                handle: handle.clone(),
            });
        }
    }
}

/// What a step learned and could not store itself: results, and the handles of actions
/// started and not done.
fn hand_over_notices(record: &LaneRecord, pending: &[Input]) -> Vec<Notice> {
    let mut notices: Vec<Notice> = pending
        .iter()
        .filter_map(|input| match input {
            Input::ActionFinished { key, ok, details } => Some(Notice::ActionFinished {
                key: key.clone(),
                ok: *ok,
                details: details.clone(),
            }),
            Input::EvaluationFinished {
                key,
                result,
                details,
            } => Some(Notice::EvaluationFinished {
                key: key.clone(),
                result: *result,
                details: details.clone(),
            }),
            _ => None,
        })
        .collect();
    if let Some(key) = running_key(&record.lane) {
        let name = key.to_string();
        notices.extend(record.in_flight.iter().filter(|f| f.key == name).map(|f| {
            Notice::ActionPending {
                key: key.clone(),
                handle: f.handle.clone(),
            }
        }));
    }
    notices
}

fn running_key(lane: &crate::remediation::sequence::Lane) -> Option<&StepKey> {
    match &lane.active.as_ref()?.phase {
        Phase::Running { key, .. } => Some(key),
        _ => None,
    }
}

/// The window an evaluation in progress asked for, from its recorded step.
fn evaluation_window(sequence: &Sequence, key: &StepKey) -> Option<Effect> {
    use crate::remediation::sequence::StepKind;
    sequence
        .steps
        .iter()
        .find(|s| s.number == key.step)
        .and_then(|s| match s.kind {
            StepKind::EvaluationRequested { from_ms, to_ms } => Some(Effect::Evaluate {
                key: key.clone(),
                from_ms,
                to_ms,
            }),
            _ => None,
        })
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Opened { problem, .. } => format!("opened {}", problem.id),
        Input::Closed { problem_id } => format!("closed {problem_id}"),
        Input::ActionFinished { key, ok, .. } => format!("action {key} finished (ok: {ok})"),
        Input::EvaluationFinished { key, result, .. } => {
            format!("evaluation {key}: {result:?}")
        }
        Input::Tick => "tick".into(),
    }
}
