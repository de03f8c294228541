//! Wall-clock time: the core's instants and windows ([`unbreakable_core::time`]), and the one
//! place that reads the clock.

use std::time::{SystemTime, UNIX_EPOCH};

pub use unbreakable_core::time::*;

/// Now, in milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
