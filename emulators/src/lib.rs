//! What speaks real wire protocols where no real service runs here: the Dynatrace API
//! simulator, the CodePipeline/CodeDeploy emulator (AWS JSON 1.1), the Lambda Runtime API
//! emulator with the real function binaries, and the launchers of real services (moto server,
//! Prometheus, Alertmanager). Used by `unbreakable local` (the `local` crate) and by the tests.

pub mod alertmanager;
pub mod aws;
pub mod dynatrace;
pub mod lambda;
pub mod postgres;
pub mod prometheus;
pub mod serve;
pub mod unleash;
