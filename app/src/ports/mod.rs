//! The edges of the core: one small trait per outside system, each with its own error type.
//! The real adapters live in `unbreakable-adapters` (`aws`, `dynatrace`, `prometheus`,
//! `unleash`, `alertmanager_api`, `notifier`).

pub mod artifacts;
pub mod deploy;
pub mod lanes;
/// The in-memory doubles of the ports (the crate's own tests, and others' with the feature
/// `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod metrics;
pub mod monitoring;
pub mod pipeline;
pub mod remediation;
pub mod samples;
pub mod scaling;
pub mod secrets;
pub mod sli;
pub mod store;
pub mod toggles;
pub mod wakeups;
