//! `unbreakable remediation lint` through the binary: both generations pass, and each bad
//! file gets its problems with file:line:column, path and the fix.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/remediation")
        .join(name)
        .display()
        .to_string()
}

fn lint(name: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
        .args(["remediation", "lint", &fixture(name)])
        .output()
        .expect("run unbreakable");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn both_generations_lint_clean_and_show_their_actions() {
    let (code, out) = lint("legacy.yaml");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("legacy.yaml: ok (legacy layout; \"response_time_p90\": scaling +1; \"Response time degradation\": scaling +1; \"Failure rate increase\": EnablePromotion off)"),
        "{out}"
    );
    let (code, out) = lint("spec-0.1.4.yaml");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok (spec.keptn.sh/0.1.4; \"Response time degradation\": scaling +1; \"Failure rate increase\": EnablePromotion off → rollback; \"default\": escalate)"),
        "{out}"
    );
}

#[test]
fn seed_001s_mis_indented_file_says_which_line_to_move_where() {
    let (code, out) = lint("seed-001-mis-indented.yaml");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("seed-001-mis-indented.yaml:5:10: "), "{out}");
    assert!(out.contains("mapping values are not allowed"), "{out}");
    assert!(
        out.contains("move `value` to column 3 so that it lines up with `action`"),
        "{out}"
    );
}

#[test]
fn every_bad_action_is_reported_at_its_place_with_the_fix() {
    let (code, out) = lint("bad-actions.yaml");
    assert_eq!(code, 1, "{out}");
    let file = fixture("bad-actions.yaml");
    let path = "spec.remediations[0].actionsOnOpen";
    let expected = [
        format!("{file}:8:14: {path}[0].value: 0 changes nothing; write the number of instances to add or remove, e.g. `value: +1` or `value: -1`"),
        format!("{file}:10:14: {path}[1].value: 0.5 is a fraction, but scaling adds or removes whole instances"),
        format!("{file}:12:14: {path}[2].value: \"EnablePromotion\" names no state; write `value: EnablePromotion:off` or `value: {{EnablePromotion: \"off\"}}`"),
        format!("{file}:14:14: {path}[3].value: the state of EnablePromotion is \"maybe\", not on or off"),
        format!("{file}:16:14: {path}[4].value: is 1, but rollback takes no value (it redeploys the last good revision): remove `value`"),
        format!("{file}:18:14: {path}[5].value: webhook to example.com uses FTP: it must be an https URL to a public host"),
        format!("{file}:19:15: {path}[6].action: \"reboot\" is not an action this engine runs: use scaling, featuretoggle (also toggle-feature, togglefeature), rollback or escalate"),
        format!("{file}:22:13: {path}[7].wait: 10 has no unit; write a duration with its unit, e.g. `wait: 10m` or `wait: 90s`"),
    ];
    for line in &expected {
        assert!(out.contains(line.as_str()), "missing:\n{line}\nin:\n{out}");
    }
    assert_eq!(
        out.lines().count(),
        expected.len(),
        "one line per problem:\n{out}"
    );
}

#[test]
fn an_unknown_api_version_is_named_with_the_one_we_read() {
    let (code, out) = lint("wrong-api-version.yaml");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("wrong-api-version.yaml:1:13: apiVersion: \"spec.keptn.sh/0.2.0\" is not spec.keptn.sh/0.1.4, the version this engine reads; write `apiVersion: spec.keptn.sh/0.1.4`"),
        "{out}"
    );
}

#[test]
fn a_missing_file_is_a_problem_not_a_crash() {
    let (code, out) = lint("no-such-file.yaml");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no-such-file.yaml: cannot read the file: "),
        "{out}"
    );
}

mod apply {
    //! `unbreakable remediation apply` against the table in moto: checked files are stored
    //! for the lane; any problem stores nothing.

    use super::fixture;
    use std::process::Command;
    use unbreakable_emulators::aws::moto::MotoServer;
    use unbreakable_shared::aws::dynamodb::{create_table, DynamoValidationStore};
    use unbreakable_shared::ports::lanes::{LaneConfigs, LaneKey};
    use unbreakable_shared::ports::store::SliProviderKind;

    const TABLE: &str = "validations";

    fn slo_file(name: &str) -> String {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../slo")
            .join(name)
            .display()
            .to_string()
    }

