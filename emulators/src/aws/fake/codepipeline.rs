//! CodePipeline_20150709: one handler per operation the fake serves.

use serde_json::{json, Value};

use super::{err, field, now_secs, ApprovalCall, AwsError, FakeState, JobStatus};

/// One `CodePipeline_20150709.<op>` call; an operation the fake lacks is
/// `UnknownOperationException`.
pub(super) fn operation(s: &mut FakeState, op: &str, body: &Value) -> Result<Value, AwsError> {
    match op {
        "GetJobDetails" => get_job_details(s, body),
        "PutJobSuccessResult" | "PutJobFailureResult" => put_job_result(s, op, body),
        "GetPipeline" => get_pipeline(s, body),
        "GetPipelineState" => get_pipeline_state(s, body),
        "PutApprovalResult" => put_approval_result(s, body),
        other => Err(err(
            "UnknownOperationException",
            format!("CodePipeline operation {other} is not faked"),
        )),
    }
}

/// The job's Lambda data with the action type and the pipeline context CodePipeline adds.
fn get_job_details(s: &FakeState, body: &Value) -> Result<Value, AwsError> {
    let id = field(body, "jobId")?;
    let job = s
        .jobs
        .get(id)
        .ok_or_else(|| err("JobNotFoundException", format!("Job {id} not found")))?;
    let pipeline = s.pipelines.get(&job.pipeline);
    let action = pipeline.and_then(|p| {
        p.definition["stages"]
            .as_array()?
            .iter()
            .find(|st| st["name"] == job.stage.as_str())?["actions"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == job.action.as_str())
            .cloned()
    });
    let mut data = job.data.clone();
    let object = data
        .as_object_mut()
        .ok_or_else(|| err("ValidationException", "job data"))?;
    object.insert(
        "actionTypeId".into(),
        action.map(|a| a["actionTypeId"].clone()).unwrap_or(
            json!({"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}),
        ),
    );
    let mut context = json!({
        "pipelineName": job.pipeline,
        "stage": {"name": job.stage},
        "action": {"name": job.action, "actionExecutionId": format!("ae-{}", job.id)},
        "pipelineArn": format!("arn:aws:codepipeline:us-east-1:123456789012:{}", job.pipeline),
    });
    if let Some(exec) = &job.execution_id {
        context["pipelineExecutionId"] = json!(exec);
    }
    object.insert("pipelineContext".into(), context);
    Ok(json!({"jobDetails": {"id": job.id, "accountId": "123456789012", "data": data}}))
}

/// PutJobSuccessResult and PutJobFailureResult: a job takes one result; every call is counted.
fn put_job_result(s: &mut FakeState, op: &str, body: &Value) -> Result<Value, AwsError> {
    let id = field(body, "jobId")?.to_string();
    let job = s
        .jobs
        .get_mut(&id)
        .ok_or_else(|| err("JobNotFoundException", format!("Job {id} not found")))?;
    job.result_calls += 1;
    if job.status != JobStatus::Pending {
        return Err(err(
            "InvalidJobStateException",
            format!("Job {id} is already completed"),
        ));
    }
    if op == "PutJobSuccessResult" {
        let summary = body["executionDetails"]["summary"]
            .as_str()
            .map(str::to_string);
        if summary.as_ref().is_some_and(|t| t.chars().count() > 2048) {
            return Err(err(
                "ValidationException",
                "executionDetails.summary: Member must have length less than or equal to 2048",
            ));
        }
        job.status = JobStatus::Succeeded { summary };
    } else {
        let details = &body["failureDetails"];
        let failure_type = details["type"].as_str().unwrap_or_default().to_string();
        let known = [
            "JobFailed",
            "ConfigurationError",
            "PermissionError",
            "RevisionOutOfSync",
            "RevisionUnavailable",
            "SystemUnavailable",
        ];
        if !known.contains(&failure_type.as_str()) {
            return Err(err(
                "ValidationException",
                format!("failureDetails.type: '{failure_type}' is not one of {known:?}"),
            ));
        }
        let message = details["message"].as_str().unwrap_or_default().to_string();
        if message.is_empty() || message.chars().count() > 5000 {
            return Err(err(
                "ValidationException",
                "failureDetails.message: Member must have length between 1 and 5000",
            ));
        }
        job.status = JobStatus::Failed {
            failure_type,
            message,
        };
    }
    Ok(json!({}))
}

fn get_pipeline(s: &FakeState, body: &Value) -> Result<Value, AwsError> {
    let name = field(body, "name")?;
    let p = s.pipelines.get(name).ok_or_else(|| {
        err(
            "PipelineNotFoundException",
            format!("Pipeline {name} not found"),
        )
    })?;
    Ok(
        json!({"pipeline": p.definition, "metadata": {"pipelineArn": format!("arn:aws:codepipeline:us-east-1:123456789012:{name}"), "created": now_secs(), "updated": now_secs()}}),
    )
}

/// Every stage of the definition with its current run and the actions' latest executions.
fn get_pipeline_state(s: &FakeState, body: &Value) -> Result<Value, AwsError> {
    let name = field(body, "name")?;
    let p = s.pipelines.get(name).ok_or_else(|| {
        err(
            "PipelineNotFoundException",
            format!("Pipeline {name} not found"),
        )
    })?;
    let stages: Vec<Value> = p.definition["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|st| {
            let stage = st["name"].as_str().unwrap_or_default();
            let run = p.stages.get(stage);
            let actions: Vec<Value> = st["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let action = a["name"].as_str().unwrap_or_default();
                    let mut state = json!({"actionName": action});
                    if let Some(ar) = run.and_then(|r| r.actions.get(action)) {
                        let mut latest =
                            json!({"status": ar.status, "lastStatusChange": now_secs()});
                        if let Some(t) = &ar.token {
                            latest["token"] = json!(t);
                        }
                        if let Some(sm) = &ar.summary {
                            latest["summary"] = json!(sm);
                        }
                        state["latestExecution"] = latest;
                    }
                    state
                })
                .collect();
            let mut state = json!({"stageName": stage, "actionStates": actions});
            if let Some(r) = run {
                state["latestExecution"] =
                    json!({"pipelineExecutionId": r.execution_id, "status": r.status});
            }
            state
        })
        .collect();
    Ok(
        json!({"pipelineName": name, "pipelineVersion": 1, "stageStates": stages, "created": now_secs(), "updated": now_secs()}),
    )
}

