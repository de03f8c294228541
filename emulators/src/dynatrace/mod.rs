//! A stateful Dynatrace API simulator on loopback (format and endpoints: emulators/README.md).
//!
//! `server` takes every request (token scopes, injected faults, the request log) and routes it
//! to one module per API area: `entities`, `metrics_v1`, `metrics_v2`, `events`, `problems`;
//! `control` serves the `/sim/*` endpoints for tests and `wire` holds what they all share (the
//! error body, query parameters, times). `model` is the state, `selector` parses Dynatrace's
//! selectors and `aggregate` computes the values.

pub mod aggregate;
mod control;
mod entities;
mod events;
mod metrics_v1;
mod metrics_v2;
pub mod model;
mod problems;
pub mod selector;
pub mod server;
mod wire;

pub use model::{FailNext, FaultRule, Faults, Fixture, RecordedRequest, DEFAULT_TOKEN};
pub use server::DynatraceSimulator;

/// Read a fixture file.
pub fn load_fixture(path: &std::path::Path) -> anyhow::Result<Fixture> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read fixture {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("fixture {} is not valid", path.display()))
}
