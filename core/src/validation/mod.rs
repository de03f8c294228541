//! The build-validation lifecycle, pure: CodePipeline UserParameters, matching a decision to
//! the approval it belongs to, and the worker's decisions (the canary gate's in [`canary`]).

pub mod approval;
pub mod canary;
pub mod params;
