//! The CloudFormation template against the code: every function in the template has a crate
//! and every crate a function; every setting a function requires is set; every AWS API a
//! function's code calls is allowed by its role. The facts on the code side are read from the
//! sources, so a new call or setting without a template change fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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

/// Words following `prefix` made of `[a-z_]` (identifiers) up to `(`.
fn calls_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with('(') {
            found.insert(name);
        }
    }
    found
}

/// `.env.required("X"` and friends: the variables a source reads, and whether required.
fn settings_read(text: &str) -> BTreeMap<String, bool> {
    let mut vars = BTreeMap::new();
    for (call, required) in [
        ("required(", true),
        ("url(", true),
        ("optional(", false),
        ("optional_url(", false),
        ("number(", false),
        ("seconds(", false),
    ] {
        let mut rest = text;
        while let Some(at) = rest.find(call) {
            rest = &rest[at + call.len()..];
            let trimmed = rest.trim_start();
            if let Some(quoted) = trimmed.strip_prefix('"') {
                let name: String = quoted
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && quoted[name.len()..].starts_with('"') {
                    let entry = vars.entry(name).or_insert(false);
                    *entry |= required;
                }
            }
        }
    }
    vars
}

fn snake_to_pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Per adapter method, the SDK operations its body calls (`.client.<op>()` / `.<client>.<op>()`).
fn adapter_operations(
    path: &str,
    service: &str,
    clients: &[&str],
) -> BTreeMap<String, BTreeSet<String>> {
    let text = read(path);
    let mut methods = BTreeMap::new();
    for block in text.split("async fn ").skip(1) {
        let method: String = block
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        // rustfmt breaks call chains across lines: read them without whitespace.
        let compact: String = block.chars().filter(|c| !c.is_whitespace()).collect();
        for client in clients {
            for op in calls_after(&compact, &format!(".{client}.")) {
                methods
                    .entry(method.clone())
                    .or_insert_with(BTreeSet::new)
                    .insert(format!("{service}:{}", snake_to_pascal(&op)));
            }
        }
    }
    methods
}

struct Function {
    crate_name: String,
    handler: String,
    sources: String,
}

fn functions() -> Vec<Function> {
    let mut list = Vec::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("Cargo.toml").exists() {
            continue;
        }
        let crate_name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let call = main
            .lines()
            .find(|l| l.contains("::main()"))
            .expect("main calls a handler");
        let handler = call
            .split("unbreakable::functions::")
            .nth(1)
            .and_then(|r| r.split("::main").next())
            .expect("a handler path")
            .to_string();
        let mut sources = read(&format!("shared/src/functions/{handler}.rs"));
        if sources.contains("run_job(") {
            sources.push_str(&read("shared/src/functions/job.rs"));
        }
        list.push(Function {
            crate_name,
            handler,
            sources,
        });
    }
    list.sort_by(|a, b| a.crate_name.cmp(&b.crate_name));
    list
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

#[test]
fn every_function_in_the_template_has_a_crate_and_every_crate_a_function() {
    let t = template();
    let in_template: BTreeSet<String> = lambda_resources(&t).into_keys().collect();
    let crates: BTreeSet<String> = functions().into_iter().map(|f| f.crate_name).collect();
    assert_eq!(in_template, crates);
    for (name, (_, r)) in lambda_resources(&t) {
        let p = &r["Properties"];
        assert_eq!(p["Handler"], "bootstrap", "{name}");
        assert_eq!(p["Runtime"], "provided.al2023", "{name}");
        assert_eq!(p["Architectures"][0]["Ref"], "Architecture", "{name}");
    }
}

#[test]
fn every_setting_a_function_reads_is_set_and_nothing_else() {
    let t = template();
    let resources = lambda_resources(&t);
    let common = read("shared/src/functions/mod.rs") + &read("shared/src/functions/config.rs");
    let common_vars = settings_read(&common);
    for f in functions() {
        let mut wanted = settings_read(&f.sources);
        // What the cold start helpers read for this handler.
        if f.sources.contains("cold.store()") {
            wanted.insert("VALIDATION_TABLE".into(), true);
        }
        if f.sources.contains("cold.dynatrace(") {
            for v in ["DT_TENANT_URL", "DT_API_TOKEN_SECRET_ARN", "DT_API_VERSION"] {
                wanted.insert(v.into(), common_vars.get(v).copied().unwrap_or(false));
            }
        }
        let (_, resource) = &resources[&f.crate_name];
        let set: BTreeSet<String> = resource["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "RUST_LOG")
            .cloned()
            .collect();
        for (var, required) in &wanted {
            assert!(
                !required || set.contains(var),
                "{}: the template does not set required {var}",
                f.crate_name
            );
        }
        for var in &set {
            assert!(
                wanted.contains_key(var),
                "{}: the template sets {var}, which {} never reads",
                f.crate_name,
                f.handler
            );
        }
    }
}

#[test]
fn every_aws_call_is_allowed_by_the_functions_role() {
    let t = template();
    let resources = lambda_resources(&t);
    let adapters = [
        (
            "store.",
            adapter_operations("shared/src/store/dynamodb.rs", "dynamodb", &["client"]),
        ),
        (
            "gate.",
            adapter_operations(
                "shared/src/pipeline/codepipeline.rs",
                "codepipeline",
                &["client"],
            ),
        ),
        (
            "deployer.",
            adapter_operations("shared/src/deploy/codedeploy.rs", "codedeploy", &["client"]),
        ),
    ];
    let secrets = adapter_operations(
        "shared/src/secrets/aws.rs",
        "secretsmanager",
        &["secrets_manager"],
    );
    let mut checked = 0;
    for f in functions() {
        let mut needed = BTreeSet::new();
        for (receiver, operations) in &adapters {
            let compact: String = f.sources.chars().filter(|c| !c.is_whitespace()).collect();
            for method in calls_after(&compact, receiver) {
                needed.extend(operations.get(&method).cloned().unwrap_or_default());
            }
        }
        if f.sources.contains("cold.dynatrace(") || f.sources.contains("cold.secrets()") {
            needed.extend(secrets.values().flatten().cloned());
        }
        let (id, _) = &resources[&f.crate_name];
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
        assert!(
            !needed.is_empty(),
            "{}: no AWS calls found; the source scan is broken",
            f.crate_name
        );
        for action in &needed {
            assert!(
                allowed.contains(action),
                "{}: the role does not allow {action} (allowed: {allowed:?})",
                f.crate_name
            );
            checked += 1;
        }
        assert!(
            allowed.iter().all(|a| !a.contains('*')),
            "{}: wildcard actions {allowed:?}",
            f.crate_name
        );
    }
    assert!(checked >= 20, "only {checked} calls checked");
}

#[test]
fn no_role_uses_a_full_access_managed_policy_and_secrets_are_no_echo() {
    let t = template();
    let text = t.to_string();
    assert!(!text.contains("FullAccess"), "a *FullAccess managed policy");
    for p in ["DynatraceAPIToken", "WebhookSecret"] {
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
