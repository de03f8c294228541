//! Benchmark (not a test): `unbreakable compare`'s judge (shared::compare::judge) on one
//! metric with 100, 1,000 and 10,000 points per side, the experiment shifted by a tenth of a
//! standard deviation and every value rounded to 0.1 (ties, as real series have). Prints the
//! median time per judgement against the 1 s target, with what was judged; asserts nothing
//! about time. The k-th pairwise difference is selected, never sorted out of n₁·n₂ values
//! (10⁸ differences at 10,000 per side).
//!
//! Then the canary gate's requests per validation: `gather` with the local stack's canary
//! file (canary/local/canary.yaml) through the real Prometheus adapter against a real
//! Prometheus (Debian's `prometheus`; skipped with a line when it is missing), counted by the
//! adapter.
//! Run: cargo bench -p unbreakable-tests --bench compare_judge

use std::time::{Duration, Instant};

use unbreakable_shared::compare::format::num;
use unbreakable_shared::compare::{judge, CompareConfig, MetricConfig, Samples};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const TARGET: Duration = Duration::from_secs(1);

/// A fixed-seed generator (splitmix64): the same samples on every run.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A normal draw (Box–Muller), rounded to 0.1.
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        ((mean + sd * z) * 10.0).round() / 10.0
    }
}

/// The requests one canary validation makes, and how long they take, on a real Prometheus.
fn requests_per_validation() {
    use unbreakable_shared::canary::gather;
    use unbreakable_shared::compare::canary_file::{parse_canary_file, parse_scope};
    use unbreakable_shared::ports::metrics::TimeWindow;
    use unbreakable_shared::ports::samples::SampleSource;
    use unbreakable_shared::prometheus::Prometheus;

    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../canary/local/canary.yaml"),
    )
    .expect("canary/local/canary.yaml");
    let file = parse_canary_file(&text).expect("the local canary file parses");
    let server = match unbreakable_emulators::prometheus::PrometheusServer::start(&[]) {
        Ok(server) => server,
        Err(e) => {
            println!("\nrequests per validation: skipped, no Prometheus here ({e})");
            return;
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let prometheus = Prometheus::new(&server.url, Duration::from_secs(10)).expect("client");
    let control = parse_scope("sample-Production").expect("scope");
    let experiment = parse_scope("sample-Staging").expect("scope");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let window = TimeWindow {
        from_ms: now - 300_000,
        to_ms: now,
    };
    let start = Instant::now();
    let gathered = runtime
        .block_on(gather(&prometheus, &file, &control, &experiment, window))
        .expect("Prometheus answers");
    let elapsed = start.elapsed();
    let queries: usize = file
        .sources
        .iter()
        .map(|m| match m.points {
            unbreakable_shared::compare::canary_file::PointsQuery::Value(_) => 1,
            unbreakable_shared::compare::canary_file::PointsQuery::Ratio { .. } => 2,
        })
        .sum();
    println!(
        "\nrequests per validation (canary/local/canary.yaml: {} metrics, {queries} queries, 2 sides, 5 min window at a {} s step): {} query_range requests (counted by the adapter: {}) in {:.1} ms",
        file.sources.len(),
        file.step.as_secs(),
        gathered.requests,
        prometheus.requests(),
        elapsed.as_secs_f64() * 1000.0
    );
}

fn main() {
    let config = CompareConfig::with_metrics(vec![MetricConfig::named("latency_ms")]);
    println!(
        "compare_judge: one metric, experiment = control + 0.1 sd, values rounded to 0.1, median time per judgement, target {} ms",
        TARGET.as_millis()
    );
    println!("| points per side | differences | time per judgement | result | p | within target |");
    println!("|---|---|---|---|---|---|");
    let mut numbers = Numbers(25);
    for n in SIZES {
        let control: Vec<f64> = (0..n).map(|_| numbers.normal(250.0, 25.0)).collect();
        let experiment: Vec<f64> = (0..n).map(|_| numbers.normal(252.5, 25.0)).collect();
        let control = Samples::from_values([("latency_ms", control)]);
        let experiment = Samples::from_values([("latency_ms", experiment)]);
        let runs = if n >= 10_000 { 5 } else { 15 };
        let mut last = None;
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let judgement = judge(&config, &control, &experiment);
                let elapsed = start.elapsed();
                last = Some(judgement);
                elapsed
            })
            .collect();
        times.sort();
        let time = times[runs / 2];
        let judgement = last.expect("judged at least once");
        let metric = &judgement.metrics[0];
        let p = metric
            .mann_whitney
            .map(|mw| num(mw.p_value))
            .unwrap_or_else(|| "–".into());
        println!(
            "| {n} | {} | {:.1} ms | {} ({}) | {p} | {} |",
            n * n,
            time.as_secs_f64() * 1000.0,
            judgement.result.as_str(),
            metric.classification.as_str(),
            if time <= TARGET { "yes" } else { "no" }
        );
    }
    requests_per_validation();
}