/// Every call is recorded, accepted or not, with the error type it got.
fn put_approval_result(s: &mut FakeState, body: &Value) -> Result<Value, AwsError> {
    let pipeline = field(body, "pipelineName")?.to_string();
    let stage = field(body, "stageName")?.to_string();
    let action = field(body, "actionName")?.to_string();
    let token = field(body, "token")?.to_string();
    let status = body["result"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let summary = body["result"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let outcome = (|| {
        if summary.chars().count() > 512 {
            return Err(err(
                "ValidationException",
                "result.summary: Member must have length less than or equal to 512",
            ));
        }
        if status != "Approved" && status != "Rejected" {
            return Err(err(
                "ValidationException",
                format!("result.status: '{status}' is not one of [Approved, Rejected]"),
            ));
        }
        let p = s.pipelines.get_mut(&pipeline).ok_or_else(|| {
            err(
                "PipelineNotFoundException",
                format!("Pipeline {pipeline} not found"),
            )
        })?;
        let run = p
            .stages
            .get_mut(&stage)
            .ok_or_else(|| err("StageNotFoundException", format!("Stage {stage} not found")))?;
        let ar = run.actions.get_mut(&action).ok_or_else(|| {
            err(
                "ActionNotFoundException",
                format!("Action {action} not found"),
            )
        })?;
        if ar.status.as_deref() != Some("InProgress") {
            return Err(err(
                "ApprovalAlreadyCompletedException",
                format!("Approval for {action} is already completed"),
            ));
        }
        if ar.token.as_deref() != Some(token.as_str()) {
            return Err(err(
                "InvalidApprovalTokenException",
                format!("The token {token} is not valid for {action}"),
            ));
        }
        ar.status = Some(
            if status == "Approved" {
                "Succeeded"
            } else {
                "Failed"
            }
            .into(),
        );
        ar.token = None;
        ar.summary = Some(summary.clone());
        run.status = Some(
            if status == "Approved" {
                "Succeeded"
            } else {
                "Failed"
            }
            .into(),
        );
        Ok(())
    })();
    s.approvals.push(ApprovalCall {
        pipeline,
        stage,
        action,
        token,
        status,
        summary,
        error: outcome.as_ref().err().map(|e| e.kind.to_string()),
        at_ms: (now_secs() * 1000.0) as i64,
    });
    outcome.map(|()| json!({"approvedAt": now_secs()}))
}
