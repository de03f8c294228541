//! The pipeline and function settings the stack deploys, read from
//! `cloudformation/unbreakable.json` and resolved for the local stack: the same stages,
//! actions, run orders, artifacts, UserParameters and environment variables, not a copy.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value};

/// A CloudFormation template with the values its references take locally.
pub struct Template {
    body: Value,
    stack_name: String,
    /// Parameter values that replace the template's defaults.
    parameters: BTreeMap<String, String>,
    /// Physical names of resources whose `Ref` the local stack provides (table, secrets…).
    physical: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    pub name: String,
    pub category: String,
    pub provider: String,
    pub run_order: u32,
    pub configuration: BTreeMap<String, String>,
    pub input_artifacts: Vec<String>,
    pub output_artifacts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    pub name: String,
    pub actions: Vec<ActionSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub name: String,
    pub stages: Vec<StageSpec>,
}

impl PipelineSpec {
    /// GetPipeline's `pipeline` object for this definition.
    pub fn definition(&self, artifact_bucket: &str) -> Value {
        let artifacts = |names: &[String]| -> Vec<Value> {
            names.iter().map(|n| json!({ "name": n })).collect()
        };
        json!({
            "name": self.name,
            "roleArn": "arn:aws:iam::123456789012:role/local-pipeline",
            "artifactStore": {"type": "S3", "location": artifact_bucket},
            "version": 1,
            "stages": self.stages.iter().map(|s| json!({
                "name": s.name,
                "actions": s.actions.iter().map(|a| json!({
                    "name": a.name,
                    "actionTypeId": {"category": a.category, "owner": "AWS", "provider": a.provider, "version": "1"},
                    "runOrder": a.run_order,
                    "configuration": a.configuration,
                    "inputArtifacts": artifacts(&a.input_artifacts),
                    "outputArtifacts": artifacts(&a.output_artifacts),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl Template {
    pub fn read(path: &Path, stack_name: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stack template {}", path.display()))?;
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        Ok(Template {
            body,
            stack_name: stack_name.to_string(),
            parameters: BTreeMap::new(),
            physical: BTreeMap::new(),
        })
    }

    pub fn set_parameter(&mut self, name: &str, value: impl Into<String>) -> anyhow::Result<()> {
        if self.body["Parameters"].get(name).is_none() {
            bail!("the template has no parameter {name}");
        }
        self.parameters.insert(name.to_string(), value.into());
        Ok(())
    }

    pub fn set_physical(&mut self, logical_id: &str, value: impl Into<String>) {
        self.physical.insert(logical_id.to_string(), value.into());
    }

    fn resources(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.body["Resources"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.iter())
    }

    /// The one resource of `resource_type`.
    fn single(&self, resource_type: &str) -> anyhow::Result<(&String, &Value)> {
        let mut found = self.resources().filter(|(_, r)| r["Type"] == resource_type);
        let first = found
            .next()
            .ok_or_else(|| anyhow!("the template has no {resource_type}"))?;
        if found.next().is_some() {
            bail!("the template has more than one {resource_type}; the local stack runs one");
        }
        Ok(first)
    }

    /// The value a `Ref` takes locally.
    fn reference(&self, name: &str) -> anyhow::Result<String> {
        match name {
            "AWS::StackName" => return Ok(self.stack_name.clone()),
            "AWS::Region" => return Ok("us-east-1".into()),
            "AWS::AccountId" => return Ok("123456789012".into()),
            "AWS::Partition" => return Ok("aws".into()),
            _ => {}
        }
        if let Some(v) = self.parameters.get(name).or(self.physical.get(name)) {
            return Ok(v.clone());
        }
        if let Some(p) = self.body["Parameters"].get(name) {
            return match &p["Default"] {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => bail!("template parameter {name} has no default and no local value"),
            };
        }
        let resource = self.body["Resources"]
            .get(name)
            .ok_or_else(|| anyhow!("Ref {name}: no such parameter or resource"))?;
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::CodeDeploy::Application" => self.resolve(&properties["ApplicationName"]),
            "AWS::CodeDeploy::DeploymentGroup" => self.resolve(&properties["DeploymentGroupName"]),
            // A function is named locally by its crate: the zip `<prefix><crate>.zip`.
            "AWS::Lambda::Function" => {
                let key = self.resolve(&properties["Code"]["S3Key"])?;
                let prefix = self.reference("LambdaCodePrefix")?;
                Ok(key
                    .strip_prefix(&prefix)
                    .unwrap_or(&key)
                    .trim_end_matches(".zip")
                    .to_string())
            }
            other => bail!("Ref {name} ({other}) has no local value"),
        }
    }

    /// Evaluate the intrinsic functions the pipeline and function settings use.
    pub fn resolve(&self, value: &Value) -> anyhow::Result<String> {
        self.resolve_optional(value)?
            .ok_or_else(|| anyhow!("AWS::NoValue where a value is needed"))
    }

    /// Like [`Self::resolve`], but `None` for `{"Ref": "AWS::NoValue"}` (the property is left
    /// out), chosen directly or through `Fn::If`.
    pub fn resolve_optional(&self, value: &Value) -> anyhow::Result<Option<String>> {
        if value.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue") {
            return Ok(None);
        }
        if let Some(arguments) = value.get("Fn::If") {
            let (Some(name), Some(then), Some(otherwise)) =
                (arguments[0].as_str(), arguments.get(1), arguments.get(2))
            else {
                bail!("Fn::If needs [condition, value if true, value if false]");
            };
            let chosen = if self.condition(name)? {
                then
            } else {
                otherwise
            };
            return self.resolve_optional(chosen);
        }
        self.resolve_value(value).map(Some)
    }

    /// A named condition of the template's `Conditions`.
    fn condition(&self, name: &str) -> anyhow::Result<bool> {
        let body = self.body["Conditions"]
            .get(name)
            .ok_or_else(|| anyhow!("Fn::If: no condition {name} in Conditions"))?;
        self.condition_value(body)
            .with_context(|| format!("condition {name}"))
    }

    fn condition_value(&self, body: &Value) -> anyhow::Result<bool> {
        let object = body
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| anyhow!("a condition is one condition function, got {body}"))?;
        let (function, argument) = object.iter().next().expect("one entry");
        let list = || {
            argument
                .as_array()
                .ok_or_else(|| anyhow!("{function} needs a list"))
        };
        match function.as_str() {
            "Fn::Equals" => {
                let values = list()?;
                if values.len() != 2 {
                    bail!("Fn::Equals needs two values");
                }
                Ok(self.resolve(&values[0])? == self.resolve(&values[1])?)
            }
            "Fn::Not" => Ok(!self.condition_value(&list()?[0])?),
            "Fn::And" => list()?
                .iter()
                .try_fold(true, |all, c| Ok(all && self.condition_value(c)?)),
            "Fn::Or" => list()?
                .iter()
                .try_fold(false, |any, c| Ok(any || self.condition_value(c)?)),
            "Condition" => self.condition(argument.as_str().unwrap_or_default()),
            other => bail!("{other} is not a condition function"),
        }
    }

    fn resolve_value(&self, value: &Value) -> anyhow::Result<String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(o) if o.len() == 1 => {
                let (function, argument) = o.iter().next().expect("one entry");
                match function.as_str() {
                    "Ref" => self.reference(argument.as_str().unwrap_or_default()),
                    "Fn::Sub" => self.substitute(argument),
                    "Fn::Join" => {
                        let separator = argument[0].as_str().unwrap_or_default();
                        let parts = argument[1]
                            .as_array()
                            .ok_or_else(|| anyhow!("Fn::Join needs a list"))?
                            .iter()
                            .map(|p| self.resolve(p))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        Ok(parts.join(separator))
                    }
                    other => bail!("{other} has no local value"),
                }
            }
            other => bail!("cannot resolve {other} locally"),
        }
    }

    fn substitute(&self, argument: &Value) -> anyhow::Result<String> {
        let (text, variables) = match argument {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a.first().and_then(Value::as_str).unwrap_or_default(),
                a.get(1)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            ),
            _ => bail!("Fn::Sub needs a string"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("Fn::Sub \"{text}\": unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = variables.get(name) {
                out.push_str(&self.resolve(v)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The CodePipeline the stack creates.
    pub fn pipeline(&self) -> anyhow::Result<PipelineSpec> {
        let (_, pipeline) = self.single("AWS::CodePipeline::Pipeline")?;
        let properties = &pipeline["Properties"];
        let name = self.resolve(&properties["Name"])?;
        let mut stages = vec![];
        for stage in properties["Stages"].as_array().into_iter().flatten() {
            let stage_name = stage["Name"].as_str().unwrap_or_default().to_string();
            let mut actions = vec![];
            for action in stage["Actions"].as_array().into_iter().flatten() {
                let action_name = action["Name"].as_str().unwrap_or_default().to_string();
                let mut configuration = BTreeMap::new();
                for (k, v) in action["Configuration"].as_object().into_iter().flatten() {
                    let value = self.resolve_optional(v).with_context(|| {
                        format!("stage {stage_name}, action {action_name}, {k}")
                    })?;
                    if let Some(value) = value {
                        configuration.insert(k.clone(), value);
                    }
                }
                let names = |key: &str| -> Vec<String> {
                    action[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["Name"].as_str().map(str::to_string))
                        .collect()
                };
                actions.push(ActionSpec {
                    name: action_name,
                    category: action["ActionTypeId"]["Category"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    provider: action["ActionTypeId"]["Provider"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    run_order: action["RunOrder"].as_u64().unwrap_or(1) as u32,
                    configuration,
                    input_artifacts: names("InputArtifacts"),
                    output_artifacts: names("OutputArtifacts"),
                });
            }
            stages.push(StageSpec {
                name: stage_name,
                actions,
            });
        }
        Ok(PipelineSpec { name, stages })
    }

    /// The CodeDeploy application and its deployment groups, each with the EC2 tag its
    /// hosts carry (groups with the same tag share a host, as the tutorial's app and tests do).
    pub fn deployment_groups(&self) -> anyhow::Result<(String, Vec<(String, String)>)> {
        let (application_id, _) = self.single("AWS::CodeDeploy::Application")?;
        let application = self.reference(application_id)?;
        let mut groups = vec![];
        for (id, r) in self.resources() {
            if r["Type"] != "AWS::CodeDeploy::DeploymentGroup" {
                continue;
            }
            let host = match r["Properties"]["Ec2TagFilters"][0]["Value"].as_str() {
                Some(value) => value.to_string(),
                None => self.auto_scaling_host(r).unwrap_or_else(|| id.clone()),
            };
            groups.push((self.reference(id)?, host));
        }
        Ok((application, groups))
    }

    /// The host of a deployment group that deploys to an Auto Scaling group rather than by
    /// tag: the instances its launch template starts carry a tag that other groups (the load
    /// test's) select by, so they share that host, as they share the instances in AWS.
    fn auto_scaling_host(&self, group: &Value) -> Option<String> {
        let filters: Vec<(&str, &str)> = self
            .resources()
            .filter(|(_, r)| r["Type"] == "AWS::CodeDeploy::DeploymentGroup")
            .flat_map(|(_, r)| {
                r["Properties"]["Ec2TagFilters"]
                    .as_array()
                    .into_iter()
                    .flatten()
            })
            .filter_map(|f| Some((f["Key"].as_str()?, f["Value"].as_str()?)))
            .collect();
        let asg_id = group["Properties"]["AutoScalingGroups"][0]["Ref"].as_str()?;
        let asg = &self.body["Resources"][asg_id]["Properties"];
        let template_id = asg["LaunchTemplate"]["LaunchTemplateId"]["Ref"].as_str()?;
        let data = &self.body["Resources"][template_id]["Properties"]["LaunchTemplateData"];
        data["TagSpecifications"]
            .as_array()?
            .iter()
            .filter(|t| t["ResourceType"] == "instance")
            .flat_map(|t| t["Tags"].as_array().into_iter().flatten())
            .filter_map(|t| Some((t["Key"].as_str()?, t["Value"].as_str()?)))
            .find(|tag| filters.contains(tag))
            .map(|(_, value)| value.to_string())
    }

    fn function(&self, function: &str) -> anyhow::Result<&Value> {
        for (id, r) in self.resources() {
            if r["Type"] == "AWS::Lambda::Function" && self.reference(id)? == function {
                return Ok(r);
            }
        }
        bail!("the template has no function built from {function}")
    }

    /// The function's timeout (the deadline its invocations get).
    pub fn function_timeout(&self, function: &str) -> anyhow::Result<std::time::Duration> {
        let r = self.function(function)?;
        Ok(std::time::Duration::from_secs(
            r["Properties"]["Timeout"].as_u64().unwrap_or(3),
        ))
    }

    /// The environment variables the stack gives the function built from crate `function`.
    pub fn function_environment(&self, function: &str) -> anyhow::Result<Vec<(String, String)>> {
        {
            let r = self.function(function)?;
            let mut env = vec![];
            for (k, v) in r["Properties"]["Environment"]["Variables"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let value = self
                    .resolve_optional(v)
                    .with_context(|| format!("function {function}, variable {k}"))?;
                if let Some(value) = value {
                    env.push((k.clone(), value));
                }
            }
            Ok(env)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template {
            body: json!({
                "Parameters": {
                    "QualityGate": {"Type": "String", "Default": "monspec"},
                    "PrometheusURL": {"Type": "String", "Default": ""}
                },
                "Conditions": {
                    "SloGate": {"Fn::Equals": [{"Ref": "QualityGate"}, "slo"]},
                    "HasPrometheus": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PrometheusURL"}, ""]}]},
                    "Both": {"Fn::And": [{"Condition": "SloGate"}, {"Condition": "HasPrometheus"}]}
                }
            }),
            stack_name: "s".into(),
            parameters: BTreeMap::new(),
            physical: BTreeMap::new(),
        }
    }

    #[test]
    fn fn_if_follows_the_conditions_and_no_value_leaves_the_property_out() {
        let mut t = template();
        let key = json!({"Fn::If": ["SloGate", "quality-gate.zip", "monspec.json"]});
        let url =
            json!({"Fn::If": ["HasPrometheus", {"Ref": "PrometheusURL"}, {"Ref": "AWS::NoValue"}]});
        let both = json!({"Fn::If": ["Both", "yes", "no"]});
        assert_eq!(t.resolve(&key).unwrap(), "monspec.json");
        assert_eq!(t.resolve_optional(&url).unwrap(), None);
        assert_eq!(t.resolve(&both).unwrap(), "no");
        t.set_parameter("QualityGate", "slo").unwrap();
        t.set_parameter("PrometheusURL", "http://127.0.0.1:9090")
            .unwrap();
        assert_eq!(t.resolve(&key).unwrap(), "quality-gate.zip");
        assert_eq!(
            t.resolve_optional(&url).unwrap().as_deref(),
            Some("http://127.0.0.1:9090")
        );
        assert_eq!(t.resolve(&both).unwrap(), "yes");
    }

    #[test]
    fn production_shares_its_host_with_its_load_test_through_the_launch_templates_tag() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let t = Template::read(&root.join("cloudformation/unbreakable.json"), "s").unwrap();
        let (_, groups) = t.deployment_groups().unwrap();
        let host = |group: &str| {
            groups
                .iter()
                .find(|(g, _)| g == group)
                .map(|(_, h)| h.clone())
                .unwrap()
        };
        assert_eq!(host("Production"), "DeployProduction");
        assert_eq!(host("Production"), host("ProductionTests"));
        assert_eq!(host("Staging"), host("StagingTests"));
        assert_ne!(host("Staging"), host("Production"));
    }

    /// `QualityGate canary`: the pipeline the template defines reads quality-gate.zip and
    /// registers canary gates whose UserParameters the register function accepts, with the
    /// scopes the parameters give.
    #[test]
    fn the_canary_gate_is_wired_through_the_templates_pipeline() {
        use unbreakable_shared::validation::params::parse_registration_params;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut t = Template::read(&root.join("cloudformation/unbreakable.json"), "s").unwrap();
        // What LocalStack::start gives every template before reading its pipeline.
        t.set_parameter("YourS3BucketName", "unbreakable-local-source")
            .unwrap();
        t.set_physical("BuildValidationApi", "local");
        t.set_parameter("QualityGate", "canary").unwrap();
        t.set_parameter("SliProvider", "prometheus").unwrap();
        t.set_parameter("ValidationWindowMinutes", "0.5").unwrap();
        t.set_parameter("CanaryProductionControl", "sample-Production@-60s")
            .unwrap();
        let pipeline = t.pipeline().unwrap();
        let action = |name: &str| {
            pipeline
                .stages
                .iter()
                .flat_map(|s| &s.actions)
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("no action {name}"))
                .clone()
        };
        assert_eq!(
            action("SourceMonspec").configuration["S3ObjectKey"],
            "quality-gate.zip"
        );
        let params = |name: &str| {
            // As CodePipeline (and the local emulator) substitutes it when the action runs.
            let text = action(name).configuration["UserParameters"].replace(
                "#{codepipeline.PipelineExecutionId}",
                "0d1c5a3e-8a0c-4c1e-9bde-6c3e5d3f2a10",
            );
            parse_registration_params(Some(&text))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .canary
                .unwrap_or_else(|| panic!("{name}: not a canary gate: {text}"))
        };
        let staging = params("RegisterStagingValidation");
        assert_eq!(
            (staging.control.as_str(), staging.experiment.as_str()),
            ("sample-Production", "sample-Staging")
        );
        assert_eq!(
            staging.on_marginal,
            unbreakable_shared::ports::store::OnWarning::Manual
        );
        let production = params("RegisterProductionValidation");
        assert_eq!(
            (production.control.as_str(), production.experiment.as_str()),
            ("sample-Production@-60s", "sample-Production")
        );
        // The other gates keep their forms.
        t.set_parameter("QualityGate", "monspec").unwrap();
        let pipeline = t.pipeline().unwrap();
        let staging = pipeline
            .stages
            .iter()
            .flat_map(|s| &s.actions)
            .find(|a| a.name == "RegisterStagingValidation")
            .unwrap();
        assert!(staging.configuration["UserParameters"].starts_with("StagingToProduction,0.5,"));
    }

    #[test]
    fn a_missing_condition_or_a_bad_fn_if_is_named() {
        let t = template();
        let e = t
            .resolve(&json!({"Fn::If": ["Nope", "a", "b"]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no condition Nope in Conditions"), "{e}");
        let e = t
            .resolve(&json!({"Fn::If": ["SloGate", "a"]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Fn::If needs [condition"), "{e}");
        let e = t
            .resolve(&json!({"Ref": "AWS::NoValue"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS::NoValue where a value is needed"), "{e}");
    }
}
