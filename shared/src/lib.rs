//! Unbreakable: performance quality gates and self-healing for delivery pipelines.
//!
//! The pure core is the `unbreakable-core` crate, re-exported here under the same names:
//! [`monspec`], [`evaluation`], [`slo`], [`compare`], [`validation`], [`remediation`],
//! [`inbound`], [`report`], [`model`] (the plain data the ports carry) and [`contract`] (the
//! wire constants). [`ports`] holds one small trait per edge, each with its own error type and
//! an in-memory double; [`aws`], [`dynatrace`], [`prometheus`] and [`unleash`] are the real
//! adapters. [`quality_gate`] measures a plan through a metrics source and judges it; [`gate`]
//! reads a stored monspec comparison or SLO gate back and judges it that way (the worker's
//! and the lane evaluator's shared use case); [`canary`] measures a canary file's raw points
//! through a sample source for the statistical judge; [`rollback`] is the one rollback
//! executor; [`problems`] is what a Dynatrace problem notification leads to (the problem
//! confirmed, each deployment handed to its self-healing lane or rolled back), as an outcome
//! the webhook handler maps to HTTP. [`settings`] declares and reads the environment
//! variables handlers and adapters alike take. [`lambda`] holds each function's typed
//! configuration and handler; the binaries in `functions/` compose them.

pub use unbreakable_core::{
    compare, contract, evaluation, inbound, model, monspec, remediation, report, slo, text,
    validation, yaml_file,
};

pub mod alertmanager_api;
pub mod aws;
pub mod canary;
pub mod dynatrace;
pub mod gate;
pub mod lambda;
pub mod ports;
pub mod problems;
pub mod prometheus;
pub mod quality_gate;
pub mod rollback;
pub mod self_healing;
pub mod settings;
pub mod time;
pub mod unleash;
