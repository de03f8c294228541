//! The build-validation lifecycle, pure: CodePipeline UserParameters, matching a decision to
//! the approval it belongs to, and the worker's decisions.

pub mod approval;
pub mod params;
