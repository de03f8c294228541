//! End to end: the tutorial's four builds through `unbreakable local`'s stack — the real
//! function binaries, moto, the CodePipeline/CodeDeploy emulator running the template's
//! pipeline, the local CodeDeploy agent running the bundles' hooks (the real sample app and
//! load test), and the Dynatrace simulator fed with the apps' live measurements. Nothing
//! is scripted: every verdict, the problem and the rollback come from what was measured.

use std::time::Duration;

use unbreakable_local::{marked_processes, LocalOptions, LocalStack, QualityGate};

/// One whole stack at a time: two would compete for the 2 cores the timings assume, and for
/// the app ports each stack picks at start but binds only when a build is deployed.
static ONE_STACK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tutorial_runs_end_to_end_with_real_decisions() {
    let _alone = ONE_STACK_AT_A_TIME.lock().await;
    let options = LocalOptions {
        window: Duration::from_secs(20),
        tick: Duration::from_secs(2),
        watch: Duration::from_secs(20),
        quiet: false,
        ..LocalOptions::default()
    };
    let mut stack = LocalStack::start(options).await.expect("local stack");
    let marker = stack.marker.clone();
    for build in [1, 2, 3, 4] {
        stack.release(build).await.expect("release");
    }
    stack.settle().await;
    let summary = stack.summary().await;
    println!("{}", summary.render());

    // Every approval decision and its reason.
    let decisions = summary.decisions();
    assert_eq!(
        decisions,
        vec![
            (1, "ApproveStaging".into(), true),
            (1, "ApproveProduction".into(), true),
            (2, "ApproveStaging".into(), false),
            (3, "ApproveStaging".into(), true),
            (3, "ApproveProduction".into(), true),
            (4, "ApproveStaging".into(), true),
            (4, "ApproveProduction".into(), false),
        ],
        "{}",
        summary.render()
    );
    let approval = |build: u32, action: &str| {
        summary
            .approval_summary(build, action)
            .unwrap_or_else(|| panic!("build {build}: no {action} decision"))
    };
    // Build 1 had nothing to compare with: approved, and the summary says why.
    assert!(
        approval(1, "ApproveStaging").contains("without data (warn)"),
        "{}",
        approval(1, "ApproveStaging")
    );
    // Build 2: half of /api/invoke fails in staging.
    let build2 = approval(2, "ApproveStaging");
    assert!(
        build2.starts_with("REJECTED StagingToProduction"),
        "{build2}"
    );
    assert!(build2.contains("failure rate"), "{build2}");
    assert!(approval(3, "ApproveProduction")
        .starts_with("APPROVED ProductionToProductionLastHour: all 9 signatures passed"));
    assert!(approval(4, "ApproveStaging")
        .starts_with("APPROVED StagingToProduction: all 9 signatures passed"));
    // Build 4 in production: twice as slow.
    let build4 = approval(4, "ApproveProduction");
    assert!(
        build4.starts_with("REJECTED ProductionToProductionLastHour"),
        "{build4}"
    );
    assert!(build4.contains("response time"), "{build4}");
    // Every PutApprovalResult was accepted: no stray or superseded call.
    assert_eq!(summary.approvals.len(), 7);
    assert!(summary.approvals.iter().all(|a| a.error.is_none()));

    // Exactly one rollback, of production, to build 3's revision.
    let rollbacks = summary.rollbacks();
    assert_eq!(rollbacks.len(), 1, "{:#?}", summary.deployments);
    let rollback = rollbacks[0];
    assert_eq!(rollback.group, "Production");
    assert_eq!(rollback.status, "Succeeded");
    let build3 = summary.executions.iter().find(|e| e.build == 3).unwrap();
    let build3_production = build3
        .deployments
        .iter()
        .find(|(group, _)| group == "Production")
        .and_then(|(_, id)| summary.deployments.iter().find(|d| &d.id == id))
        .expect("build 3 production deployment");
    assert_eq!(rollback.revision, build3_production.revision);

    // The problem opened on production, got the function's comment, and closed.
    assert_eq!(summary.problems.len(), 1, "{:#?}", summary.problems);
    let problem = &summary.problems[0];
    assert_eq!(problem["status"], "CLOSED");
    let comments: Vec<_> = summary
        .comments
        .iter()
        .filter(|(id, _)| problem["problemId"] == id.as_str())
        .collect();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1["content"]
            .as_str()
            .unwrap_or_default()
            .contains(&rollback.id),
        "{comments:?}"
    );

    // The report lists every build's validations.
    for e in &summary.executions {
        let expected = if e.build == 2 { 1 } else { 2 };
        assert_eq!(
            summary.validations(&e.execution_id).len(),
            expected,
            "build {}",
            e.build
        );
    }
    let page = reqwest::get(&summary.report_url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<svg"));

    // Nothing is left running: no app, load test or function of this run.
    assert!(!marked_processes(&marker).is_empty());
    stack.shutdown().await;
    assert_eq!(marked_processes(&marker), Vec::<u32>::new());
}

