//! The capacity of one instance: a few request slots and a queue in front of them.
//!
//! An `/api` request waits for a free slot (first come, first served), holds it for its own
//! latency, then frees it; the time it takes is its time in the queue plus its latency. Both
//! are spent *sleeping*: a saturating load makes the response time of one instance climb,
//! and a second instance behind a balancer halves the queue, without the test machine's cores
//! doing any of the work.
//!
//! The slot is freed before the handler runs, so a request that calls this same instance
//! (`/api/invoke` → `/api/echo`) never waits on a slot it holds itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// `/api` requests one instance serves at once unless `APP_SLOTS` says otherwise. Four keeps
/// the tutorial's traffic (one sequential load test per stage, plus the hooks' checks) out
/// of the queue, so builds 1–4 measure what the build table says.
pub const DEFAULT_SLOTS: usize = 4;

pub struct Capacity {
    slots: Semaphore,
    count: usize,
    waiting: AtomicUsize,
}

impl Capacity {
    pub fn new(slots: usize) -> Self {
        let count = slots.max(1);
        Capacity {
            slots: Semaphore::new(count),
            count,
            waiting: AtomicUsize::new(0),
        }
    }

    pub fn slots(&self) -> usize {
        self.count
    }

    /// Requests holding a slot right now.
    pub fn busy(&self) -> usize {
        self.count - self.slots.available_permits()
    }

    /// Requests waiting for a slot right now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Wait for a slot, hold it for `latency`, free it. Returns the time spent in the queue.
    pub async fn serve(&self, latency: Duration) -> Duration {
        let arrived = Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        // The semaphore is never closed, so acquiring only fails if it were.
        let slot = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let _slot = slot.expect("slots are never closed");
        let queued = arrived.elapsed();
        tokio::time::sleep(latency).await;
        queued
    }
}

/// `APP_SLOTS`: a whole number ≥ 1; unset or empty → [`DEFAULT_SLOTS`].
pub fn slots_from_env(value: Option<&str>) -> Result<usize, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_SLOTS),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                format!(
                    "APP_SLOTS must be a whole number of request slots ≥ 1, e.g. 2; got \"{text}\""
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const LATENCY: Duration = Duration::from_millis(60);

    /// Start `n` requests at once on `instances` (round robin); their response times, sorted.
    async fn burst(instances: &[Arc<Capacity>], n: usize) -> Vec<Duration> {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let instance = instances[i % instances.len()].clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    instance.serve(LATENCY).await;
                    started.elapsed()
                })
            })
            .collect();
        let mut times = vec![];
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        times
    }

    fn mean(times: &[Duration]) -> Duration {
        times.iter().sum::<Duration>() / times.len() as u32
    }

    #[tokio::test]
    async fn requests_beyond_the_slots_wait_their_turn() {
        let one = [Arc::new(Capacity::new(2))];
        let times = burst(&one, 6).await;
        // Waves of two: 1, 1, 2, 2, 3, 3 latencies. Timers never fire early, so the lower
        // bounds are exact; the upper bound allows for a busy machine.
        for (i, t) in times.iter().enumerate() {
            let wave = (i / 2 + 1) as u32;
            assert!(
                *t >= LATENCY * wave,
                "request {i}: {t:?} < {wave} × {LATENCY:?}"
            );
            assert!(
                *t < LATENCY * wave + Duration::from_millis(150),
                "request {i}: {t:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_second_instance_halves_the_queue() {
        let one = [Arc::new(Capacity::new(2))];
        let two = [Arc::new(Capacity::new(2)), Arc::new(Capacity::new(2))];
        let (alone, shared) = (burst(&one, 8).await, burst(&two, 8).await);
        // One instance: waves 1–4, mean 2.5 latencies; two: waves 1–2, mean 1.5.
        assert!(mean(&alone) >= LATENCY * 5 / 2, "{alone:?}");
        assert!(
            mean(&shared) < mean(&alone) * 3 / 4,
            "{shared:?} vs {alone:?}"
        );
        assert!(*shared.last().unwrap() < LATENCY * 3, "{shared:?}");
    }

    #[tokio::test]
    async fn a_request_reports_its_time_in_the_queue_and_frees_its_slot() {
        let c = Arc::new(Capacity::new(1));
        let first = tokio::spawn({
            let c = c.clone();
            async move { c.serve(LATENCY).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(c.busy(), 1);
        let second = tokio::spawn({
            let c = c.clone();
            async move { c.serve(Duration::ZERO).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(c.queued(), 1);
        let first_queued = first.await.unwrap();
        let second_queued = second.await.unwrap();
        assert!(first_queued < Duration::from_millis(5), "{first_queued:?}");
        // It arrived 10 ms into the first one's 60.
        assert!(
            second_queued >= LATENCY - Duration::from_millis(12),
            "{second_queued:?}"
        );
        assert_eq!(c.queued(), 0);
        assert_eq!(c.busy(), 0);
    }

    #[test]
    fn app_slots_is_checked() {
        assert_eq!(slots_from_env(None), Ok(DEFAULT_SLOTS));
        assert_eq!(slots_from_env(Some(" ")), Ok(DEFAULT_SLOTS));
        assert_eq!(slots_from_env(Some("2")), Ok(2));
        for bad in ["0", "-1", "two", "1.5"] {
            assert_eq!(
                slots_from_env(Some(bad)),
                Err(format!(
                    "APP_SLOTS must be a whole number of request slots ≥ 1, e.g. 2; got \"{bad}\""
                ))
            );
        }
        assert_eq!(Capacity::new(0).slots(), 1);
    }
}
