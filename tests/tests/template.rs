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

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(t: &'a Value, resource_type: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == resource_type)
        .collect()
}

/// The logical ids (and pseudo parameters) a value refers to: `Ref`, `Fn::GetAtt`, and
/// `${Id}` or `${Id.Attribute}` in `Fn::Sub` (with its variables).
fn referenced_ids(v: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(v, &mut found);
    found
}

fn collect_references(v: &Value, found: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, inner) in o {
                match (k.as_str(), inner) {
                    ("Ref", Value::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(pair)) => {
                        if let Some(id) = pair.first().and_then(Value::as_str) {
                            found.insert(id.to_string());
                        }
                    }
                    ("Fn::Sub", _) => {
                        let text = match inner {
                            Value::Array(pair) => {
                                pair.first().and_then(Value::as_str).unwrap_or_default()
                            }
                            other => other.as_str().unwrap_or_default(),
                        };
                        let mut rest = text;
                        while let Some(start) = rest.find("${") {
                            let after = &rest[start + 2..];
                            let end = after.find('}').unwrap_or(after.len());
                            let name = &after[..end];
                            if !name.starts_with('!') {
                                let id = name.split('.').next().unwrap_or_default();
                                found.insert(id.to_string());
                            }
                            rest = &after[end..];
                        }
                        if let Some(variables) = inner.get(1) {
                            collect_references(variables, found);
                        }
                    }
                    _ => collect_references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, found)),
        _ => {}
    }
}

