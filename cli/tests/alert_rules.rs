//! `unbreakable alert-rules` through the binary: the rules for the sample slo.yaml pass
//! `promtool check rules`, relative criteria are noted on stderr, bad input says what to fix.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
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

fn sample(name: &str) -> String {
    root().join("slo").join(name).display().to_string()
}

#[test]
fn the_sample_slos_rules_pass_promtool_check_rules() {
    let (code, rules, stderr) = unbreakable(&[
        "alert-rules",
        "--slo",
        &sample("slo.yaml"),
        "--sli",
        &sample("sli.yaml"),
        "--for",
        "1m",
        "--service",
        "carts",
        "--stage",
        "production",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(rules.contains("- alert: \"response_time_p95\""), "{rules}");
    assert!(rules.contains("- alert: \"error_rate\""), "{rules}");
    assert!(
        rules.contains("job=\\\"carts-production\\\""),
        "placeholders filled: {rules}"
    );
    assert!(rules.contains(") > 600\""), "<600 fires above 600: {rules}");
    assert!(
        stderr.contains("note: response_time_p95: \"<=+10%\" is relative to earlier evaluations, which Prometheus does not have; no rule"),
        "{stderr}"
    );

    let dir = std::env::temp_dir().join(format!("unbreakable-alert-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.yaml");
    std::fs::write(&file, &rules).unwrap();
    let checked = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool is needed to check the rules ({e}): install Debian's `prometheus` package, which ships it (.ci/run does)")
        });
    let _ = std::fs::remove_dir_all(&dir);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.status.success(),
        "promtool check rules failed:\n{report}\n{rules}"
    );
    assert!(report.contains("SUCCESS: 2 rules found"), "{report}");
}

#[test]
fn bad_input_says_what_to_fix() {
    let (code, _, stderr) = unbreakable(&[
        "alert-rules",
        "--slo",
        &sample("slo.yaml"),
        "--sli",
        &sample("sli.yaml"),
        "--for",
        "1 minute",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--for \"1 minute\" is not a Prometheus duration: write a number and a unit (ms, s, m, h, d), e.g. 1m or 1h30m"),
        "{stderr}"
    );
    let (code, _, stderr) = unbreakable(&[
        "alert-rules",
        "--slo",
        &sample("slo.yaml"),
        "--sli",
        &root()
            .join("tests/fixtures/slo/mis-indented.yaml")
            .display()
            .to_string(),
        "--service",
        "carts",
        "--stage",
        "production",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("mis-indented.yaml:"), "{stderr}");
}
