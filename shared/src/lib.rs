//! Unbreakable: performance quality gates and self-healing for delivery pipelines.
//!
//! This crate is the composition facade: it holds no code of its own and re-exports the four
//! layers under the names they had when they were one crate, so the composition roots (the
//! binaries in `functions/`, `unbreakable local`, the CLI) and the tests name
//! `unbreakable_shared::lambda::worker`, `unbreakable_shared::aws::AwsClients` or
//! `unbreakable_shared::monspec` wherever each lives. The layers, each a crate the compiler
//! holds to its dependencies:
//!
//! - `unbreakable-core`, the pure core (no I/O, no clock): [`monspec`], [`evaluation`],
//!   [`slo`], [`compare`], [`validation`], [`remediation`], [`inbound`], [`report`],
//!   [`model`] (the plain data the ports carry), [`contract`] (the wire constants), [`text`]
//!   and [`yaml_file`].
//! - `unbreakable-app`, over the core alone: [`ports`] (one small trait per edge, each with
//!   its own error type and an in-memory double under the feature `testing`) and the use
//!   cases: [`quality_gate`] measures a plan through a metrics source and judges it; [`gate`]
//!   reads a stored monspec comparison or SLO gate back and judges it (the worker's and the
//!   lane evaluator's shared use case); [`canary`] measures a canary file's raw points for
//!   the statistical judge; [`rollback`] is the one rollback executor; [`problems`] what a Dynatrace problem notification leads to, as an outcome the webhook maps to HTTP; [`self_healing`] the
//!   remediation's actions and lane evaluator. [`settings`] declares and reads the
//!   environment variables handlers and adapters alike take; [`time`] adds the clock.
//! - `unbreakable-adapters`, over core and app: [`aws`], [`dynatrace`], [`prometheus`],
//!   [`unleash`], [`alertmanager_api`] and [`notifier`] (the escalation webhooks).
//! - `unbreakable-handlers`, over core and app, never the adapters: [`lambda`], each
//!   function's typed configuration and handler.
//!
//! The binaries in `functions/` compose: they pick the adapters and hand them to a handler.

pub use unbreakable_core::{
    compare, contract, evaluation, inbound, model, monspec, remediation, report, slo, text,
    validation, yaml_file,
};

pub use unbreakable_app::{
    canary, gate, ports, problems, quality_gate, rollback, self_healing, settings, time,
};

pub use unbreakable_adapters::{alertmanager_api, aws, dynatrace, notifier, prometheus, unleash};

pub use unbreakable_handlers::lambda;
