//! CodePipeline as the functions see it: a job's context, a pipeline's definition and state.

/// Where a job runs, from GetJobDetails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobContext {
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    /// Not documented as filled for Lambda jobs; optional.
    pub execution_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDefinition {
    pub name: String,
    /// `Approval`, `Deploy`, `Invoke`, …
    pub category: String,
    pub provider: String,
    pub configuration: Vec<(String, String)>,
}

impl ActionDefinition {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.configuration
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDefinition {
    pub name: String,
    pub actions: Vec<ActionDefinition>,
}

/// The structure of a pipeline, from GetPipeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineDefinition {
    pub name: String,
    pub stages: Vec<StageDefinition>,
}

impl PipelineDefinition {
    pub fn stage(&self, name: &str) -> Option<&StageDefinition> {
        self.stages.iter().find(|s| s.name == name)
    }
}

outside_state! {
    /// An action's latest execution status, as CodePipeline documents it
    /// (`ActionExecutionStatus`). A stage's status shares it: its other values (`Stopped`,
    /// `Stopping`, `Cancelled`) are `Other`.
    pub enum ActionStatus {
        InProgress => "InProgress",
        Abandoned => "Abandoned",
        Succeeded => "Succeeded",
        Failed => "Failed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionState {
    pub name: String,
    /// `None` before the first run.
    pub status: Option<ActionStatus>,
    /// The approval token, present while a manual approval waits.
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageState {
    pub name: String,
    pub execution_id: Option<String>,
    pub status: Option<ActionStatus>,
    pub actions: Vec<ActionState>,
}

/// What runs now, from GetPipelineState.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineState {
    pub stages: Vec<StageState>,
}

/// The `failureDetails.type` of PutJobFailureResult.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFailure {
    /// The action is set up wrong (parameters, monspec): the user must fix something.
    ConfigurationError,
    /// Anything else: a dependency failed.
    JobFailed,
}

impl JobFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            JobFailure::ConfigurationError => "ConfigurationError",
            JobFailure::JobFailed => "JobFailed",
        }
    }
}
