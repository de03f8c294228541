//! `cloudformation/unbreakable.json` launched in moto's CloudFormation, and what moto made of
//! it read back through each service's own API: the table and its index, every function
//! (runtime, handler, role, settings, and the code: CodeSha256 of the zip uploaded under the
//! key the template names), the Lambda permissions, the worker's schedule, the API routes,
//! the log groups, and the Production Auto Scaling group with its launch template.
//!
//! The zips are what `scripts/package-lambdas.sh` makes of the dev-profile binaries (the tree
//! `cargo test` built; `bootstrap`, mode 0755), written to a directory of the test's own: the
//! optimised `lambda-zip` build takes 10–18 minutes and adds nothing here.
//!
//! moto 5.2 skips, with a log line, the types it cannot create: Secrets Manager secrets,
//! the API Gateway stage and account settings, CodeDeploy applications and deployment groups,
//! the pipeline, the functions' event invoke configs (their on-failure destination), CloudWatch
//! alarms and Logs metric filters. A `Ref` to one of them resolves to nothing, so the settings
//! holding a secret's ARN are missing from the functions there; the test asserts exactly that,
//! and nothing about the skipped resources (`tests/template.rs` checks them in the template).
//! moto creates the failed-invocations queue and the managed policies (X-Ray, the queue)
//! attached to the functions' roles; it ignores a function's `TracingConfig`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use unbreakable_emulators::aws::MotoServer;
use unbreakable_emulators::lambda::binaries::{clean_cargo_env, workspace_root, FUNCTIONS};
use unbreakable_tests::ec2::{ec2_query, xml_text};

const STACK: &str = "unbreakable";
const CODE_BUCKET: &str = "unbreakable-code";
const AMI_PARAMETER: &str = "/unbreakable/test/ami";
const AMI: &str = "ami-12c6146b";
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A global secondary index: its key schema (attribute, key type) and projection type.
type IndexShape = (Vec<(String, String)>, Option<String>);

/// The resource types moto 5.2's CloudFormation does not create.
const SKIPPED_BY_MOTO: [&str; 9] = [
    "AWS::SecretsManager::Secret",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Account",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CodePipeline::Pipeline",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::MetricFilter",
];

fn template() -> Value {
    let path = workspace_root().join("cloudformation/unbreakable.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("template")).expect("JSON")
}

/// The parameters the test launches with (the rest keep their defaults).
fn given_parameters() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("YourS3BucketName", CODE_BUCKET),
        ("DynatraceTenantURL", "https://abc12345.live.dynatrace.com"),
        ("DynatraceAPIToken", "dt0c01.TESTTOKEN0123456789"),
        ("WebhookSecret", "whsec-test-0123456789abcdef"),
        ("LatestAmiId", AMI_PARAMETER),
        ("UnleashUrl", "http://unleash.internal:4242"),
        ("ProductionMaxSize", "2"),
        ("RemediationDryRun", "true"),
    ])
}

/// What the template's expressions come to in this stack, as far as the test needs them.
struct Resolver<'a> {
    template: &'a Value,
    parameters: BTreeMap<String, String>,
    physical: BTreeMap<String, String>,
    attributes: BTreeMap<(String, String), String>,
}

