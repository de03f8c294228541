//! Where a feature flag lives and how to reach Unleash: the settings the remediation's
//! configuration reads (`UNLEASH_*`) and the Unleash adapter (`unbreakable-adapters`'
//! `unleash::UnleashAdmin`) checks and uses. Plain data here, below both, so a handler's
//! `Config` names no adapter.

use std::time::Duration;

/// Where the flag lives and how to reach Unleash; see [`UnleashSettings::new`] for defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnleashSettings {
    /// The Unleash base URL, e.g. `https://unleash.example.com` (a path prefix is kept).
    pub url: String,
    pub project: String,
    pub environment: String,
    /// The Secrets Manager secret id (or ARN) holding an admin API token.
    pub token_secret_id: String,
    /// Per HTTP call.
    pub timeout: Duration,
}

impl UnleashSettings {
    pub const DEFAULT_PROJECT: &'static str = "default";
    pub const DEFAULT_ENVIRONMENT: &'static str = "production";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Project `default`, environment `production` (Unleash's own defaults), 10 s per call.
    pub fn new(url: &str, token_secret_id: &str) -> Self {
        UnleashSettings {
            url: url.to_string(),
            project: Self::DEFAULT_PROJECT.to_string(),
            environment: Self::DEFAULT_ENVIRONMENT.to_string(),
            token_secret_id: token_secret_id.to_string(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}
