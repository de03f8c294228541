//! `unbreakable slo query --provider dynatrace` against the Dynatrace simulator, with
//! `tests/fixtures/slo/dynatrace/{slo,sli}.yaml` over the window of
//! `tests/fixtures/dynatrace/build_pass.json`: a passing gate (an MV2;MicroSecond; value in ms,
//! a PV2; problem count), an open problem failing the key SLI, no data, several series, a
//! refused query form, a missing and a wrong token.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use unbreakable_emulators::dynatrace::{load_fixture, DynatraceSimulator, DEFAULT_TOKEN};

const START: &str = "2026-11-21T10:00:00Z";
const END: &str = "2026-11-21T10:05:00Z";
const START_MS: i64 = 1_795_255_200_000;
const END_MS: i64 = START_MS + 300_000;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

async fn simulator() -> DynatraceSimulator {
    let fixture = load_fixture(&repo("tests/fixtures/dynatrace/build_pass.json")).unwrap();
    DynatraceSimulator::start(fixture).await.unwrap()
}

struct Run {
    code: i32,
    evaluation: Value,
    stderr: String,
    stdout: String,
}

/// Run `slo query` with the fixture slo.yaml; `sli` is a path; `token` None leaves
/// DT_API_TOKEN unset.
fn slo_query(url: &str, sli: &Path, stage: &str, token: Option<&str>) -> Run {
    let slo = repo("tests/fixtures/slo/dynatrace/slo.yaml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_unbreakable"));
    command
        .args(["slo", "query", "--provider", "dynatrace", "--url", url])
        .arg("--slo")
        .arg(&slo)
        .arg("--sli-file")
        .arg(sli)
        .args(["--start", START, "--end", END, "--stage", stage])
        .args(["--format", "json"])
        .env_remove("DT_API_TOKEN")
        .env_remove("UNBREAKABLE_LOG");
    if let Some(token) = token {
        command.env("DT_API_TOKEN", token);
    }
    let out = command.output().expect("run unbreakable");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let evaluation = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {stdout}\n{stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        evaluation,
        stderr,
        stdout,
    }
}

fn fixture_sli() -> PathBuf {
    repo("tests/fixtures/slo/dynatrace/sli.yaml")
}