/// The statements of a role's inline policies, or of a policy resource's document.
fn statements(r: &Value) -> Vec<Value> {
    let p = &r["Properties"];
    let mut documents = vec![];
    if let Some(list) = p["Policies"].as_array() {
        documents.extend(list.iter().map(|x| x["PolicyDocument"].clone()));
    }
    if let Some(document) = p.get("PolicyDocument") {
        documents.push(document.clone());
    }
    documents
        .iter()
        .flat_map(|d| d["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn actions(statement: &Value) -> BTreeSet<String> {
    match &statement["Action"] {
        Value::String(a) => BTreeSet::from([a.clone()]),
        Value::Array(l) => l
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn function_role(function: &Value) -> String {
    function["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .expect("Role is a GetAtt of the function's role")
        .to_string()
}

/// The functions invoked asynchronously, by logical id: targets of EventBridge rules and
/// schedules, the CodePipeline job functions (CodePipeline invokes its Lambda actions
/// asynchronously), and the functions a role or policy of the stack may invoke.
fn asynchronous_functions(t: &Value) -> BTreeSet<String> {
    let functions: BTreeMap<String, String> = lambda_resources(t)
        .into_iter()
        .map(|(name, (id, _))| (id, name))
        .collect();
    let mut found = BTreeSet::new();
    for r in resources(t).values() {
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::Events::Rule" | "AWS::Scheduler::Schedule" => {
                found.extend(referenced_ids(&r["Properties"]["Targets"]));
                found.extend(referenced_ids(&r["Properties"]["Target"]));
            }
            "AWS::IAM::Role" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                for s in statements(r) {
                    if actions(&s).contains("lambda:InvokeFunction") {
                        found.extend(referenced_ids(&s["Resource"]));
                    }
                }
            }
            _ => {}
        }
    }
    for (id, name) in &functions {
        if manifest(name)
            .aws_actions
            .contains(&"codepipeline:PutJobSuccessResult")
        {
            found.insert(id.clone());
        }
    }
    found.retain(|id| functions.contains_key(id));
    found
}

/// Every asynchronously invoked function sends the invocations that still fail after Lambda's
/// retries to the failed-invocations queue (an on-failure destination), created after the
/// policy that lets its role send there (Lambda checks that permission). The other functions
/// are API Gateway's alone, invoked synchronously: the caller gets the error.
#[test]
fn every_asynchronous_invocation_has_an_on_failure_queue() {
    let t = template();
    let asynchronous = asynchronous_functions(&t);
    for expected in [
        "ValidateBuildWorkerFunction",
        "RegisterBuildValidationFunction",
        "PushDeploymentEventFunction",
        "PublishValidationResultFunction",
    ] {
        assert!(
            asynchronous.contains(expected),
            "{expected}: {asynchronous:?}"
        );
    }
    let configs: BTreeMap<String, &Value> = of_type(&t, "AWS::Lambda::EventInvokeConfig")
        .into_iter()
        .map(|(_, r)| {
            let function = r["Properties"]["FunctionName"]["Ref"].as_str().unwrap();
            (function.to_string(), r)
        })
        .collect();
    for (name, (id, function)) in lambda_resources(&t) {
        let Some(config) = configs.get(&id) else {
            assert!(
                !asynchronous.contains(&id),
                "{name} is invoked asynchronously and has no on-failure destination"
            );
            let permissions: Vec<&Value> = of_type(&t, "AWS::Lambda::Permission")
                .into_iter()
                .map(|(_, p)| p)
                .filter(|p| p["Properties"]["FunctionName"]["Ref"] == id.as_str())
                .collect();
            assert!(
                !permissions.is_empty()
                    && permissions
                        .iter()
                        .all(|p| p["Properties"]["Principal"] == "apigateway.amazonaws.com"),
                "{name}: without an on-failure destination, only API Gateway may invoke it"
            );
            continue;
        };
        let p = &config["Properties"];
        assert_eq!(p["Qualifier"], "$LATEST", "{name}");
        let destination = &p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"];
        let queue = destination[0]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: the destination is the queue's GetAtt Arn"));
        assert_eq!(destination[1], "Arn", "{name}");
        assert_eq!(resources(&t)[queue]["Type"], "AWS::SQS::Queue", "{name}");
        let role = function_role(&function);
        let depends: BTreeSet<String> = config["DependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let granting: Vec<&String> = of_type(&t, "AWS::IAM::ManagedPolicy")
            .into_iter()
            .filter(|(_, policy)| referenced_ids(&policy["Properties"]["Roles"]).contains(&role))
            .filter(|(_, policy)| {
                statements(policy).iter().any(|s| {
                    actions(s).contains("sqs:SendMessage")
                        && referenced_ids(&s["Resource"]).contains(queue)
                })
            })
            .map(|(policy_id, _)| policy_id)
            .collect();
        assert!(
            granting.iter().any(|policy_id| depends.contains(*policy_id)),
            "{name}: its role {role} may send to {queue} through a policy its config DependsOn ({granting:?})"
        );
    }
}

/// What Lambda itself does with the functions' roles stays apart from what the code calls (the
/// inline policies, compared with each MANIFEST above) and is narrow: the stack's managed
/// policies grant only X-Ray's two write actions (to every function's role, for `Tracing`),
/// sqs:SendMessage on the failed-invocations queue, and the three actions an event source
/// mapping reads a queue with (on that queue, to the role of the function it invokes). Every
/// function is created after the X-Ray policy (Lambda refuses Active tracing to a role without
/// it) and traces as `Tracing` says.
#[test]
fn lambdas_own_permissions_are_apart_from_the_codes_and_narrow() {
    let t = template();
    let xray: BTreeSet<String> = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        .map(String::from)
        .into();
    let receive: BTreeSet<String> = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ]
    .map(String::from)
    .into();
    let function_roles: BTreeSet<String> = lambda_resources(&t)
        .values()
        .map(|(_, f)| function_role(f))
        .collect();
    let mut tracing_policy = None;
    for (id, policy) in of_type(&t, "AWS::IAM::ManagedPolicy") {
        for s in statements(policy) {
            assert_eq!(s["Effect"], "Allow", "{id}");
            let granted = actions(&s);
            if granted == xray {
                assert_eq!(s["Resource"], "*", "{id}: X-Ray's actions take no resource");
                assert_eq!(
                    referenced_ids(&policy["Properties"]["Roles"]),
                    function_roles,
                    "{id}: every function's role"
                );
                tracing_policy = Some(id.clone());
            } else if granted == receive {
                let queue = s["Resource"]["Fn::GetAtt"][0].as_str().unwrap();
                assert_eq!(resources(&t)[queue]["Type"], "AWS::SQS::Queue", "{id}");
                let readers: BTreeSet<String> = of_type(&t, "AWS::Lambda::EventSourceMapping")
                    .into_iter()
                    .filter(|(_, m)| m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == queue)
                    .flat_map(|(_, m)| referenced_ids(&m["Properties"]["FunctionName"]))
                    .map(|f| function_role(&resources(&t)[f.as_str()]))
                    .collect();
                assert!(
                    !readers.is_empty(),
                    "{id}: no event source mapping reads {queue}"
                );
                assert_eq!(
                    referenced_ids(&policy["Properties"]["Roles"]),
                    readers,
                    "{id}: the roles of the functions its mapping invokes"
                );
            } else {
                assert_eq!(
                    granted,
                    BTreeSet::from(["sqs:SendMessage".to_string()]),
                    "{id}"
                );
                let queue = s["Resource"]["Fn::GetAtt"][0].as_str().unwrap();
                assert_eq!(resources(&t)[queue]["Type"], "AWS::SQS::Queue", "{id}");
            }
        }
    }
    let tracing_policy = tracing_policy.expect("a managed policy for X-Ray");
    for (name, (_, f)) in lambda_resources(&t) {
        let depends: Vec<&str> = f["DependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            depends.contains(&tracing_policy.as_str()),
            "{name} DependsOn {tracing_policy}"
        );
        assert_eq!(
            f["Properties"]["TracingConfig"]["Mode"]["Ref"], "Tracing",
            "{name}"
        );
    }
}

/// The API stage: X-Ray as the functions (`Tracing`), and one access log line per request, a
/// JSON object with the request id and no credentials, into a log group with the stack's
/// retention. API Gateway writes it with the account's CloudWatch Logs role, which the stack
/// sets before the stage and keeps when it is deleted (the account setting keeps naming it).
#[test]
fn the_api_stage_is_traced_and_writes_json_access_logs() {
    let t = template();
    let stage = &t["Resources"]["ApiStage"];
    let p = &stage["Properties"];
    assert_eq!(
        p["TracingEnabled"],
        serde_json::json!({"Fn::If": ["TracingActive", true, false]})
    );
    assert_eq!(
        t["Conditions"]["TracingActive"],
        serde_json::json!({"Fn::Equals": [{"Ref": "Tracing"}, "Active"]})
    );
    let format: Value = serde_json::from_str(p["AccessLogSetting"]["Format"].as_str().unwrap())
        .expect("the access log format is one JSON object");
    assert_eq!(format["requestId"], "$context.requestId");
    let text = format.to_string();
    for credential in ["apiKey", "$input", "$context.authorizer", "header"] {
        assert!(
            !text.contains(credential),
            "the access log carries {credential}: {text}"
        );
    }
    let group = referenced_ids(&p["AccessLogSetting"]["DestinationArn"])
        .into_iter()
        .find(|id| t["Resources"][id.as_str()]["Type"] == "AWS::Logs::LogGroup")
        .expect("the destination is a log group of the stack");
    assert_eq!(
        t["Resources"][&group]["Properties"]["RetentionInDays"]["Ref"],
        "LogRetentionDays"
    );
    assert!(stage["DependsOn"]
        .as_array()
        .unwrap()
        .contains(&Value::from("ApiGatewayAccount")));
    let role = t["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"]
        [0]
    .as_str()
    .unwrap();
    assert_eq!(t["Resources"][role]["DeletionPolicy"], "Retain");
}

/// The webhook function (both webhook routes) and the worker (approvals and remediation
/// actions) each reserve `ReservedConcurrency` executions: a flood of notifications can neither
/// take the account's concurrency from other functions nor run more than that many at once.
/// Left empty, nothing is reserved.
#[test]
fn the_webhook_function_and_the_worker_reserve_their_concurrency() {
    let t = template();
    let mut bounded: BTreeSet<String> = of_type(&t, "AWS::ApiGateway::Method")
        .into_iter()
        .filter(|(_, m)| m["Properties"]["HttpMethod"] == "POST")
        .flat_map(|(_, m)| referenced_ids(&m["Properties"]["Integration"]["Uri"]))
        .filter(|id| t["Resources"][id.as_str()]["Type"] == "AWS::Lambda::Function")
        .collect();
    assert_eq!(
        bounded,
        BTreeSet::from(["HandleProblemNotificationFunction".to_string()])
    );
    bounded.insert("ValidateBuildWorkerFunction".to_string());
    let expected = serde_json::json!({"Fn::If": [
        "HasReservedConcurrency",
        {"Ref": "ReservedConcurrency"},
        {"Ref": "AWS::NoValue"}
    ]});
    for id in &bounded {
        assert_eq!(
            t["Resources"][id.as_str()]["Properties"]["ReservedConcurrentExecutions"],
            expected,
            "{id}"
        );
    }
}

/// A string as it is, any other value as its JSON text.
fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Every alarm notifies `AlarmTopicArn` when given and the topic of `AlarmEmail` when given
/// (on ALARM and on OK); every function has an Errors and a Throttles alarm; the failed
/// invocations queue, the wake-ups' dead-letter queue and each metric of the worker's log lines
/// have one.
#[test]
fn the_alarms_cover_every_function_the_queue_and_the_workers_metrics() {
    let t = template();
    let notify = serde_json::json!([
        {"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasAlarmEmail", {"Ref": "AlarmTopic"}, {"Ref": "AWS::NoValue"}]}
    ]);
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let mut watched: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (id, alarm) in &alarms {
        let p = &alarm["Properties"];
        assert_eq!(p["AlarmActions"], notify, "{id}");
        assert_eq!(p["OKActions"], notify, "{id}");
        assert!(
            p["AlarmDescription"].as_str().is_some_and(|d| d.len() > 40),
            "{id}: the description says what went wrong and where to look"
        );
        let namespace = text(&p["Namespace"]);
        let dimension = referenced_ids(&p["Dimensions"])
            .into_iter()
            .next()
            .unwrap_or_default();
        watched.insert((
            namespace,
            p["MetricName"].as_str().unwrap().to_string(),
            dimension,
        ));
    }
    for (name, (id, _)) in lambda_resources(&t) {
        for metric in ["Errors", "Throttles"] {
            let key = ("AWS/Lambda".to_string(), metric.to_string(), id.clone());
            assert!(watched.contains(&key), "{name}: no {metric} alarm");
        }
    }
    // The queues whose messages wait for a person (the failed invocations, a dead-letter
    // queue): every queue no event source mapping reads.
    let read: BTreeSet<String> = of_type(&t, "AWS::Lambda::EventSourceMapping")
        .iter()
        .flat_map(|(_, m)| referenced_ids(&m["Properties"]["EventSourceArn"]))
        .collect();
    let kept: Vec<&String> = of_type(&t, "AWS::SQS::Queue")
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !read.contains(*id))
        .collect();
    assert!(
        kept.len() >= 2,
        "the failed invocations and the wake-ups' dead letters: {kept:?}"
    );
    for queue in kept {
        assert!(
            watched.contains(&(
                "AWS/SQS".to_string(),
                "ApproximateNumberOfMessagesVisible".to_string(),
                queue.clone()
            )),
            "{queue}: no alarm on its messages"
        );
    }
    for (id, filter) in of_type(&t, "AWS::Logs::MetricFilter") {
        let m = &filter["Properties"]["MetricTransformations"][0];
        let key = (
            text(&m["MetricNamespace"]),
            m["MetricName"].as_str().unwrap().to_string(),
            String::new(),
        );
        assert!(watched.contains(&key), "{id}: no alarm on {key:?}");
    }
    let topic = &t["Resources"]["AlarmTopic"];
    assert_eq!(topic["Condition"], "HasAlarmEmail");
    assert_eq!(
        topic["Properties"]["Subscription"],
        serde_json::json!([{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}])
    );
}

