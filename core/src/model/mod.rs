//! The plain data the core's policies read and return, and the ports of the shared crate
//! carry: no behaviour beyond what the data says of itself.

pub mod artifacts;
pub mod deploy;
pub mod metrics;
pub mod pipeline;
pub mod samples;
pub mod scaling;
pub mod store;
