//! What the webhooks receive, read without I/O: Dynatrace's problem notification
//! ([`dynatrace`]) and Alertmanager's webhook ([`alertmanager`], also at its old path
//! `remediation::alertmanager`). The handlers authenticate the caller and pick the HTTP status.

pub mod alertmanager;
pub mod dynatrace;
