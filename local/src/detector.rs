//! The OneAgent stand-in's problem detection, as pure data: per service, one call per
//! interval with the interval's requests over all the service's instances, and the problems
//! it opens or closes as [`Transition`]s (Keptn's first seed: fixed thresholds).
//!
//! - the mean response time above the rule's threshold for N consecutive intervals opens a
//!   "Response time degradation"; the failure rate above its threshold for N intervals a
//!   "Failure rate increase";
//! - N intervals below the threshold close the problem; an interval without requests
//!   changes nothing.
//!
//! Scraping the apps, feeding the Dynatrace simulator and calling the webhook stay in
//! [`oneagent`](super::oneagent).

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ProblemRule {
    /// Only services with this tag (`key:value`) are watched, like a tag-filtered alerting rule.
    pub tag: (String, String),
    pub threshold_ms: f64,
    pub interval: Duration,
    /// Consecutive intervals above the threshold that open a problem (and below it that close
    /// it); the failure-rate rule counts the same intervals.
    pub intervals: u32,
}

/// Failure-rate detection, on the intervals of the [`ProblemRule`].
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRateRule {
    /// Failed requests (HTTP 5xx) in % of all requests of the service in an interval.
    pub threshold_percent: f64,
}

impl Default for FailureRateRule {
    /// 5 %: build 4's one failed `/api/invoke` call in ten is 2 % of production's traffic,
    /// so the tutorial's rollback stays a response-time problem; `EnablePromotion` failing
    /// every 3rd cart call is well above it once the load calls the cart.
    fn default() -> Self {
        FailureRateRule {
            threshold_percent: 5.0,
        }
    }
}

/// The kinds of problem the stand-in detects, by the titles Dynatrace gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    ResponseTime,
    FailureRate,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 2] = [ProblemKind::ResponseTime, ProblemKind::FailureRate];

    /// The bare title, which remediation files match on.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::ResponseTime => "Response time degradation",
            ProblemKind::FailureRate => "Failure rate increase",
        }
    }

    pub fn severity(self) -> &'static str {
        match self {
            ProblemKind::ResponseTime => "PERFORMANCE",
            ProblemKind::FailureRate => "ERROR",
        }
    }
}

/// The requests of one service in one detection interval, over all its instances.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IntervalStats {
    pub requests: f64,
    pub failed: f64,
    pub response_time_sum_us: f64,
}

impl IntervalStats {
    pub fn mean_ms(&self) -> f64 {
        self.response_time_sum_us / self.requests / 1000.0
    }

    pub fn failure_percent(&self) -> f64 {
        self.failed / self.requests * 100.0
    }

    pub(crate) fn add(&mut self, other: IntervalStats) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.response_time_sum_us += other.response_time_sum_us;
    }
}

/// What an interval changed for a service.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `details`: the measurement against the rule, for the problem's evidence.
    Open {
        kind: ProblemKind,
        details: String,
    },
    Close {
        kind: ProblemKind,
        details: String,
    },
}

/// Consecutive intervals above and below one threshold, and whether its problem is open.
#[derive(Debug, Default, Clone)]
struct Streak {
    above: u32,
    below: u32,
    open: bool,
}

/// The fixed-threshold detection of one service: pure, one call per interval.
#[derive(Debug, Default, Clone)]
pub struct Detector {
    streaks: BTreeMap<ProblemKind, Streak>,
}

impl Detector {
    pub fn is_open(&self, kind: ProblemKind) -> bool {
        self.streaks.get(&kind).is_some_and(|s| s.open)
    }

