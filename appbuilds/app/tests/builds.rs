//! Each build of the real sample-app binary, under load, does what the tutorial's table says.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Latencies are scaled down 20×: staging 25 ms, production 15 ms (30 ms for build 4).
const LATENCY_SCALE: &str = "0.05";

struct RunningApp {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn start(build: &str, group: &str, extra_env: &[(&str, &str)]) -> RunningApp {
    let log = std::env::temp_dir().join(format!(
        "sample-app-{}-{build}-{group}.log",
        std::process::id()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sample-app"))
        .env("BUILD_NUMBER", build)
        .env("DEPLOYMENT_GROUP_NAME", group)
        .env("PORT", "0")
        .env("LATENCY_SCALE", LATENCY_SCALE)
        .env("SERVICE_LOG", &log)
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sample-app");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("sample-app listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    RunningApp { child, url, log }
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Send `n` requests to `path` at once; return how many failed with 500.
async fn load(app: &RunningApp, path: &str, n: usize) -> usize {
    let url = format!("{}{path}", app.url);
    let calls = (0..n).map(|_| get(&url));
    futures::future::join_all(calls)
        .await
        .into_iter()
        .filter(|(status, _)| *status == 500)
        .count()
}

/// Mean latency of `path` in seconds, from the app's own histogram.
async fn mean_latency(app: &RunningApp, path: &str) -> f64 {
    let (_, text) = get(&format!("{}/metrics", app.url)).await;
    let value = |name: &str| -> f64 {
        let prefix = format!("{name}{{path=\"{path}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} for {path} missing:\n{text}"))
            .parse()
            .unwrap()
    };
    value("http_request_duration_seconds_sum") / value("http_request_duration_seconds_count")
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_failure_rates_follow_the_build_table() {
    let cases = [
        ("1", "Staging", 0),
        ("2", "Staging", 10),
        ("2", "Production", 10),
        ("3", "Production", 0),
        ("4", "Staging", 0),
        ("4", "Production", 2),
        ("7", "Production", 0),
    ];
    for (build, group, expected_failures) in cases {
        let app = start(build, group, &[]);
        assert_eq!(
            load(&app, "/api/invoke", 20).await,
            expected_failures,
            "build {build} in {group}: failures of 20 invoke calls"
        );
        let (_, metrics) = get(&format!("{}/metrics", app.url)).await;
        if expected_failures > 0 {
            assert!(metrics.contains(&format!("http_requests_total{{path=\"/api/invoke\",status=\"500\"}} {expected_failures}")), "{metrics}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn production_is_faster_and_build_4_doubles_its_latency() {
    let staging = start("1", "Staging", &[]);
    let production = start("1", "Production", &[]);
    let production_build_4 = start("4", "Production", &[]);
    for app in [&staging, &production, &production_build_4] {
        assert_eq!(load(app, "/api/echo?text=x", 20).await, 0);
    }
    let (s, p, p4) = (
        mean_latency(&staging, "/api/echo").await,
        mean_latency(&production, "/api/echo").await,
        mean_latency(&production_build_4, "/api/echo").await,
    );
    assert!(
        s / p > 1.3 && s / p < 2.2,
        "staging {s:.4}s vs production {p:.4}s: expected about 500:300"
    );
    assert!(
        p4 / p > 1.6 && p4 / p < 2.6,
        "build 4 {p4:.4}s vs build 1 {p:.4}s in production: expected about double"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_the_build_and_escapes_what_it_shows() {
    let app = start("2", "Staging", &[("DT_TAGS", "<script>alert(1)</script>")]);
    let (status, page) = get(&format!("{}/", app.url)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<h1>Build 2</h1>") && page.contains("background-color:#FF0000"),
        "{page}"
    );
    assert!(
        page.contains("DT_TAGS=&lt;script&gt;alert(1)&lt;/script&gt;")
            && !page.contains("<script>"),
        "{page}"
    );
    assert_eq!(
        get(&format!("{}/api/echo?text=hello", app.url)).await,
        (200, "Thanks for saying: hello".into())
    );
    assert_eq!(
        get(&format!("{}/api/login?username=ann", app.url)).await,
        (200, "Welcome ann".into())
    );
    assert_eq!(get(&format!("{}/api/causeerror", app.url)).await.0, 500);
    let log = std::fs::read_to_string(&app.log).unwrap();
    assert!(log.contains(" - Info - Init: build 2 in Staging"), "{log}");
    assert!(
        log.contains(" - Error - Somebody called /api/causeerror"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_build_can_be_switched_at_run_time() {
    let app = start("1", "Staging", &[]);
    assert_eq!(load(&app, "/api/invoke", 10).await, 0);
    assert_eq!(
        get(&format!("{}/api/version?newBuildNumber=2", app.url)).await,
        (200, "Running build 2".into())
    );
    assert_eq!(load(&app, "/api/invoke", 10).await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_explained() {
    let app = start("1", "Staging", &[]);
    let (status, text) = get(&format!("{}/api/sleeptime?min=lots", app.url)).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "min must be a number of milliseconds from 0 to 10000, e.g. /api/sleeptime?min=300"
        )
    );
    let (status, text) = get(&format!("{}/api/version?newBuildNumber=two", app.url)).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "newBuildNumber must be a whole number, got \"two\"")
    );
    let (status, text) = get(&format!("{}/api/invoke?url=file:///etc/passwd", app.url)).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "url must start with http:// or https://, got \"file:///etc/passwd\""
        )
    );

    let out = Command::new(env!("CARGO_BIN_EXE_sample-app"))
        .env("BUILD_NUMBER", "abc")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("BUILD_NUMBER must be a whole number, e.g. 3"));
}
