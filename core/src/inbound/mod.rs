//! What the webhooks receive, read without I/O: Dynatrace's problem notification. (The
//! Alertmanager webhook's reader is `remediation::alertmanager`.)

pub mod dynatrace;
