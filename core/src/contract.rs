//! The wire contract: the paths, header names, markers and limits that the stack's functions
//! and those who call them (API Gateway, Dynatrace, Alertmanager, the CLI, `unbreakable
//! local`) must agree on. Constants only: the handlers and their callers take them from here,
//! so a caller never depends on a handler to learn what to send.

/// `GET`: the build validation report, the link a pipeline's approval summary points to
/// (`?pipelineName=…`). API Gateway resource `BuildValidationResults`.
pub const REPORT_PATH: &str = "/BuildValidationResults";

/// `POST`: Dynatrace's problem notification (custom integration), answered by the problem
/// function. API Gateway resource `HandleDynatraceProblem`.
pub const PROBLEM_PATH: &str = "/HandleDynatraceProblem";

/// `POST`: Alertmanager's webhook (version 4), answered by the problem function, which tells
/// it from Dynatrace's by this path. API Gateway resource `HandleAlertmanagerAlert`.
pub const ALERTMANAGER_PATH: &str = "/HandleAlertmanagerAlert";

/// `GET`: the remediation timeline (Keptn's Bridge view), answered by the report function,
/// which tells it from the report by this path. API Gateway resource `RemediationSequences`.
pub const TIMELINE_PATH: &str = "/RemediationSequences";

/// The header Dynatrace sends the shared secret in (custom integration, "Additional HTTP
/// headers") on [`PROBLEM_PATH`].
pub const SECRET_HEADER: &str = "x-unbreakable-secret";

/// Descriptions of our rollbacks start with this, so a rollback is never rolled back; whoever
/// reads CodeDeploy's deployments can tell our rollbacks by it.
pub const ROLLBACK_MARKER: &str = "Unbreakable rollback";

/// A monspec larger than this is refused at registration (the CLI checks it before sending):
/// the item also holds the result JSON and the filled monspec, and a DynamoDB item is limited
/// to 400 KB.
pub const MAX_MONSPEC_BYTES: usize = crate::model::artifacts::MAX_FILE_BYTES;
