//! `unbreakable slo query` against a real Prometheus (started here, scraping the sample app):
//! one value, no data, several series, a refused query and a matrix (each failing its SLI
//! only), builds 2 and 3 judged by `slo/slo.yaml`, and prometheus-service's default query
//! without an sli.yaml.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;
use unbreakable_emulators::aws::free_port;
use unbreakable_emulators::lambda::binaries::binaries_dir;
use unbreakable_emulators::prometheus::PrometheusServer;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sample app's build in staging, with latencies shrunk, on a free port.
fn sample_app(build: u32) -> (App, u16) {
    let dir = binaries_dir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port().unwrap();
    let child = Command::new(dir.join("sample-app"))
        .env("PORT", port.to_string())
        .env("BUILD_NUMBER", build.to_string())
        .env("DEPLOYMENT_GROUP_NAME", "Staging")
        .env("LATENCY_SCALE", "0.02")
        // Its log goes to the temp dir, not into the source tree.
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

/// `slo query`; an empty `sli` leaves `--sli-file` out.
fn query(prometheus: &str, slo: &str, sli: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["slo", "query", "--slo", slo];
    if !sli.is_empty() {
        args.extend(["--sli-file", sli]);
    }
    args.extend([
        "--provider",
        "prometheus",
        "--url",
        prometheus,
        "--window",
        "20s",
        "--format",
        "json",
    ]);
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args(&args)
        .output()
        .expect("run unbreakable");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let document = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), document, stderr)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn slo_query_against_a_real_prometheus() {
    let (_build2, port2) = sample_app(2);
    let (_build3, port3) = sample_app(3);
    let prometheus = PrometheusServer::start(&[
        ("carts-staging", format!("127.0.0.1:{port3}")),
        ("carts-dev", format!("127.0.0.1:{port2}")),
        // The job prometheus-service's default queries select.
        (
            "carts-sockshop-staging-canary",
            format!("127.0.0.1:{port3}"),
        ),
    ])
    .unwrap_or_else(|e| panic!("{e:#}"));
    tokio::join!(load(port2, 12), load(port3, 12));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let dir = std::env::temp_dir().join(format!("unbreakable-slo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let slo = write(
        &dir,
        "slo.yaml",
        "objectives:\n  - sli: one\n    pass: [{criteria: [\"<=1\"]}]\n  - sli: none\n    pass: [{criteria: [\"<=1\"]}]\n  - sli: nan\n    pass: [{criteria: [\"<=1\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let sli = write(
        &dir,
        "sli.yaml",
        "indicators:\n  one: vector(1)\n  none: up{job=\"nope\"}\n  nan: vector(0) / 0\n",
    );
    let (code, e, _) = query(&prometheus.url, &slo, &sli, &[]);
    assert_eq!(code, 1, "{e}");
    let results = e["indicatorResults"].as_array().unwrap();
    assert_eq!(results[0]["value"]["value"], 1.0, "{e}");
    assert_eq!(results[0]["status"], "pass");
    assert_eq!(
        results[1]["value"]["message"],
        "no data: the query returned no series"
    );
    assert!(
        results[2]["value"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no data: the value is NaN"),
        "{e}"
    );

    // As in prometheus-service: a query answered without one value fails its SLI, with the
    // reason, and the others are still measured and scored.
    for (sli_text, expected) in [
        (
            "indicators:\n  one: up\n  none: vector(1)\n  nan: vector(1)\n",
            "the query returned 4 series, not one",
        ),
        (
            "indicators:\n  one: sum(\n  none: vector(1)\n  nan: vector(1)\n",
            "Prometheus answered 400 Bad Request: bad_data: ",
        ),
        (
            "indicators:\n  one: up{job=\"carts-dev\"}[1m]\n  none: vector(1)\n  nan: vector(1)\n",
            "the query returned a matrix, not a single value",
        ),
    ] {
        let sli = write(&dir, "bad-sli.yaml", sli_text);
        let (code, e, stderr) = query(&prometheus.url, &slo, &sli, &[]);
        assert_eq!((code, e["result"].as_str()), (1, Some("fail")), "{e}");
        let results = e["indicatorResults"].as_array().unwrap();
        assert_eq!(results[0]["status"], "fail", "{e}");
        assert!(
            results[0]["value"]["message"]
                .as_str()
                .unwrap()
                .starts_with(expected),
            "{expected}: {e}"
        );
        assert_eq!(
            (results[1]["status"].as_str(), results[2]["status"].as_str()),
            (Some("pass"), Some("pass")),
            "{e}"
        );
        assert!(!stderr.contains("SLI provider error"), "{stderr}");
    }
    let (code, e, stderr) = query("http://127.0.0.1:1", &slo, &sli, &[]);
    assert_eq!(code, 2, "{e}");
    assert!(
        stderr.contains("cannot reach Prometheus at http://127.0.0.1:1"),
        "{stderr}"
    );

    // The sample app's gate: build 3 passes, build 2 fails on its key SLI, the error rate.
    let slo = root().join("slo/slo.yaml").display().to_string();
    let sli = root().join("slo/sli.yaml").display().to_string();
    let (code, e, _) = query(
        &prometheus.url,
        &slo,
        &sli,
        &["--service", "carts", "--stage", "staging"],
    );
    assert_eq!(
        (code, e["result"].as_str()),
        (0, Some("pass")),
        "build 3: {e}"
    );
    assert_eq!(
        e["indicatorResults"][1]["value"]["value"], 0.0,
        "no errors: {e}"
    );
    let (code, e, _) = query(
        &prometheus.url,
        &slo,
        &sli,
        &["--service", "carts", "--stage", "dev"],
    );
    assert_eq!(
        (code, e["result"].as_str()),
        (1, Some("fail")),
        "build 2: {e}"
    );
    let error_rate = e["indicatorResults"][1]["value"]["value"].as_f64().unwrap();
    // Half of the invoke calls fail; each invoke also calls /api/echo on the app itself, so
    // between 1 in 6 and 1 in 4 of all requests fail, depending on where the failure falls.
    assert!(
        (15.0..=26.0).contains(&error_rate),
        "error rate {error_rate}: {e}"
    );
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("key SLI Error rate (%) failed"),
        "{e}"
    );

    // No sli.yaml: prometheus-service's default query, said in the notes.
    let slo = write(
        &dir,
        "defaults-slo.yaml",
        "objectives:\n  - sli: throughput\n    pass: [{criteria: [\">0\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let (code, e, _) = query(
        &prometheus.url,
        &slo,
        "",
        &[
            "--project",
            "sockshop",
            "--service",
            "carts",
            "--stage",
            "staging",
        ],
    );
    assert_eq!((code, e["result"].as_str()), (0, Some("pass")), "{e}");
    assert_eq!(
        e["notes"],
        serde_json::json!(["sli.yaml has no indicator \"throughput\": prometheus-service's default query was used: sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[20s]))"]),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
