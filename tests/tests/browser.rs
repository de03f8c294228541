//! The report and the remediation timeline in a real browser, Debian's headless Chromium.
//! Each page is rendered from sample models by the report function's own renderers, served
//! with the function's headers (its Content-Security-Policy among them) and loaded; the test
//! fails on any console message (the pages run no scripts, so every message is an error: a
//! malformed SVG attribute, a blocked resource), any CSP line ("Refused to …", "… violates the
//! following Content Security Policy directive …"), a page that did not load or render, and
//! any request other than the page's own.
//!
//! The page's server is also Chromium's HTTP proxy for every host, loopback included
//! (`--proxy-bypass-list=<-loopback>` takes back Chromium's implicit loopback bypass): every
//! request Chromium makes reaches it and is recorded; anything but the page gets 403.
//! Chromium's own background traffic, which `--disable-background-networking` does not stop
//! (measured with Chromium 156: the component updater's on-demand check to
//! update.googleapis.com, Google account cookies from accounts.google.com, network time from
//! clients2.google.com, autofill queries for pages with forms), is switched off or sent to a
//! closed loopback port that bypasses the proxy, so what the recorder sees comes from the page.
//!
//! Without Chromium the tests fail with one line naming the package: `scripts/test.sh`
//! installs it.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unbreakable_shared::contract::TIMELINE_PATH;
use unbreakable_shared::ports::store::{Decision, RequestStatus, ValidationRequest};
use unbreakable_shared::remediation::file::parse_remediation;
use unbreakable_shared::remediation::sequence::{
    advance, Effect, EvaluationResult, Input, Lane, Problem, ProblemSource, Sequence, Settings,
    StepKey, Transition,
};
use unbreakable_shared::report::timeline::{LaneSequence, Timeline, TimelineRequest};
use unbreakable_shared::report::{render_report, ReportModel, CONTENT_SECURITY_POLICY};

/// Where Chromium's own services are sent instead of Google: nothing listens on the discard
/// port, and the proxy bypass list lets requests to it fail there instead of being recorded.
const CLOSED: &str = "127.0.0.1:9";

/// Headless Chromium as root in a container, logging console messages to stderr, with its
/// own background services quiet (see the module's comment).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication",
    "--component-updater=url-source=http://127.0.0.1:9/",
    "--gaia-url=http://127.0.0.1:9/",
    "--enable-logging=stderr",
    "--v=0",
    // Timers run (a meta refresh, say) before the DOM is dumped and Chromium exits.
    "--virtual-time-budget=3000",
];

const LOAD_TIMEOUT: Duration = Duration::from_secs(90);

/// One Chromium at a time: the suite shares two cores.
static BROWSER: Mutex<()> = Mutex::new(());
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("chromium is not installed: `sudo apt-get install chromium` (Debian's package; scripts/test.sh installs it)")
        })
}

/// The one page the server serves, and the request lines that ask for it: through the
/// proxy (absolute form) or directly.
struct Page {
    path: String,
    port: u16,
    html: String,
}

impl Page {
    fn is_requested_by(&self, request_line: &str) -> bool {
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next(), parts.next());
        method == Some("GET")
            && (target == Some(self.path.as_str())
                || target == Some(format!("http://127.0.0.1:{}{}", self.port, self.path).as_str()))
    }
}

/// Serves the page with the report function's headers, and is Chromium's proxy: records the
/// request line of every request it receives.
struct PageServer {
    page: Arc<Page>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    accepting: thread::JoinHandle<()>,
}

impl PageServer {
    fn start(path: &str, html: String) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = listener
            .local_addr()
            .expect("the listener's address")
            .port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let page = Arc::new(Page {
            path: path.to_string(),
            port,
            html,
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let (page, requests, stop) = (page.clone(), requests.clone(), stop.clone());
            thread::spawn(move || {
                let mut connections = Vec::new();
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (page, requests) = (page.clone(), requests.clone());
                            connections
                                .push(thread::spawn(move || answer(stream, &page, &requests)));
                        }
                        // Nothing waits to be accepted (WouldBlock): stop if asked to.
                        Err(_) => {
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                            thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                for connection in connections {
                    let _ = connection.join();
                }
            })
        };
        PageServer {
            page,
            requests,
            stop,
            accepting,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.page.port, self.page.path)
    }

