//! Unbreakable: performance quality gates and self-healing for delivery pipelines.
//!
//! The core ([`monspec`], [`evaluation`], [`metrics::combine`]) does no I/O. Adapters sit at
//! the edges behind small traits: [`metrics::MetricsSource`] is implemented by
//! [`dynatrace`] (API v1 and v2). [`gate`] wires a source to the core.

pub mod artifacts;
pub mod deploy;
pub mod dynatrace;
pub mod evaluation;
pub mod functions;
pub mod gate;
pub mod metrics;
pub mod monitoring;
pub mod monspec;
pub mod pipeline;
pub mod report;
pub mod sdk_error;
pub mod secrets;
pub mod store;
