//! The CloudFormation template against the code: every function in the template has a crate
//! and every crate a function; every setting a function requires is set, and nothing else;
//! each role allows exactly the AWS actions its function declares. The code side is data:
//! each handler's `MANIFEST` (`unbreakable_shared::lambda::FUNCTIONS`). The declarations are
//! kept honest at run time: the functions' AWS clients refuse undeclared calls, so the
//! scenario tests through the real binaries fail on a call the manifest does not list.

use std::collections::{BTreeMap, BTreeSet};

use std::path::{Path, PathBuf};
use unbreakable_shared::lambda::{FunctionManifest, FUNCTIONS};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn template() -> Value {
    serde_json::from_str(&read("cloudformation/unbreakable.json")).expect("template is JSON")
}

fn lambda_resources(t: &Value) -> BTreeMap<String, (String, Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, r)| {
            let key = r["Properties"]["Code"]["S3Key"]["Fn::Sub"]
                .as_str()
                .expect("S3Key is a Fn::Sub");
            let name = key
                .trim_start_matches("${LambdaCodePrefix}")
                .trim_end_matches(".zip")
                .to_string();
            (name, (id.clone(), r.clone()))
        })
        .collect()
}

fn crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").exists())
        .map(|dir| dir.file_name().unwrap().to_str().unwrap().to_string())
        .collect()
}

fn manifest(name: &str) -> FunctionManifest {
    *FUNCTIONS
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is not in lambda::FUNCTIONS"))
}

#[test]
fn every_function_in_the_template_has_a_crate_and_a_manifest() {
    let t = template();
    let in_template: BTreeSet<String> = lambda_resources(&t).into_keys().collect();
    let manifests: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
    assert_eq!(in_template, crates());
    assert_eq!(manifests, crates());
    for (name, (_, r)) in lambda_resources(&t) {
        let p = &r["Properties"];
        assert_eq!(p["Handler"], "bootstrap", "{name}");
        assert_eq!(p["Runtime"], "provided.al2023", "{name}");
        assert_eq!(p["Architectures"][0]["Ref"], "Architecture", "{name}");
    }
}

#[test]
fn every_setting_a_function_requires_is_set_and_nothing_else() {
    let t = template();
    for (name, (_, resource)) in lambda_resources(&t) {
        let f = manifest(&name);
        let set: BTreeSet<String> = resource["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "RUST_LOG")
            .cloned()
            .collect();
        for setting in f.settings.iter().filter(|s| s.required) {
            assert!(
                set.contains(setting.variable),
                "{name}: the template does not set required {} ({})",
                setting.variable,
                setting.meaning
            );
        }
        for var in &set {
            assert!(
                f.settings.iter().any(|s| s.variable == var),
                "{name}: the template sets {var}, which the function never reads"
            );
        }
    }
}

#[test]
fn each_role_allows_exactly_the_declared_aws_actions() {
    let t = template();
    let mut checked = 0;
    for (name, (id, _)) in lambda_resources(&t) {
        let declared: BTreeSet<String> = manifest(&name)
            .aws_actions
            .iter()
            .map(|a| a.to_string())
            .collect();
        let role = &t["Resources"][format!("{}Role", id.trim_end_matches("Function"))];
        let allowed: BTreeSet<String> = role["Properties"]["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().clone())
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(l) => l.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                _ => vec![],
            })
            .collect();
        assert_eq!(
            declared, allowed,
            "{name}: the role's actions differ from the function's MANIFEST.aws_actions"
        );
        assert!(
            allowed.iter().all(|a| !a.contains('*')),
            "{name}: wildcard actions {allowed:?}"
        );
        checked += declared.len();
    }
    assert!(checked >= 30, "only {checked} actions checked");
}

#[test]
fn no_role_uses_a_full_access_managed_policy_and_secrets_are_no_echo() {
    let t = template();
    let text = t.to_string();
    assert!(!text.contains("FullAccess"), "a *FullAccess managed policy");
    // The OneAgent installer URL carries a PaaS token.
    for p in ["DynatraceAPIToken", "WebhookSecret", "DynatraceOneAgentURL"] {
        assert_eq!(t["Parameters"][p]["NoEcho"], true, "{p}");
    }
    assert!(
        !text.contains("AWS::SSM::Parameter\""),
        "no plain SSM parameter for secrets"
    );
}

/// cfn-lint (in the project venv, installed by `.ci/run`) finds no errors or warnings.
#[test]
fn cfn_lint_passes() {
    let lint = root().join(".venv/bin/cfn-lint");
    assert!(
        lint.exists(),
        "cfn-lint is not installed: run `.venv/bin/pip install cfn-lint` (bash .ci/run does)"
    );
    let out = std::process::Command::new(&lint)
        .arg(root().join("cloudformation/unbreakable.json"))
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The OneAgent installer URL (it carries a PaaS token) reaches the hosts only through its
/// Secrets Manager secret: no other resource names the parameter, the hosts' UserData reads the
/// secret at boot and hands the URL to wget on stdin (never on a command line or in a log), and
/// only the instance role may read it.
#[test]
fn the_oneagent_url_reaches_the_hosts_only_through_its_secret() {
    let t = template();
    let resources = t["Resources"].as_object().unwrap();
    let naming: Vec<&String> = resources
        .iter()
        .filter(|(_, r)| r.to_string().contains("\"DynatraceOneAgentURL\""))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(naming, ["DynatraceOneAgentUrlSecret"]);
    let secret = &resources["DynatraceOneAgentUrlSecret"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(
        secret["Properties"]["SecretString"]["Ref"],
        "DynatraceOneAgentURL"
    );
    for user_data in [
        &resources["StagingInstance"]["Properties"]["UserData"],
        &resources["ProductionLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"],
    ] {
        let sub = &user_data["Fn::Base64"]["Fn::Sub"];
        let script = sub[0]
            .as_str()
            .expect("UserData is Fn::Sub [script, variables]");
        assert!(
            script.contains("aws secretsmanager get-secret-value"),
            "{script}"
        );
        assert!(
            script.contains("| wget -q -O /tmp/oneagent.sh -i -"),
            "the URL goes to wget on stdin: {script}"
        );
        assert!(
            !script.contains("set -x") && !script.contains("echo"),
            "{script}"
        );
        assert_eq!(
            sub[1]["OneAgentUrlSecret"]["Fn::If"][1]["Ref"],
            "DynatraceOneAgentUrlSecret"
        );
    }
    for (id, r) in resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
    {
        let reads = r
            .to_string()
            .contains("\"Ref\":\"DynatraceOneAgentUrlSecret\"");
        assert_eq!(reads, id == "InstanceRole", "{id} and the OneAgent secret");
    }
}