    /// Every request line received, once the connections still open have been read.
    fn finish(self) -> Vec<String> {
        thread::sleep(Duration::from_millis(200));
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.accepting.join();
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.clone()
    }
}

fn answer(stream: TcpStream, page: &Page, requests: &Mutex<Vec<String>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reading);
    let mut line = Vec::new();
    // Chromium opens spare connections it may close unused: no request, nothing recorded.
    if !matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
        return;
    }
    let line = String::from_utf8_lossy(&line).trim_end().to_string();
    loop {
        let mut header = Vec::new();
        match reader.read_until(b'\n', &mut header) {
            Ok(n) if n > 0 && !header.trim_ascii().is_empty() => {}
            _ => break,
        }
    }
    let response = if page.is_requested_by(&line) {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-security-policy: {CONTENT_SECURITY_POLICY}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
            page.html.len(),
            page.html
        )
    } else {
        "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
    };
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(line);
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// What one page load left: Chromium's exit, its stderr, the DOM it dumped, the requests.
struct Load {
    page: Page,
    /// The text the rendered page must contain.
    marker: String,
    /// `None`: killed after [`LOAD_TIMEOUT`].
    status: Option<ExitStatus>,
    stderr: String,
    dom: String,
    requests: Vec<String>,
}

/// Serve `html` at `path` and load it in headless Chromium until it dumps the DOM.
fn load(path: &str, html: String, marker: &str) -> Load {
    let chromium = chromium();
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!(
        "unbreakable-browser-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("a scratch folder");
    let create = |name: &str| {
        File::create(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.join(name).display()))
    };
    let server = PageServer::start(path, html);
    let mut child = Command::new(&chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!(
            "--proxy-server=http://127.0.0.1:{}",
            server.page.port
        ))
        .arg(format!("--proxy-bypass-list=<-loopback>;{CLOSED}"))
        .arg("--dump-dom")
        .arg(server.url())
        .stdin(Stdio::null())
        .stdout(create("dom.html"))
        .stderr(create("stderr.txt"))
        // Its own group, so a hung browser goes with all its processes.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let deadline = Instant::now() + LOAD_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("waiting for Chromium") {
            Some(status) => break Some(status),
            None if Instant::now() > deadline => {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let page = Page {
        path: server.page.path.clone(),
        port: server.page.port,
        html: String::new(),
    };
    let requests = server.finish();
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    let load = Load {
        page,
        marker: marker.to_string(),
        status,
        stderr: read("stderr.txt"),
        dom: read("dom.html"),
        requests,
    };
    let _ = fs::remove_dir_all(&dir);
    load
}

/// Everything wrong with a load, one line each.
fn problems(load: &Load) -> Vec<String> {
    let mut found = Vec::new();
    match load.status {
        None => found.push(format!(
            "Chromium did not finish within {} s",
            LOAD_TIMEOUT.as_secs()
        )),
        Some(status) if !status.success() => found.push(format!("Chromium exited with {status}")),
        Some(_) => {}
    }
    for line in load.stderr.lines() {
        // Chromium 156 logs a violation as `INFO:CONSOLE:1] "Executing inline script violates
        // the following Content Security Policy directive …`; older ones as "Refused to …".
        if line.contains("Refused to")
            || line.contains("Content Security Policy")
            || line.contains("Content-Security-Policy")
        {
            found.push(format!("CSP violation: {line}"));
        } else if line.contains(":CONSOLE") {
            found.push(format!("console message: {line}"));
        } else if line.contains("Page load failed") {
            found.push(format!("the page did not load: {line}"));
        }
    }
    let (own, others): (Vec<&String>, Vec<&String>) = load
        .requests
        .iter()
        .partition(|line| load.page.is_requested_by(line));
    if own.is_empty() {
        found.push(format!(
            "Chromium never asked for the page ({})",
            load.page.path
        ));
    }
    found.extend(
        others
            .iter()
            .map(|line| format!("request leaving the page: {line}")),
    );
    if !load.dom.contains(&load.marker) {
        found.push(format!(
            "the page did not render: \"{}\" is not in the DOM Chromium dumped",
            load.marker
        ));
    }
    found
}

fn assert_clean(load: &Load) {
    let found = problems(load);
    assert!(
        found.is_empty(),
        "{} in Chromium:\n{}",
        load.page.path,
        found.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Sample models: validations as the worker stores them, and remediation sequences recorded
// by the real state machine.

const T0: i64 = 1_795_255_200_000;
const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;

fn validation(
    build: u32,
    minute: i64,
    comparison: &str,
    stage: &str,
    status: RequestStatus,
    result: Option<Value>,
) -> ValidationRequest {
    let decision = match status {
        RequestStatus::Ok | RequestStatus::Violation | RequestStatus::Error => Some(Decision {
            approve: status == RequestStatus::Ok,
            summary: if status == RequestStatus::Ok {
                "APPROVED".into()
            } else {
                "REJECTED".into()
            },
            outcome: status,
        }),
        _ => None,
    };
    ValidationRequest {
        pipeline: "Sample".into(),
        timestamp_ms: T0 + minute * MINUTE,
        comparison: comparison.into(),
        window_ms: 300_000,
        ready_ms: T0 + minute * MINUTE + 300_000,
        monspec: "{}".into(),
        slo: None,
        canary: None,
        stage: stage.into(),
        action: "Register".into(),
        approval_action: format!("Approve{stage}"),
        job_id: format!("job-{build}-{minute}"),
        execution_id: format!("{build:08x}-5a1e-4c3b-9d2f-0123456789ab"),
        status,
        status_msg: format!("build {build}: {comparison}"),
        attempts: 1,
        next_check_ms: None,
        lease_owner: None,
        result_json: result.map(|r| r.to_string()),
        filled_monspec: None,
        decision,
        expires_at_s: 0,
    }
}

/// A monspec result: p90 response time (µs) against a baseline, and a host count.
fn monspec_result(p90_ms: f64, baseline_ms: f64) -> Value {
    let blocks = p90_ms > baseline_ms * 1.3;
    json!({
        "schemaVersion": 1,
        "comparison": "StagingToProduction",
        "configurations": [{
            "key": "SampleJSonService",
            "signatures": [
                {"path": "perfsignature[1]", "label": "p90 response time", "unit": "microseconds",
                 "validate": "upper", "outcome": if blocks { "violation" } else { "pass" },
                 "sourceValue": p90_ms * 1000.0, "compareValue": baseline_ms * 1000.0,
                 "upperLimit": baseline_ms * 1300.0, "lowerLimit": null, "blocksApproval": blocks,
                 "reason": format!("p90 response time {p90_ms} ms")},
                {"path": "perfsignature[2]", "label": "hosts", "unit": "count",
                 "validate": "lower", "outcome": "pass", "sourceValue": 2.0, "compareValue": 2.0,
                 "upperLimit": null, "lowerLimit": 1.0, "blocksApproval": false, "reason": "2 hosts"}
            ]
        }]
    })
}

fn objective(name: &str, status: &str, value: f64, baseline: f64) -> Value {
    json!({
        "displayName": name,
        "status": status,
        "score": if status == "pass" { 1.0 } else { 0.0 },
        "keySli": name == "response_time_p95",
        "value": {"metric": name, "value": value, "comparedValue": baseline,
                  "success": true, "message": ""},
        "passTargets": [{"criteria": "<=+10%", "targetValue": baseline * 1.1,
                         "violated": status == "fail"}],
        "warningTargets": []
    })
}

fn slo_result(result: &str, score: f64, objectives: Vec<Value>, minute: i64) -> Value {
    json!({
        "gate": "slo", "result": result, "score": score, "indicatorResults": objectives,
        "reason": format!("score {score}"), "noBaseline": false, "comparedEvaluations": [],
        "window": {"startMs": T0 + minute * MINUTE, "endMs": T0 + (minute + 5) * MINUTE},
        "sloHash": "h", "service": "carts"
    })
}

/// Four builds: 1 approved in Staging and passing its SLO gate in Production, 2 approved in
/// Staging and failing its SLO gate, 3 rejected in Staging, 4 waiting.
fn sample_validations() -> Vec<ValidationRequest> {
    let staging = "StagingToProduction";
    vec![
        validation(
            1,
            0,
            staging,
            "Staging",
            RequestStatus::Ok,
            Some(monspec_result(480.0, 470.0)),
        ),
        validation(
            1,
            10,
            "SLO",
            "Production",
            RequestStatus::Ok,
            Some(slo_result(
                "pass",
                100.0,
                vec![
                    objective("response_time_p95", "pass", 410.0, 400.0),
                    objective("error_rate", "pass", 0.1, 0.1),
                ],
                10,
            )),
        ),
        validation(
            2,
            20,
            staging,
            "Staging",
            RequestStatus::Ok,
            Some(monspec_result(500.0, 480.0)),
        ),
        validation(
            2,
            30,
            "SLO",
            "Production",
            RequestStatus::Violation,
            Some(slo_result(
                "fail",
                50.0,
                vec![
                    objective("response_time_p95", "fail", 720.0, 410.0),
                    objective("error_rate", "pass", 0.1, 0.1),
                ],
                30,
            )),
        ),
        validation(
            3,
            40,
            staging,
            "Staging",
            RequestStatus::Violation,
            Some(monspec_result(900.0, 490.0)),
        ),
        validation(4, 50, staging, "Staging", RequestStatus::Waiting, None),
    ]
}

const REMEDIATION: &str = "\
remediations:
- name: Response time degradation
  actions:
  - action: scaling
    value: +1
  - action: featuretoggle
    value: EnablePromotion:off
- name: error_rate
  actions:
  - action: featuretoggle
    value: EnablePromotion:off
    wait: 5m
  - action: escalate
    value: Call the carts team
";

fn problem(id: &str, source: ProblemSource, title: &str, opened_ms: i64) -> Problem {
    let link = match source {
        ProblemSource::Dynatrace => {
            format!("https://abc123.live.dynatrace.com/#problems/problemdetails;pid={id}")
        }
        ProblemSource::Alertmanager => {
            "http://prometheus.example:9090/graph?g0.expr=error_rate".to_string()
        }
    };
    Problem {
        id: id.into(),
        source,
        title: title.into(),
        opened_ms,
        link: Some(link),
        alt_title: None,
    }
}

fn opened(problem: Problem) -> Input {
    Input::Opened {
        problem,
        remediation: Some(
            parse_remediation("remediation.yaml", REMEDIATION)
                .expect("the sample remediation.yaml"),
        ),
    }
}

fn run_key(t: &Transition) -> StepKey {
    t.effects
        .iter()
        .find_map(|e| match e {
            Effect::RunAction { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no action started: {:?}", t.effects))
}

fn evaluate_key(t: &Transition) -> StepKey {
    t.effects
        .iter()
        .find_map(|e| match e {
            Effect::Evaluate { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no evaluation requested: {:?}", t.effects))
}

/// The lanes' sequences and the ended ones, as the worker would have stored them.
struct Recorded {
    lanes: Vec<Lane>,
    ended: Vec<(String, String, Sequence)>,
}

/// carts/production: a Dynatrace problem resolved by its second action, then an
/// Alertmanager alert waiting after its first action and another queued behind it;
/// orders/production: a problem no remediation.yaml entry names.
fn recorded() -> Recorded {
    let settings = Settings {
        cooldown_ms: 0,
        ..Settings::default()
    };
    let mut ended = Vec::new();
    let mut step = |lane: &mut Lane, at: i64, input: Input| {
        let t = advance(lane, input, at, &settings);
        *lane = t.lane.clone();
        for sequence in &t.ended {
            ended.push((lane.service.clone(), lane.stage.clone(), sequence.clone()));
        }
        t
    };
    let mut carts = Lane::new("carts", "production");
    let t = step(
        &mut carts,
        T0,
        opened(problem(
            "-6478017825120311599_1795255200000V2",
            ProblemSource::Dynatrace,
            "Response time degradation",
            T0,
        )),
    );
    let key = run_key(&t);
    step(
        &mut carts,
        T0 + 34 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "desired 1 → 2, InService 2/2 after 34 s".into(),
        },
    );
    let t = step(&mut carts, T0 + 11 * MINUTE, Input::Tick);
    let key = evaluate_key(&t);
    let t = step(
        &mut carts,
        T0 + 11 * MINUTE + 5 * SECOND,
        Input::EvaluationFinished {
            key,
            result: EvaluationResult::Fail,
            details: "score 50: response_time_p95 720 ms (pass < 600, baseline 480 ms)".into(),
        },
    );
    let key = run_key(&t);
    step(
        &mut carts,
        T0 + 11 * MINUTE + 7 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "EnablePromotion on → off in production, read back off".into(),
        },
    );
    let t = step(&mut carts, T0 + 22 * MINUTE, Input::Tick);
    let key = evaluate_key(&t);
    step(
        &mut carts,
        T0 + 22 * MINUTE + 4 * SECOND,
        Input::EvaluationFinished {
            key,
            result: EvaluationResult::Pass,
            details: "score 100: response_time_p95 410 ms (pass < 600, baseline 480 ms)".into(),
        },
    );
    let t = step(
        &mut carts,
        T0 + 60 * MINUTE,
        opened(problem(
            "4c6a1b2f0e9d8c7a@2026-11-21T11:00:00.000Z",
            ProblemSource::Alertmanager,
            "error_rate",
            T0 + 60 * MINUTE,
        )),
    );
    let key = run_key(&t);
    step(
        &mut carts,
        T0 + 60 * MINUTE + 2 * SECOND,
        Input::ActionFinished {
            key,
            ok: true,
            details: "EnablePromotion on → off in production, read back off".into(),
        },
    );
    step(
        &mut carts,
        T0 + 61 * MINUTE,
        opened(problem(
            "00000000000000ff@2026-11-21T11:01:00.000Z",
            ProblemSource::Alertmanager,
            "Response time degradation",
            T0 + 61 * MINUTE,
        )),
    );
    let mut orders = Lane::new("orders", "production");
    step(
        &mut orders,
        T0 + 30 * MINUTE,
        opened(problem(
            "-1_1795257000000V2",
            ProblemSource::Dynatrace,
            "Disk full",
            T0 + 30 * MINUTE,
        )),
    );
    step(&mut orders, T0 + 30 * MINUTE, Input::Tick);
    Recorded {
        lanes: vec![carts, orders],
        ended,
    }
}

fn sample_timeline_html() -> String {
    let recorded = recorded();
    let mut sequences = LaneSequence::of_lanes(&recorded.lanes);
    sequences.extend(
        recorded
            .ended
            .iter()
            .map(|(service, stage, sequence)| LaneSequence {
                service,
                stage,
                sequence,
            }),
    );
    let timeline = Timeline::build(&TimelineRequest::default(), &sequences, |p| p.link.clone());
    assert_eq!(timeline.problems.len(), 4, "the sample has four problems");
    timeline.to_html()
}

// ---------------------------------------------------------------------------------------

#[test]
fn the_report_loads_without_console_errors_csp_violations_or_requests_leaving_it() {
    let model = ReportModel::build("Sample", None, 10_080, &sample_validations());
    assert!(
        model.slo.is_some() && !model.charts.is_empty(),
        "the sample report has charts and an SLO section"
    );
    let html = render_report(&model);
    assert_clean(&load(
        "/BuildValidationResults",
        html,
        "Build validations of Sample",
    ));
}

#[test]
fn the_timeline_loads_without_console_errors_csp_violations_or_requests_leaving_it() {
    assert_clean(&load(
        TIMELINE_PATH,
        sample_timeline_html(),
        "Remediation timeline",
    ));
}

/// The same server, headers, browser and check, on a page that breaks each rule: an inline
/// script (blocked by the CSP), an SVG attribute Chromium cannot read (a console error
/// without any script) and a preconnect to another host (which no CSP directive governs).
#[test]
fn the_check_reports_a_csp_violation_a_console_error_and_a_request_leaving_the_page() {
    let html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Broken</title>\
        <link rel=\"preconnect\" href=\"https://leak.example\"></head><body><h1>Broken page</h1>\
        <script>console.error('from an inline script')</script><svg width=\"wide\"></svg>\
        </body></html>";
    let found = problems(&load("/broken", html.to_string(), "Broken page"));
    let has = |start: &str, part: &str| {
        found
            .iter()
            .any(|p| p.starts_with(start) && p.contains(part))
    };
    assert!(
        has("CSP violation:", "inline script"),
        "the inline script's CSP violation is not reported: {found:#?}"
    );
    assert!(
        has("console message:", "<svg> attribute width"),
        "the SVG console error is not reported: {found:#?}"
    );
    assert!(
        has("request leaving the page:", "leak.example"),
        "the preconnect to leak.example is not reported: {found:#?}"
    );
    assert!(
        !found.iter().any(|p| p.contains("did not render")),
        "the page itself loaded: {found:#?}"
    );
}

/// The checker alone, on Chromium 156's own lines (quoted from a run): its environment
/// noise passes, each kind of failure is named.
#[test]
fn the_check_reads_chromiums_log_lines() {
    let stderr = "\
/usr/bin/chromium: 9: [: 25276194816: unexpected operator
[30006:30035:1207/054536.265742:ERROR:dbus/bus.cc:405] Failed to connect to the bus: Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory
[13940:13940:1207/055019.357644:ERROR:content/browser/isolated_origin_util.cc:74] Ignoring port number in isolated origin: http://127.0.0.1:9
[31734:31734:1207/054601.070212:INFO:CONSOLE:1] \"boom from the page\", source: http://127.0.0.1:8701/error (1)
[32122:32122:1207/054602.965779:INFO:CONSOLE:0] \"Loading the image 'http://example.com/x.png' violates the following Content Security Policy directive: \"img-src data:\". The action has been blocked.\", source: http://127.0.0.1:8701/extimg (0)
[30006:30006:1207/054537.033156:ERROR:components/headless/command_handler/headless_command_handler.cc:403] Page load failed: net::ERR_HTTP_RESPONSE_CODE_FAILURE
";
    let load = Load {
        page: Page {
            path: "/page".into(),
            port: 8701,
            html: String::new(),
        },
        marker: "Sample".into(),
        status: Some(ExitStatus::from_raw(0)),
        stderr: stderr.into(),
        dom: "<html><body><h1>Sample</h1></body></html>".into(),
        requests: vec![
            "GET http://127.0.0.1:8701/page HTTP/1.1".into(),
            "CONNECT example.com:443 HTTP/1.1".into(),
            "GET http://127.0.0.1:8799/x HTTP/1.1".into(),
        ],
    };
    assert_eq!(
        problems(&load),
        vec![
            "console message: [31734:31734:1207/054601.070212:INFO:CONSOLE:1] \"boom from the page\", source: http://127.0.0.1:8701/error (1)".to_string(),
            "CSP violation: [32122:32122:1207/054602.965779:INFO:CONSOLE:0] \"Loading the image 'http://example.com/x.png' violates the following Content Security Policy directive: \"img-src data:\". The action has been blocked.\", source: http://127.0.0.1:8701/extimg (0)".to_string(),
            "the page did not load: [30006:30006:1207/054537.033156:ERROR:components/headless/command_handler/headless_command_handler.cc:403] Page load failed: net::ERR_HTTP_RESPONSE_CODE_FAILURE".to_string(),
            "request leaving the page: CONNECT example.com:443 HTTP/1.1".to_string(),
            "request leaving the page: GET http://127.0.0.1:8799/x HTTP/1.1".to_string(),
        ]
    );
    let quiet = Load {
        stderr: stderr.lines().take(3).collect::<Vec<_>>().join("\n"),
        requests: vec!["GET http://127.0.0.1:8701/page HTTP/1.1".into()],
        ..load
    };
    assert_eq!(problems(&quiet), Vec::<String>::new());
}