/// The fixture sli.yaml with `indicator`'s query replaced.
fn sli_with(dir: &Path, indicator: &str, query: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture_sli()).unwrap();
    let changed: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with(&format!("  {indicator}: ")) {
                format!("  {indicator}: {query}")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_ne!(
        changed.join("\n"),
        text.trim_end(),
        "{indicator} is in sli.yaml"
    );
    let path = dir.join(format!("sli-{indicator}.yaml"));
    std::fs::write(&path, changed.join("\n")).unwrap();
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("unbreakable-slo-dt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (metric, status, value, message) of each objective.
fn indicators(evaluation: &Value) -> Vec<(String, String, f64, String)> {
    evaluation["indicatorResults"]
        .as_array()
        .unwrap_or_else(|| panic!("{evaluation}"))
        .iter()
        .map(|i| {
            (
                i["value"]["metric"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["value"]["value"].as_f64().unwrap(),
                i["value"]["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn row(metric: &str, status: &str, value: f64, message: &str) -> (String, String, f64, String) {
    (metric.into(), status.into(), value, message.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_stage_passes_with_microseconds_as_ms_and_no_open_problem() {
    let sim = simulator().await;
    let run = slo_query(
        &sim.base_url,
        &fixture_sli(),
        "Staging",
        Some(DEFAULT_TOKEN),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.evaluation["result"], "pass", "{}", run.evaluation);
    assert_eq!(run.evaluation["score"], 100.0);
    // 500–540 ms a minute at 60 requests each: 520,000 µs → 520 ms.
    assert_eq!(
        indicators(&run.evaluation),
        [
            row("response_time", "pass", 520.0, ""),
            row("error_rate", "pass", 0.5, ""),
            row("problem_open", "pass", 0.0, ""),
        ]
    );
    let requests = sim.requests();
    // dynatrace-service's flow: the query as written (no resolution: a value a minute), the
    // metric's descriptor, then the query again with resolution=Inf.
    let flow: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.path.starts_with("/api/v2/metrics") && r.path_or_query_mentions("response.time")
        })
        .map(|r| {
            let resolution = r
                .query
                .iter()
                .find(|(k, _)| k == "resolution")
                .map(|(_, v)| v.as_str())
                .unwrap_or("-");
            if r.path == "/api/v2/metrics/query" {
                format!("query resolution={resolution}")
            } else {
                "descriptor".to_string()
            }
        })
        .collect();
    assert_eq!(
        flow,
        ["query resolution=-", "descriptor", "query resolution=Inf"]
    );
    let metrics = requests
        .iter()
        .find(|r| {
            r.path == "/api/v2/metrics/query"
                && r.query.iter().any(|(_, v)| v.contains("response.time"))
                && r.query.iter().any(|(k, v)| k == "resolution" && v == "Inf")
        })
        .expect("a metrics query");
    // Quotes, commas and colons arrive as written: the selectors were URL-encoded.
    for pair in [
        (
            "metricSelector",
            r#"builtin:service.response.time:merge("dt.entity.service"):avg"#,
        ),
        (
            "entitySelector",
            r#"type(SERVICE),tag("DeploymentGroup:Staging")"#,
        ),
        ("resolution", "Inf"),
        ("from", &START_MS.to_string()),
        ("to", &END_MS.to_string()),
    ] {
        assert!(
            metrics
                .query
                .contains(&(pair.0.to_string(), pair.1.to_string())),
            "{pair:?} in {:?}",
            metrics.query
        );
    }
    let problems = requests
        .iter()
        .find(|r| r.path == "/api/v2/problems")
        .expect("a problems query");
    assert!(problems
        .query
        .contains(&("problemSelector".into(), r#"status("open")"#.into())));
    assert!(requests
        .iter()
        .all(|r| r.authorized_header && r.status == 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_problem_fails_the_key_sli_and_the_gate() {
    let sim = simulator().await;
    sim.world.lock().unwrap().problems.push(json!({
        "problemId": "-1_1795255320000V2", "displayId": "P-7", "title": "Response time degradation",
        "status": "OPEN", "severityLevel": "PERFORMANCE", "impactLevel": "SERVICES",
        "startTime": START_MS + 120_000, "endTime": -1,
        "impactedEntities": [{"entityId": {"id": "SERVICE-STAGING00001", "type": "SERVICE"}, "name": "SampleNodeJsService"}]
    }));
    let run = slo_query(
        &sim.base_url,
        &fixture_sli(),
        "Staging",
        Some(DEFAULT_TOKEN),
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let e = &run.evaluation;
    assert_eq!(e["result"], "fail", "{e}");
    // 2 of 3 objectives pass, but the failed key SLI decides.
    assert_eq!(
        (e["reason"].as_str(), e["score"].as_f64().map(f64::round)),
        (Some("key SLI Open problems failed"), Some(67.0)),
        "{e}"
    );
    assert_eq!(
        indicators(e)[2],
        row("problem_open", "fail", 1.0, ""),
        "{e}"
    );
    // The same problem on another stage does not count there.
    let production = slo_query(
        &sim.base_url,
        &fixture_sli(),
        "Production",
        Some(DEFAULT_TOKEN),
    );
    assert_eq!(indicators(&production.evaluation)[2].2, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_data_fails_the_sli_with_the_reason() {
    let sim = simulator().await;
    let dir = temp_dir("nodata");
    let sli = sli_with(
        &dir,
        "response_time",
        r#"MV2;MicroSecond;metricSelector=builtin:service.response.time:merge("dt.entity.service"):avg&entitySelector=type(SERVICE),tag("DeploymentGroup:Nowhere")"#,
    );
    let run = slo_query(&sim.base_url, &sli, "Staging", Some(DEFAULT_TOKEN));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.evaluation["result"], "fail");
    let (metric, status, _, message) = indicators(&run.evaluation).remove(0);
    assert_eq!(
        (metric.as_str(), status.as_str()),
        ("response_time", "fail")
    );
    assert!(
        message.starts_with("no data: Dynatrace Metrics API returned zero metric series"),
        "{message}"
    );
}

/// As dynatrace-service: several series, a refused query form or a query Dynatrace refuses
/// fail that SLI with the reason, and the evaluation goes on (exit 1, not 2: the provider
/// answered). Only a provider that cannot be asked fails the whole evaluation.
#[tokio::test(flavor = "multi_thread")]
async fn several_series_and_refused_forms_fail_their_sli_and_say_what_to_write() {
    let sim = simulator().await;
    let dir = temp_dir("errors");
    for (query, stage, expected) in [
        (
            // Production has two services: without :merge the answer has a series each.
            "metricSelector=builtin:service.errors.total.rate:avg&entitySelector=type(SERVICE),tag(\"DeploymentGroup:$STAGE\")",
            "Production",
            "Dynatrace Metrics API returned 2 metric series but only one is supported: merge them before the aggregation, e.g. …:merge(\"dt.entity.service\"):avg",
        ),
        (
            "USQL;COLUMN_CHART;iOS;SELECT osVersion, AVG(duration) FROM usersession",
            "Staging",
            "USQL; queries (user sessions) are not supported by the Dynatrace SLI provider: write metricSelector=",
        ),
        (
            "metricSelector=builtin:service.nope:avg",
            "Staging",
            "GET /api/v2/metrics/query answered HTTP 404: Metric key builtin:service.nope not found",
        ),
    ] {
        let sli = sli_with(&dir, "error_rate", query);
        let run = slo_query(&sim.base_url, &sli, stage, Some(DEFAULT_TOKEN));
        let e = &run.evaluation;
        assert_eq!((run.code, e["result"].as_str()), (1, Some("fail")), "{query}: {e}");
        let rows = indicators(e);
        let error_rate = rows.iter().find(|r| r.0 == "error_rate").unwrap();
        assert_eq!(error_rate.1, "fail", "{query}: {rows:?}");
        assert!(error_rate.3.contains(expected), "{expected}\n{rows:?}");
        assert!(
            rows.iter().any(|r| r.0 == "response_time" && r.1 == "pass"),
            "the other SLIs are still measured: {rows:?}"
        );
        assert!(!run.stderr.contains("SLI provider error"), "{}", run.stderr);
    }
    // Keptn's oldest form, a bare metric selector, is a metricSelector at resolution=Inf.
    let sli = sli_with(
        &dir,
        "error_rate",
        "builtin:service.errors.total.rate:merge(\"dt.entity.service\"):avg?scope=tag(\"DeploymentGroup:Staging\")",
    );
    let run = slo_query(&sim.base_url, &sli, "Staging", Some(DEFAULT_TOKEN));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_wrong_token_says_so_and_never_shows_the_token() {
    let sim = simulator().await;
    let run = slo_query(&sim.base_url, &fixture_sli(), "Staging", None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.evaluation["result"], "fail");
    assert!(
        run.stderr.contains("DT_API_TOKEN is not set: export the Dynatrace API token (scopes: metrics.read for metric queries, problems.read and entities.read for PV2; queries)"),
        "{}",
        run.stderr
    );
    assert!(sim.requests().is_empty(), "nothing is sent without a token");

    let secret = "dt0c01.WRONG.S3CRETVALUE";
    let run = slo_query(&sim.base_url, &fixture_sli(), "Staging", Some(secret));
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.evaluation["reason"]
            .as_str()
            .unwrap()
            .contains("Dynatrace rejected the API token"),
        "{}",
        run.evaluation
    );
    assert!(
        !run.stdout.contains("S3CRET") && !run.stderr.contains("S3CRET"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    let run = slo_query(
        "http://127.0.0.1:1",
        &fixture_sli(),
        "Staging",
        Some(secret),
    );
    let reason = run.evaluation["reason"].as_str().unwrap();
    assert_eq!(run.code, 2, "{reason}");
    assert!(
        reason
            .contains("cannot reach Dynatrace for GET /api/v2/metrics/query at http://127.0.0.1:1")
            && reason.contains("--url"),
        "{reason}"
    );
    assert!(!reason.contains("S3CRET"), "{reason}");
}

/// `slo query` with the fixture files and flags as given (no `--stage` unless in `args`).
fn slo_query_args(url: &str, sli: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args(["slo", "query", "--provider", "dynatrace", "--url", url])
        .arg("--slo")
        .arg(repo("tests/fixtures/slo/dynatrace/slo.yaml"))
        .arg("--sli-file")
        .arg(sli)
        .args(["--start", START, "--end", END, "--format", "json"])
        .args(args)
        .env("DT_API_TOKEN", DEFAULT_TOKEN)
        .env_remove("UNBREAKABLE_LOG")
        .output()
        .expect("run unbreakable");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let evaluation = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {stdout}\n{stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        evaluation,
        stderr,
        stdout,
    }
}

/// Confirmed: without --stage the queries asked for `tag("DeploymentGroup:")`, the key SLI
/// counted 0 open problems on no entity, and the gate passed with 100. Now the placeholder
/// without a value is refused before any request, naming it, the SLI and the flag.
#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_without_a_value_is_refused_before_any_request() {
    let sim = simulator().await;
    let run = slo_query_args(&sim.base_url, &fixture_sli(), &[]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.evaluation["result"], "fail", "{}", run.evaluation);
    let reason = run.evaluation["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("sli.yaml indicator \"problem_open\": $STAGE has no value: give --stage"),
        "{reason}"
    );
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path.starts_with("/api/v2/")),
        "no request was sent: {:?}",
        sim.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

/// Confirmed: `--stage Stagin` (a typo) matched no entity, counted 0 problems and passed the
/// key SLI. Now a selector that matches no entity is no data, and the key SLI fails.
#[tokio::test(flavor = "multi_thread")]
async fn a_mistyped_stage_fails_the_key_sli_instead_of_counting_zero_problems() {
    let sim = simulator().await;
    let run = slo_query_args(&sim.base_url, &fixture_sli(), &["--stage", "Stagin"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.evaluation["result"], "fail", "{}", run.evaluation);
    let rows = indicators(&run.evaluation);
    let problem_open = rows.iter().find(|r| r.0 == "problem_open").unwrap();
    assert_eq!(problem_open.1, "fail", "{rows:?}");
    assert!(
        problem_open.3.contains("matches no entity in the window"),
        "{rows:?}"
    );
    assert!(sim.requests().iter().any(|r| r.path == "/api/v2/entities"));
    assert!(
        !sim.requests().iter().any(|r| r.path == "/api/v2/problems"),
        "no problem count is asked for a selector that matches nothing"
    );
}

/// dynatrace-service's resolution cases: `Inf` in any letter case is one request sent as
/// written; another resolution is folded (`(<selector>):fold`, the resolution kept); Keptn's
/// oldest bare selector, with or without `?`, is one request at `resolution=Inf`.
#[tokio::test(flavor = "multi_thread")]
async fn resolutions_and_the_bare_legacy_form_follow_dynatrace_service() {
    let sim = simulator().await;
    let dir = temp_dir("resolutions");
    let rt = r#"builtin:service.response.time:merge("dt.entity.service"):avg"#;
    let staging = r#"type(SERVICE),tag("DeploymentGroup:Staging")"#;
    for (query, expected) in [
        (
            format!("MV2;MicroSecond;metricSelector={rt}&entitySelector={staging}&resolution=iNF"),
            vec![format!("{rt} resolution=iNF")],
        ),
        // Not aggregated yet (dynatrace-service's success_with_other_resolution): folded.
        (
            format!("MV2;MicroSecond;metricSelector=builtin:service.response.time:splitBy()&entitySelector={staging}&resolution=1m"),
            vec![
                "builtin:service.response.time:splitBy() resolution=1m".to_string(),
                "descriptor".to_string(),
                "(builtin:service.response.time:splitBy()):fold resolution=1m".to_string(),
            ],
        ),
        (
            format!("MV2;MicroSecond;{rt}?scope=tag(\"DeploymentGroup:Staging\")"),
            vec![format!("{rt} resolution=Inf")],
        ),
    ] {
        sim.clear_requests();
        let sli = sli_with(&dir, "response_time", &query);
        let run = slo_query_args(&sim.base_url, &sli, &["--stage", "Staging"]);
        let rows = indicators(&run.evaluation);
        assert_eq!(rows[0], row("response_time", "pass", 520.0, ""), "{query}: {rows:?}");
        let flow: Vec<String> = sim
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/v2/metrics") && r.path_or_query_mentions("response.time"))
            .map(|r| {
                if r.path != "/api/v2/metrics/query" {
                    return "descriptor".to_string();
                }
                let get = |key: &str| {
                    r.query
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                format!("{} resolution={}", get("metricSelector"), get("resolution"))
            })
            .collect();
        assert_eq!(flow, expected, "{query}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
