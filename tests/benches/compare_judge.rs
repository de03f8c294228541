//! Benchmark (not a test): `unbreakable compare`'s judge (shared::compare::judge) on one
//! metric with 100, 1,000 and 10,000 points per side, the experiment shifted by a tenth of a
//! standard deviation and every value rounded to 0.1 (ties, as real series have). Prints the
//! median time per judgement against the 1 s target, with what was judged; asserts nothing
//! about time. The k-th pairwise difference is selected, never sorted out of n₁·n₂ values
//! (10⁸ differences at 10,000 per side).
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
}
