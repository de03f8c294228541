//! Real users' bad input through the binary. Each gets one line that says what is wrong,
//! where, and how to fix it: never a debug structure, a panic or a Rust function's name;
//! nothing written or stored; a refusal instead of a silent pass. One test per kind of
//! mistake, each checking the message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn repo(path: &str) -> String {
    root().join(path).display().to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finish(command: &mut Command) -> Run {
    let out = command.output().expect("run unbreakable");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn unbreakable(args: &[&str]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_unbreakable"))
            .args(args)
            .env_remove("UNBREAKABLE_LOG")
            .env_remove("DT_TENANT_URL")
            .env_remove("DT_API_TOKEN"),
    )
}

/// A new directory of its own for a test's files (tests run in parallel).
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "unbreakable-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// What no answer to bad input may contain.
fn assert_no_internals(text: &str) {
    for internal in [
        "panicked",
        "RUST_BACKTRACE",
        "DispatchFailure",
        "ConnectorError",
        "from_str_multiple",
        "Nodes {",
        "budget",
        " WARN ",
    ] {
        assert!(!text.contains(internal), "{internal:?} in:\n{text}");
    }
}

/// The single `error: …` line of a refused command, checked for `expected`.
fn assert_error_line(run: &Run, expected: &str) {
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_no_internals(&run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line:\n{}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", run.stderr);
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        run.stderr
    );
}

const SLO: &str = "slo/slo.yaml";
const SLI: &str = "slo/sli.yaml";

