//! A validation request's life after its claim, as a pure state machine: measured and
//! judged (or tried again later, or put back because its data is not complete yet),
//! decided, and the decision applied to the approval of the execution that registered it
//! (or found applied already, superseded, expired, or left for a person).
//!
//! [`advance`] takes the request as the worker holds it, one [`Event`] (what the worker
//! learned) and the time it learned it, and returns a [`Transition`]: the new request, the
//! [`Command`]s to perform in order, then either one [`Ask`] (I/O whose answer is the next
//! event) or the [`End`] of the step. It does no I/O and reads no clock; the worker
//! (`handlers/src/lambda/worker.rs`) performs the commands and asks, with its injected clock
//! giving each event its time.
//!
//! The claim itself stays the store's conditional write (`ValidationStore::claim`): it moves
//! a waiting or evaluating request to `evaluating`, counts the attempt and takes the lease in
//! one write, so two workers never both hold a request. Everything after it is here.
//!
//! Exactly once: the decision is stored ([`Ask::StoreDecision`]) before the approval is
//! touched, so a crash after it applies the same decision again instead of judging anew;
//! the approval is looked up ([`Ask::LocateApproval`]) and sent ([`Ask::PutApproval`]) only
//! to the execution that registered the request.

use std::time::Duration;

use crate::evaluation::verdict::SUMMARY_LIMIT;
use crate::model::store::{Decision, RequestStatus, ValidationRequest};
use crate::text::truncate_chars;
use crate::validation::approval::ApprovalStep;

