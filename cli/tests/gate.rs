//! The `unbreakable` binary against the Dynatrace simulator, in API v1 and v2 modes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use unbreakable_emulators::dynatrace::{
    load_fixture, DynatraceSimulator, FailNext, Faults, DEFAULT_TOKEN,
};

const START: &str = "2026-11-21T10:00:00Z";
const END: &str = "2026-11-21T10:05:00Z";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

async fn simulator(fixture: &str) -> DynatraceSimulator {
    let fixture = load_fixture(&repo(&format!("tests/fixtures/dynatrace/{fixture}.json"))).unwrap();
    DynatraceSimulator::start(fixture).await.unwrap()
}

fn unbreakable(args: &[&str], url: &str, token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args(args)
        .env("DT_TENANT_URL", url)
        .env("DT_API_TOKEN", token)
        .env_remove("UNBREAKABLE_LOG")
        .output()
        .expect("run unbreakable")
}

fn validate(sim_url: &str, api: &str, extra: &[&str]) -> Output {
    validate_with(&repo("monspec/monspec.json"), sim_url, api, extra)
}

/// `validate` of StagingToProduction over the fixtures' window with `monspec`.
fn validate_with(monspec: &Path, sim_url: &str, api: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "validate",
        "--monspec",
        monspec.to_str().unwrap(),
        "--comparison",
        "StagingToProduction",
        "--start",
        START,
        "--end",
        END,
        "--api",
        api,
    ];
    args.extend_from_slice(extra);
    unbreakable(&args, sim_url, DEFAULT_TOKEN)
}

/// `validate --window 5m` (ending now) with `token`.
fn validate_last_five_minutes(url: &str, token: &str) -> Output {
    let monspec = repo("monspec/monspec.json");
    let args = [
        "validate",
        "--monspec",
        monspec.to_str().unwrap(),
        "--comparison",
        "StagingToProduction",
        "--window",
        "5m",
    ];
    unbreakable(&args, url, token)
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn verdict_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", text(output)))
}

