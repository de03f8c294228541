//! A stateful Dynatrace API simulator on loopback (format and endpoints: emulators/README.md).

pub mod aggregate;
pub mod model;
pub mod selector;
pub mod server;

pub use model::{FailNext, FaultRule, Faults, Fixture, RecordedRequest, DEFAULT_TOKEN};
pub use server::DynatraceSimulator;

/// Read a fixture file.
pub fn load_fixture(path: &std::path::Path) -> anyhow::Result<Fixture> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read fixture {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("fixture {} is not valid", path.display()))
}
