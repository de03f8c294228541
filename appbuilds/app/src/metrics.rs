//! Prometheus text exposition: request counters by path and status, and a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Series>>,
}

/// Routes are labelled by their path; anything else is `other`, to keep label values bounded.
pub fn route_label(path: &str) -> &'static str {
    const ROUTES: [&str; 10] = [
        "/",
        "/api/echo",
        "/api/login",
        "/api/invoke",
        "/api/version",
        "/api/sleeptime",
        "/api/causeerror",
        "/api/cart",
        "/metrics",
        "/version",
    ];
    ROUTES.into_iter().find(|r| *r == path).unwrap_or("other")
}

impl Metrics {
    pub fn observe(&self, path: &str, status: u16, elapsed: Duration) {
        let route = route_label(path).to_string();
        *self
            .requests
            .lock()
            .expect("metrics")
            .entry((route.clone(), status))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics");
        let series = latency.entry(route).or_default();
        let secs = elapsed.as_secs_f64();
        series.count += 1;
        series.sum_seconds += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                series.buckets[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests by path and status.\n# TYPE http_requests_total counter\n");
        for ((path, status), n) in self.requests.lock().expect("metrics").iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{path=\"{path}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP http_request_duration_seconds HTTP request latency.\n# TYPE http_request_duration_seconds histogram\n");
        for (path, s) in self.latency.lock().expect("metrics").iter() {
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{path=\"{path}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{path=\"{path}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{path=\"{path}\"}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{path=\"{path}\"}} {}",
                s.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_bounded() {
        let m = Metrics::default();
        m.observe("/api/echo", 200, Duration::from_millis(30));
        m.observe("/api/echo", 200, Duration::from_millis(300));
        m.observe("/wp-admin", 404, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains("http_requests_total{path=\"/api/echo\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{path=\"other\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{path=\"/api/echo\",le=\"0.05\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{path=\"/api/echo\",le=\"0.5\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_count{path=\"/api/echo\"} 2"),
            "{text}"
        );
    }
}
