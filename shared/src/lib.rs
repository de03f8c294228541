//! Unbreakable: performance quality gates and self-healing for delivery pipelines.
//!
//! The pure core does no I/O: [`monspec`] (the file format and its metric vocabulary),
//! [`evaluation`] (plans, rules, verdicts), [`validation`] (the request lifecycle, approval
//! matching, the worker's decisions), [`remediation`] (the rollback decision), [`compare`]
//! (the statistical judge of a control against an experiment) and [`report`].
//! [`ports`] holds one small trait per edge, each with its own error type and an in-memory
//! double; [`aws`] and [`dynatrace`] are the real adapters. [`quality_gate`] measures a plan
//! through a metrics source and judges it; [`gate`] reads a stored monspec comparison or SLO
//! gate back and judges it that way (the worker's and the lane evaluator's shared use case);
//! [`canary`] measures a canary file's raw points through a sample source for the statistical
//! judge. [`lambda`] holds each function's typed configuration and handler; the binaries in
//! `functions/` compose them.

pub use unbreakable_core::{
    compare, evaluation, inbound, model, monspec, remediation, report, slo, text, validation,
    yaml_file,
};

pub mod alertmanager_api;
pub mod aws;
pub mod canary;
pub mod dynatrace;
pub mod gate;
pub mod lambda;
pub mod ports;
pub mod prometheus;
pub mod quality_gate;
pub mod rollback;
pub mod self_healing;
pub mod time;
pub mod unleash;
