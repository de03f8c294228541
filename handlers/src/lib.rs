//! Unbreakable's Lambda handlers: [`lambda`] holds each function's typed `Config` (read once
//! at cold start, with the `MANIFEST` of the settings it reads and the AWS actions it calls)
//! and its handler, plus what they share (the CodePipeline job event, the wake-ups, the cold
//! start's timing, logging). A handler reaches the world only through the ports of
//! `unbreakable-app`; it never names an adapter (`unbreakable-adapters` is not among this
//! crate's dependencies). The binaries in `functions/` compose: each reads its handler's
//! `Config`, builds the adapters and hands them to the handler.

// The lower crates' modules, nameable inside this crate as `crate::ports`, `crate::slo` and so
// on (the paths these files used when they were one crate). Private: callers take them from
// their own crates (or the facade, `unbreakable-shared`).
use unbreakable_app::{canary, gate, ports, problems, rollback, settings, time};
use unbreakable_core::{
    compare, contract, evaluation, inbound, monspec, remediation, report, slo, text, validation,
};

pub mod lambda;
