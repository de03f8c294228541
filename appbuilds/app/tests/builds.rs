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
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!(
        "sample-app-{}-{n}-{build}-{group}.log",
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

    let refused = |env: &[(&str, &str)]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_sample-app"))
            .env("PORT", "0")
            .env("SERVICE_LOG", &app.log)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{env:?} was accepted");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(
        refused(&[("BUILD_NUMBER", "abc")]).contains("BUILD_NUMBER must be a whole number, e.g. 3")
    );
    assert!(refused(&[("APP_SLOTS", "0")])
        .contains("APP_SLOTS must be a whole number of request slots ≥ 1, e.g. 2; got \"0\""));
    let no_token = refused(&[("UNLEASH_URL", "http://127.0.0.1:4242")]);
    assert!(
        no_token.contains("UNLEASH_URL is set but UNLEASH_CLIENT_TOKEN is not"),
        "{no_token}"
    );
}

/// Mean latency of `n` concurrent echo calls on a staging app (25 ms each) with `slots`.
async fn mean_echo_latency_with_slots(slots: &str, n: usize) -> f64 {
    let app = start("1", "Staging", &[("APP_SLOTS", slots)]);
    assert_eq!(load(&app, "/api/echo?text=x", n).await, 0);
    mean_latency(&app, "/api/echo").await
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_beyond_the_slots_queue_and_more_slots_shorten_the_queue() {
    // 8 calls at once: one slot serves them one after another (mean 4.5 × 25 ms); four
    // slots in two waves (mean 1.5 × 25 ms). The calls arrive a little apart, which
    // shortens the queue somewhat: hence the looser bound for one slot.
    let one = mean_echo_latency_with_slots("1", 8).await;
    let four = mean_echo_latency_with_slots("4", 8).await;
    let app = start("1", "Staging", &[("APP_SLOTS", "3")]);
    let (_, metrics) = get(&format!("{}/metrics", app.url)).await;
    assert!(
        metrics.contains("app_request_slots{state=\"total\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("app_request_slots{state=\"queued\"} 0\n"),
        "{metrics}"
    );
    assert!(one >= 3.0 * 0.025, "one slot: mean {one:.4}s");
    assert!(four >= 0.025, "four slots: mean {four:.4}s");
    assert!(four < one * 0.6, "four slots {four:.4}s vs one {one:.4}s");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_unleash_the_cart_never_fails() {
    let app = start("2", "Production", &[]);
    assert_eq!(load(&app, "/api/cart?item=sock", 9).await, 0);
    assert_eq!(
        get(&format!("{}/api/cart?item=%3Cb%3E", app.url)).await,
        (200, "Added &lt;b&gt; to the cart".into())
    );
    let (_, metrics) = get(&format!("{}/metrics", app.url)).await;
    assert!(
        metrics.contains("http_requests_total{path=\"/api/cart\",status=\"200\"} 10"),
        "{metrics}"
    );
}

/// Unleash's client endpoint, as far as the app reads it: EnablePromotion on for the
/// token's environment.
async fn serve_promotion_on(token: &'static str) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let features = axum::routing::get(move |headers: HeaderMap| async move {
        if headers.get("Authorization").and_then(|v| v.to_str().ok()) != Some(token) {
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        let body = serde_json::json!({"version": 2, "segments": [], "features": [
            {"name": "EnablePromotion", "enabled": true, "project": "default", "type": "release",
             "strategies": [{"name": "flexibleRollout", "constraints": [],
                             "parameters": {"rollout": "100", "stickiness": "default", "groupId": "EnablePromotion"}}],
             "variants": []}]});
        (StatusCode::OK, body.to_string())
    });
    let router = axum::Router::new().route("/api/client/features", features);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_promotion_on_every_third_cart_call_fails() {
    let token = "default:production.builds-test";
    let unleash = serve_promotion_on(token).await;
    let app = start(
        "1",
        "Production",
        &[("UNLEASH_URL", &unleash), ("UNLEASH_CLIENT_TOKEN", token)],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(&app.log)
        .unwrap_or_default()
        .contains("Feature flag EnablePromotion is on")
    {
        assert!(std::time::Instant::now() < deadline, "the flag never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut statuses = vec![];
    for _ in 0..6 {
        statuses.push(get(&format!("{}/api/cart", app.url)).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 500, 200, 200, 500]);
    let log = std::fs::read_to_string(&app.log).unwrap();
    assert!(
        log.contains(&format!(
            "Feature flags from Unleash at {unleash}/api/client/features as sample-app"
        )),
        "{log}"
    );
    assert!(
        !log.contains("builds-test"),
        "the token is never logged: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_unleash_leaves_the_flags_off_and_is_logged_once() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = start(
        "1",
        "Production",
        &[
            ("UNLEASH_URL", &format!("http://127.0.0.1:{closed}")),
            ("UNLEASH_CLIENT_TOKEN", "default:production.x"),
        ],
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(load(&app, "/api/cart", 6).await, 0);
    let log = std::fs::read_to_string(&app.log).unwrap();
    let warnings: Vec<_> = log
        .lines()
        .filter(|l| l.contains(" - Warning - Feature flags: cannot reach Unleash"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
}