    fn apply(moto: &MotoServer, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_unbreakable"))
            .args(["remediation", "apply", "--table", TABLE])
            .args(args)
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .expect("run unbreakable");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    async fn dynamodb(moto: &MotoServer) -> aws_sdk_dynamodb::Client {
        let sdk = unbreakable_shared::aws::sdk_config_loader()
            .endpoint_url(&moto.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await;
        aws_sdk_dynamodb::Client::new(&sdk)
    }

    fn lane() -> LaneKey {
        LaneKey {
            service: "SampleDevOpsApp".into(),
            stage: "Production".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn checked_files_are_stored_for_the_lane_and_bad_ones_store_nothing() {
        let moto = MotoServer::start().expect("moto");
        let client = dynamodb(&moto).await;
        create_table(&client, TABLE).await.unwrap();
        let store = DynamoValidationStore::new(client, TABLE);

        let remediation = fixture("spec-0.1.4.yaml");
        let bad = fixture("seed-001-mis-indented.yaml");
        let (code, out) = apply(
            &moto,
            &[
                "--service",
                "Sample#App",
                "--stage",
                "Production",
                "--remediation",
                &bad,
                "--slo",
                "/nonexistent/slo.yaml",
                "--sli",
                &slo_file("sli.yaml"),
                "--provider",
                "datadog",
            ],
        );
        assert_eq!(code, 1, "{out}");
        for expected in [
            "--service \"Sample#App\" is not a name of 1-100 characters",
            "--provider \"datadog\" is not prometheus or dynatrace",
            "/nonexistent/slo.yaml: cannot read the file",
            "seed-001-mis-indented.yaml:",
            "nothing was stored",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in {out}");
        }
        assert_eq!(store.config(&lane()).await.unwrap(), None);

        let (code, out) = apply(
            &moto,
            &[
                "--service",
                "SampleDevOpsApp",
                "--stage",
                "Production",
                "--remediation",
                &remediation,
                "--slo",
                &slo_file("slo.yaml"),
                "--sli",
                &slo_file("sli.yaml"),
            ],
        );
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(
                "stored for SampleDevOpsApp/Production: remediation.yaml, slo.yaml, sli.yaml"
            ),
            "{out}"
        );
        let config = store.config(&lane()).await.unwrap().expect("stored");
        assert_eq!(
            config.remediation_yaml.as_deref(),
            Some(std::fs::read_to_string(&remediation).unwrap().as_str())
        );
        assert_eq!(config.provider, Some(SliProviderKind::Prometheus));
        assert!(config.slo_yaml.is_some() && config.sli_yaml.is_some());

        let monspec = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../monspec/monspec.json")
            .display()
            .to_string();
        let with_comparison = |comparison: &'static str| {
            let monspec = monspec.clone();
            move |moto: &MotoServer| {
                apply(
                    moto,
                    &[
                        "--service",
                        "SampleDevOpsApp",
                        "--stage",
                        "Staging",
                        "--monspec",
                        &monspec,
                        "--comparison",
                        comparison,
                    ],
                )
            }
        };
        let (code, out) = with_comparison("Nope")(&moto);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("unknown comparison \"Nope\""), "{out}");
        let (code, out) = with_comparison("ProductionToProductionLastHour")(&moto);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("stored for SampleDevOpsApp/Staging: monspec"),
            "{out}"
        );

        let (code, out) = apply(
            &moto,
            &["--service", "x", "--stage", "y", "--slo", "a.yaml"],
        );
        assert_eq!(code, 2, "clap refuses --slo without --sli: {out}");
    }

    /// The exit code of a file `apply` refuses (as `lint`: 1 for problems in the files).
    const REFUSED: i32 = 1;

    /// A 0.1.4 remediation.yaml in `dir` whose `default` entry runs `actions` (list items
    /// indented under `actionsOnOpen`): its path.
    fn remediation_file(dir: &std::path::Path, name: &str, actions: &str) -> String {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations:\n  - problemType: default\n    actionsOnOpen:\n{actions}"
            ),
        )
        .unwrap();
        path.display().to_string()
    }

    fn escalate_to(url: &str) -> String {
        format!("    - action: escalate\n      value:\n        comment: Tell the on-call team\n        webhook: {url}\n")
    }

    fn toggle(flag: &str) -> String {
        format!("    - action: featuretoggle\n      value:\n        \"{flag}\": \"off\"\n")
    }

    /// Confirmed: `apply` stored an escalation webhook to the instance metadata service or to
    /// loopback (the worker would POST from inside the account: a proxy into the network), and
    /// flag names that are paths (`..`, `../../api/admin/x/on?x=`) that the worker puts into
    /// Unleash's admin API URL. Each is refused with the reason and nothing is stored; a public
    /// https webhook and a plain flag name are stored.
    #[tokio::test(flavor = "multi_thread")]
    async fn private_escalation_webhooks_and_flag_names_that_are_paths_are_refused() {
        let moto = MotoServer::start().expect("moto");
        let client = dynamodb(&moto).await;
        create_table(&client, TABLE).await.unwrap();
        let store = DynamoValidationStore::new(client, TABLE);
        let dir = std::env::temp_dir().join(format!(
            "unbreakable-remediation-apply-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let lane_args = |file: &str| {
            [
                "--service".to_string(),
                "SampleDevOpsApp".into(),
                "--stage".into(),
                "Production".into(),
                "--remediation".into(),
                file.to_string(),
            ]
        };

        let cases = [
            (
                "metadata.yaml",
                escalate_to("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
                "must be an https URL to a public host",
            ),
            (
                "loopback.yaml",
                escalate_to("https://127.0.0.1:9001/x"),
                "must be an https URL to a public host",
            ),
            ("dots.yaml", toggle(".."), "is not an Unleash flag name"),
            (
                "path.yaml",
                toggle("../../api/admin/x/on?x="),
                "is not an Unleash flag name",
            ),
        ];
        for (name, actions, expected) in &cases {
            let file = remediation_file(&dir, name, actions);
            let args = lane_args(&file);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out) = apply(&moto, &args);
            assert_eq!(code, REFUSED, "{name}: {out}");
            assert!(
                out.contains(expected),
                "{name}: missing {expected:?} in {out}"
            );
            assert_eq!(
                store.config(&lane()).await.unwrap(),
                None,
                "{name}: nothing stored"
            );
        }

        let good = remediation_file(
            &dir,
            "good.yaml",
            &format!(
                "{}{}",
                toggle("EnablePromotion"),
                escalate_to("https://hooks.slack.com/services/T000/B000/XXXX")
            ),
        );
        let args = lane_args(&good);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = apply(&moto, &args);
        assert_eq!(code, 0, "{out}");
        assert!(store.config(&lane()).await.unwrap().is_some(), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
