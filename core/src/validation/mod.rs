//! The build-validation lifecycle, pure: CodePipeline UserParameters, matching a decision to
//! the approval it belongs to, the worker's decisions (the canary gate's in [`canary`]), and
//! a request's life from its claim to its approval as a state machine ([`lifecycle`]).

pub mod approval;
pub mod canary;
pub mod lifecycle;
pub mod params;
