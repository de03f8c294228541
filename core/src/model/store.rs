//! A registered build validation and what is kept of it: its status, its decision, its gate;
//! and the rollback ledger's records.

/// Where a request is in its life.
///
/// `waiting` → (claimed) `evaluating` → `decided` (verdict stored, approval not applied yet)
/// → `ok` | `violation` | `error` | `superseded`. The first three are *active*: they sit in
/// the sparse ready index until the approval is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Waiting,
    Evaluating,
    Decided,
    Ok,
    Violation,
    Error,
    Superseded,
    /// An SLO warning left for a person to approve or reject (`onWarning: manual`).
    Manual,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 8] = [
        RequestStatus::Waiting,
        RequestStatus::Evaluating,
        RequestStatus::Decided,
        RequestStatus::Ok,
        RequestStatus::Violation,
        RequestStatus::Error,
        RequestStatus::Superseded,
        RequestStatus::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Waiting => "waiting",
            RequestStatus::Evaluating => "evaluating",
            RequestStatus::Decided => "decided",
            RequestStatus::Ok => "ok",
            RequestStatus::Violation => "violation",
            RequestStatus::Error => "error",
            RequestStatus::Superseded => "superseded",
            RequestStatus::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_active(self) -> bool {
        matches!(
            self,
            RequestStatus::Waiting | RequestStatus::Evaluating | RequestStatus::Decided
        )
    }
}

/// The verdict's decision, kept until it reaches the approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub approve: bool,
    /// ≤ 512 characters: what PutApprovalResult sends.
    pub summary: String,
    /// The final status once applied: `ok`, `violation` or `error`; `manual` when the
    /// approval is left for a person and nothing is sent.
    pub outcome: RequestStatus,
}

/// Which SLI provider measures an SLO gate's indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliProviderKind {
    Prometheus,
    Dynatrace,
}

impl SliProviderKind {
    pub const ALL: [SliProviderKind; 2] = [SliProviderKind::Prometheus, SliProviderKind::Dynatrace];