    pub fn interval(
        &mut self,
        stats: IntervalStats,
        rule: &ProblemRule,
        failure_rate: &FailureRateRule,
    ) -> Vec<Transition> {
        if stats.requests <= 0.0 {
            return vec![]; // no traffic: neither healthy nor degraded
        }
        let over = format!(
            "for {} intervals of {} s",
            rule.intervals,
            rule.interval.as_secs()
        );
        let mut transitions = vec![];
        for kind in ProblemKind::ALL {
            let (value, threshold, measured) = match kind {
                ProblemKind::ResponseTime => (
                    stats.mean_ms(),
                    rule.threshold_ms,
                    format!("mean response time {:.0} ms", stats.mean_ms()),
                ),
                ProblemKind::FailureRate => (
                    stats.failure_percent(),
                    failure_rate.threshold_percent,
                    format!("failure rate {:.1} %", stats.failure_percent()),
                ),
            };
            let unit = match kind {
                ProblemKind::ResponseTime => "ms",
                ProblemKind::FailureRate => "%",
            };
            let streak = self.streaks.entry(kind).or_default();
            if value > threshold {
                streak.above += 1;
                streak.below = 0;
            } else {
                streak.below += 1;
                streak.above = 0;
            }
            if !streak.open && streak.above >= rule.intervals {
                streak.open = true;
                transitions.push(Transition::Open {
                    kind,
                    details: format!("{measured} > {threshold} {unit} {over}"),
                });
            } else if streak.open && streak.below >= rule.intervals {
                streak.open = false;
                transitions.push(Transition::Close {
                    kind,
                    details: format!("{measured} ≤ {threshold} {unit} {over}"),
                });
            }
        }
        transitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(intervals: u32) -> ProblemRule {
        ProblemRule {
            tag: ("DeploymentGroup".into(), "Production".into()),
            threshold_ms: 450.0,
            interval: Duration::from_secs(5),
            intervals,
        }
    }

    /// `requests` of `mean_ms` each, `failed` of them failed.
    fn stats(requests: f64, mean_ms: f64, failed: f64) -> IntervalStats {
        IntervalStats {
            requests,
            failed,
            response_time_sum_us: requests * mean_ms * 1000.0,
        }
    }

    /// The transitions of a run of intervals, as "open <title>" / "close <title>" per interval.
    fn run(intervals: &[IntervalStats]) -> Vec<Vec<String>> {
        let mut d = Detector::default();
        intervals
            .iter()
            .map(|s| {
                d.interval(*s, &rule(3), &FailureRateRule::default())
                    .into_iter()
                    .map(|t| match t {
                        Transition::Open { kind, .. } => format!("open {}", kind.title()),
                        Transition::Close { kind, .. } => format!("close {}", kind.title()),
                    })
                    .collect()
            })
            .collect()
    }

    fn at(results: &[Vec<String>]) -> Vec<(usize, String)> {
        results
            .iter()
            .enumerate()
            .flat_map(|(i, ts)| ts.iter().map(move |t| (i, t.clone())))
            .collect()
    }

    #[test]
    fn three_slow_intervals_open_a_response_time_problem_and_three_fast_ones_close_it() {
        let (slow, fast) = (stats(10.0, 600.0, 0.0), stats(10.0, 300.0, 0.0));
        let results = run(&[slow, slow, slow, slow, fast, fast, fast]);
        assert_eq!(
            at(&results),
            vec![
                (2, "open Response time degradation".into()),
                (6, "close Response time degradation".into())
            ]
        );
    }

    #[test]
    fn a_fast_interval_breaks_the_streak_and_an_idle_one_changes_nothing() {
        let (slow, fast, idle) = (
            stats(10.0, 600.0, 0.0),
            stats(10.0, 300.0, 0.0),
            IntervalStats::default(),
        );
        assert_eq!(at(&run(&[slow, slow, fast, slow, slow])), vec![]);
        assert_eq!(
            at(&run(&[slow, idle, slow, idle, slow])),
            vec![(4, "open Response time degradation".into())]
        );
    }

    #[test]
    fn failures_above_the_rate_open_a_failure_rate_problem() {
        let failing = stats(20.0, 300.0, 2.0); // 10 %
        let at_threshold = stats(20.0, 300.0, 1.0); // 5 %: not above it
        let healthy = stats(20.0, 300.0, 0.0);
        assert_eq!(
            at(&run(&[
                failing,
                failing,
                failing,
                at_threshold,
                healthy,
                healthy
            ])),
            vec![
                (2, "open Failure rate increase".into()),
                (5, "close Failure rate increase".into())
            ]
        );
        assert_eq!(at(&run(&[at_threshold; 5])), vec![]);
    }

    #[test]
    fn slow_and_failing_opens_both_problems() {
        let both = stats(10.0, 900.0, 5.0);
        assert_eq!(
            run(&[both, both, both]),
            vec![
                vec![],
                vec![],
                vec![
                    "open Response time degradation".to_string(),
                    "open Failure rate increase".to_string()
                ]
            ]
        );
    }

    #[test]
    fn the_details_say_what_was_measured_against_what() {
        let mut d = Detector::default();
        let failing = stats(20.0, 612.0, 3.0);
        d.interval(failing, &rule(2), &FailureRateRule::default());
        let opened = d.interval(failing, &rule(2), &FailureRateRule::default());
        assert_eq!(
            opened,
            vec![
                Transition::Open {
                    kind: ProblemKind::ResponseTime,
                    details: "mean response time 612 ms > 450 ms for 2 intervals of 5 s".into()
                },
                Transition::Open {
                    kind: ProblemKind::FailureRate,
                    details: "failure rate 15.0 % > 5 % for 2 intervals of 5 s".into()
                }
            ]
        );
        assert!(d.is_open(ProblemKind::FailureRate));
    }
}
