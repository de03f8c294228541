//! Where a cold start's time goes before the first event: each composition root marks its
//! phases (logging, configuration, SDK configuration, clients) and logs them once, as one
//! `cold start` line, so CloudWatch shows the same breakdown as the `worker_throughput`
//! benchmark, which reads that line.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The log message the benchmark looks for.
pub const COLD_START_MESSAGE: &str = "cold start";

/// Phase durations since `main` began, in the order they were marked.
#[derive(Debug)]
pub struct ColdStart {
    /// Wall clock at `main`, in µs since the epoch: the benchmark subtracts its own spawn
    /// time to see what the process spent before `main` (exec, dynamic loading).
    main_started_epoch_us: u128,
    last: Instant,
    phases: Vec<(&'static str, u128)>,
}

impl ColdStart {
    /// Call first thing in `main`.
    pub fn begin() -> Self {
        ColdStart {
            main_started_epoch_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0),
            last: Instant::now(),
            phases: Vec::new(),
        }
    }

    /// The time since the previous mark (or `begin`) was spent on `phase`.
    pub fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases
            .push((phase, now.duration_since(self.last).as_micros()));
        self.last = now;
    }

    /// `{"logging": 120, "config": 15, ...}` in µs, in marking order.
    pub fn phases_json(&self) -> String {
        let phases: serde_json::Map<String, serde_json::Value> = self
            .phases
            .iter()
            .map(|(name, us)| (name.to_string(), serde_json::Value::from(*us as u64)))
            .collect();
        serde_json::Value::Object(phases).to_string()
    }

    /// Log the breakdown (info): the last thing before the runtime polls for the first event.
    pub fn log(&self) {
        tracing::info!(
            main_started_epoch_us = self.main_started_epoch_us as u64,
            phases_us = %self.phases_json(),
            "{COLD_START_MESSAGE}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_reported_in_marking_order_with_their_own_durations() {
        let mut cold = ColdStart::begin();
        cold.mark("logging");
        std::thread::sleep(std::time::Duration::from_millis(3));
        cold.mark("config");
        let phases: serde_json::Value = serde_json::from_str(&cold.phases_json()).unwrap();
        let names: Vec<&String> = phases.as_object().unwrap().keys().collect();
        assert_eq!(names, ["logging", "config"]);
        assert!(phases["config"].as_u64().unwrap() >= 3_000, "{phases}");
        assert!(phases["logging"].as_u64().unwrap() < 3_000, "{phases}");
        assert!(cold.main_started_epoch_us > 1_600_000_000_000_000);
    }
}