    pub fn as_str(self) -> &'static str {
        match self {
            SliProviderKind::Prometheus => "prometheus",
            SliProviderKind::Dynatrace => "dynatrace",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What an SLO `warning` does to the approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnWarning {
    /// Leave the approval waiting for a person (the default: a warning is a question).
    #[default]
    Manual,
    Approve,
    Reject,
}

impl OnWarning {
    pub const ALL: [OnWarning; 3] = [OnWarning::Manual, OnWarning::Approve, OnWarning::Reject];

    pub fn as_str(self) -> &'static str {
        match self {
            OnWarning::Manual => "manual",
            OnWarning::Approve => "approve",
            OnWarning::Reject => "reject",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A validation gated by Keptn-style slo.yaml/sli.yaml files instead of a monspec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloGate {
    /// The slo.yaml text as registered.
    pub slo: String,
    /// The sli.yaml text (the provider's queries).
    pub sli: String,
    pub provider: SliProviderKind,
    /// `$SERVICE` in the queries; with the pipeline and stage, whose earlier evaluations
    /// are the baseline.
    pub service: String,
    pub on_warning: OnWarning,
}

/// The comparison name of SLO-gated validations (the report groups by comparison).
pub const SLO_COMPARISON: &str = "SLO";

/// A validation gated by the statistical judge (`crate::compare`): the canary file's
/// metrics, each measured on a control and an experiment scope over the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryGate {
    /// The canary file's text as registered (canary.yaml, or canary.json).
    pub file: String,
    pub provider: SliProviderKind,
    /// The scopes as UserParameters gave them (`crate::compare::canary_file::parse_scope`
    /// reads them): kept as text, so the stored item shows what the pipeline asked for.
    pub control: String,
    pub experiment: String,
    /// What a `marginal` result (or no control data at all) does to the approval.
    pub on_marginal: OnWarning,
}

/// The comparison name of canary-gated validations.
pub const CANARY_COMPARISON: &str = "Canary";

/// One build validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRequest {
    pub pipeline: String,
    /// Registration time (epoch ms): the table's sort key and the window's start.
    pub timestamp_ms: i64,
    pub comparison: String,
    pub window_ms: i64,
    /// When the window has closed (epoch ms).
    pub ready_ms: i64,
    /// The monspec document as registered (empty for an SLO or canary gate).
    pub monspec: String,
    /// Set when the validation is an SLO gate; `comparison` is then [`SLO_COMPARISON`].
    pub slo: Option<SloGate>,
    /// Set when the validation is a canary gate; `comparison` is then [`CANARY_COMPARISON`].
    pub canary: Option<CanaryGate>,
    pub stage: String,
    pub action: String,
    pub approval_action: String,
    pub job_id: String,
    pub execution_id: String,
    pub status: RequestStatus,
    pub status_msg: String,
    /// Evaluation attempts so far (claims of a waiting or evaluating request).
    pub attempts: u32,
    /// When the worker should look at the request next (epoch ms); `None` once finished.
    /// While claimed, it is the lease expiry: a crashed worker's claim lapses by itself.
    pub next_check_ms: Option<i64>,
    pub lease_owner: Option<String>,
    /// The result JSON (README, "Result JSON").
    pub result_json: Option<String>,
    /// The monspec with the measured values filled in (the original's format).
    pub filled_monspec: Option<String>,
    pub decision: Option<Decision>,
    /// TTL (epoch seconds).
    pub expires_at_s: i64,
}

impl ValidationRequest {
    /// What the report's history carries of a request: everything but the files (monspec,
    /// SLO and canary files, the filled monspec) and the worker's bookkeeping (job id, next
    /// check, lease), which the report never shows. The table's report query reads just this.
    pub fn report_view(&self) -> ValidationRequest {
        ValidationRequest {
            monspec: String::new(),
            slo: None,
            canary: None,
            job_id: String::new(),
            next_check_ms: None,
            lease_owner: None,
            filled_monspec: None,
            ..self.clone()
        }
    }

    pub fn key(&self) -> RequestKey {
        RequestKey {
            pipeline: self.pipeline.clone(),
            timestamp_ms: self.timestamp_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    pub pipeline: String,
    pub timestamp_ms: i64,
}

/// An entry of the ready index: enough to claim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyEntry {
    pub key: RequestKey,
    pub status: RequestStatus,
}

/// A stored item that cannot be read (an unknown `Status`, a missing attribute): skipped
/// and reported, so one bad item never stops the others from being decided or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableItem {
    pub key: RequestKey,
    /// What is wrong with it, as [`StoreError::Malformed`] says.
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct ReadyBatch {
    pub entries: Vec<ReadyEntry>,
    /// Due items that cannot be claimed because they cannot be read: the worker quarantines
    /// them.
    pub unreadable: Vec<UnreadableItem>,
    /// Items DynamoDB read to answer (ScannedCount summed over pages).
    pub items_read: usize,
}

/// A page-wise read of a pipeline's history.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub requests: Vec<ValidationRequest>,
    pub pages: usize,
    /// Older requests in the timespan were left out to keep within the limit asked for.
    pub truncated: bool,
    /// Items left out because they cannot be read.
    pub skipped: Vec<UnreadableItem>,
}

/// One rollback, keyed by problem and deployment so a re-sent notification finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRecord {
    pub problem_id: String,
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
    pub rollback_deployment_id: Option<String>,
    /// When the rollback was claimed (epoch ms).
    pub at_ms: i64,
    /// The group takes no other rollback before this (the cooldown's end, epoch ms).
    pub locked_until_ms: i64,
}

/// What claiming a rollback found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackClaim {
    /// Ours: the ledger row and the group lock are written, in one transaction.
    Claimed,
    /// This (problem, deployment) was claimed before (done, or being done).
    AlreadyRecorded(RollbackRecord),
    /// Another rollback holds the group (within its cooldown).
    GroupLocked(RollbackRecord),
}

/// A notification the problem handler answered, kept as an audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub problem_id: String,
    pub received_ms: i64,
    pub state: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The answer's JSON, as sent.
    pub answer: String,
}
