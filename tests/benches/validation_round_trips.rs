//! Benchmark (not a test): one validation of monspec/monspec.json against the Dynatrace
//! simulator with 50 ms added latency per request. Prints the wall time, the requests sent,
//! and the wall time as a multiple of one round trip, for API v1 and v2, next to a sequential
//! run (one request at a time, as the original worker did).
//!
//! Targets: ≤ 3 round trips of wall time; in v2, ≤ 2 metric requests per environment.
//! Run: cargo bench -p unbreakable-tests --bench validation_round_trips

use std::path::Path;
use std::time::{Duration, Instant};

use unbreakable_emulators::dynatrace::{load_fixture, DynatraceSimulator, Faults, DEFAULT_TOKEN};
use unbreakable_shared::dynatrace::{self, ApiToken, ApiVersion, ClientOptions};
use unbreakable_shared::evaluation::{plan, Timeframe};
use unbreakable_shared::monspec::parse_monspec;
use unbreakable_shared::quality_gate::run_validation;

const LATENCY_MS: u64 = 50;
const START_MS: i64 = 1_795_255_200_000;

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let monspec =
        parse_monspec(&std::fs::read_to_string(root.join("monspec/monspec.json")).unwrap())
            .unwrap();
    let fixture = load_fixture(&root.join("tests/fixtures/dynatrace/build_pass.json")).unwrap();
    let sim = DynatraceSimulator::start(fixture).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    });
    let plan = plan(
        &monspec,
        "StagingToProduction",
        Timeframe {
            start_ms: START_MS,
            window_ms: 300_000,
        },
    )
    .unwrap();

    let round_trip = one_round_trip(&sim.base_url).await;
    println!("validation_round_trips: monspec/monspec.json, StagingToProduction, {LATENCY_MS} ms added latency");
    println!("  one round trip (median of 5): {:.1} ms", ms(round_trip));
    println!(
        "  {:<24} {:>9} {:>9} {:>15} {:>22}",
        "mode", "wall ms", "requests", "wall/round trip", "metric reqs per env"
    );
    for (api, concurrency, label) in [
        (ApiVersion::V2, 8, "v2 (concurrent)"),
        (ApiVersion::V1, 8, "v1 (concurrent)"),
        (ApiVersion::V2, 1, "v2 one at a time"),
        (ApiVersion::V1, 1, "v1 one at a time"),
    ] {
        sim.clear_requests();
        let options = ClientOptions {
            concurrency,
            ..ClientOptions::default()
        };
        let source = dynatrace::metrics_source(
            api,
            &sim.base_url,
            ApiToken::new(DEFAULT_TOKEN).unwrap(),
            options,
        )
        .unwrap();
        let started = Instant::now();
        let verdict = run_validation(source.as_source(), &plan).await;
        let wall = started.elapsed();
        assert!(
            verdict.is_approved(),
            "the benchmark fixture is a passing build: {}",
            verdict.summary
        );
        let metric_paths = ["/api/v2/metrics/query", "/api/v1/timeseries"];
        let metric_requests = sim
            .requests()
            .iter()
            .filter(|r| metric_paths.contains(&r.path.as_str()))
            .count();
        println!(
            "  {:<24} {:>9.1} {:>9} {:>15.2} {:>22.1}",
            label,
            ms(wall),
            source.requests_sent(),
            wall.as_secs_f64() / round_trip.as_secs_f64(),
            metric_requests as f64 / 2.0
        );
    }
    println!(
        "  targets: wall ≤ 3 round trips (concurrent rows); v2 ≤ 2 metric requests per environment"
    );
    println!("  the original worker sent one request at a time: ~10 round trips for the service-level signatures alone");
}

async fn one_round_trip(base_url: &str) -> Duration {
    let client = reqwest::Client::new();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        client
            .get(format!("{base_url}/api/v2/entities"))
            .header("Authorization", format!("Api-Token {DEFAULT_TOKEN}"))
            .query(&[("entitySelector", "type(SERVICE)")])
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