/// How often a request is measured, how soon it is looked at again, and how long its
/// approval is waited for. The worker's settings (`WORKER_MAX_ATTEMPTS`,
/// `WORKER_RECHECK_SECONDS`, `WORKER_APPROVAL_WAIT_DAYS`) override the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Evaluation attempts before the request ends as `error` (rejected).
    pub max_attempts: u32,
    /// When to look again at an approval that has not started, or after a failed attempt.
    pub recheck: Duration,
    /// A decided request whose approval never starts is polled this long after its window
    /// closed, then recorded as never applied.
    pub approval_wait: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 3,
            recheck: Duration::from_secs(60),
            approval_wait: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What the worker learned about a request it holds. The time comes with [`advance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The store handed the request over: its claim took the lease and, for a waiting or
    /// evaluating request, counted the attempt and made it `evaluating`. `seen` is the
    /// status the ready index showed, which an early claim puts back.
    Claimed { seen: RequestStatus },
    /// The answer to [`Ask::Measure`].
    Measured(Measurement),
    /// The answer to [`Ask::StoreDecision`]: the decision is stored.
    DecisionStored,
    /// The answer to [`Ask::LocateApproval`]: where the approval of our execution is.
    ApprovalFound(ApprovalStep),
    /// The answer to [`Ask::LocateApproval`] when the pipeline could not be read.
    PipelineUnreadable { error: String },
    /// The answer to [`Ask::PutApproval`]: CodePipeline took the decision.
    ApprovalPut,
    /// The answer to [`Ask::PutApproval`]: CodePipeline refused it, the approval being
    /// closed already; `found` is what the pipeline showed when read again (`None` when it
    /// could not be read).
    ApprovalClosed {
        message: String,
        found: Option<ApprovalStep>,
    },
    /// The answer to [`Ask::PutApproval`]: the call failed; another attempt may get through.
    PutFailed { error: String },
    /// The answer to [`Ask::PutApproval`]: our lease lapsed before anything was sent; the
    /// request is another worker's now.
    LeaseLost,
}

/// What measuring a request's gate came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measurement {
    /// A judgement, or a reason no judgement can ever be made (fail closed: an error
    /// decision), with the records to keep beside the decision, if any.
    Judged {
        decision: Decision,
        /// The result JSON (a verdict, an SLO evaluation, a canary judgement).
        result_json: Option<String>,
        /// The monspec with the measured values filled in.
        filled_monspec: Option<String>,
    },
    /// Something another attempt may mend fell short (a provider unavailable, a read that
    /// failed); given only when [`Ask::Measure`] allowed a retry. `failure` completes
    /// "attempt n of m …"; `summary` is what was measured anyway, if anything.
    Incomplete {
        failure: String,
        summary: Option<String>,
    },
}

impl Measurement {
    /// Fail closed: anything that prevents a verdict rejects the build, with the reason.
    pub fn failed(reason: String) -> Measurement {
        Measurement::Judged {
            decision: error_decision(reason),
            result_json: None,
            filled_monspec: None,
        }
    }
}

/// Something to do with the request, after the transition, that answers nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write the request back (only while we hold its lease).
    Save,
    /// Ask to be woken when the request is due again, rather than a sweep later.
    WakeAt { due_ms: i64 },
}

/// I/O whose answer is the next [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Measure the request's gate over its window and judge it; answer
    /// [`Event::Measured`]. With `may_retry`, a failure another attempt may mend is
    /// [`Measurement::Incomplete`]; without, it is judged as it is.
    Measure { may_retry: bool },
    /// Store the decided request before touching the approval (a crash after this point
    /// re-applies the same decision); answer [`Event::DecisionStored`].
    StoreDecision,
    /// Read the pipeline's definition and state; answer [`Event::ApprovalFound`] or
    /// [`Event::PipelineUnreadable`].
    LocateApproval,
    /// Renew the lease, then send the decision; answer [`Event::ApprovalPut`],
    /// [`Event::ApprovalClosed`], [`Event::PutFailed`] or [`Event::LeaseLost`]. Only the
    /// holder of a live lease sends: it may have lapsed while measuring (a slow tick) and
    /// another worker claimed the request.
    PutApproval(ApprovalResult),
}

/// The decision, as PutApprovalResult sends it to the approval of our execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalResult {
    pub stage: String,
    pub token: String,
    pub approve: bool,
    /// The decision's summary, within CodePipeline's limit.
    pub summary: String,
}

/// After a transition's commands: what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// Perform this and advance with its answer.
    Ask(Ask),
    /// The step is over: how, for the worker's report.
    End(End),
}

/// How one claim of a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Claimed before its data was complete: put back unjudged, the attempt not counted.
    Early,
    /// Measuring fell short; waiting for the next attempt.
    Retried,
    /// The decision reached the approval (sent now, or found sent by an earlier attempt).
    Applied { approved: bool },
    /// A warning left for a person: nothing sent.
    LeftForPerson,
    /// Decided, not applied yet: the approval has not started, or a call failed.
    Deferred,
    /// Not applied, and never will be: the pipeline moved on, the approval is missing, or
    /// someone decided it the other way.
    Superseded,
    /// Not applied: the approval never started within the policy's wait.
    Expired,
    /// Another worker holds the request now; nothing was written.
    LeaseLost,
}

/// The result of one event: the request to keep, the commands to perform, what comes next.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub request: ValidationRequest,
    pub commands: Vec<Command>,
    pub then: Then,
}

/// Apply `event`, which the worker learned at `now_ms`, to `request`.
pub fn advance(
    request: &ValidationRequest,
    event: Event,
    now_ms: i64,
    policy: &Policy,
) -> Transition {
    let mut run = Run {
        request: request.clone(),
        commands: Vec::new(),
        now: now_ms,
        policy,
    };
    let then = run.apply(event);
    Transition {
        request: run.request,
        commands: run.commands,
        then,
    }
}

/// Fail closed: anything that prevents a verdict rejects the build, with the reason.
pub fn error_decision(reason: String) -> Decision {
    Decision {
        approve: false,
        summary: truncate_chars(
            &format!("Rejected: the validation could not be completed: {reason}"),
            SUMMARY_LIMIT,
        ),
        outcome: RequestStatus::Error,
    }
}

fn verb(approve: bool) -> &'static str {
    if approve {
        "approved"
    } else {
        "rejected"
    }
}

struct Run<'a> {
    request: ValidationRequest,
    commands: Vec<Command>,
    now: i64,
    policy: &'a Policy,
}

impl Run<'_> {
    fn apply(&mut self, event: Event) -> Then {
        match event {
            Event::Claimed { seen } => self.claimed(seen),
            Event::Measured(Measurement::Judged {
                decision,
                result_json,
                filled_monspec,
            }) => self.decide(decision, result_json, filled_monspec),
            Event::Measured(Measurement::Incomplete { failure, summary }) => {
                self.retry(&failure, summary.as_deref())
            }
            Event::DecisionStored => self.apply_decision(),
            Event::ApprovalFound(step) => self.approval_found(step),
            Event::PipelineUnreadable { error } => {
                self.request.status_msg =
                    format!("decided, but cannot read the pipeline ({error}); will retry");
                self.defer()
            }
            Event::ApprovalPut => {
                let decision = self.decision();
                self.request.status = decision.outcome;
                self.request.status_msg = format!(
                    "{} {}: {}",
                    verb(decision.approve),
                    self.request.approval_action,
                    decision.summary
                );
                self.finish(
                    None,
                    End::Applied {
                        approved: decision.approve,
                    },
                )
            }
            // Closed because it was decided: by whom and how decides what we record.
            Event::ApprovalClosed { message, found } => match found {
                Some(ApprovalStep::Resolved { approved, reason }) => {
                    let decision = self.decision();
                    self.resolved(&decision, approved, &reason)
                }
                _ => self.superseded(format!("not applied: {message}")),
            },
            Event::PutFailed { error } => {
                self.request.status_msg =
                    format!("decided, but PutApprovalResult failed ({error}); will retry");
                self.defer()
            }
            Event::LeaseLost => Then::End(End::LeaseLost),
        }
    }

    /// The stored decision; a decided request without one (edited by hand) is rejected.
    fn decision(&self) -> Decision {
        self.request
            .decision
            .clone()
            .unwrap_or_else(|| error_decision("no decision was stored".into()))
    }

    fn claimed(&mut self, seen: RequestStatus) -> Then {
        if self.request.status != RequestStatus::Evaluating {
            // Decided by an earlier claim (the approval had not started, or a call failed).
            return self.apply_decision();
        }
        if self.now < self.request.ready_ms {
            // Due by an earlier check time than the data allows (an invocation for this
            // request, a schedule that fired early, an item edited by hand): never judge a
            // window before the provider has it. Put back as it was, the attempt not counted.
            self.request.status = seen;
            self.request.attempts = self.request.attempts.saturating_sub(1);
            let ready_ms = self.request.ready_ms;
            return self.finish(Some(ready_ms), End::Early);
        }
        let max = self.policy.max_attempts;
        if self.request.attempts > max {
            // Claims whose worker never saved (a crash, a lapsed lease) count too.
            let reason = format!(
                "gave up after {max} attempt(s): {}",
                self.request.status_msg
            );
            return self.decide(error_decision(reason), None, None);
        }
        Then::Ask(Ask::Measure {
            may_retry: self.request.attempts < max,
        })
    }

    fn decide(
        &mut self,
        decision: Decision,
        result_json: Option<String>,
        filled_monspec: Option<String>,
    ) -> Then {
        // A decision without records keeps whatever the request had.
        if result_json.is_some() {
            self.request.result_json = result_json;
        }
        if filled_monspec.is_some() {
            self.request.filled_monspec = filled_monspec;
        }
        self.request.status = RequestStatus::Decided;
        self.request.status_msg = format!("decided: {}", decision.summary);
        self.request.decision = Some(decision);
        Then::Ask(Ask::StoreDecision)
    }

    fn retry(&mut self, failure: &str, summary: Option<&str>) -> Then {
        let measured = summary.map(|s| format!(": {s}")).unwrap_or_default();
        self.request.status_msg = format!(
            "attempt {} of {} {failure}, retrying{measured}",
            self.request.attempts, self.policy.max_attempts
        );
        self.request.status = RequestStatus::Waiting;
        let due_ms = self.recheck_at();
        self.finish(Some(due_ms), End::Retried)
    }

    /// A stored decision: left for a person, or on to its approval.
    fn apply_decision(&mut self) -> Then {
        let decision = self.decision();
        if decision.outcome != RequestStatus::Manual {
            return Then::Ask(Ask::LocateApproval);
        }
        // Nothing is sent: the approval stays open for a person, who sees the score and
        // reasons in the report (CodePipeline takes a summary only with a result).
        self.request.status = RequestStatus::Manual;
        self.request.status_msg = format!(
            "left for a person: approve or reject {} in CodePipeline. {}",
            self.request.approval_action, decision.summary
        );
        self.finish(None, End::LeftForPerson)
    }

    fn approval_found(&mut self, step: ApprovalStep) -> Then {
        let decision = self.decision();
        let waited_ms = self.now - self.request.ready_ms;
        match step {
            ApprovalStep::NotYet { reason }
                if waited_ms > self.policy.approval_wait.as_millis() as i64 =>
            {
                // Polled for good otherwise: a pipeline deleted or never run that far.
                self.request.status = RequestStatus::Superseded;
                self.request.status_msg = format!(
                    "not applied: the approval never started within {} after the window closed ({reason}); decided {}",
                    humantime::format_duration(self.policy.approval_wait),
                    verb(decision.approve)
                );
                self.finish(None, End::Expired)
            }
            ApprovalStep::NotYet { reason } => {
                self.request.status_msg =
                    format!("decided ({}); waiting: {reason}", verb(decision.approve));
                self.defer()
            }
            ApprovalStep::Resolved { approved, reason } => {
                self.resolved(&decision, approved, &reason)
            }
            ApprovalStep::Superseded { reason } | ApprovalStep::Missing { reason } => {
                self.superseded(format!("not applied: {reason}"))
            }
            ApprovalStep::Apply { stage, token } => Then::Ask(Ask::PutApproval(ApprovalResult {
                stage,
                token,
                approve: decision.approve,
                summary: truncate_chars(&decision.summary, SUMMARY_LIMIT),
            })),
        }
    }

    /// The approval of our execution is already decided. As we decided: applied (an earlier
    /// attempt of ours got through, then its save was lost). The other way: someone else
    /// decided, and ours was not applied.
    fn resolved(&mut self, decision: &Decision, approved: bool, reason: &str) -> Then {
        if approved != decision.approve {
            return self.superseded(format!(
                "not applied: {reason}, but the verdict {} it",
                verb(decision.approve)
            ));
        }
        self.request.status = decision.outcome;
        self.request.status_msg = format!(
            "{} {} (found already applied: {reason}): {}",
            verb(approved),
            self.request.approval_action,
            decision.summary
        );
        self.finish(None, End::Applied { approved })
    }

    fn superseded(&mut self, status_msg: String) -> Then {
        self.request.status = RequestStatus::Superseded;
        self.request.status_msg = status_msg;
        self.finish(None, End::Superseded)
    }

    /// Decided, not applied yet: look again after the recheck.
    fn defer(&mut self) -> Then {
        let due_ms = self.recheck_at();
        self.finish(Some(due_ms), End::Deferred)
    }

    fn recheck_at(&self) -> i64 {
        self.now + self.policy.recheck.as_millis() as i64
    }

    /// End the step: the next check (`None`: finished, out of the ready index), the lease
    /// released, the request written back, and a wake-up asked for when it is due again.
    fn finish(&mut self, next_check_ms: Option<i64>, end: End) -> Then {
        self.request.next_check_ms = next_check_ms;
        self.request.lease_owner = None;
        self.commands.push(Command::Save);
        if let Some(due_ms) = next_check_ms {
            self.commands.push(Command::WakeAt { due_ms });
        }
        Then::End(end)
    }
}

#[cfg(test)]
mod tests {
    //! The lifecycle, rule by rule: each case feeds one event to a request in a given state at
    //! a given minute (from the moment its data is complete) and checks the request, the
    //! commands and what comes next.

    use super::*;
    use RequestStatus as S;

    /// When the request's window has closed and its data is complete.
    const READY: i64 = 1_700_000_060_000;
    const MIN: i64 = 60_000;
    const SUMMARY: &str = "2 of 2 checks pass";

    /// A request as its claim hands it over: held by worker-1 for five minutes.
    fn claimed(status: RequestStatus, attempts: u32) -> ValidationRequest {
        ValidationRequest {
            pipeline: "Sample".into(),
            timestamp_ms: READY - MIN,
            comparison: "StagingToProduction".into(),
            window_ms: MIN,
            ready_ms: READY,
            monspec: "{}".into(),
            slo: None,
            canary: None,
            stage: "Staging".into(),
            action: "Register".into(),
            approval_action: "ApproveStaging".into(),
            job_id: "job-1".into(),
            execution_id: "E1".into(),
            status,
            status_msg: String::new(),
            attempts,
            next_check_ms: Some(READY + 5 * MIN),
            lease_owner: Some("worker-1".into()),
            result_json: None,
            filled_monspec: None,
            decision: None,
            expires_at_s: 0,
        }
    }

    fn decided(approve: bool, outcome: RequestStatus) -> ValidationRequest {
        ValidationRequest {
            decision: Some(Decision {
                approve,
                summary: SUMMARY.into(),
                outcome,
            }),
            ..claimed(S::Decided, 1)
        }
    }

    fn at(request: &ValidationRequest, event: Event, minute: i64) -> Transition {
        advance(request, event, READY + minute * MIN, &Policy::default())
    }

    fn apply_at_t1() -> Event {
        Event::ApprovalFound(ApprovalStep::Apply {
            stage: "ApproveStaging".into(),
            token: "T1".into(),
        })
    }

    /// The step ended as `end`: the request written back with the next check `next` and
    /// the lease released, and a wake-up asked for at `next`, if any.
    fn assert_ended(t: &Transition, end: End, next: Option<i64>) {
        assert_eq!(t.then, Then::End(end), "{t:?}");
        assert_eq!(t.request.next_check_ms, next, "next check");
        assert_eq!(t.request.lease_owner, None, "lease released");
        let mut commands = vec![Command::Save];
        commands.extend(next.map(|due_ms| Command::WakeAt { due_ms }));
        assert_eq!(t.commands, commands);
    }

    #[test]
    fn a_claim_before_the_data_is_complete_is_put_back_unjudged_the_attempt_not_counted() {
        let request = claimed(S::Evaluating, 1);
        let t = at(&request, Event::Claimed { seen: S::Waiting }, -1);
        assert_ended(&t, End::Early, Some(READY));
        assert_eq!((t.request.status, t.request.attempts), (S::Waiting, 0));
        assert_eq!(t.request.decision, None);

        let t = at(&request, Event::Claimed { seen: S::Waiting }, 0);
        assert_eq!(
            t.then,
            Then::Ask(Ask::Measure { may_retry: true }),
            "complete at ready_ms"
        );
    }

    #[test]
    fn a_claim_is_measured_and_a_failure_may_be_retried_while_attempts_are_left() {
        for (attempts, may_retry) in [(1, true), (2, true), (3, false)] {
            let request = claimed(S::Evaluating, attempts);
            let t = at(&request, Event::Claimed { seen: S::Waiting }, 1);
            assert_eq!(
                t.then,
                Then::Ask(Ask::Measure { may_retry }),
                "attempt {attempts}"
            );
            assert!(t.commands.is_empty());
            assert_eq!(t.request, request, "nothing changes before the measurement");
        }
    }

    #[test]
    fn a_claim_after_the_last_attempt_gives_up_with_an_error_decision_without_measuring() {
        let mut request = claimed(S::Evaluating, 4);
        request.status_msg =
            "attempt 2 of 3 could not read the earlier evaluations (timeout), retrying".into();
        let t = at(
            &request,
            Event::Claimed {
                seen: S::Evaluating,
            },
            1,
        );
        assert_eq!(t.then, Then::Ask(Ask::StoreDecision));
        assert!(t.commands.is_empty());
        assert_eq!(t.request.status, S::Decided);
        let decision = t.request.decision.clone().expect("decided");
        assert_eq!((decision.approve, decision.outcome), (false, S::Error));
        assert_eq!(
            decision.summary,
            "Rejected: the validation could not be completed: gave up after 3 attempt(s): attempt 2 of 3 could not read the earlier evaluations (timeout), retrying"
        );
        assert_eq!(
            t.request.status_msg,
            format!("decided: {}", decision.summary)
        );
    }

    #[test]
    fn a_judgement_is_stored_with_its_records_before_the_approval_is_touched() {
        let request = claimed(S::Evaluating, 1);
        let judged = Measurement::Judged {
            decision: Decision {
                approve: true,
                summary: SUMMARY.into(),
                outcome: S::Ok,
            },
            result_json: Some("{\"result\": \"pass\"}".into()),
            filled_monspec: Some("{\"filled\": true}".into()),
        };
        let t = at(&request, Event::Measured(judged), 2);
        assert_eq!(t.then, Then::Ask(Ask::StoreDecision));
        assert!(
            t.commands.is_empty(),
            "nothing else is written or sent first"
        );
        assert_eq!(t.request.status, S::Decided);
        assert_eq!(t.request.status_msg, "decided: 2 of 2 checks pass");
        assert_eq!(
            t.request.result_json.as_deref(),
            Some("{\"result\": \"pass\"}")
        );
        assert_eq!(
            t.request.filled_monspec.as_deref(),
            Some("{\"filled\": true}")
        );
        assert_eq!(
            (t.request.next_check_ms, t.request.lease_owner.as_deref()),
            (Some(READY + 5 * MIN), Some("worker-1")),
            "still held: the approval is next"
        );
    }

    #[test]
    fn a_failed_measurement_rejects_as_an_error_and_keeps_the_records_the_request_had() {
        let mut request = claimed(S::Evaluating, 1);
        request.result_json = Some("{\"earlier\": true}".into());
        let failed = Measurement::failed("the stored monspec is invalid: no comparison".into());
        let t = at(&request, Event::Measured(failed), 2);
        assert_eq!(t.then, Then::Ask(Ask::StoreDecision));
        let decision = t.request.decision.clone().expect("decided");
        assert_eq!((decision.approve, decision.outcome), (false, S::Error));
        assert_eq!(
            decision.summary,
            "Rejected: the validation could not be completed: the stored monspec is invalid: no comparison"
        );
        assert_eq!(
            t.request.result_json.as_deref(),
            Some("{\"earlier\": true}")
        );
    }

    #[test]
    fn an_error_decision_is_cut_to_what_codepipeline_takes() {
        let decision = error_decision("x".repeat(2 * SUMMARY_LIMIT));
        assert_eq!(decision.summary.chars().count(), SUMMARY_LIMIT);
        assert!(decision.summary.ends_with('…'));
    }

    #[test]
    fn an_incomplete_measurement_is_retried_after_the_recheck_with_the_attempt_in_words() {
        let request = claimed(S::Evaluating, 2);
        for (failure, summary, expected) in [
            (
                "could not measure everything",
                Some(SUMMARY),
                "attempt 2 of 3 could not measure everything, retrying: 2 of 2 checks pass",
            ),
            (
                "could not read the earlier evaluations (timeout)",
                None,
                "attempt 2 of 3 could not read the earlier evaluations (timeout), retrying",
            ),
        ] {
            let incomplete = Measurement::Incomplete {
                failure: failure.into(),
                summary: summary.map(String::from),
            };
            let t = at(&request, Event::Measured(incomplete), 2);
            assert_ended(&t, End::Retried, Some(READY + 3 * MIN));
            assert_eq!(t.request.status, S::Waiting);
            assert_eq!(t.request.status_msg, expected);
            assert_eq!(t.request.attempts, 2, "counted by the claim, not again");
            assert_eq!(t.request.decision, None);
        }
    }

    #[test]
    fn a_stored_decision_and_a_claimed_decided_request_go_to_their_approval() {
        let request = decided(true, S::Ok);
        let t = at(&request, Event::DecisionStored, 2);
        assert_eq!(t.then, Then::Ask(Ask::LocateApproval));
        assert!(t.commands.is_empty());
        let t = at(&request, Event::Claimed { seen: S::Decided }, 2);
        assert_eq!(t.then, Then::Ask(Ask::LocateApproval));
        assert_eq!(t.request, request);
    }

    #[test]
    fn a_warning_left_for_a_person_sends_nothing_and_leaves_the_ready_index() {
        for event in [Event::DecisionStored, Event::Claimed { seen: S::Decided }] {
            let t = at(&decided(false, S::Manual), event, 2);
            assert_ended(&t, End::LeftForPerson, None);
            assert_eq!(t.request.status, S::Manual);
            assert_eq!(
                t.request.status_msg,
                "left for a person: approve or reject ApproveStaging in CodePipeline. 2 of 2 checks pass"
            );
        }
    }

    #[test]
    fn a_waiting_approval_is_sent_the_decision_with_its_summary_within_the_limit() {
        let mut request = decided(true, S::Ok);
        request.decision.as_mut().expect("decided").summary = "x".repeat(600);
        let t = at(&request, apply_at_t1(), 2);
        assert!(t.commands.is_empty());
        assert_eq!(
            t.request, request,
            "nothing recorded before CodePipeline answers"
        );
        let Then::Ask(Ask::PutApproval(result)) = t.then.clone() else {
            panic!("not sent: {:?}", t.then)
        };
        assert_eq!(
            (result.stage.as_str(), result.token.as_str(), result.approve),
            ("ApproveStaging", "T1", true)
        );
        assert_eq!(result.summary.chars().count(), SUMMARY_LIMIT);
    }

    #[test]
    fn a_decided_request_without_its_decision_is_rejected_as_an_error() {
        let t = at(&claimed(S::Decided, 1), apply_at_t1(), 2);
        assert_eq!(
            t.then,
            Then::Ask(Ask::PutApproval(ApprovalResult {
                stage: "ApproveStaging".into(),
                token: "T1".into(),
                approve: false,
                summary: "Rejected: the validation could not be completed: no decision was stored"
                    .into(),
            }))
        );
    }

    #[test]
    fn an_approval_taken_ends_with_the_decided_outcome() {
        for (approve, outcome, message) in [
            (true, S::Ok, "approved ApproveStaging: 2 of 2 checks pass"),
            (
                false,
                S::Violation,
                "rejected ApproveStaging: 2 of 2 checks pass",
            ),
        ] {
            let t = at(&decided(approve, outcome), Event::ApprovalPut, 2);
            assert_ended(&t, End::Applied { approved: approve }, None);
            assert_eq!(t.request.status, outcome);
            assert_eq!(t.request.status_msg, message);
        }
    }

    #[test]
    fn an_approval_not_started_is_looked_at_again_after_the_recheck() {
        let not_yet = Event::ApprovalFound(ApprovalStep::NotYet {
            reason: "stage ApproveStaging has not run yet".into(),
        });
        let t = at(&decided(false, S::Error), not_yet, 2);
        assert_ended(&t, End::Deferred, Some(READY + 3 * MIN));
        assert_eq!(t.request.status, S::Decided);
        assert_eq!(
            t.request.status_msg,
            "decided (rejected); waiting: stage ApproveStaging has not run yet"
        );
    }

    #[test]
    fn an_approval_that_never_starts_within_the_wait_expires() {
        let policy = Policy {
            approval_wait: Duration::from_secs(3_600),
            ..Policy::default()
        };
        let request = decided(true, S::Ok);
        let not_yet = || {
            Event::ApprovalFound(ApprovalStep::NotYet {
                reason: "ApproveStaging has not started yet".into(),
            })
        };
        let t = advance(&request, not_yet(), READY + 3_600_000, &policy);
        assert_eq!(t.then, Then::End(End::Deferred), "the wait is not over");
        let t = advance(&request, not_yet(), READY + 3_600_001, &policy);
        assert_ended(&t, End::Expired, None);
        assert_eq!(t.request.status, S::Superseded);
        assert_eq!(
            t.request.status_msg,
            "not applied: the approval never started within 1h after the window closed (ApproveStaging has not started yet); decided approved"
        );
    }

    #[test]
    fn an_approval_found_decided_our_way_counts_as_applied_and_the_other_way_is_superseded() {
        let resolved = || {
            Event::ApprovalFound(ApprovalStep::Resolved {
                approved: false,
                reason: "ApproveStaging of execution E1 is already Failed".into(),
            })
        };
        let t = at(&decided(false, S::Violation), resolved(), 2);
        assert_ended(&t, End::Applied { approved: false }, None);
        assert_eq!(t.request.status, S::Violation);
        assert_eq!(
            t.request.status_msg,
            "rejected ApproveStaging (found already applied: ApproveStaging of execution E1 is already Failed): 2 of 2 checks pass"
        );

        let t = at(&decided(true, S::Ok), resolved(), 2);
        assert_ended(&t, End::Superseded, None);
        assert_eq!(t.request.status, S::Superseded);
        assert_eq!(
            t.request.status_msg,
            "not applied: ApproveStaging of execution E1 is already Failed, but the verdict approved it"
        );
    }

    #[test]
    fn a_superseded_or_missing_approval_is_never_applied() {
        for (step, message) in [
            (
                ApprovalStep::Superseded {
                    reason: "stage ApproveStaging now runs execution E2, not E1".into(),
                },
                "not applied: stage ApproveStaging now runs execution E2, not E1",
            ),
            (
                ApprovalStep::Missing {
                    reason: "pipeline Sample has no manual approval action named ApproveStaging"
                        .into(),
                },
                "not applied: pipeline Sample has no manual approval action named ApproveStaging",
            ),
        ] {
            let t = at(&decided(true, S::Ok), Event::ApprovalFound(step), 2);
            assert_ended(&t, End::Superseded, None);
            assert_eq!(t.request.status, S::Superseded);
            assert_eq!(t.request.status_msg, message);
        }
    }

    #[test]
    fn an_unreadable_pipeline_or_a_failed_put_is_tried_again_after_the_recheck() {
        let error = "CodePipeline call failed: throttled";
        for (event, message) in [
            (
                Event::PipelineUnreadable {
                    error: error.into(),
                },
                "decided, but cannot read the pipeline (CodePipeline call failed: throttled); will retry",
            ),
            (
                Event::PutFailed {
                    error: error.into(),
                },
                "decided, but PutApprovalResult failed (CodePipeline call failed: throttled); will retry",
            ),
        ] {
            let t = at(&decided(true, S::Ok), event, 2);
            assert_ended(&t, End::Deferred, Some(READY + 3 * MIN));
            assert_eq!(t.request.status, S::Decided);
            assert_eq!(t.request.status_msg, message);
        }
    }

    #[test]
    fn an_approval_closed_under_us_is_recorded_as_the_pipeline_shows_it() {
        let closed = |found: Option<ApprovalStep>| Event::ApprovalClosed {
            message: "CodePipeline refused the approval: the token expired".into(),
            found,
        };
        let ours = ApprovalStep::Resolved {
            approved: true,
            reason: "ApproveStaging of execution E1 is already Succeeded".into(),
        };
        let t = at(&decided(true, S::Ok), closed(Some(ours)), 2);
        assert_ended(&t, End::Applied { approved: true }, None);
        assert_eq!(t.request.status, S::Ok);
        assert_eq!(
            t.request.status_msg,
            "approved ApproveStaging (found already applied: ApproveStaging of execution E1 is already Succeeded): 2 of 2 checks pass"
        );

        let not_yet = ApprovalStep::NotYet {
            reason: "ApproveStaging has not started yet".into(),
        };
        for found in [None, Some(not_yet)] {
            let t = at(&decided(true, S::Ok), closed(found), 2);
            assert_ended(&t, End::Superseded, None);
            assert_eq!(
                t.request.status_msg,
                "not applied: CodePipeline refused the approval: the token expired"
            );
        }
    }

    #[test]
    fn a_lost_lease_writes_nothing() {
        let request = decided(true, S::Ok);
        let t = at(&request, Event::LeaseLost, 2);
        assert_eq!(t.then, Then::End(End::LeaseLost));
        assert!(t.commands.is_empty());
        assert_eq!(t.request, request, "left to the worker that holds it now");
    }

    #[test]
    fn a_request_goes_from_its_claim_to_its_approval_one_ask_at_a_time() {
        let mut request = claimed(S::Evaluating, 1);
        let mut asked = Vec::new();
        let mut event = Event::Claimed { seen: S::Waiting };
        let end = loop {
            let t = at(&request, event, 1);
            request = t.request;
            let ask = match t.then {
                Then::End(end) => break end,
                Then::Ask(ask) => ask,
            };
            event = match &ask {
                Ask::Measure { .. } => Event::Measured(Measurement::Judged {
                    decision: Decision {
                        approve: true,
                        summary: SUMMARY.into(),
                        outcome: S::Ok,
                    },
                    result_json: None,
                    filled_monspec: None,
                }),
                Ask::StoreDecision => Event::DecisionStored,
                Ask::LocateApproval => apply_at_t1(),
                Ask::PutApproval(_) => Event::ApprovalPut,
            };
            asked.push(ask);
        };
        assert_eq!(end, End::Applied { approved: true });
        assert_eq!(
            asked,
            [
                Ask::Measure { may_retry: true },
                Ask::StoreDecision,
                Ask::LocateApproval,
                Ask::PutApproval(ApprovalResult {
                    stage: "ApproveStaging".into(),
                    token: "T1".into(),
                    approve: true,
                    summary: SUMMARY.into(),
                }),
            ]
        );
        assert_eq!(
            (request.status, request.next_check_ms),
            (S::Ok, None),
            "finished: out of the ready index"
        );
    }
}
