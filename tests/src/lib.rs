//! Test doubles that speak real wire protocols, shared by the integration tests, the
//! benchmarks and `unbreakable local`.

pub mod dynatrace;
pub mod aws;
pub mod lambda;
pub mod harness;