/// `unbreakable local --gate slo`: the same pipeline gated by `slo/local/slo.yaml`, measured
/// by a real Prometheus scraping the apps. The scores come from the apps' real metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_slo_gate_decides_builds_1_to_4_by_their_scores() {
    let _alone = ONE_STACK_AT_A_TIME.lock().await;
    let options = LocalOptions {
        gate: QualityGate::Slo,
        window: Duration::from_secs(20),
        tick: Duration::from_secs(2),
        watch: Duration::from_secs(20),
        quiet: false,
        ..LocalOptions::default()
    };
    let mut stack = LocalStack::start(options).await.expect("local stack");
    let marker = stack.marker.clone();
    assert!(stack.prometheus.is_some(), "--gate slo starts Prometheus");
    for build in [1, 2, 3, 4] {
        stack.release(build).await.expect("release");
    }
    stack.settle().await;
    let summary = stack.summary().await;
    println!("{}", summary.render());

    let decisions = summary.decisions();
    assert_eq!(
        decisions,
        vec![
            (1, "ApproveStaging".into(), true),
            (1, "ApproveProduction".into(), true),
            (2, "ApproveStaging".into(), false),
            (3, "ApproveStaging".into(), true),
            (3, "ApproveProduction".into(), true),
            (4, "ApproveStaging".into(), true),
            // A warning, approved as the local stack's OnSloWarning says.
            (4, "ApproveProduction".into(), true),
        ],
        "{}",
        summary.render()
    );

    // The stored evaluations, as the report's JSON serves them.
    let evaluation = |build: u32, stage: &str| -> serde_json::Value {
        let e = summary
            .executions
            .iter()
            .find(|e| e.build == build)
            .unwrap();
        summary
            .validations(&e.execution_id)
            .into_iter()
            .find(|v| v["stage"] == stage)
            .map(|v| v["result"].clone())
            .unwrap_or_else(|| panic!("build {build} {stage}: no validation"))
    };
    for (build, stage, result) in [
        (1, "Staging", "pass"),
        (1, "Production", "pass"),
        (2, "Staging", "fail"),
        (3, "Staging", "pass"),
        (3, "Production", "pass"),
        (4, "Staging", "pass"),
        (4, "Production", "warning"),
    ] {
        let e = evaluation(build, stage);
        assert_eq!(e["gate"], "slo");
        assert_eq!(e["result"], result, "build {build} {stage}: {e:#}");
        assert_eq!(e["service"], "sample");
        assert_eq!(e["provider"], "prometheus");
    }
    // Build 1 had nothing to compare with: met, and marked so.
    assert_eq!(evaluation(1, "Staging")["noBaseline"], true);
    // Build 2 failed on its key SLI, the error rate.
    let build2 = evaluation(2, "Staging");
    let error_rate = build2["indicatorResults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["displayName"] == "Error rate (%)")
        .unwrap();
    assert_eq!(error_rate["status"], "fail");
    assert_eq!(error_rate["keySli"], true);
    assert!(
        error_rate["value"]["value"].as_f64().unwrap() > 5.0,
        "{error_rate:#}"
    );
    // Build 3 compared with build 1 (the last passing staging evaluation), not build 2.
    let build1 = summary.executions.iter().find(|e| e.build == 1).unwrap();
    assert_eq!(
        evaluation(3, "Staging")["comparedEvaluations"],
        serde_json::json!([build1.execution_id])
    );
    // Build 4 in production: slower than build 3 there, a warning.
    let build4 = evaluation(4, "Production");
    let score = build4["score"].as_f64().unwrap();
    assert!((60.0..90.0).contains(&score), "{build4:#}");
    let response = &build4["indicatorResults"][0];
    assert_eq!(response["status"], "warning", "{build4:#}");
    assert!(
        response["value"]["value"].as_f64().unwrap()
            > 1.25 * response["value"]["comparedValue"].as_f64().unwrap()
    );

    let approval = |build: u32, action: &str| {
        summary
            .approval_summary(build, action)
            .unwrap_or_else(|| panic!("build {build}: no {action} decision"))
    };
    let rejected = approval(2, "ApproveStaging");
    assert!(rejected.starts_with("SLO FAIL, score"), "{rejected}");
    assert!(rejected.contains("Error rate (%) [key] fail"), "{rejected}");
    assert!(approval(4, "ApproveProduction").starts_with("SLO WARNING, score"));

    // The problem still rolls build 4 back, as in the tutorial.
    assert_eq!(summary.rollbacks().len(), 1, "{:#?}", summary.deployments);

    // The report shows the evaluations as Bridge does: objectives × builds, one cell each.
    let page = reqwest::get(&summary.report_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("aria-label=\"SLO objectives by build\""),
        "no heatmap"
    );
    for class in ["cell pass", "cell fail", "cell warning"] {
        assert!(page.contains(class), "no \"{class}\" cell in the heatmap");
    }
    assert_eq!(
        summary.report["sloEvaluations"].as_array().map(Vec::len),
        Some(7),
        "every evaluation in the report's JSON"
    );

    assert!(!marked_processes(&marker).is_empty());
    stack.shutdown().await;
    assert_eq!(marked_processes(&marker), Vec::<u32>::new());
}