impl Resolver<'_> {
    fn resource_type(&self, id: &str) -> Option<&str> {
        self.template["Resources"][id]["Type"].as_str()
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, c: &Value) -> bool {
        if let Some(inner) = c.get("Fn::Not") {
            return !self.truth(&inner[0]);
        }
        if let Some(pair) = c.get("Fn::Equals") {
            return self.value(&pair[0]) == self.value(&pair[1]);
        }
        if let Some(name) = c.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("condition {c} is not understood by the test");
    }

    /// `None` where moto leaves the value out (`AWS::NoValue`, a `Ref` to a skipped resource).
    fn value(&self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ if v.get("Ref").is_some() => {
                let name = v["Ref"].as_str().unwrap();
                self.reference(name)
            }
            _ if v.get("Fn::If").is_some() => {
                let branches = &v["Fn::If"];
                let chosen = if self.condition(branches[0].as_str().unwrap()) {
                    &branches[1]
                } else {
                    &branches[2]
                };
                self.value(chosen)
            }
            _ if v.get("Fn::Sub").is_some() => Some(self.sub(&v["Fn::Sub"])),
            _ if v.get("Fn::GetAtt").is_some() => {
                let pair = &v["Fn::GetAtt"];
                let key = (
                    pair[0].as_str().unwrap().to_string(),
                    pair[1].as_str().unwrap().to_string(),
                );
                Some(
                    self.attributes
                        .get(&key)
                        .unwrap_or_else(|| panic!("the test does not know {key:?}"))
                        .clone(),
                )
            }
            other => panic!("expression {other} is not understood by the test"),
        }
    }

    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::NoValue" => None,
            "AWS::Region" => Some(REGION.into()),
            "AWS::AccountId" => Some(ACCOUNT.into()),
            "AWS::Partition" => Some("aws".into()),
            "AWS::StackName" => Some(STACK.into()),
            _ if self.parameters.contains_key(name) => Some(self.parameters[name].clone()),
            _ if SKIPPED_BY_MOTO.contains(&self.resource_type(name).unwrap_or_default()) => None,
            _ => Some(
                self.physical
                    .get(name)
                    .unwrap_or_else(|| panic!("no physical id for {name}"))
                    .clone(),
            ),
        }
    }

    /// `Fn::Sub`'s argument: a string, or `[string, variables]` (each variable resolved first).
    fn sub(&self, argument: &Value) -> String {
        match argument {
            Value::String(text) => self.substitute(text),
            Value::Array(pair) => {
                let mut text = pair[0].as_str().unwrap().to_string();
                for (name, v) in pair[1].as_object().unwrap() {
                    let value = self
                        .value(v)
                        .unwrap_or_else(|| panic!("${{{name}}} resolves to nothing"));
                    text = text.replace(&format!("${{{name}}}"), &value);
                }
                self.substitute(&text)
            }
            other => panic!("Fn::Sub {other} is not understood by the test"),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            let value = match name.split_once('.') {
                Some((resource, attribute)) => {
                    self.value(&serde_json::json!({"Fn::GetAtt": [resource, attribute]}))
                }
                None => self.reference(name),
            };
            out.push_str(&value.unwrap_or_else(|| panic!("${{{name}}} resolves to nothing")));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// The functions packaged by `scripts/package-lambdas.sh` (dev profile, so the tree the tests
/// built is reused) into a directory of this test's own: zip bytes by function.
fn packaged_zips() -> BTreeMap<&'static str, Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("unbreakable-stack-zips-{}", std::process::id()));
    let mut command = Command::new("bash");
    command
        .arg("scripts/package-lambdas.sh")
        .current_dir(workspace_root())
        .env("UNBREAKABLE_PACKAGE_PROFILE", "dev")
        .env("UNBREAKABLE_LAMBDA_DIR", &dir);
    clean_cargo_env(&mut command);
    let out = command.output().expect("run the packaging script");
    assert!(
        out.status.success(),
        "packaging failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let zips = FUNCTIONS
        .iter()
        .map(|f| {
            (
                *f,
                std::fs::read(dir.join(format!("{f}.zip"))).expect("packaged zip"),
            )
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    zips
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    unbreakable_shared::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

#[tokio::test]
async fn the_stack_launches_in_moto_with_what_the_template_declares() {
    let t = template();
    let moto = MotoServer::start().expect("moto");
    let sdk = sdk(&moto.endpoint).await;

    // The code bucket with every function's zip, and the AMI parameter LatestAmiId names.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(CODE_BUCKET).send().await.unwrap();
    let mut zip_sha256 = BTreeMap::new();
    let zips = packaged_zips();
    for (function, zip) in zips {
        zip_sha256.insert(
            function,
            (
                aws_smithy_types::base64::encode(Sha256::digest(&zip)),
                zip.len() as i64,
            ),
        );
        s3.put_object()
            .bucket(CODE_BUCKET)
            .key(format!("lambda/{function}.zip"))
            .body(zip.into())
            .send()
            .await
            .unwrap();
    }
    unbreakable_shared::aws::ssm::SsmClient::new(&sdk)
        .put_parameter(AMI_PARAMETER, AMI, "String")
        .await
        .unwrap();

    // Launch and wait.
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let given = given_parameters();
    cloudformation
        .create_stack()
        .stack_name(STACK)
        .template_body(serde_json::to_string(&t).unwrap())
        .set_parameters(Some(
            given
                .iter()
                .map(|(k, v)| {
                    aws_sdk_cloudformation::types::Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .expect("CreateStack");
    let started = Instant::now();
    let stack = loop {
        let out = cloudformation
            .describe_stacks()
            .stack_name(STACK)
            .send()
            .await
            .unwrap();
        let stack = out.stacks()[0].clone();
        let status = stack.stack_status().unwrap().as_str().to_string();
        if !status.ends_with("_IN_PROGRESS") {
            assert_eq!(
                status,
                "CREATE_COMPLETE",
                "{:?}",
                stack.stack_status_reason()
            );
            break stack;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Exactly the resources moto supports are created, conditions applied.
    let mut parameters: BTreeMap<String, String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), Resolver::plain(&p["Default"])?)))
        .collect();
    for (k, v) in &given {
        parameters.insert(k.to_string(), v.to_string());
    }
    parameters.insert("LatestAmiId".into(), AMI.into());
    let summaries = cloudformation
        .list_stack_resources()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    let physical: BTreeMap<String, String> = summaries
        .stack_resource_summaries()
        .iter()
        .filter(|r| !r.logical_resource_id().unwrap_or_default().is_empty())
        .map(|r| {
            (
                r.logical_resource_id().unwrap().to_string(),
                r.physical_resource_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut resolver = Resolver {
        template: &t,
        parameters,
        physical: physical.clone(),
        attributes: BTreeMap::new(),
    };
    let expected: BTreeSet<String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| !SKIPPED_BY_MOTO.contains(&r["Type"].as_str().unwrap()))
        .filter(|(_, r)| {
            r["Condition"]
                .as_str()
                .is_none_or(|c| resolver.condition(c))
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        physical.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "the resources moto created"
    );
    let of_type = |ty: &str| -> Vec<String> {
        t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == ty)
            .map(|(id, _)| id.clone())
            .collect()
    };

    // The table and its ready index.
    let table_name = &physical["ValidationTable"];
    let table = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_string(),
                    k.key_type().as_str().to_string(),
                )
            })
            .collect()
    };
    let template_keys = |schema: &Value| -> Vec<(String, String)> {
        schema
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_string(),
                    k["KeyType"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let table_def = &t["Resources"]["ValidationTable"]["Properties"];
    assert_eq!(
        keys(table.key_schema()),
        template_keys(&table_def["KeySchema"])
    );
    let indexes: BTreeMap<String, IndexShape> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().unwrap().to_string(),
                (
                    keys(i.key_schema()),
                    i.projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_string()),
                ),
            )
        })
        .collect();
    let template_indexes: BTreeMap<String, IndexShape> = table_def["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().unwrap().to_string(),
                (
                    template_keys(&i["KeySchema"]),
                    i["Projection"]["ProjectionType"]
                        .as_str()
                        .map(str::to_string),
                ),
            )
        })
        .collect();
    assert!(!template_indexes.is_empty());
    assert_eq!(indexes, template_indexes);

    // The schedule, and the attributes the permissions refer to.
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let rule = events
        .describe_rule()
        .name(&physical["WorkerSchedule"])
        .send()
        .await
        .unwrap();
    resolver.attributes.insert(
        ("WorkerSchedule".into(), "Arn".into()),
        rule.arn().unwrap().to_string(),
    );
    let rule_def = &t["Resources"]["WorkerSchedule"]["Properties"];
    assert_eq!(
        rule.schedule_expression(),
        resolver.value(&rule_def["ScheduleExpression"]).as_deref()
    );
    assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
    let targets = events
        .list_targets_by_rule()
        .rule(&physical["WorkerSchedule"])
        .send()
        .await
        .unwrap();
    let worker_arn = format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
        physical["ValidateBuildWorkerFunction"]
    );
    assert_eq!(
        targets
            .targets()
            .iter()
            .map(|t| t.arn())
            .collect::<Vec<_>>(),
        vec![worker_arn.as_str()]
    );

    // Every function: runtime, handler, role, code, and its settings without the secrets'
    // ARNs (moto drops a Ref to a secret it did not create).
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let functions = of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), FUNCTIONS.len());
    for id in &functions {
        let def = &t["Resources"][id]["Properties"];
        let name = &physical[id];
        let crate_name = name.strip_prefix(&format!("{STACK}-")).unwrap();
        let c = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            c.runtime().map(|r| r.as_str()),
            Some("provided.al2023"),
            "{id}"
        );
        assert_eq!(c.handler(), Some("bootstrap"), "{id}");
        assert_eq!(
            c.architectures()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            vec!["x86_64"],
            "{id}"
        );
        let role = def["Role"]["Fn::GetAtt"][0].as_str().unwrap();
        assert_eq!(
            c.role(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/{}", physical[role]).as_str()),
            "{id}"
        );
        assert_eq!(
            c.timeout(),
            def["Timeout"].as_i64().map(|v| v as i32),
            "{id}"
        );
        assert_eq!(
            c.memory_size(),
            def["MemorySize"].as_i64().map(|v| v as i32),
            "{id}"
        );
        let (sha, size) = &zip_sha256[crate_name];
        assert_eq!(
            (c.code_sha256(), c.code_size()),
            (Some(sha.as_str()), *size),
            "{id}: the code is lambda/{crate_name}.zip"
        );
        let set: BTreeMap<String, String> = c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut expected = BTreeMap::new();
        let mut dropped = BTreeSet::new();
        for (k, v) in def["Environment"]["Variables"].as_object().unwrap() {
            match resolver.value(v) {
                Some(value) => {
                    expected.insert(k.clone(), value);
                }
                None if v.get("Ref").is_some() => {
                    dropped.insert(k.clone());
                }
                None => {}
            }
        }
        assert_eq!(set, expected, "{id}: settings");
        assert!(
            dropped.iter().all(|k| k.contains("SECRET")),
            "{id}: only secrets' ARNs are missing in moto: {dropped:?}"
        );
    }

    // The Lambda permissions: principal and source, per function.
    let mut expected_permissions: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for id in of_type("AWS::Lambda::Permission") {
        let p = &t["Resources"][&id]["Properties"];
        let function = p["FunctionName"]["Ref"].as_str().unwrap();
        expected_permissions
            .entry(physical[function].clone())
            .or_default()
            .insert((
                p["Principal"].as_str().unwrap().to_string(),
                resolver.value(&p["SourceArn"]).unwrap(),
            ));
    }
    for id in &functions {
        let name = &physical[id];
        let granted: BTreeSet<(String, String)> =
            match lambda.get_policy().function_name(name).send().await {
                Ok(out) => {
                    let policy: Value = serde_json::from_str(out.policy().unwrap()).unwrap();
                    policy["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| {
                            assert_eq!(s["Action"], "lambda:InvokeFunction", "{id}");
                            (
                                s["Principal"]["Service"].as_str().unwrap().to_string(),
                                s["Condition"]["ArnLike"]["AWS:SourceArn"]
                                    .as_str()
                                    .unwrap()
                                    .to_string(),
                            )
                        })
                        .collect()
                }
                Err(e) => {
                    let e = e.into_service_error();
                    assert!(e.is_resource_not_found_exception(), "{id}: {e}");
                    BTreeSet::new()
                }
            };
        assert_eq!(
            granted,
            expected_permissions.remove(name).unwrap_or_default(),
            "{id}: permissions"
        );
    }
    assert!(expected_permissions.is_empty(), "{expected_permissions:?}");

    // The API's routes: path, verb, access and the function behind each.
    let api = aws_sdk_apigateway::Client::new(&sdk);
    let api_id = &physical["BuildValidationApi"];
    let resources = api
        .get_resources()
        .rest_api_id(api_id)
        .embed("methods")
        .send()
        .await
        .unwrap();
    let routes: BTreeSet<(String, String, String, bool, String)> = resources
        .items()
        .iter()
        .flat_map(|r| {
            r.resource_methods()
                .into_iter()
                .flatten()
                .map(|(verb, m)| {
                    (
                        r.path().unwrap().to_string(),
                        verb.clone(),
                        m.authorization_type().unwrap_or_default().to_string(),
                        m.api_key_required().unwrap_or_default(),
                        m.method_integration()
                            .and_then(|i| i.uri())
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let function_arns: BTreeMap<String, String> = functions
        .iter()
        .map(|id| {
            (
                id.clone(),
                format!(
                    "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
                    physical[id]
                ),
            )
        })
        .collect();
    for (id, arn) in &function_arns {
        resolver
            .attributes
            .insert((id.clone(), "Arn".into()), arn.clone());
    }
    let expected_routes: BTreeSet<(String, String, String, bool, String)> =
        of_type("AWS::ApiGateway::Method")
            .iter()
            .map(|id| {
                let m = &t["Resources"][id]["Properties"];
                let resource = m["ResourceId"]["Ref"].as_str().unwrap();
                let path = t["Resources"][resource]["Properties"]["PathPart"]
                    .as_str()
                    .unwrap();
                (
                    format!("/{path}"),
                    m["HttpMethod"].as_str().unwrap().to_string(),
                    resolver.value(&m["AuthorizationType"]).unwrap(),
                    m.get("ApiKeyRequired")
                        .map(|v| resolver.value(v).unwrap() == "true")
                        .unwrap_or(false),
                    resolver.value(&m["Integration"]["Uri"]).unwrap(),
                )
            })
            .collect();
    assert_eq!(routes, expected_routes);
    // The new routes: the Alertmanager webhook to the problem function, the timeline to the
    // report function with the report's access.
    let route = |path: &str| {
        routes
            .iter()
            .find(|r| r.0 == path)
            .unwrap_or_else(|| panic!("no route {path} in {routes:?}"))
            .clone()
    };
    let report = route("/BuildValidationResults");
    let problem_arn = &function_arns["HandleProblemNotificationFunction"];
    let report_arn = &function_arns["BuildValidationReportFunction"];
    let alertmanager = route("/HandleAlertmanagerAlert");
    assert_eq!(alertmanager.1, "POST");
    assert!(
        alertmanager
            .4
            .contains(&format!("{problem_arn}/invocations")),
        "{alertmanager:?}"
    );
    let timeline = route("/RemediationSequences");
    assert_eq!(timeline.1, "GET");
    assert!(
        timeline.4.contains(&format!("{report_arn}/invocations")),
        "{timeline:?}"
    );
    assert_eq!(
        (&timeline.2, timeline.3),
        (&report.2, report.3),
        "the report's access"
    );

    // The log groups, with their retention: the functions' and the API's access log.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let mut groups: BTreeMap<String, Option<i32>> = BTreeMap::new();
    for prefix in [
        format!("/aws/lambda/{STACK}-"),
        format!("/aws/apigateway/{STACK}-"),
    ] {
        let described = logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        for g in described.log_groups() {
            groups.insert(
                g.log_group_name().unwrap().to_string(),
                g.retention_in_days(),
            );
        }
    }
    let expected_groups: BTreeMap<String, Option<i32>> = of_type("AWS::Logs::LogGroup")
        .iter()
        .map(|id| {
            let p = &t["Resources"][id]["Properties"];
            (
                resolver.value(&p["LogGroupName"]).unwrap(),
                resolver
                    .value(&p["RetentionInDays"])
                    .map(|d| d.parse().unwrap()),
            )
        })
        .collect();
    assert_eq!(groups, expected_groups);
    assert!(
        groups.contains_key(&format!("/aws/apigateway/{STACK}-access")),
        "the API's access log: {groups:?}"
    );

    // Production: the Auto Scaling group and its launch template.
    let asg_name = &physical["ProductionAutoScalingGroup"];
    let described = aws_sdk_autoscaling::Client::new(&sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(asg_name)
        .send()
        .await
        .unwrap();
    let asg = &described.auto_scaling_groups()[0];
    assert_eq!(
        (asg.min_size(), asg.max_size(), asg.desired_capacity()),
        (Some(1), Some(2), Some(1)),
        "MinSize 1, MaxSize from ProductionMaxSize, desired 1"
    );
    let template_id = &physical["ProductionLaunchTemplate"];
    assert_eq!(
        asg.launch_template().and_then(|l| l.launch_template_id()),
        Some(template_id.as_str())
    );
    assert_eq!(
        asg.instances()
            .iter()
            .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
            .count(),
        1
    );
    let versions = ec2_query(
        &moto.endpoint,
        "DescribeLaunchTemplateVersions",
        &[("LaunchTemplateId", template_id)],
    )
    .await
    .unwrap();
    assert_eq!(xml_text(&versions, "imageId"), Some(AMI), "{versions}");
    assert_eq!(xml_text(&versions, "instanceType"), Some("t3.micro"));
    let profile_arn = xml_text(&versions, "arn").unwrap_or_default();
    assert_eq!(
        profile_arn,
        format!(
            "arn:aws:iam::{ACCOUNT}:instance-profile/{}",
            physical["InstanceProfile"]
        )
    );
    let user_data =
        aws_smithy_types::base64::decode(xml_text(&versions, "userData").unwrap()).unwrap();
    let user_data = String::from_utf8(user_data).unwrap();
    let staging_user_data = resolver
        .sub(&t["Resources"]["StagingInstance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"]);
    assert_eq!(
        user_data, staging_user_data,
        "the same host setup as Staging"
    );
    assert!(user_data.contains("./install auto"), "{user_data}");
    // Without DynatraceOneAgentURL there is no secret to read: the OneAgent step is skipped.
    assert!(
        user_data.contains("if [ -n \"\" ]; then aws secretsmanager get-secret-value"),
        "{user_data}"
    );

    // The outputs that name the new parts.
    let outputs: BTreeMap<&str, &str> = stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap(),
                o.output_value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(outputs["ProductionAutoScalingGroup"], asg_name);
    assert_eq!(
        outputs["HandleAlertmanagerAlertEndpoint"],
        format!("https://{api_id}.execute-api.{REGION}.amazonaws.com/v1/HandleAlertmanagerAlert")
    );
    assert_eq!(
        outputs["RemediationSequencesEndpoint"],
        format!("https://{api_id}.execute-api.{REGION}.amazonaws.com/v1/RemediationSequences")
    );
}

impl Resolver<'_> {
    /// A parameter default as CloudFormation reads it (numbers as their text).
    fn plain(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
