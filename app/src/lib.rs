//! Unbreakable's application layer: the ports and the use cases over them, above the pure
//! core (`unbreakable-core`) and below the adapters (`unbreakable-adapters`) and the Lambda
//! handlers (`unbreakable-handlers`). Its one workspace dependency is the core; it names no
//! AWS SDK, no `lambda_*` crate and no HTTP client (`tests/tests/layers.rs` checks both from
//! Cargo.lock).
//!
//! [`ports`] holds one small trait per edge, each with its own error type, and the in-memory
//! doubles (`ports::memory` and every `Memory*`, only for this crate's tests or with the
//! feature `testing`). [`quality_gate`] measures a plan through a metrics source and judges
//! it; [`gate`] reads a stored monspec comparison or SLO gate back and judges it (the
//! worker's and the lane evaluator's shared use case); [`canary`] measures a canary file's
//! raw points through a sample source for the statistical judge; [`rollback`] is the one
//! rollback executor; [`problems`] is what a Dynatrace problem notification leads to (the
//! problem confirmed, each deployment handed to its self-healing lane or rolled back), as an
//! outcome the webhook handler maps to HTTP; [`self_healing`] holds the remediation's actions and lane evaluator.
//! [`settings`] declares and reads the environment variables handlers and adapters alike
//! take (and the Dynatrace and Unleash settings handlers' configurations carry); [`time`]
//! adds the one clock read to the core's times.

// The core's modules, nameable inside this crate as `crate::monspec` and so on (the paths
// these files used when they were one crate with the core's re-exports). Private: callers
// take them from `unbreakable-core` (or the facade, `unbreakable-shared`).
use unbreakable_core::{compare, evaluation, inbound, monspec, remediation, slo, text, validation};

pub mod canary;
pub mod gate;
pub mod ports;
pub mod problems;
pub mod quality_gate;
pub mod rollback;
pub mod self_healing;
pub mod settings;
pub mod time;
