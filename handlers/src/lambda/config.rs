//! Function configuration from environment variables: each handler's `Config` lists the
//! [`Setting`]s it reads (the template test checks the stack against that list) and reads them
//! once at cold start; a missing or bad one names the variable and what it should hold. The
//! machinery ([`Setting`], [`Env`], [`ConfigError`]) lives in [`crate::settings`], below both
//! the handlers and the adapters; it is re-exported here.

use std::time::Duration;

#[cfg(test)]
pub(crate) use crate::settings::variables_read;
pub use crate::settings::{ConfigError, Env, Setting};

pub const ROLLBACK_LOOKBACK: Setting = Setting::optional(
    "ROLLBACK_LOOKBACK_MINUTES",
    "how far back to look for the deployment behind a problem, in minutes",
);
pub const ROLLBACK_COOLDOWN: Setting = Setting::optional(
    "ROLLBACK_COOLDOWN_MINUTES",
    "the least time between two rollbacks of one deployment group, in minutes",
);

/// The rollback executor's limits, the same for the problem webhook and the worker.
pub fn rollback_settings<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<crate::rollback::RollbackSettings, ConfigError> {
    let d = crate::rollback::RollbackSettings::default();
    Ok(crate::rollback::RollbackSettings {
        lookback: Duration::from_secs_f64(
            env.number(&ROLLBACK_LOOKBACK, d.lookback.as_secs_f64() / 60.0)? * 60.0,
        ),
        cooldown: Duration::from_secs_f64(
            env.number(&ROLLBACK_COOLDOWN, d.cooldown.as_secs_f64() / 60.0)? * 60.0,
        ),
    })
}
