//! The edges of the core: one small trait per outside system, each with its own error type.
//! Real adapters live in [`crate::aws`] and [`crate::dynatrace`]; [`memory`] has in-memory
//! doubles for fast handler tests.

pub mod artifacts;
pub mod deploy;
pub mod metrics;
pub mod monitoring;
pub mod pipeline;
pub mod secrets;
pub mod store;
