//! CodeDeploy_20141006: one handler per operation the fake serves, and the deployment
//! record they share with the test-facing methods.

use serde_json::{json, Value};

use super::{err, field, now_secs, AwsError, Deployment, FakeState, Group};

/// One `CodeDeploy_20141006.<op>` call; an operation the fake lacks is
/// `UnknownOperationException`.
pub(super) fn operation(s: &mut FakeState, op: &str, body: &Value) -> Result<Value, AwsError> {
    match op {
        "GetDeployment" => get_deployment(s, body),
        "GetDeploymentGroup" => get_deployment_group(s, body),
        "CreateDeploymentGroup" => create_deployment_group(s, body),
        "CreateDeployment" => create_deployment(s, body),
        other => Err(err(
            "UnknownOperationException",
            format!("CodeDeploy operation {other} is not faked"),
        )),
    }
}

fn get_deployment(s: &FakeState, body: &Value) -> Result<Value, AwsError> {
    let id = field(body, "deploymentId")?;
    let d = s.deployments.get(id).ok_or_else(|| {
        err(
            "DeploymentDoesNotExistException",
            format!("The deployment {id} could not be found"),
        )
    })?;
    Ok(json!({"deploymentInfo": deployment_json(d)}))
}

fn get_deployment_group(s: &FakeState, body: &Value) -> Result<Value, AwsError> {
    let app = field(body, "applicationName")?.to_string();
    let group = field(body, "deploymentGroupName")?.to_string();
    // The fake knows an application by its deployment groups.
    if !s.groups.keys().any(|(a, _)| *a == app) {
        return Err(err(
            "ApplicationDoesNotExistException",
            format!("The application {app} does not exist with the user or AWS account."),
        ));
    }
    let g = s.groups.get(&(app.clone(), group.clone())).ok_or_else(|| {
        err(
            "DeploymentGroupDoesNotExistException",
            format!("No deployment group {group} in {app}"),
        )
    })?;
    // CodeDeploy names the lifecycle hook it adds to each attached group.
    let auto_scaling_groups: Vec<Value> = g
        .auto_scaling_groups
        .iter()
        .map(|name| json!({"name": name, "hook": format!("CodeDeploy-managed-automatic-launch-deployment-hook-{group}-{name}")}))
        .collect();
    let mut info = json!({"applicationName": app, "deploymentGroupName": group, "deploymentGroupId": format!("dg-{app}-{group}"), "computePlatform": "Server", "autoScalingGroups": auto_scaling_groups});
    if let Some(id) = &g.last_successful {
        let d = &s.deployments[id];
        info["lastSuccessfulDeployment"] = json!({"deploymentId": id, "status": "Succeeded", "createTime": d.create_time, "endTime": d.create_time});
        info["targetRevision"] = d.revision.clone();
    }
    Ok(json!({"deploymentGroupInfo": info}))
}

fn create_deployment_group(s: &mut FakeState, body: &Value) -> Result<Value, AwsError> {
    let app = field(body, "applicationName")?.to_string();
    let group = field(body, "deploymentGroupName")?.to_string();
    field(body, "serviceRoleArn")?;
    let key = (app.clone(), group.clone());
    if s.groups.contains_key(&key) {
        return Err(err(
            "DeploymentGroupAlreadyExistsException",
            format!("Deployment group {group} already exists."),
        ));
    }
    let mut auto_scaling_groups = Vec::new();
    for name in body["autoScalingGroups"].as_array().into_iter().flatten() {
        match name.as_str() {
            Some(name) if !name.is_empty() => auto_scaling_groups.push(name.to_string()),
            _ => {
                return Err(err(
                    "InvalidAutoScalingGroupException",
                    format!("autoScalingGroups: {name} is not an Auto Scaling group name"),
                ))
            }
        }
    }
    s.groups.insert(
        key,
        Group {
            auto_scaling_groups,
            ..Group::default()
        },
    );
    Ok(json!({"deploymentGroupId": format!("dg-{app}-{group}")}))
}

fn create_deployment(s: &mut FakeState, body: &Value) -> Result<Value, AwsError> {
    if !s.create_deployment_failures.is_empty() {
        let (kind, message) = s.create_deployment_failures.remove(0);
        return Err(err(&kind, message));
    }
    let app = field(body, "applicationName")?.to_string();
    let group = field(body, "deploymentGroupName")?.to_string();
    if !s.groups.contains_key(&(app.clone(), group.clone())) {
        return Err(err(
            "DeploymentGroupDoesNotExistException",
            format!("No deployment group {group} in {app}"),
        ));
    }
    let revision = body["revision"].clone();
    let s3 = &revision["s3Location"];
    if revision["revisionType"] != "S3"
        || s3["bucket"].as_str().is_none()
        || s3["key"].as_str().is_none()
    {
        return Err(err(
            "InvalidRevisionException",
            "revision must be an S3 location with bucket and key",
        ));
    }
    let description = body["description"].as_str().unwrap_or_default().to_string();
    if description.chars().count() > 100_000 {
        return Err(err("DescriptionTooLongException", "description too long"));
    }
    let id = deploy_locked(s, &app, &group, revision, "user", &description);
    Ok(json!({"deploymentId": id}))
}

fn deployment_json(d: &Deployment) -> Value {
    let mut info = json!({
        "deploymentId": d.id, "applicationName": d.application, "deploymentGroupName": d.group,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime", "revision": d.revision,
        "status": d.status, "creator": d.creator, "description": d.description,
        "createTime": d.create_time, "completeTime": d.create_time, "fileExistsBehavior": "OVERWRITE",
    });
    if let Some(p) = &d.previous_revision {
        info["previousRevision"] = p.clone();
    }
    if let Some(message) = &d.error_message {
        info["errorInformation"] = json!({"code": "SCRIPT_FAILED", "message": message});
    }
    info
}

/// Record a deployment; without an agent it succeeds at once and the group moves to its revision.
pub(super) fn deploy_locked(
    s: &mut FakeState,
    application: &str,
    group: &str,
    revision: Value,
    creator: &str,
    description: &str,
) -> String {
    let id = s.deployment_id();
    let by_agent = s.agent_runs_deployments;
    let g = s
        .groups
        .entry((application.to_string(), group.to_string()))
        .or_default();
    // previousRevision is the group's last successfully deployed revision when this one starts.
    let previous = g.current_revision.clone();
    if !by_agent {
        g.current_revision = Some(revision.clone());
        g.last_successful = Some(id.clone());
    }
    s.deployments.insert(
        id.clone(),
        Deployment {
            id: id.clone(),
            application: application.to_string(),
            group: group.to_string(),
            revision,
            previous_revision: previous,
            status: if by_agent { "Created" } else { "Succeeded" }.into(),
            creator: creator.to_string(),
            description: description.to_string(),
            create_time: now_secs(),
            error_message: None,
        },
    );
    id
}