/// `unbreakable local --gate canary`: the same pipeline judged by `canary/local/canary.yaml`,
/// each metric's points taken from the real Prometheus scraping the apps. Staging is judged
/// against production over the same window, production against itself two windows earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_canary_gate_decides_builds_1_to_4_from_the_measured_distributions() {
    let _alone = ONE_STACK_AT_A_TIME.lock().await;
    let options = LocalOptions {
        gate: QualityGate::Canary,
        // The run command's window: about 25 points a side at the local 1 s scrapes.
        window: Duration::from_secs(30),
        tick: Duration::from_secs(2),
        watch: Duration::from_secs(20),
        quiet: false,
        ..LocalOptions::default()
    };
    let mut stack = LocalStack::start(options).await.expect("local stack");
    let marker = stack.marker.clone();
    assert!(
        stack.prometheus.is_some(),
        "--gate canary starts Prometheus"
    );
    for build in [1, 2, 3, 4] {
        stack.release(build).await.expect("release");
    }
    stack.settle().await;
    let summary = stack.summary().await;
    println!("{}", summary.render());

    assert_eq!(
        summary.decisions(),
        vec![
            // No control yet (nothing ran there before): marginal, approved as the local
            // stack's OnCanaryMarginal says.
            (1, "ApproveStaging".into(), true),
            (1, "ApproveProduction".into(), true),
            (2, "ApproveStaging".into(), false),
            (3, "ApproveStaging".into(), true),
            (3, "ApproveProduction".into(), true),
            (4, "ApproveStaging".into(), true),
            (4, "ApproveProduction".into(), false),
        ],
        "{}",
        summary.render()
    );

    // The stored judgements, as the report's JSON serves them.
    let judgement = |build: u32, stage: &str| -> serde_json::Value {
        let e = summary
            .executions
            .iter()
            .find(|e| e.build == build)
            .unwrap();
        summary
            .validations(&e.execution_id)
            .into_iter()
            .find(|v| v["stage"] == stage)
            .map(|v| v["result"].clone())
            .unwrap_or_else(|| panic!("build {build} {stage}: no validation"))
    };
    let metric = |j: &serde_json::Value, name: &str| -> serde_json::Value {
        j["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no metric {name}: {j:#}"))
    };
    for (build, stage, outcome) in [
        (1, "Staging", "noControl"),
        (2, "Staging", "fail"),
        (3, "Staging", "pass"),
        (3, "Production", "pass"),
        (4, "Staging", "pass"),
        (4, "Production", "fail"),
    ] {
        let j = judgement(build, stage);
        assert_eq!(j["gate"], "canary");
        assert_eq!(j["outcome"], outcome, "build {build} {stage}: {j:#}");
        assert_eq!(j["provider"], "prometheus");
    }
    // Build 1 in production compared with nothing: not a fail.
    assert_ne!(judgement(1, "Production")["outcome"], "fail");
    // Build 2: its error rate, every 2nd invoke failing against none in build 1's staging.
    let errors = metric(&judgement(2, "Staging"), "error_rate");
    assert_eq!(errors["classification"], "high", "{errors:#}");
    assert!(
        errors["experiment"]["mean"].as_f64().unwrap() > 0.03,
        "{errors:#}"
    );
    assert!(
        errors["mannWhitney"]["pValue"].as_f64().unwrap() < 0.02,
        "{errors:#}"
    );
    // Build 3 in staging against build 2 there: a change in response time, if any, is
    // below what counts (a mean ratio of 1.2).
    let staging = metric(&judgement(3, "Staging"), "response_time");
    assert_eq!(staging["classification"], "pass", "{staging:#}");
    assert!(staging["deviation"].as_f64().unwrap() < 1.2, "{staging:#}");
    // Build 4 in production: slower than build 3 was there, until it is rolled back.
    let slow = metric(&judgement(4, "Production"), "response_time");
    assert_eq!(slow["classification"], "high", "{slow:#}");
    assert!(slow["deviation"].as_f64().unwrap() >= 1.2, "{slow:#}");
    // Every judgement says what it could have detected.
    assert!(slow["power"]["detectable"] == true, "{slow:#}");

    let approval = |build: u32, action: &str| {
        summary
            .approval_summary(build, action)
            .unwrap_or_else(|| panic!("build {build}: no {action} decision"))
    };
    assert!(
        approval(1, "ApproveStaging").starts_with("canary NO CONTROL (as marginal)"),
        "{}",
        approval(1, "ApproveStaging")
    );
    let rejected = approval(2, "ApproveStaging");
    assert!(rejected.starts_with("canary FAIL (score "), "{rejected}");
    assert!(rejected.contains("error_rate HIGH p="), "{rejected}");
    let rejected = approval(4, "ApproveProduction");
    assert!(rejected.contains("response_time HIGH p="), "{rejected}");

    // The problem still rolls build 4 back, as in the tutorial.
    assert_eq!(summary.rollbacks().len(), 1, "{:#?}", summary.deployments);

    // The report draws each judgement's distributions with the statement of power.
    let page = reqwest::get(&summary.report_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<h2>Canary judgements</h2>"),
        "no canary section"
    );
    assert!(page.contains("aria-label=\"response_time: control and experiment\""));
    assert!(page.contains("could not have been detected</strong>"));

    assert!(!marked_processes(&marker).is_empty());
    stack.shutdown().await;
    assert_eq!(marked_processes(&marker), Vec::<u32>::new());
}