/// The metric filters read lines the functions really write: each filter's
/// `$.fields.message = "…"` is a message in the code of the function whose log group it reads,
/// and the field its metric takes (`$.fields.<field>`) is logged there too. The worker writes
/// `tick done` after every tick, and `validation due` with `late_seconds` (seconds since the
/// validation's decision time) for each validation it claims.
#[test]
fn the_metric_filters_match_lines_the_functions_write() {
    let t = template();
    let lambda = lambda_resources(&t);
    let filters = of_type(&t, "AWS::Logs::MetricFilter");
    assert!(filters.len() >= 2, "{filters:?}");
    for (id, filter) in filters {
        let p = &filter["Properties"];
        let group = p["LogGroupName"]["Ref"].as_str().unwrap();
        let group_name = t["Resources"][group]["Properties"]["LogGroupName"]["Fn::Sub"]
            .as_str()
            .unwrap_or_default();
        let name = group_name
            .strip_prefix("/aws/lambda/${AWS::StackName}-")
            .filter(|name| lambda.contains_key(*name))
            .unwrap_or_else(|| panic!("{id}: {group} is no function's log group"));
        // The function's own crate and the handler code it runs.
        let mut code = String::new();
        for dir in [
            format!("functions/{name}/src"),
            "handlers/src/lambda".to_string(),
        ] {
            for entry in std::fs::read_dir(root().join(&dir)).unwrap() {
                code.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
            }
        }
        let pattern = p["FilterPattern"].as_str().unwrap();
        let message = pattern
            .split("$.fields.message = \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{id}: a pattern on $.fields.message: {pattern}"));
        assert!(
            code.contains(&format!("\"{message}\"")),
            "{id}: {name} never logs \"{message}\" (the filter {pattern} would count nothing)"
        );
        let value = p["MetricTransformations"][0]["MetricValue"]
            .as_str()
            .unwrap();
        if let Some(field) = value.strip_prefix("$.fields.") {
            assert!(
                code.contains(field),
                "{id}: {name} logs no field {field} (the metric's value)"
            );
        }
    }
}

