//! Test doubles that speak real wire protocols, shared by the integration tests, the
//! benchmarks and `unbreakable local`.

pub mod aws;
pub mod dynatrace;
pub mod harness;
pub mod lambda;
pub mod local;
pub mod serve;
