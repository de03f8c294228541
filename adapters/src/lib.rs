//! Unbreakable's adapters: the real sides of the ports (`unbreakable-app`'s `ports`), which
//! talk to the world. [`aws`]: DynamoDB (validations, self-healing lanes), CodePipeline,
//! CodeDeploy, Auto Scaling, S3, Secrets Manager, SSM and SQS, built by `AwsClients`;
//! [`dynatrace`]: API v1 and v2 (metrics, SLIs, samples, events); [`prometheus`]: its query
//! API (SLIs, samples); [`unleash`]: feature toggles; [`alertmanager_api`]: whether an alert
//! still fires; [`notifier`]: comments and escalation webhooks of the self-healing sequence.
//! They may use the core and the application layer (ports, settings, the clock), never a
//! handler: `unbreakable-handlers` is not among this crate's dependencies.

// The lower crates' modules, nameable inside this crate as `crate::ports`, `crate::monspec`
// and so on (the paths these files used when they were one crate). Private: callers take
// them from their own crates (or the facade, `unbreakable-shared`).
use unbreakable_app::{ports, settings, time};
use unbreakable_core::{evaluation, monspec, remediation, text, validation};

pub mod alertmanager_api;
pub mod aws;
pub mod dynatrace;
pub mod notifier;
pub mod prometheus;
pub mod unleash;
