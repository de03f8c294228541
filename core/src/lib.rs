//! Unbreakable's pure core: no I/O and no clock (every "now" is a parameter), and no
//! dependency on another workspace crate, an async runtime, an AWS SDK or an HTTP client
//! (`tests/tests/layers.rs` checks this).
//!
//! [`model`] is the plain data the rest shares: what a monitoring tool is asked and answers,
//! a stored validation, a pipeline's and a deployment's state. [`monspec`] is the file format
//! and its metric vocabulary; [`evaluation`] plans and judges a monspec comparison; [`slo`]
//! reads and scores Keptn's slo.yaml and sli.yaml; [`compare`] is the statistical judge of a
//! control against an experiment; [`validation`] holds the request lifecycle's rules and the
//! registration's parameters; [`remediation`] reads remediation.yaml and decides rollbacks,
//! scaling and each step of a sequence; [`report`] renders the report and the timeline.
//! [`contract`] holds the wire constants (paths, header names, markers, limits) the functions
//! and their callers agree on.
//! The ports and the use cases that drive them are in `unbreakable-app`, the adapters that
//! talk to the world in `unbreakable-adapters`, the Lambda handlers in `unbreakable-handlers`;
//! the facade `unbreakable-shared` re-exports these modules under the same names.

pub mod compare;
pub mod contract;
pub mod evaluation;
pub mod inbound;
pub mod model;
pub mod monspec;
pub mod remediation;
pub mod report;
pub mod slo;
pub mod text;
pub mod time;
pub mod validation;
pub mod yaml_file;
