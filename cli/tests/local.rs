//! `unbreakable local`'s bad input and missing prerequisites: each stops the run with a
//! message that says what to do. (The full run is `tests/tests/local.rs`.)

use std::process::Command;

fn local(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .arg("local")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run unbreakable");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_flags_say_what_is_accepted() {
    for (args, expected) in [
        (
            vec!["--scenario", "everything"],
            "unknown scenario \"everything\"; scenarios: tutorial (builds 1-4",
        ),
        (
            vec!["--build", "7"],
            "--build 7: the sample app has builds 1 to 4",
        ),
        (
            vec!["--window", "5s"],
            "--window 5s: validations need at least 10s of data",
        ),
        (
            vec!["--window", "soon"],
            "--window \"soon\" is not a duration like 30s or 2m",
        ),
        (vec!["--tick", "0s"], "--tick must be more than 0s"),
        (
            vec!["--remediation-dir", "remediation/local"],
            "--remediation-dir is for --scenario self-healing; add it or drop --remediation-dir",
        ),
    ] {
        let (code, stderr) = local(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn missing_binaries_say_how_to_build_them() {
    let empty =
        std::env::temp_dir().join(format!("unbreakable-no-binaries-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (code, stderr) = local(
        &["--quiet"],
        &[("UNBREAKABLE_FUNCTIONS_DIR", empty.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("register-build-validation is missing: build it with `cargo build --release --workspace --bins`"), "{stderr}");
}

#[test]
fn a_missing_monspec_is_named() {
    let (code, stderr) = local(&["--quiet", "--monspec", "/nonexistent/monspec.json"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read the monspec /nonexistent/monspec.json"),
        "{stderr}"
    );
}

#[test]
fn the_self_healing_scenario_names_a_missing_file_and_a_gate_it_cannot_use() {
    let (code, stderr) = local(
        &[
            "--quiet",
            "--scenario",
            "self-healing",
            "--remediation-dir",
            "/nonexistent/lane",
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/lane/remediation.yaml (the self-healing scenario stores remediation.yaml, slo.yaml and sli.yaml from /nonexistent/lane)"),
        "{stderr}"
    );
    let (code, stderr) = local(
        &["--quiet", "--scenario", "self-healing", "--gate", "slo"],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--scenario self-healing gates its build with the monspec and judges remediations with the lane's slo.yaml; drop --gate slo"),
        "{stderr}"
    );
}