mod aws {
    //! `remediation apply` without AWS set up, or with AWS refusing: the line says which and
    //! how to fix it, once, without the SDK's warnings.

    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// One HTTP answer to every request: what DynamoDB answers with `code`.
    fn dynamodb_refusing(code: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = read_request(&mut stream);
                let body = format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"refused by the test"}}"#
                );
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        url
    }

    fn read_request(stream: &mut std::net::TcpStream) -> std::io::Result<()> {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            seen.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    return Ok(());
                }
            }
        }
    }

    /// `remediation apply` of a good file with only `env` (and a home of its own) set.
    fn apply(env: &[(&str, &str)], extra: &[&str]) -> Run {
        let home = scratch("aws-home");
        let remediation = repo("tests/fixtures/remediation/spec-0.1.4.yaml");
        let mut command = Command::new(env!("CARGO_BIN_EXE_unbreakable"));
        command
            .env_clear()
            .env("HOME", &home)
            .env("AWS_CONFIG_FILE", home.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .args([
                "remediation",
                "apply",
                "--table",
                "validations",
                "--service",
                "SampleDevOpsApp",
                "--stage",
                "Production",
                "--remediation",
                &remediation,
            ])
            .args(extra)
            .envs(env.iter().copied());
        finish(&mut command)
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];

    #[test]
    fn no_region_says_set_aws_region_or_region() {
        let run = apply(&KEYS, &[]);
        assert_error_line(&run, "error: no AWS region: set AWS_REGION or --region");
    }

    #[test]
    fn no_credentials_says_which_variables() {
        let run = apply(&[("AWS_REGION", "us-east-1")], &[]);
        assert_error_line(
            &run,
            "error: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
        );
    }

    #[test]
    fn an_unreachable_endpoint_says_so_and_where_to_look() {
        let mut env = KEYS.to_vec();
        env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:1"));
        // --region instead of AWS_REGION: the flag is enough.
        let run = apply(&env, &["--region", "us-east-1"]);
        assert_error_line(
            &run,
            "storing the files of SampleDevOpsApp/Production in table validations: DynamoDB call failed: PutItem: cannot connect to the AWS endpoint (",
        );
        assert!(
            run.stderr
                .contains("check AWS_ENDPOINT_URL, the region and the network"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn access_denied_and_throttling_get_their_fix() {
        for (code, fix) in [
            (
                "AccessDeniedException",
                "PutItem: AccessDeniedException: refused by the test (access denied: the identity's IAM policy lacks this action on this resource",
            ),
            (
                "ThrottlingException",
                "PutItem: ThrottlingException: refused by the test (throttled by AWS: wait a minute and run it again)",
            ),
        ] {
            let url = dynamodb_refusing(code);
            let mut env = KEYS.to_vec();
            env.push(("AWS_REGION", "us-east-1"));
            env.push(("AWS_ENDPOINT_URL", url.as_str()));
            let run = apply(&env, &[]);
            assert_error_line(&run, fix);
        }
    }
}

/// `| head -1` closes stdout early: the command ends quietly with its verdict's exit code,
/// which a CI script reads, instead of a panic and 101.
#[test]
fn a_closed_stdout_ends_quietly_with_the_verdicts_exit_code() {
    let dir = scratch("closed-stdout");
    let broken = write(&dir, "broken.json", "{\n  \"Svc\": {,}\n}");
    let slo = repo(SLO);
    let build2 = repo("tests/fixtures/slo/build2.json");
    let cases: [(&[&str], i32); 4] = [
        (&["schema"], 0),
        (&["slo", "evaluate", "--slo", &slo, "--values", &build2], 1),
        (
            &[
                "slo", "evaluate", "--slo", &slo, "--values", &build2, "--format", "json",
            ],
            1,
        ),
        (&["lint", &broken], 1),
    ];
    for (args, verdict) in cases {
        // The reader (`true`) has exited before the command writes its first byte.
        let run = finish(
            Command::new("sh")
                .arg("-c")
                .arg(r#"{ sleep 0.3; "$0" "$@"; echo "exit=$?" >&2; } | true"#)
                .arg(env!("CARGO_BIN_EXE_unbreakable"))
                .args(args)
                .env_remove("UNBREAKABLE_LOG"),
        );
        assert!(
            run.stderr.contains(&format!("exit={verdict}")),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn validate_never_writes_the_filled_monspec_over_its_monspec() {
    let dir = scratch("filled-over-monspec");
    let original = std::fs::read_to_string(root().join("monspec/monspec.json")).unwrap();
    let monspec = write(&dir, "monspec.json", &original);
    let same_file_spelled_otherwise = dir.join(".").join("monspec.json").display().to_string();
    for filled in [monspec.as_str(), &same_file_spelled_otherwise] {
        let run = finish(
            Command::new(env!("CARGO_BIN_EXE_unbreakable"))
                .args([
                    "validate",
                    "--monspec",
                    &monspec,
                    "--comparison",
                    "StagingToProduction",
                    "--window",
                    "5m",
                    "--filled-monspec",
                    filled,
                ])
                .env("DT_TENANT_URL", "http://127.0.0.1:9")
                .env("DT_API_TOKEN", "dt0c01.TEST.TOKEN")
                .env_remove("UNBREAKABLE_LOG"),
        );
        assert_error_line(&run, "is the monspec itself (--monspec ");
        assert!(run
            .stderr
            .contains("the results would overwrite it; give another file"));
        assert_eq!(
            std::fs::read_to_string(&monspec).unwrap(),
            original,
            "untouched"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }
}

#[test]
fn alert_rules_refuse_rules_that_cannot_fire() {
    let slo = repo(SLO);
    let sli = repo(SLI);
    let run = unbreakable(&["alert-rules", "--slo", &slo, "--sli-file", &sli]);
    assert_error_line(&run, "error: alert-rules needs --service and --stage: ");
    assert!(run.stdout.is_empty(), "no rules: {}", run.stdout);
    let run = unbreakable(&[
        "alert-rules",
        "--slo",
        &slo,
        "--sli-file",
        &sli,
        "--stage",
        "production",
    ]);
    assert_error_line(&run, "error: alert-rules needs --service: ");

    let dir = scratch("alert-rules-dynatrace");
    let one = write(
        &dir,
        "sli.yaml",
        "spec_version: \"1.0\"\nindicators:\n  response_time_p95: MV2;MicroSecond;metricSelector=builtin:service.response.time:avg&entitySelector=type(SERVICE)\n  error_rate: sum(rate(http_requests_total{status=~\"5..\"}[$DURATION_SECONDS]))\n  throughput: sum(rate(http_requests_total[$DURATION_SECONDS]))\n",
    );
    let service = ["--service", "carts", "--stage", "production"];
    let mut args = vec!["alert-rules", "--slo", &slo, "--sli-file", &one];
    args.extend(service);
    let run = unbreakable(&args);
    assert_error_line(&run, "alert-rules makes Prometheus rules; ");
    assert!(
        run.stderr
            .contains("sli.yaml indicator \"response_time_p95\" is a Dynatrace query"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no rules: {}", run.stdout);

    let dynatrace_slo = repo("tests/fixtures/slo/dynatrace/slo.yaml");
    let dynatrace_sli = repo("tests/fixtures/slo/dynatrace/sli.yaml");
    let mut args = vec![
        "alert-rules",
        "--slo",
        &dynatrace_slo,
        "--sli-file",
        &dynatrace_sli,
    ];
    args.extend(service);
    let run = unbreakable(&args);
    assert_error_line(
        &run,
        "indicators \"error_rate\", \"problem_open\", \"response_time\" are Dynatrace queries",
    );
}

/// An sli.yaml without the query of an objective passed lint, and `apply` stored the pair:
/// every later evaluation failed, every problem escalated.
#[test]
fn an_objective_without_a_query_fails_lint_and_apply() {
    let dir = scratch("missing-query");
    let sli = write(
        &dir,
        "sli.yaml",
        "spec_version: \"1.0\"\nindicators:\n  error_rate: vector(0)\n  throughput: vector(1)\n",
    );
    let slo = repo(SLO);
    let run = unbreakable(&["slo", "lint", &slo, &sli]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{slo}:9:10: objectives[0].sli: \"response_time_p95\" has no query in {sli} (it has error_rate, throughput): add `response_time_p95: <query>` under its indicators"
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("{slo}: ok")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("{sli}: ok")), "{}", run.stdout);

    // Refused before any call: no AWS is set up here.
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "remediation",
            "apply",
            "--table",
            "validations",
            "--service",
            "SampleDevOpsApp",
            "--stage",
            "Production",
        ];
        args.extend_from_slice(extra);
        unbreakable(&args)
    };
    let run = apply(&["--slo", &slo, "--sli-file", &sli]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("has no query in"), "{}", run.stdout);
    assert!(
        run.stdout.ends_with("nothing was stored\n"),
        "{}",
        run.stdout
    );

    let promql = repo(SLI);
    let run = apply(&[
        "--slo",
        &slo,
        "--sli-file",
        &promql,
        "--provider",
        "dynatrace",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "{promql}: indicators.error_rate: is not a Dynatrace query ("
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing was stored"), "{}", run.stdout);

    let run = apply(&[
        "--slo",
        &repo("tests/fixtures/slo/dynatrace/slo.yaml"),
        "--sli-file",
        &repo("tests/fixtures/slo/dynatrace/sli.yaml"),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "indicators.problem_open: is a Dynatrace query, but the provider is prometheus"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_second_yaml_document_is_named_at_its_line() {
    let dir = scratch("second-document");
    let sli = write(
        &dir,
        "sli.yaml",
        "spec_version: \"1.0\"\nindicators:\n  response_time_p95: vector(1)\n  error_rate: vector(0)\n  throughput: vector(1)\n---\n",
    );
    let run = unbreakable(&["slo", "lint", &repo(SLO), &sli]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{sli}:6:1: a second YAML document starts here; keep one document per file"
        )),
        "{}",
        run.stdout
    );
    assert_no_internals(&run.stdout);

    let remediation =
        std::fs::read_to_string(root().join("tests/fixtures/remediation/spec-0.1.4.yaml")).unwrap();
    let two = write(
        &dir,
        "remediation.yaml",
        &format!("{remediation}---\n{remediation}"),
    );
    let line = remediation.lines().count() + 1;
    let run = unbreakable(&["remediation", "lint", &two]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{two}:{line}:1: a second YAML document starts here; keep one document per file"
        )),
        "{}",
        run.stdout
    );
    assert_no_internals(&run.stdout);
}

#[test]
fn a_wrong_type_keeps_its_path_and_the_other_problems() {
    let dir = scratch("shape");
    let slo = write(
        &dir,
        "slo.yaml",
        "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p95\n    pass:\n      - criteria:\n          - \"<600\"\n    weight: \"high\"\n  - sli: error_rate\n    pass:\n      - criteria: \"<=800\"\ntotal_score:\n  pass: \"90%\"\n  warning: \"950%\"\n",
    );
    let run = unbreakable(&["slo", "lint", &slo]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for line in [
        format!("{slo}:7:13: objectives[0].weight: \"high\" is not a number; write e.g. weight: 2"),
        format!("{slo}:10:19: objectives[1].pass[0].criteria: \"<=800\" is not a list: criteria must be a list, e.g. criteria: [\"<=800\"]"),
        format!("{slo}:13:12: total_score.warning: \"950%\" is not between 0% and 100%"),
    ] {
        assert!(run.stdout.contains(&line), "missing {line}\nin:\n{}", run.stdout);
    }
}

#[test]
fn huge_files_are_refused_by_their_size() {
    let dir = scratch("huge");
    let comment = "# padding\n".repeat(104_858);
    let slo = write(&dir, "slo.yaml", &comment);
    let run = unbreakable(&["slo", "lint", &slo]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!(
            "{slo}:1:1: the file is 1.0 MiB; the limit is 100 KiB"
        )),
        "{}",
        run.stdout
    );
    assert_no_internals(&run.stdout);

    let remediation = write(&dir, "remediation.yaml", &"# padding\n".repeat(377_487));
    let run = unbreakable(&["remediation", "lint", &remediation]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!(
            "{remediation}:1:1: the file is 3.6 MiB; the limit is 100 KiB"
        )),
        "{}",
        run.stdout
    );
    assert_no_internals(&run.stdout);
}

#[test]
fn a_byte_order_mark_is_read_and_an_slo_yaml_is_not_a_monspec() {
    let dir = scratch("bom");
    let monspec = std::fs::read_to_string(root().join("monspec/monspec.json")).unwrap();
    let with_bom = write(&dir, "monspec.json", &format!("\u{feff}{monspec}"));
    let run = unbreakable(&["lint", &with_bom]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("{with_bom}: ok")),
        "{}",
        run.stdout
    );

    let slo = repo(SLO);
    let run = unbreakable(&["lint", &slo]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        format!("{slo}: looks like an slo.yaml, not a monspec: use `unbreakable slo lint`\n")
    );
}

#[test]
fn one_flag_name_per_meaning_and_the_old_names_still_work() {
    let slo = repo(SLO);
    let values = repo("tests/fixtures/slo/build3.json");
    let new = unbreakable(&["slo", "evaluate", "--slo", &slo, "--values", &values]);
    let old = unbreakable(&["slo", "evaluate", "--slo", &slo, "--sli", &values]);
    assert_eq!((new.code, old.code), (0, 0), "{}{}", new.stderr, old.stderr);
    assert_eq!(new.stdout, old.stdout);
    let help = unbreakable(&["slo", "evaluate", "--help"]);
    assert!(help.stdout.contains("--values <VALUES>"), "{}", help.stdout);
    assert!(
        !help.stdout.contains("--sli "),
        "the old name is hidden: {}",
        help.stdout
    );

    for args in [["--sli-file", SLI], ["--sli", SLI]] {
        let run = unbreakable(&[
            "alert-rules",
            "--slo",
            &slo,
            args[0],
            &repo(args[1]),
            "--service",
            "carts",
            "--stage",
            "production",
        ]);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("- alert: \"error_rate\""),
            "{}",
            run.stdout
        );
    }
    let help = unbreakable(&["remediation", "apply", "--help"]);
    assert!(
        help.stdout.contains("--sli-file <SLI_FILE>"),
        "{}",
        help.stdout
    );
    let help = unbreakable(&["alert-rules", "--help"]);
    assert!(
        help.stdout.contains("--sli-file <SLI_FILE>"),
        "{}",
        help.stdout
    );
}

#[test]
fn lint_applies_the_pipelines_limits() {
    let dir = scratch("limits");
    let mut monspec: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("monspec/monspec.json")).unwrap(),
    )
    .unwrap();
    monspec["_comment"] = "x".repeat(200 * 1024).into();
    let big = write(&dir, "monspec.json", &monspec.to_string());
    let run = unbreakable(&["lint", &big]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with(&format!("{big}: the file is 203 KiB; ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the pipeline's limit for a monspec is 100 KiB"),
        "{}",
        run.stdout
    );

    let remediation = write(&dir, "remediation.yaml", &"# padding\n".repeat(79_000));
    let run = unbreakable(&["remediation", "lint", &remediation]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("the file is 772 KiB; the limit is 100 KiB"),
        "{}",
        run.stdout
    );

    // An SLO gate's pair, each file under the limit, together over it (as the register sees).
    let padding = "# padding\n".repeat(6_000);
    let slo = write(
        &dir,
        "slo.yaml",
        &format!(
            "{}{padding}",
            std::fs::read_to_string(root().join(SLO)).unwrap()
        ),
    );
    let sli = write(
        &dir,
        "sli.yaml",
        &format!(
            "{}{padding}",
            std::fs::read_to_string(root().join(SLI)).unwrap()
        ),
    );
    let run = unbreakable(&["slo", "lint", &slo, &sli]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{slo}, {sli}: the files are 119 KiB together; the pipeline's limit for an SLO gate's slo.yaml and sli.yaml is 100 KiB"
        )),
        "{}",
        run.stdout
    );

    // The set `apply` stores in one item: refused with its size before any call.
    monspec["_comment"] = "x".repeat(420 * 1024).into();
    let lane_monspec = write(&dir, "lane-monspec.json", &monspec.to_string());
    let run = unbreakable(&[
        "remediation",
        "apply",
        "--table",
        "validations",
        "--service",
        "SampleDevOpsApp",
        "--stage",
        "Production",
        "--remediation",
        &repo("tests/fixtures/remediation/spec-0.1.4.yaml"),
        "--monspec",
        &lane_monspec,
        "--comparison",
        "ProductionToProductionLastHour",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("together (stored as one item); DynamoDB's item limit is 400 KiB"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing was stored"), "{}", run.stdout);
}

#[test]
fn impossible_settings_are_refused_with_the_reason() {
    let dir = scratch("impossible");
    let body = "objectives:\n  - sli: response_time_p95\n    pass: [{criteria: [\"<600\"]}]\n";
    let cases = [
        (
            format!("spec_version: banana\n{body}total_score: {{pass: \"90%\"}}\n"),
            ":1:15: spec_version: \"banana\" is not an slo.yaml version: write `spec_version: \"1.0\"`",
        ),
        (
            format!("{body}total_score: {{pass: \"90%\"}}\n"),
            ":1:1: spec_version: is missing: start the file with `spec_version: \"1.0\"`",
        ),
        (
            format!("spec_version: \"1.0\"\n{body}total_score: {{pass: \"90%\", warning: \"950%\"}}\n"),
            "total_score.warning: \"950%\" is not between 0% and 100%",
        ),
        (
            format!("spec_version: \"1.0\"\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 0\n{body}total_score: {{pass: \"90%\"}}\n"),
            ":4:33: comparison.number_of_comparison_results: 0 compares with no earlier evaluation",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let slo = write(&dir, &format!("slo-{i}.yaml"), text);
        let run = unbreakable(&["slo", "lint", &slo]);
        assert_eq!(run.code, 1, "{text}\n{}", run.stdout);
        assert!(
            run.stdout.contains(expected),
            "{expected}\nin:\n{}",
            run.stdout
        );
    }

    let monspec = repo("monspec/monspec.json");
    let validate = |extra: &[&str]| {
        let mut args = vec![
            "validate",
            "--monspec",
            &monspec,
            "--comparison",
            "StagingToProduction",
            "--window",
            "5m",
            "--dynatrace-url",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(extra);
        unbreakable(&args)
    };
    assert_error_line(
        &validate(&["--concurrency", "0"]),
        "error: --concurrency 0 would send no request: give 1 or more",
    );
    assert_error_line(
        &validate(&["--timeout", "0s"]),
        "error: --timeout 0s would end every request before it is answered: give e.g. 30s",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn epoch_seconds_are_read_as_seconds_and_a_1970_window_is_refused() {
    use unbreakable_emulators::dynatrace::{load_fixture, DynatraceSimulator, DEFAULT_TOKEN};
    let fixture = load_fixture(&root().join("tests/fixtures/dynatrace/build_pass.json")).unwrap();
    let sim = DynatraceSimulator::start(fixture).await.unwrap();
    let monspec = repo("monspec/monspec.json");
    let validate = |window: &[&str]| {
        finish(
            Command::new(env!("CARGO_BIN_EXE_unbreakable"))
                .args([
                    "validate",
                    "--monspec",
                    &monspec,
                    "--comparison",
                    "StagingToProduction",
                ])
                .args(window)
                .env("DT_TENANT_URL", &sim.base_url)
                .env("DT_API_TOKEN", DEFAULT_TOKEN)
                .env_remove("UNBREAKABLE_LOG"),
        )
    };
    // 2026-11-21T10:00:00Z to 10:05:00Z, the fixture's window, in epoch seconds.
    let run = validate(&["--start", "1795255200", "--end", "1795255500"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("APPROVED StagingToProduction"),
        "{}",
        run.stdout
    );
    let run = validate(&["--window", "5m", "--end", "0"]);
    assert_error_line(
        &run,
        "error: --end 0 is 1970-01-01T00:00:00Z, before 2000: no monitoring data is that old",
    );
    let help = unbreakable(&["validate", "--help"]);
    assert!(
        help.stdout.contains("a number below 10^11 is seconds"),
        "{}",
        help.stdout
    );
}

#[test]
fn the_slo_table_shows_a_baseline_only_when_there_is_one() {
    let slo = repo(SLO);
    let values = repo("tests/fixtures/slo/build3.json");
    let run = unbreakable(&["slo", "evaluate", "--slo", &slo, "--values", &values]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("(baseline 0)"), "{}", run.stdout);
    assert!(!run.stdout.contains("(baseline"), "{}", run.stdout);
    let previous = repo("tests/fixtures/slo/previous.json");
    let run = unbreakable(&[
        "slo",
        "evaluate",
        "--slo",
        &slo,
        "--values",
        &values,
        "--previous",
        &previous,
    ]);
    assert!(
        run.stdout.contains("412.5 (baseline 400)"),
        "{}",
        run.stdout
    );
}

#[test]
fn help_says_what_each_command_does_and_needs() {
    let top = unbreakable(&["--help"]);
    assert!(
        top.stdout.contains("check then store a service's files"),
        "{}",
        top.stdout
    );
    let validate = unbreakable(&["validate", "--help"]);
    assert!(
        validate.stdout.contains("DT_API_TOKEN"),
        "{}",
        validate.stdout
    );
    let readme = std::fs::read_to_string(root().join("cli/README.md")).unwrap();
    for command in [
        "unbreakable lint",
        "unbreakable validate",
        "unbreakable schema",
        "unbreakable compare",
        "unbreakable local",
        "unbreakable slo evaluate",
        "unbreakable slo query",
        "unbreakable slo lint",
        "unbreakable alert-rules",
        "unbreakable remediation lint",
        "unbreakable remediation apply",
    ] {
        assert!(readme.contains(command), "cli/README.md lacks `{command}`");
    }
}