fn outcomes(verdict: &Value) -> Vec<(String, String)> {
    verdict["configurations"][0]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_build_is_approved_in_both_api_versions() {
    let sim = simulator("build_pass").await;
    for api in ["v1", "v2"] {
        let out = validate(&sim.base_url, api, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{api}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("APPROVED StagingToProduction: all 9 signatures passed"),
            "{stdout}"
        );
        assert!(
            stdout.contains("/api/invoke: p90 response time"),
            "service methods are evaluated: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_violating_build_is_rejected_with_reasons() {
    let sim = simulator("build_violation").await;
    for api in ["v1", "v2"] {
        let out = validate(&sim.base_url, api, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{api}\n{stdout}\n{stderr}");
        assert!(stdout.contains("VIOLATION"), "{stdout}");
        assert!(
            stdout.contains("↳ avg failure rate 25 % > limit 0.607 % (Production 0.467 % + 30%)"),
            "{api}: {stdout}"
        );
        assert!(
            stdout.contains("↳ /api/invoke: avg failure rate 50 % > limit"),
            "{api}: {stdout}"
        );
        assert!(stdout.contains("REJECTED StagingToProduction: 4 of 9 signatures failed (4 violation, 0 nodata, 0 error)"), "{api}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_without_data_is_rejected_not_passed() {
    let sim = simulator("build_nodata").await;
    for api in ["v1", "v2"] {
        let out = validate(&sim.base_url, api, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{api}\n{stdout}\n{stderr}");
        assert!(stdout.contains("NODATA"), "{stdout}");
        assert!(stdout.contains("avg response time: no data: no datapoints in the window; blocks approval (onmissingdata: fail)"), "{api}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_and_v2_reach_the_same_verdict_on_the_same_fixture() {
    for fixture in ["build_pass", "build_violation", "build_nodata"] {
        let sim = simulator(fixture).await;
        let v1 = verdict_json(&validate(&sim.base_url, "v1", &["--format", "json"]));
        let v2 = verdict_json(&validate(&sim.base_url, "v2", &["--format", "json"]));
        assert_eq!(v1["status"], v2["status"], "{fixture}");
        assert_eq!(outcomes(&v1), outcomes(&v2), "{fixture}");
        // Request-weighted averages are exact in both modes.
        let avg = |v: &Value| v["configurations"][0]["signatures"][0]["compareValue"].as_f64();
        if fixture == "build_pass" {
            let (a, b) = (avg(&v1).unwrap(), avg(&v2).unwrap());
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            assert!(
                (a - 493_333.3).abs() < 1.0,
                "two production services merged by requests: {a}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_that_match_nothing_give_nodata() {
    let sim = simulator("build_pass").await;
    let dir = tempdir();
    let mut monspec: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("monspec/monspec.json")).unwrap())
            .unwrap();
    monspec["SampleJSonService"]["environments"]["Staging"]["tags"][0]["value"] = "Stagingg".into();
    let path = dir.join("monspec.json");
    std::fs::write(&path, monspec.to_string()).unwrap();
    let out = unbreakable(
        &[
            "validate",
            "--monspec",
            path.to_str().unwrap(),
            "--comparison",
            "StagingToProduction",
            "--start",
            START,
            "--end",
            END,
        ],
        &sim.base_url,
        DEFAULT_TOKEN,
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no data: no entity matched the tags DeploymentGroup:Stagingg"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_can_be_given_as_a_length_before_an_end() {
    let sim = simulator("build_violation").await;
    let monspec = repo("monspec/monspec.json");
    let out = unbreakable(
        &[
            "validate",
            "--monspec",
            monspec.to_str().unwrap(),
            "--comparison",
            "StagingToProduction",
            "--window",
            "5m",
            "--end",
            END,
            "--format",
            "json",
        ],
        &sim.base_url,
        DEFAULT_TOKEN,
    );
    let v = verdict_json(&out);
    assert_eq!(v["startMs"], 1_795_255_200_000i64);
    assert_eq!(v["windowMs"], 300_000);
    assert_eq!(v["status"], "rejected");
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_needs_at_most_two_metric_requests_per_environment() {
    let sim = simulator("build_pass").await;
    let out = validate(&sim.base_url, "v2", &[]);
    assert_eq!(out.status.code(), Some(0));
    let requests = sim.requests();
    let metric_requests = requests
        .iter()
        .filter(|r| r.path == "/api/v2/metrics/query")
        .count();
    assert_eq!(
        metric_requests, 4,
        "2 environments × (service-level + service-method)"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/api/v2/entities")
            .count(),
        2
    );
    assert!(
        requests.iter().all(|r| r.authorized_header),
        "the token travels in the Authorization header"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.query.iter().all(|(_, v)| !v.contains(DEFAULT_TOKEN))),
        "never in the URL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_then_success_passes() {
    let sim = simulator("build_pass").await;
    sim.set_faults(Faults {
        fail_next: Some(FailNext {
            status: 429,
            count: 3,
            retry_after_secs: Some(0),
        }),
        ..Faults::default()
    });
    let out = validate(&sim.base_url, "v2", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(sim.requests().iter().filter(|r| r.status == 429).count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_server_error_exits_2_with_a_message() {
    let sim = simulator("build_pass").await;
    sim.set_faults(Faults {
        fail_always: Some(500),
        ..Faults::default()
    });
    let out = validate(&sim.base_url, "v2", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("could not be measured"), "{stderr}");
    assert!(
        stderr.contains("answered HTTP 500 after 4 attempts: Simulated server failure"),
        "{stderr}"
    );
    assert!(!stdout.contains(DEFAULT_TOKEN) && !stderr.contains(DEFAULT_TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_exits_2_and_never_shows_the_token() {
    let sim = simulator("build_pass").await;
    let out = validate_last_five_minutes(&sim.base_url, "dt0c01.WRONG.SECRETVALUE");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("Dynatrace rejected the API token for GET /api/v2/entities (401: Missing authorization parameter.)"), "{stderr}");
    assert!(!stdout.contains("SECRETVALUE") && !stderr.contains("SECRETVALUE"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_the_scope_is_named() {
    let sim = simulator("build_pass").await;
    sim.world
        .lock()
        .unwrap()
        .tokens
        .insert("dt0c01.NOMETRICS.X".into(), vec!["entities.read".into()]);
    let out = validate_last_five_minutes(&sim.base_url, "dt0c01.NOMETRICS.X");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the API token lacks the scope `metrics.read` needed for GET /api/v2/metrics/query"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_tenant_exits_2() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = validate(&format!("http://127.0.0.1:{port}"), "v1", &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach Dynatrace for GET /api/v1/entity/services at http://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filled_monspec_is_written_in_the_original_format() {
    let sim = simulator("build_violation").await;
    let dir = tempdir();
    let out_path = dir.join("filled.json");
    let out = validate(
        &sim.base_url,
        "v1",
        &["--filled-monspec", out_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let filled: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let svc = &filled["SampleJSonService"];
    assert_eq!(svc["status"], "violation");
    assert_eq!(
        svc["_resolved_entities"]["Production"],
        serde_json::json!(["SERVICE-PROD00000001", "SERVICE-PROD00000002"])
    );
    assert_eq!(svc["perfsignature"][2]["status"], "violation");
    assert_eq!(svc["perfsignature"][2]["actualSourceValue"], 25.0);
    let lint = unbreakable(&["lint", out_path.to_str().unwrap()], "", "");
    assert_eq!(
        lint.status.code(),
        Some(0),
        "a filled monspec lints clean: {:?}",
        text(&lint)
    );
}

#[test]
fn bad_input_exits_2_and_says_what_to_fix() {
    let dir = tempdir();
    let broken = dir.join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"Svc\": {\n    \"etype\": \"SERVICE\",\n  }\n}",
    )
    .unwrap();
    let monspec = repo("monspec/monspec.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["validate", "--monspec", "/nonexistent/monspec.json", "--comparison", "X", "--window", "5m"], "/nonexistent/monspec.json: cannot read the file: No such file or directory"),
        (vec!["validate", "--monspec", broken.to_str().unwrap(), "--comparison", "X", "--window", "5m"], "line 4, column 3: trailing comma"),
        (vec!["validate", "--monspec", monspec.to_str().unwrap(), "--comparison", "StagingToProd", "--window", "5m"], "unknown comparison \"StagingToProd\" (available: ProductionToProductionLastHour, StagingToProduction, StagingToProductionYesterday, StagingToStagingLastHour)"),
        (vec!["validate", "--monspec", monspec.to_str().unwrap(), "--comparison", "StagingToProduction", "--window", "5 minutes please"], "--window \"5 minutes please\" is not a duration such as 5m or 90s"),
        (vec!["validate", "--monspec", monspec.to_str().unwrap(), "--comparison", "StagingToProduction", "--start", "yesterday", "--end", END], "\"yesterday\" is not a time: use RFC 3339"),
        (vec!["validate", "--monspec", monspec.to_str().unwrap(), "--comparison", "StagingToProduction", "--start", END, "--end", START], "the window is empty: --end (2026-11-21T10:00:00Z) must be after --start (2026-11-21T10:05:00Z)"),
        (vec!["validate", "--monspec", monspec.to_str().unwrap(), "--comparison", "StagingToProduction", "--window", "5m", "--api", "v3"], "unknown API version \"v3\" (use v1 or v2)"),
    ];
    for (args, expected) in cases {
        let out = unbreakable(&args, "http://127.0.0.1:9", DEFAULT_TOKEN);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}\nexpected: {expected}\nstderr: {stderr}"
        );
    }
    let no_url = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args([
            "validate",
            "--monspec",
            monspec.to_str().unwrap(),
            "--comparison",
            "StagingToProduction",
            "--window",
            "5m",
        ])
        .env_remove("DT_TENANT_URL")
        .output()
        .unwrap();
    assert_eq!(no_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_url.stderr).contains("--dynatrace-url <DYNATRACE_URL>"));
    let no_token = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args([
            "validate",
            "--monspec",
            monspec.to_str().unwrap(),
            "--comparison",
            "StagingToProduction",
            "--window",
            "5m",
            "--dynatrace-url",
            "http://127.0.0.1:9",
        ])
        .env_remove("DT_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(no_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("DT_API_TOKEN is not set"));
}

#[test]
fn lint_prints_every_problem_and_exits_1() {
    let dir = tempdir();
    let bad = dir.join("bad.json");
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("monspec/monspec.json")).unwrap())
            .unwrap();
    m["SampleJSonService"]["comparisons"][1]["source"] = "Stagin".into();
    m["SampleJSonService"]["perfsignature"][1]["aggregate"] = "p101".into();
    m["SampleJSonService"]["etype"] = "DATABASE".into();
    std::fs::write(&bad, m.to_string()).unwrap();
    let out = unbreakable(
        &[
            "lint",
            repo("monspec/monspec.json").to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        "",
        "",
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("monspec.json: ok"));
    assert!(stdout.contains("SampleJSonService.comparisons[1].source: environment \"Stagin\" is not defined (defined: Staging, Production)"), "{stdout}");
    assert!(
        stdout.contains("SampleJSonService.perfsignature[1].aggregate: unknown aggregate \"p101\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("SampleJSonService.etype: unsupported entity type \"DATABASE\""),
        "{stdout}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "unbreakable-cli-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

// Several entities per environment (tests/fixtures/dynatrace/several_entities.json; its
// `_comment` has the arithmetic): Production has two services and two /api/invoke key
// requests, Staging one of each. Every limit below is worked out by hand from the fixture.

const SEVERAL_ENTITIES: &str = "several_entities";

/// A monspec over the fixture's services: `service` and `method` signatures, tolerance 10 %.
fn several_entities_monspec(service: Value, method: Value) -> PathBuf {
    let tags = |group: &str| serde_json::json!({"tags": [{"context": "CONTEXTLESS", "key": "DeploymentGroup", "value": group}]});
    let mut monspec = serde_json::json!({"SeveralEntities": {
        "etype": "SERVICE", "name": "SampleNodeJsService", "owner": "team-sample",
        "environments": {"Staging": tags("Staging"), "Production": tags("Production")},
        "comparisons": [{"name": "StagingToProduction", "source": "Staging", "compare": "Production", "scalefactorperc": {"default": 10}}]
    }});
    // An empty list is a lint error: leave out what the test does not check.
    if service != serde_json::json!([]) {
        monspec["SeveralEntities"]["perfsignature"] = service;
    }
    if method != serde_json::json!([]) {
        monspec["SeveralEntities"]["servicemethods"] =
            serde_json::json!([{"name": "/api/invoke", "perfsignature": method}]);
    }
    let path = tempdir().join("monspec.json");
    std::fs::write(&path, monspec.to_string()).unwrap();
    path
}

fn validate_monspec(sim_url: &str, monspec: &Path, api: &str) -> Value {
    verdict_json(&validate_with(monspec, sim_url, api, &["--format", "json"]))
}

/// The signature labelled `label` of the only configuration.
fn signature<'v>(verdict: &'v Value, label: &str) -> &'v Value {
    verdict["configurations"][0]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .unwrap_or_else(|| panic!("no signature {label}: {verdict:#}"))
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 0.01)
}

/// (outcome, source value, compare value, limit) as the result JSON holds them.
fn numbers(s: &Value) -> (String, Value, Value, Value) {
    let limit = if s["validate"] == "lower" {
        s["lowerLimit"].clone()
    } else {
        s["upperLimit"].clone()
    };
    (
        s["outcome"].as_str().unwrap().to_string(),
        s["sourceValue"].clone(),
        s["compareValue"].clone(),
        limit,
    )
}

fn assert_numbers(api: &str, s: &Value, outcome: &str, source: f64, compare: f64, limit: f64) {
    let (o, sv, cv, l) = numbers(s);
    assert!(
        o == outcome && close(&sv, source) && close(&cv, compare) && close(&l, limit),
        "{api} {}: expected {outcome} with source {source}, baseline {compare}, limit {limit}; got {o}, {sv}, {cv}, {l}\n{s:#}",
        s["label"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_over_several_entities_add_up_in_both_apis() {
    let sim = simulator(SEVERAL_ENTITIES).await;
    let monspec = several_entities_monspec(
        serde_json::json!([{"timeseries": "com.dynatrace.builtin:service.requestspermin", "aggregate": "avg", "validate": "lower"}]),
        serde_json::json!([{"timeseries": "com.dynatrace.builtin:servicemethod.requestspermin", "aggregate": "avg", "validate": "lower"}]),
    );
    for api in ["v1", "v2"] {
        let v = validate_monspec(&sim.base_url, &monspec, api);
        // Production serves 900 + 100 = 1,000 requests/min; 10 % less is 900, Staging's 850 is
        // below. (A request-weighted mean said 820/min, limit 738, and approved.)
        assert_numbers(
            api,
            signature(&v, "avg requests"),
            "violation",
            850.0,
            1000.0,
            900.0,
        );
        // Key requests: 100 + 10 = 110/min, limit 99, Staging 95. (Weighted: 91.8, limit 82.6.)
        assert_numbers(
            api,
            signature(&v, "/api/invoke: avg requests"),
            "violation",
            95.0,
            110.0,
            99.0,
        );
        assert_eq!(v["status"], "rejected", "{api}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn percentiles_over_several_entities_use_the_bound_that_errs_safe() {
    let sim = simulator(SEVERAL_ENTITIES).await;
    let rt =
        |aggregate: &str, id: &str| serde_json::json!({"timeseries": id, "aggregate": aggregate});
    let monspec = several_entities_monspec(
        serde_json::json!([rt("p90", "com.dynatrace.builtin:service.responsetime")]),
        serde_json::json!([
            rt("p90", "com.dynatrace.builtin:servicemethod.responsetime"),
            rt("avg", "com.dynatrace.builtin:servicemethod.responsetime"),
        ]),
    );
    for api in ["v1", "v2"] {
        let v = validate_monspec(&sim.base_url, &monspec, api);
        // Production's merged p90 is 100 ms (4,500 of 5,000 requests take 100 ms): limit
        // 110 ms, Staging's 150 ms violates. v1 has per-service p90s of 100 and 1000 ms and uses
        // the smallest as the baseline; v2 gets the merged value. (A weighted mean of the p90s
        // gave 190 ms, limit 209 ms, and approved.)
        let p90 = signature(&v, "p90 response time");
        assert_numbers(api, p90, "violation", 150_000.0, 100_000.0, 110_000.0);
        let notes = p90["notes"].to_string();
        match api {
            "v1" => assert!(notes.contains("baseline Production: p90 response time over 2 entities has no merged value (per entity 100 ms to 1000 ms); the smallest, 100 ms, is used because it errs toward rejecting"), "{notes}"),
            _ => assert!(!notes.contains("no merged value"), "v2 merges services: {notes}"),
        }
        // Key requests are never merged by the query (one series per method) in either API:
        // per-method p90s 100 and 1000 ms, the smallest is the baseline. (Weighted: 181.8 ms.)
        let method_p90 = signature(&v, "/api/invoke: p90 response time");
        assert_numbers(
            api,
            method_p90,
            "violation",
            150_000.0,
            100_000.0,
            110_000.0,
        );
        assert!(
            method_p90["notes"]
                .to_string()
                .contains("the smallest, 100 ms, is used"),
            "{api}: {method_p90:#}"
        );
        // avg is exact: (500 × 100 ms + 50 × 1000 ms) / 550 = 181.8 ms, limit 200 ms.
        assert_numbers(
            api,
            signature(&v, "/api/invoke: avg response time"),
            "pass",
            150_000.0,
            181_818.18,
            200_000.0,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_weights_query_makes_the_weighted_average_an_error() {
    use unbreakable_emulators::dynatrace::FaultRule;
    let sim = simulator(SEVERAL_ENTITIES).await;
    // Ten method signatures fill one v2 query (Dynatrace takes ten expressions at most), so the
    // key-request counts that weigh the avg travel in a query of their own.
    let aggregates = [
        "avg", "min", "max", "median", "sum", "p50", "p75", "p90", "p95", "p99",
    ];
    let method: Vec<Value> = aggregates
        .iter()
        .map(|a| serde_json::json!({"timeseries": "com.dynatrace.builtin:servicemethod.responsetime", "aggregate": a}))
        .collect();
    let monspec = several_entities_monspec(serde_json::json!([]), Value::Array(method));
    for (api, path, count_metric) in [
        (
            "v2",
            "/api/v2/metrics/query",
            "builtin:service.keyRequest.count.total",
        ),
        (
            "v1",
            "/api/v1/timeseries",
            "com.dynatrace.builtin:servicemethod.requestspermin",
        ),
    ] {
        sim.clear_requests();
        sim.set_faults(Faults {
            rules: vec![FaultRule {
                path: path.into(),
                contains: vec![count_metric.into()],
                status: Some(500),
                ..FaultRule::default()
            }],
            ..Faults::default()
        });
        let v = validate_monspec(&sim.base_url, &monspec, api);
        let failed: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|r| r.status == 500)
            .collect();
        assert!(
            !failed.is_empty(),
            "{api}: the rule matched the count query"
        );
        let avg = signature(&v, "/api/invoke: avg response time");
        assert_eq!(avg["outcome"], "error", "{api}: {avg:#}");
        assert_eq!(avg["blocksApproval"], true);
        let reason = avg["reason"].as_str().unwrap();
        assert!(
            reason.contains("avg over 2 ")
                && reason.contains("could not be read")
                && reason.contains("HTTP 500"),
            "{api}: {reason}"
        );
        // The unweighted mean (550 ms) is never used; signatures that need no weights decide.
        assert_eq!(avg["compareValue"], Value::Null, "{api}");
        assert_eq!(
            signature(&v, "/api/invoke: max response time")["outcome"],
            "pass",
            "{api}"
        );
        assert_eq!(v["status"], "rejected", "{api}");
        assert_eq!(v["counts"]["error"], 1, "{api}: {:#}", v["counts"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_point_or_paged_series_is_an_error_not_a_value() {
    use unbreakable_emulators::dynatrace::FaultRule;
    let sim = simulator(SEVERAL_ENTITIES).await;
    let expression = "builtin:service.response.time:splitBy():percentile(90)";
    let monspec = several_entities_monspec(
        serde_json::json!([{"timeseries": "com.dynatrace.builtin:service.responsetime", "aggregate": "p90"}]),
        serde_json::json!([]),
    );
    // Staging's answer as a tenant could send it: 2 points (the last one, 90 ms, would pass),
    // or a first page.
    let answer = |timestamps: Value, values: Value, page: Value| {
        serde_json::json!({"totalCount": 1, "nextPageKey": page, "resolution": "Inf", "result": [
            {"metricId": expression, "data": [{"dimensions": [], "dimensionMap": {}, "timestamps": timestamps, "values": values}]}]})
    };
    let cases = [
        (
            answer(serde_json::json!([1, 2]), serde_json::json!([150_000.0, 90_000.0]), Value::Null),
            format!("2 datapoints for {expression} under resolution=Inf, expected one for the whole window: the answer is partial, so it is not used"),
        ),
        (
            answer(serde_json::json!([1]), serde_json::json!([90_000.0]), "PAGE2".into()),
            format!("the answer to {expression} is paged (nextPageKey \"PAGE2\"): series on later pages are missing, so none of it is used"),
        ),
    ];
    for (body, message) in cases {
        sim.set_faults(Faults {
            rules: vec![FaultRule {
                path: "/api/v2/metrics/query".into(),
                contains: vec!["DeploymentGroup:Staging".into()],
                body: Some(body),
                ..FaultRule::default()
            }],
            ..Faults::default()
        });
        let v = validate_monspec(&sim.base_url, &monspec, "v2");
        let p90 = signature(&v, "p90 response time");
        assert_eq!(p90["outcome"], "error", "{p90:#}");
        assert_eq!(p90["reason"], format!("query failed: {message}"));
        assert_eq!(p90["sourceValue"], Value::Null);
        assert_eq!(v["status"], "rejected");
    }
}

#[test]
fn lint_warns_about_a_response_time_limit_below_1000_us_and_still_passes() {
    let dir = tempdir();
    let file = dir.join("ms.json");
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("monspec/monspec.json")).unwrap())
            .unwrap();
    m["SampleJSonService"]["perfsignature"][0]["upperlimit"] = 500.into();
    std::fs::write(&file, m.to_string()).unwrap();
    let out = unbreakable(&["lint", file.to_str().unwrap()], "", "");
    let (stdout, _) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail the lint: {stdout}"
    );
    assert!(stdout.contains("ms.json: warning: SampleJSonService.perfsignature[0].upperlimit: 500 µs is 0.5 ms: response-time limits are in µs (the API's unit), and one below 1,000 is almost always a limit meant in ms; for 500 ms write 500000"), "{stdout}");
    assert!(stdout.contains("ms.json: ok"), "{stdout}");
}
