//! `unbreakable compare --provider …`: a canary file measured from a real Prometheus (started
//! here, scraping two builds of the sample app) and from the Dynatrace simulator, then judged;
//! and every unusable input refused with one line on stderr and nothing on stdout.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;
use unbreakable_emulators::aws::free_port;
use unbreakable_emulators::dynatrace::{load_fixture, DynatraceSimulator, DEFAULT_TOKEN};
use unbreakable_emulators::lambda::binaries::binaries_dir;
use unbreakable_emulators::prometheus::PrometheusServer;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn canary_fixture() -> String {
    repo("tests/fixtures/compare/canary.yaml")
        .display()
        .to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run `unbreakable` with none of the providers' variables but those in `env`.
fn unbreakable(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_unbreakable"));
    command
        .args(args)
        .env_remove("PROMETHEUS_URL")
        .env_remove("DT_TENANT_URL")
        .env_remove("DT_API_TOKEN")
        .env_remove("UNBREAKABLE_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("run unbreakable");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("unbreakable-compare-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The judgement on stdout, with the run for its messages.
fn judged(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON document on stdout ({e}): {}\n{}",
            run.stdout, run.stderr
        )
    })
}

fn metric<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["metrics"]
        .as_array()
        .unwrap_or_else(|| panic!("{document}"))
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}: {document}"))
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Exit 2, nothing on stdout, one line on stderr: that line.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let run = unbreakable(args, env);
    assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "{args:?}: no result on stdout");
    assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    run.stderr.trim_end().to_string()
}

