//! `unbreakable slo evaluate` and `unbreakable slo lint` through the binary: results, scores,
//! exit codes, and a message for each bad input.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/slo")
        .join(name)
        .display()
        .to_string()
}

fn example(name: &str) -> String {
    root().join("slo").join(name).display().to_string()
}

fn unbreakable(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args(args)
        .output()
        .expect("run unbreakable");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn evaluate_json(sli: &str, extra: &[&str]) -> (i32, Value) {
    let slo = example("slo.yaml");
    let sli = fixture(sli);
    let mut args = vec![
        "slo", "evaluate", "--slo", &slo, "--sli", &sli, "--format", "json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = unbreakable(&args);
    let document = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}): {stdout}\n{stderr}"));
    (code, document)
}

#[test]
fn the_sample_builds_pass_warn_and_fail_as_scored() {
    let previous = fixture("previous.json");
    let (code, e) = evaluate_json("build3.json", &["--previous", &previous]);
    assert_eq!(
        (code, e["result"].as_str(), e["score"].as_f64()),
        (0, Some("pass"), Some(100.0)),
        "{e}"
    );
    let rt = &e["indicatorResults"][0];
    assert_eq!(
        rt["value"]["comparedValue"], 400.0,
        "the last passing build is the baseline: {e}"
    );
    assert_eq!(rt["passTargets"][0]["targetValue"], 440.0);
    assert_eq!(e["indicatorResults"][2]["status"], "info");
    assert_eq!(e["comparedEvaluations"], serde_json::json!(["build-1"]));

    let (code, e) = evaluate_json("build4.json", &["--previous", &previous]);
    assert_eq!(
        (code, e["result"].as_str(), e["score"].as_f64()),
        (1, Some("warning"), Some(75.0)),
        "{e}"
    );
    assert_eq!(e["indicatorResults"][0]["status"], "warning");
    let (code, _) = evaluate_json(
        "build4.json",
        &["--previous", &previous, "--warning-exits", "0"],
    );
    assert_eq!(code, 0, "--warning-exits 0 lets a warning through");

    let (code, e) = evaluate_json("build2.json", &["--previous", &previous]);
    assert_eq!(
        (code, e["result"].as_str(), e["score"].as_f64()),
        (1, Some("fail"), Some(50.0)),
        "{e}"
    );
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("key SLI Error rate (%) failed"),
        "{e}"
    );
}

#[test]
fn keptn_evaluation_finished_events_are_history_as_exported() {
    // The same two builds as previous.json, as Keptn's datastore lists them, and as the
    // bare array of events.
    let list = fixture("keptn-evaluation-finished.json");
    let text = std::fs::read_to_string(&list).unwrap();
    let events = serde_json::from_str::<Value>(&text).unwrap()["events"].clone();
    let dir = std::env::temp_dir().join(format!("unbreakable-previous-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let array = dir.join("events.json");
    std::fs::write(&array, events.to_string()).unwrap();
    let array = array.display().to_string();
    for previous in [fixture("previous.json"), list, array] {
        let (code, e) = evaluate_json("build3.json", &["--previous", &previous]);
        assert_eq!(
            (code, e["score"].as_f64()),
            (0, Some(100.0)),
            "{previous}: {e}"
        );
        assert_eq!(
            e["indicatorResults"][0]["value"]["comparedValue"], 400.0,
            "{previous}: {e}"
        );
        assert_eq!(
            e["comparedEvaluations"],
            serde_json::json!(["build-1"]),
            "{previous}"
        );
    }

    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, r#"{"result": "pass"}"#).unwrap();
    let wrong = wrong.display().to_string();
    let (code, _, stderr) = unbreakable(&[
        "slo",
        "evaluate",
        "--slo",
        &example("slo.yaml"),
        "--sli",
        &fixture("build3.json"),
        "--previous",
        &wrong,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("wrong.json: a JSON object without \"events\" is not a list of evaluations: give, newest first, a JSON array of this command's JSON outputs")
            && stderr.contains("Keptn's sh.keptn.event.evaluation.finished events")
            && stderr.contains("{\"events\": [...]}"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_history_relative_criteria_are_met_and_say_so() {
    let (code, e) = evaluate_json("build3.json", &[]);
    assert_eq!((code, e["result"].as_str()), (0, Some("pass")), "{e}");
    assert_eq!(e["noBaseline"], true);
    assert_eq!(
        e["indicatorResults"][0]["passTargets"][0]["noBaseline"],
        true
    );
    let slo = example("slo.yaml");
    let sli = fixture("build3.json");
    let (_, table, _) = unbreakable(&["slo", "evaluate", "--slo", &slo, "--sli", &sli]);
    assert!(
        table.starts_with("SLO evaluation: PASS, score 100"),
        "{table}"
    );
    assert!(
        table.contains("relative criteria without a baseline were counted as met"),
        "{table}"
    );
    assert!(table.contains("(no baseline)"), "{table}");
}

#[test]
fn a_provider_error_fails_its_objective_with_the_message() {
    let (code, e) = evaluate_json("provider-error.json", &[]);
    assert_eq!((code, e["result"].as_str()), (1, Some("fail")), "{e}");
    assert_eq!(
        e["indicatorResults"][0]["value"]["message"],
        "Prometheus: query timed out"
    );
}

#[test]
fn bad_input_fails_closed_with_a_message_and_exit_2() {
    let missing = root().join("no-such-slo.yaml").display().to_string();
    let bad_slo = fixture("mis-indented.yaml");
    let not_json = example("sli.yaml");
    let good_slo = example("slo.yaml");
    let build3 = fixture("build3.json");
    for (slo, sli, expected) in [
        (missing.as_str(), build3.as_str(), "cannot read"),
        (bad_slo.as_str(), build3.as_str(), "mis-indented.yaml:4:"),
        (
            good_slo.as_str(),
            not_json.as_str(),
            "is not a JSON array of SLI results",
        ),
    ] {
        let (code, stdout, stderr) = unbreakable(&[
            "slo", "evaluate", "--slo", slo, "--sli", sli, "--format", "json",
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        let e: Value = serde_json::from_str(&stdout).expect("a fail document on stdout");
        assert_eq!(
            (e["result"].as_str(), e["score"].as_f64()),
            (Some("fail"), Some(0.0))
        );
        assert!(e["reason"].as_str().unwrap().contains(expected), "{e}");
    }
    let (code, _, stderr) = unbreakable(&[
        "slo",
        "evaluate",
        "--slo",
        &good_slo,
        "--sli",
        &build3,
        "--warning-exits",
        "3",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--warning-exits"), "{stderr}");
}

#[test]
fn lint_names_file_line_column_and_path() {
    let (code, stdout, _) =
        unbreakable(&["slo", "lint", &example("slo.yaml"), &example("sli.yaml")]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("slo.yaml: ok") && stdout.contains("sli.yaml: ok"),
        "{stdout}"
    );
    let (code, stdout, _) = unbreakable(&["slo", "lint", &fixture("mis-indented.yaml")]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("mis-indented.yaml:4:"), "{stdout}");
}