/// checkov (from PyPI into a venv of its own, `.venv-checkov`, by scripts/test.sh: in `.venv`
/// its pins would downgrade the boto3, botocore and networkx that moto and cfn-lint run on),
/// run offline, finds no failed check: each check is met, or skipped in that resource's
/// `Metadata` (`{"checkov": {"skip": [{"id": …, "comment": …}]}}`) with the reason it does not
/// apply (docs/aws.md lists them). Every skip says why, and each is one checkov applies to its
/// resource (a wrong id or a check of another resource type would skip nothing).
#[test]
fn checkov_finds_nothing_unexplained() {
    let checkov = root().join(".venv-checkov/bin/checkov");
    assert!(
        checkov.exists(),
        "checkov is not installed: run `python3 -m venv .venv-checkov && .venv-checkov/bin/pip install 'checkov>=3.2,<4'` (scripts/test.sh does)"
    );
    let t = template();
    let mut declared: BTreeSet<(String, String)> = BTreeSet::new();
    for (id, r) in resources(&t) {
        let Some(metadata) = r["Metadata"].get("checkov") else {
            continue;
        };
        let skips = metadata["skip"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: Metadata.checkov.skip is a list"));
        for s in skips {
            let check = s["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: a skip without an id: {s}"));
            let comment = s["comment"].as_str().unwrap_or_default().trim();
            assert!(
                comment.len() >= 40,
                "{id}: the skip of {check} must say why the check does not apply, got {comment:?}"
            );
            assert!(
                declared.insert((id.clone(), check.to_string())),
                "{id}: {check} skipped twice"
            );
        }
    }
    let out = std::process::Command::new(&checkov)
        .current_dir(root())
        .args([
            "-f",
            "cloudformation/unbreakable.json",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "--skip-download",
        ])
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .output()
        .expect("run checkov");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov's output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One report per framework: an object for one, a list for several.
    let reports = match report {
        Value::Array(list) => list,
        one => vec![one],
    };
    let checks = |kind: &str| -> Vec<Value> {
        reports
            .iter()
            .flat_map(|r| r["results"][kind].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let parsing_errors: u64 = reports
        .iter()
        .map(|r| r["summary"]["parsing_errors"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        parsing_errors,
        0,
        "checkov could not parse the template:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: Vec<String> = checks("failed_checks")
        .iter()
        .map(|c| {
            format!(
                "{} {} ({})",
                c["check_id"].as_str().unwrap_or("?"),
                c["resource"].as_str().unwrap_or("?"),
                c["check_name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "checkov: {} failed check(s); fix each, or skip it in that resource's Metadata with the reason it does not apply:\n{}",
        failed.len(),
        failed.join("\n")
    );
    let passed = checks("passed_checks").len();
    assert!(
        passed >= 100,
        "checkov passed only {passed} checks: did it read the template?"
    );
    let skipped: BTreeSet<(String, String)> = checks("skipped_checks")
        .iter()
        .map(|c| {
            let resource = c["resource"].as_str().unwrap_or_default();
            let id = resource.rsplit_once('.').map_or(resource, |(_, id)| id);
            let check = c["check_id"].as_str().unwrap_or_default();
            (id.to_string(), check.to_string())
        })
        .collect();
    let stale: Vec<&(String, String)> = declared.difference(&skipped).collect();
    assert!(
        stale.is_empty(),
        "skips checkov does not apply (a wrong id, or a check of another resource type): {stale:?}"
    );
}

/// The one event source mapping: the wake-ups' (`DecisionEvents`).
fn wake_mapping(t: &Value) -> (&String, &Value) {
    let mappings = of_type(t, "AWS::Lambda::EventSourceMapping");
    assert_eq!(mappings.len(), 1, "one event source mapping: {mappings:?}");
    mappings[0]
}

/// The worker's wake-ups wait in an SQS queue, encrypted, for at most a day (an older one is
/// the sweep's anyway); its visibility timeout is at least six times the timeout of the
/// function its mapping invokes (AWS's advice for a queue an event source mapping reads; Lambda
/// refuses a mapping whose function outlasts it); a wake-up received 5 times without being
/// handled goes to a dead-letter queue, encrypted too, which keeps it longer than the queue does
/// (a moved message keeps its first enqueue time).
#[test]
fn the_wake_queue_is_encrypted_and_drains_to_a_dead_letter_queue() {
    let t = template();
    let (_, mapping) = wake_mapping(&t);
    let queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        .as_str()
        .expect("the mapping reads a queue's GetAtt Arn");
    assert_eq!(queue_id, "WakeQueue");
    let queue = &resources(&t)[queue_id];
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    let p = &queue["Properties"];
    assert_eq!(p["SqsManagedSseEnabled"], true);
    let retention = p["MessageRetentionPeriod"]
        .as_u64()
        .expect("a MessageRetentionPeriod in seconds");
    assert!(
        (900..=86_400).contains(&retention),
        "{retention} s: longer than SQS's longest delay (900 s), at most a day"
    );

    let function = mapping["Properties"]["FunctionName"]["Ref"]
        .as_str()
        .expect("the mapping names its function with a Ref");
    let timeout = resources(&t)[function]["Properties"]["Timeout"]
        .as_u64()
        .expect("the function's Timeout");
    let visibility = p["VisibilityTimeout"]
        .as_u64()
        .expect("a VisibilityTimeout in seconds");
    assert!(
        visibility >= 6 * timeout,
        "VisibilityTimeout {visibility} s is less than 6 × {function}'s Timeout ({timeout} s)"
    );
    assert!(visibility <= 43_200, "SQS's most is 12 hours: {visibility}");

    let redrive = &p["RedrivePolicy"];
    assert_eq!(redrive["maxReceiveCount"], 5);
    let dead_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        .as_str()
        .expect("deadLetterTargetArn is a queue's GetAtt Arn");
    assert_eq!(redrive["deadLetterTargetArn"]["Fn::GetAtt"][1], "Arn");
    assert_eq!(dead_id, "WakeDeadLetterQueue");
    let dead = &resources(&t)[dead_id];
    assert_eq!(dead["Type"], "AWS::SQS::Queue");
    assert_eq!(dead["Properties"]["SqsManagedSseEnabled"], true);
    assert!(dead["Properties"].get("RedrivePolicy").is_none());
    let kept = dead["Properties"]["MessageRetentionPeriod"]
        .as_u64()
        .expect("the dead-letter queue's retention");
    assert_eq!(kept, 1_209_600, "14 days, SQS's most");
    assert!(kept > retention);
    for id in [queue_id, dead_id] {
        assert!(
            resources(&t)[id].get("Condition").is_none(),
            "{id} is created whatever DecisionEvents says"
        );
    }
}

/// `DecisionEvents` on (the default): an event source mapping invokes the worker with the
/// wake-ups as they become visible, in batches of up to 10 with no batching window, and reads
/// the `batchItemFailures` of its answer (only the messages it could not send on come back). At
/// most 2 invocations at once, fewer than the worker reserves by default, so the sweep keeps an
/// execution. It is created after the policy that lets the worker's role read and delete the
/// queue's messages (Lambda checks it), which exists only with the mapping.
#[test]
fn the_wake_queue_invokes_the_worker_and_reads_its_batch_item_failures() {
    let t = template();
    let parameter = &t["Parameters"]["DecisionEvents"];
    assert_eq!(parameter["Default"], "on");
    assert_eq!(parameter["AllowedValues"], serde_json::json!(["on", "off"]));
    assert_eq!(
        t["Conditions"]["EventsOn"],
        serde_json::json!({"Fn::Equals": [{"Ref": "DecisionEvents"}, "on"]})
    );
    let (id, mapping) = wake_mapping(&t);
    assert_eq!(mapping["Condition"], "EventsOn", "{id}");
    let p = &mapping["Properties"];
    assert_eq!(
        p["FunctionName"],
        serde_json::json!({"Ref": "ValidateBuildWorkerFunction"}),
        "{id}"
    );
    let queue_arn = serde_json::json!({"Fn::GetAtt": ["WakeQueue", "Arn"]});
    assert_eq!(p["EventSourceArn"], queue_arn, "{id}");
    assert_eq!(p["BatchSize"], 10, "{id}");
    assert_eq!(p["MaximumBatchingWindowInSeconds"], 0, "{id}");
    assert_eq!(
        p["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"]),
        "{id}"
    );
    assert_ne!(p["Enabled"], false, "{id}");
    let most = p["ScalingConfig"]["MaximumConcurrency"]
        .as_u64()
        .expect("ScalingConfig.MaximumConcurrency");
    let reserved: u64 = t["Parameters"]["ReservedConcurrency"]["Default"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (2..reserved).contains(&most),
        "{id}: MaximumConcurrency {most} must leave the sweep one of the worker's {reserved}"
    );

    let worker_role = function_role(&resources(&t)["ValidateBuildWorkerFunction"]);
    let receive: BTreeSet<String> = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ]
    .map(String::from)
    .into();
    let granting: Vec<&String> = of_type(&t, "AWS::IAM::ManagedPolicy")
        .into_iter()
        .filter(|(_, policy)| {
            referenced_ids(&policy["Properties"]["Roles"]) == BTreeSet::from([worker_role.clone()])
        })
        .filter(|(_, policy)| {
            statements(policy)
                .iter()
                .any(|s| actions(s) == receive && s["Resource"] == queue_arn)
        })
        .map(|(policy_id, _)| policy_id)
        .collect();
    let depends: Vec<&str> = mapping["DependsOn"]
        .as_array()
        .expect("DependsOn")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        granting.iter().any(|g| depends.contains(&g.as_str())),
        "{id} DependsOn a policy letting {worker_role} receive the wake-ups ({granting:?})"
    );
    for g in granting {
        assert_eq!(resources(&t)[g.as_str()]["Condition"], "EventsOn", "{g}");
    }
}

/// The functions that wake the worker, and only they: register (a validation's decision time),
/// the webhook function (a problem or an alert) and the worker itself (a retry, an action's
/// next check). Each is given the queue's URL while `DecisionEvents` is on (with it off, none:
/// it sends nothing and the sweep decides), and its role may send to the queue; no other role
/// or policy may.
#[test]
fn register_the_webhook_function_and_the_worker_may_wake_the_worker() {
    let t = template();
    let senders: BTreeSet<String> = [
        "RegisterBuildValidationFunction",
        "HandleProblemNotificationFunction",
        "ValidateBuildWorkerFunction",
    ]
    .map(String::from)
    .into();
    let url =
        serde_json::json!({"Fn::If": ["EventsOn", {"Ref": "WakeQueue"}, {"Ref": "AWS::NoValue"}]});
    let queue_arn = serde_json::json!({"Fn::GetAtt": ["WakeQueue", "Arn"]});
    let sends = |s: &Value| {
        s["Effect"] == "Allow"
            && actions(s).contains("sqs:SendMessage")
            && referenced_ids(&s["Resource"]).contains("WakeQueue")
    };
    let mut roles = BTreeSet::new();
    for (name, (id, function)) in lambda_resources(&t) {
        let variables = &function["Properties"]["Environment"]["Variables"];
        let role = function_role(&function);
        let may_send = statements(&resources(&t)[role.as_str()])
            .iter()
            .any(|s| sends(s) && s["Resource"] == queue_arn);
        if senders.contains(&id) {
            assert_eq!(variables["WAKE_QUEUE_URL"], url, "{name}");
            assert!(
                may_send,
                "{name}: its role {role} may not send to the WakeQueue"
            );
        } else {
            assert!(variables.get("WAKE_QUEUE_URL").is_none(), "{name}");
            assert!(
                !may_send,
                "{name}: its role {role} may send to the WakeQueue"
            );
        }
        roles.insert(role);
    }
    for (id, r) in resources(&t) {
        let kind = r["Type"].as_str().unwrap_or_default();
        if kind.starts_with("AWS::IAM::") && !roles.contains(id) {
            assert!(
                !statements(r).iter().any(sends),
                "{id} may send to the WakeQueue"
            );
        }
    }
}

/// The sweep stays, the safety net behind the wake-ups and the only decider with
/// `DecisionEvents` off: the schedule rule runs the worker every `WorkerScheduleExpression`,
/// `rate(10 minutes)` by default, whatever `DecisionEvents` says; the worker-stalled alarm
/// waits three of its periods, and an approval is overdue only after more than one.
#[test]
fn the_sweep_runs_every_ten_minutes_and_the_alarms_wait_for_it() {
    let t = template();
    let default = t["Parameters"]["WorkerScheduleExpression"]["Default"]
        .as_str()
        .unwrap();
    assert_eq!(default, "rate(10 minutes)");
    let minutes: u64 = default
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(" minutes)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a rate in minutes: {default}"));
    let rules: Vec<(&String, &Value)> = of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .filter(|(_, r)| {
            r["Properties"]["ScheduleExpression"]
                == serde_json::json!({"Ref": "WorkerScheduleExpression"})
        })
        .collect();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let (id, rule) = rules[0];
    assert!(
        rule.get("Condition").is_none(),
        "{id} runs whatever DecisionEvents says"
    );
    assert_eq!(rule["Properties"]["State"], "ENABLED", "{id}");
    assert_eq!(
        referenced_ids(&rule["Properties"]["Targets"]),
        BTreeSet::from(["ValidateBuildWorkerFunction".to_string()]),
        "{id}"
    );
    assert_eq!(
        t["Parameters"]["WorkerStalledAlarmMinutes"]["Default"],
        3 * minutes,
        "three sweep periods"
    );
    let overdue = resources(&t)["ApprovalOverdueAlarm"]["Properties"]["Threshold"]
        .as_u64()
        .expect("the approval-overdue alarm's threshold in seconds");
    assert!(
        overdue > minutes * 60,
        "{overdue} s: a validation the sweep decides is up to one period ({minutes} min) late"
    );
}