#[test]
fn the_files_and_the_measured_form_are_refused_together() {
    let run = unbreakable(
        &[
            "compare",
            "--control",
            "control.json",
            "--provider",
            "prometheus",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: the argument '--")
            && first.contains("cannot be used with")
            && first.contains("--control")
            && first.contains("--provider"),
        "{}",
        run.stderr
    );
}

#[test]
fn each_missing_or_unusable_input_of_the_measured_form_is_one_line_that_says_what_to_give() {
    let canary = canary_fixture();
    let dir = temp_dir("bad-input");
    let merge = write(
        &dir,
        "merge.yaml",
        "metrics:\n  - name: a\n    query: up\n    merge: avg\n",
    );
    let per_second = write(
        &dir,
        "per-second.yaml",
        "step: 1s\nmetrics:\n  - name: a\n    query: up\n",
    );
    let regional = write(
        &dir,
        "regional.yaml",
        "metrics:\n  - name: a\n    query: up{region=\"${location}\"}\n",
    );
    let prometheus = [("PROMETHEUS_URL", "http://127.0.0.1:1")];
    let measure = |file: &str, control: &str, window: &str| -> Vec<String> {
        [
            "compare",
            "--provider",
            "prometheus",
            "--canary-config",
            file,
            "--control-scope",
            control,
            "--experiment-scope",
            "carts-canary",
            "--window",
            window,
            "--end",
            "2026-11-21T10:00:00Z",
        ]
        .map(String::from)
        .to_vec()
    };
    let none: &[(&str, &str)] = &[];
    let prometheus: &[(&str, &str)] = &prometheus;
    // (arguments, environment, the one line expected)
    type Case<'a> = (Vec<String>, &'a [(&'a str, &'a str)], String);
    let cases: Vec<Case> = vec![
        (
            vec!["compare".into()],
            none,
            "error: missing --control, --experiment and --config: judge files with --control, --experiment and --config, or measure the samples with --provider, --canary-config, --control-scope, --experiment-scope and --window".into(),
        ),
        (
            ["compare", "--canary-config", canary.as_str(), "--window", "5m"]
                .map(String::from)
                .to_vec(),
            none,
            "error: --canary-config and --window are for measuring the samples: add --provider prometheus or --provider dynatrace".into(),
        ),
        (
            [
                "compare",
                "--provider",
                "prometheus",
                "--canary-config",
                canary.as_str(),
                "--control-scope",
                "carts-stable",
            ]
            .map(String::from)
            .to_vec(),
            prometheus,
            "error: --provider needs --experiment-scope and --window: give the canary file, both scopes and the window, e.g. --canary-config canary.yaml --control-scope sample-production --experiment-scope sample-canary --window 30m".into(),
        ),
        (
            measure(&merge, "carts-stable", "30m"),
            prometheus,
            format!("error: {merge}: metrics[0].merge: \"avg\" is not a merge: use sum (counters: the series added per point), mean (gauges and latencies: their mean per point) or one (several series are an error) (for an average write mean)"),
        ),
        (
            measure(&canary, "carts-stable@1h", "30m"),
            prometheus,
            "error: --control-scope: the offset \"@1h\" of the scope \"carts-stable@1h\" has no minus: an offset goes back in time, e.g. carts-stable@-1h".into(),
        ),
        (
            measure(&canary, "carts-stable", "soon"),
            prometheus,
            "error: --window \"soon\" is not a duration such as 5m or 90s".into(),
        ),
        (
            measure(&canary, "carts-stable", "30m"),
            none,
            "error: --provider prometheus needs Prometheus' URL: give --prometheus-url http://prometheus:9090 or set PROMETHEUS_URL".into(),
        ),
        (
            measure(&per_second, "carts-stable", "1d"),
            prometheus,
            format!("error: --window 1d at the step of {per_second}: 86400 points of 1s per series: Prometheus answers at most 11,000; give a larger step or a shorter window"),
        ),
        (
            // Refused before any request: the URL is never asked.
            measure(&regional, "carts-stable", "30m"),
            prometheus,
            "error: the samples could not be measured, so nothing is judged: metric a (control): the query uses ${location}, but the scope \"carts-stable\" has no location: give the scope as scope=carts-stable,location=<location>".into(),
        ),
    ];
    for (args, env, expected) in &cases {
        assert_eq!(&refused(&strs(args), env), expected, "{args:?}");
    }

    // An unreachable Prometheus fails the run (exit 2), without the URL's credentials.
    let mut args = measure(&canary, "carts-stable", "30m");
    args.extend(["--prometheus-url", "http://admin:s3cret@127.0.0.1:1"].map(String::from));
    let e = refused(&strs(&args), &[]);
    assert!(
        e.starts_with("error: the samples could not be measured, so nothing is judged: cannot reach Prometheus at http://127.0.0.1:1: "),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");

    // Dynatrace: the token from DT_API_TOKEN, and a window of at least one whole minute.
    let dynatrace = |window: &str| -> Vec<String> {
        [
            "compare",
            "--provider",
            "dynatrace",
            "--dynatrace-url",
            "http://127.0.0.1:1",
            "--canary-config",
            canary.as_str(),
            "--control-scope",
            "Production",
            "--experiment-scope",
            "Staging",
            "--window",
            window,
        ]
        .map(String::from)
        .to_vec()
    };
    let e = refused(&strs(&dynatrace("30m")), &[]);
    assert!(
        e.starts_with(
            "error: DT_API_TOKEN is not set: export the Dynatrace API token (scopes: metrics.read)"
        ),
        "{e}"
    );
    assert_eq!(
        refused(&strs(&dynatrace("30s")), &[("DT_API_TOKEN", "dt0c01.TEST")]),
        format!("error: --window 30s is shorter than one step (1m): give a window of many steps (30 points a side take 30 steps), or a smaller step in {canary}")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sample app's build, with latencies shrunk, on a free port.
fn sample_app(build: u32) -> (App, u16) {
    let dir = binaries_dir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port().unwrap();
    let child = Command::new(dir.join("sample-app"))
        .env("PORT", port.to_string())
        .env("BUILD_NUMBER", build.to_string())
        .env("DEPLOYMENT_GROUP_NAME", "Staging")
        .env("LATENCY_SCALE", "0.02")
        .env(
            "SERVICE_LOG",
            std::env::temp_dir().join(format!("unbreakable-sample-app-{port}.log")),
        )
        .spawn()
        .expect("start the sample app");
    (App(child), port)
}

async fn load(port: u16, seconds: u64) {
    let client = reqwest::Client::new();
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        for path in ["/api/echo", "/api/invoke"] {
            let _ = client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A point a second (Prometheus scrapes every second here); each rate over 3 s.
const PROMETHEUS_CANARY: &str = r#"step: 1s
metrics:
  - name: up
    query: up{job="$SCOPE"}
  - name: error_rate
    errors: sum(increase(http_requests_total{job="$SCOPE",status=~"5.."}[3s])) or vector(0)
    requests: sum(increase(http_requests_total{job="$SCOPE"}[3s]))
    merge: sum
    direction: increase
  - name: missing
    query: up{job="nothing-$SCOPE"}
  - name: several
    # One series per path and status, added per point (merge one would refuse them).
    query: http_requests_total{job="$SCOPE"}
    merge: sum
    muted: true
"#;

#[tokio::test(flavor = "multi_thread")]
async fn measured_from_a_real_prometheus_a_build_that_fails_requests_is_high_on_errors() {
    let (_stable, stable_port) = sample_app(3);
    let (_canary, canary_port) = sample_app(2);
    let prometheus = PrometheusServer::start(&[
        ("carts-stable", format!("127.0.0.1:{stable_port}")),
        ("carts-canary", format!("127.0.0.1:{canary_port}")),
    ])
    .unwrap_or_else(|e| panic!("{e:#}"));
    tokio::join!(load(stable_port, 15), load(canary_port, 15));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dir = temp_dir("prometheus");
    let canary = write(&dir, "canary.yaml", PROMETHEUS_CANARY);
    let compare = |experiment: &str, format: &str| {
        unbreakable(
            &[
                "compare",
                "--provider",
                "prometheus",
                "--canary-config",
                canary.as_str(),
                "--control-scope",
                "carts-stable",
                "--experiment-scope",
                experiment,
                "--window",
                "15s",
                "--format",
                format,
            ],
            &[("PROMETHEUS_URL", prometheus.url.as_str())],
        )
    };

    // Build 2 fails half of its invoke calls; build 3 none.
    let run = compare("carts-canary", "json");
    let j = judged(&run);
    assert_eq!((run.code, j["result"].as_str()), (1, Some("fail")), "{j}");
    let errors = metric(&j, "error_rate");
    assert_eq!(errors["classification"], "high", "{errors}");
    assert_eq!(errors["control"]["max"], 0.0, "{errors}");
    assert!(
        errors["experiment"]["mean"].as_f64().unwrap() > 0.05,
        "{errors}"
    );
    // Raw points, one a second, not one value: both builds up all along.
    let up = metric(&j, "up");
    assert_eq!(up["classification"], "pass", "{up}");
    assert!(up["control"]["count"].as_u64().unwrap() >= 10, "{up}");
    assert_eq!(
        (up["control"]["min"].as_f64(), up["control"]["max"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(metric(&j, "missing")["classification"], "nodata", "{j}");
    let several = metric(&j, "several");
    assert!(
        several["control"]["count"].as_u64().unwrap() >= 10,
        "{several}"
    );
    for note in [
        "note: missing (control): no data: the query returned no series",
        "note: missing (experiment): no data: the query returned no series",
    ] {
        assert!(run.stderr.contains(note), "{note}: {}", run.stderr);
    }

    // The stable build against itself passes; the table says where the points came from and
    // which metrics had none.
    let run = compare("carts-stable", "table");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("Canary comparison: PASS, score 100"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\nMeasured from Prometheus, ")
            && run
                .stdout
                .contains(", a point every 1s: control carts-stable, experiment carts-stable ("),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nnote: missing (control): no data: the query returned no series\n"),
        "{}",
        run.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A point a minute (the step is rounded up to Dynatrace's finest resolution), per service.
const DYNATRACE_CANARY: &str = r#"step: 10s
metrics:
  - name: response_time_ms
    query: MV2;MicroSecond;metricSelector=builtin:service.response.time:avg&entitySelector=type(SERVICE),tag("DeploymentGroup:$SCOPE")
    merge: mean
    direction: increase
  - name: requests_per_minute
    query: metricSelector=builtin:service.requestCount.total:sum&entitySelector=type(SERVICE),tag("DeploymentGroup:$SCOPE")
    merge: sum
    muted: true
  - name: failure_rate
    # Production has two services: refused with merge one (the default).
    query: metricSelector=builtin:service.errors.total.rate:avg&entitySelector=type(SERVICE),tag("DeploymentGroup:$SCOPE")
"#;

const START_MS: i64 = 1_795_255_200_000;

#[tokio::test(flavor = "multi_thread")]
async fn measured_from_the_dynatrace_simulator_a_point_a_minute_merged_over_the_services() {
    let fixture = load_fixture(&repo("tests/fixtures/dynatrace/build_pass.json")).unwrap();
    let sim = DynatraceSimulator::start(fixture).await.unwrap();
    let dir = temp_dir("dynatrace");
    let canary = write(&dir, "canary.yaml", DYNATRACE_CANARY);
    // The same without the metric Production answers ambiguously.
    let merged_only = write(
        &dir,
        "merged.yaml",
        &DYNATRACE_CANARY[..DYNATRACE_CANARY.find("  - name: failure_rate").unwrap()],
    );
    let compare_file = |file: &str, control: &str, format: &str| {
        unbreakable(
            &[
                "compare",
                "--provider",
                "dynatrace",
                "--dynatrace-url",
                sim.base_url.as_str(),
                "--canary-config",
                file,
                "--control-scope",
                control,
                "--experiment-scope",
                "Staging",
                "--window",
                "5m",
                "--end",
                "2026-11-21T10:05:00Z",
                "--format",
                format,
            ],
            &[("DT_API_TOKEN", DEFAULT_TOKEN)],
        )
    };
    let compare = |control: &str, format: &str| compare_file(canary.as_str(), control, format);

    // Production's two services under merge one: nothing is judged without that metric.
    let run = compare("Production", "json");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("metric failure_rate (control): Dynatrace Metrics API returned 2 metric series, not one: "),
        "{}",
        run.stderr
    );

    sim.clear_requests();
    let run = compare_file(merged_only.as_str(), "Production", "json");
    let j = judged(&run);
    let stats = |name: &str, side: &str| -> (u64, f64, f64, f64) {
        let s = &metric(&j, name)[side];
        (
            s["count"].as_u64().unwrap(),
            s["mean"].as_f64().unwrap(),
            s["min"].as_f64().unwrap(),
            s["max"].as_f64().unwrap(),
        )
    };
    // Production's two services, µs → ms, averaged minute by minute: (470 + 510) / 2, …
    assert_eq!(
        stats("response_time_ms", "control"),
        (5, 500.0, 490.0, 505.0)
    );
    assert_eq!(
        stats("response_time_ms", "experiment"),
        (5, 520.0, 500.0, 540.0)
    );
    // Requests are counted: 200 + 100 a minute in Production, 60 in Staging.
    assert_eq!(
        stats("requests_per_minute", "control"),
        (5, 300.0, 300.0, 300.0)
    );
    assert_eq!(stats("requests_per_minute", "experiment").1, 60.0);
    let note = "note: Dynatrace's resolution is whole minutes: the step 10s was asked as 1m (write step: 1m in the canary file to say so)";
    assert!(run.stderr.contains(note), "{note}: {}", run.stderr);
    let queries: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v2/metrics/query")
        .collect();
    assert_eq!(queries.len(), 4, "2 metrics, 2 sides: {queries:?}");
    for r in &queries {
        for pair in [
            ("resolution", "1m".to_string()),
            ("from", START_MS.to_string()),
            ("to", (START_MS + 300_000).to_string()),
        ] {
            assert!(
                r.query.contains(&(pair.0.to_string(), pair.1.clone())),
                "{pair:?} in {:?}",
                r.query
            );
        }
    }

    // Staging five minutes earlier as the control: its own window, its own (slow) points.
    sim.clear_requests();
    let run = compare("Staging@-5m", "table");
    assert!(
        run.stdout.contains(
            "\nMeasured from Dynatrace, 2026-11-21T10:00:00Z to 2026-11-21T10:05:00Z, a point every 1m: control Staging@-5m, experiment Staging (6 requests)\n"
        ),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let earlier = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v2/metrics/query")
        .filter(|r| {
            r.query
                .contains(&("from".into(), (START_MS - 300_000).to_string()))
        })
        .count();
    assert_eq!(earlier, 3, "the control's three queries an offset back");
    let run = compare("Staging@-5m", "json");
    assert_eq!(
        stats_of(&judged(&run), "response_time_ms", "control"),
        (5, 9000.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn stats_of(document: &Value, name: &str, side: &str) -> (u64, f64) {
    let s = &metric(document, name)[side];
    (s["count"].as_u64().unwrap(), s["mean"].as_f64().unwrap())
}
