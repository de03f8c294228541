//! The actions over the in-memory doubles of Auto Scaling, Unleash and CodeDeploy.

use std::sync::Arc;

use super::actions::*;
use crate::ports::deploy::{DeploymentInfo, DeploymentStatus, S3Revision};
use crate::ports::lanes::LaneKey;
use crate::ports::memory::{MemoryDeployer, MemoryStore};
use crate::ports::remediation::{ActionProgress, RemediationActions};
use crate::ports::scaling::{MemoryScaling, ScalingGroup};
use crate::ports::toggles::{FeatureToggles, MemoryToggles};
use crate::remediation::file::{Action, FlagToggle, RemediationAction};
use crate::remediation::sequence::{Problem, ProblemSource};
use crate::rollback::{RollbackExecutor, RollbackSettings};

/// The problem the actions are for: it opened a minute after the deployments were created.
fn problem() -> Problem {
    Problem {
        id: "fp@2026-11-22T01:00:00.000Z".into(),
        source: ProblemSource::Alertmanager,
        title: "response_time".into(),
        opened_ms: 60_000,
        link: None,
        alt_title: None,
    }
}

fn lane() -> LaneKey {
    LaneKey {
        service: "SampleDevOpsApp".into(),
        stage: "Production".into(),
    }
}

fn action(action: Action) -> RemediationAction {
    RemediationAction {
        name: String::new(),
        description: String::new(),
        action,
        wait_ms: 60_000,
        allow_unconfirmed: false,
    }
}

fn revision(key: &str) -> S3Revision {
    S3Revision {
        bucket: "artifacts".into(),
        key: key.into(),
        bundle_type: Some("zip".into()),
        version: None,
        etag: None,
    }
}

fn deployment(
    id: &str,
    status: DeploymentStatus,
    key: &str,
    previous: Option<&str>,
) -> DeploymentInfo {
    DeploymentInfo {
        id: id.into(),
        application: "SampleDevOpsApp".into(),
        group: "Production".into(),
        status,
        created_ms: Some(0),
        creator: Some("user".into()),
        description: None,
        revision: Some(revision(key)),
        previous_revision: previous.map(revision),
        rollback_of: None,
    }
}

struct World {
    runner: ActionRunner,
    scaling: Arc<MemoryScaling>,
    toggles: Arc<MemoryToggles>,
    deployer: Arc<MemoryDeployer>,
}

fn world(max: i32) -> World {
    let scaling = Arc::new(MemoryScaling::default());
    scaling.add_group(ScalingGroup {
        name: "production-asg".into(),
        min: 1,
        max,
        desired: 1,
        in_service: 1,
    });
    scaling.attach("SampleDevOpsApp", "Production", &["production-asg"]);
    let toggles = Arc::new(MemoryToggles::new(&[("EnablePromotion", true)]));
    let deployer = Arc::new(MemoryDeployer::default());
    deployer.deployments.lock().unwrap().insert(
        "d-4".into(),
        deployment(
            "d-4",
            DeploymentStatus::Succeeded,
            "build4.zip",
            Some("build3.zip"),
        ),
    );
    let runner = ActionRunner {
        rollbacks: Arc::new(RollbackExecutor {
            deployer: deployer.clone(),
            ledger: Arc::new(MemoryStore::default()),
            settings: RollbackSettings {
                lookback: std::time::Duration::from_secs(3600),
                cooldown: std::time::Duration::from_secs(900),
            },
        }),
        scaling: scaling.clone(),
        toggles: Some(toggles.clone() as Arc<dyn FeatureToggles>),
        timeouts: ActionTimeouts::default(),
    };
    World {
        runner,
        scaling,
        toggles,
        deployer,
    }
}

fn handle_of(progress: &ActionProgress) -> serde_json::Value {
    match progress {
        ActionProgress::Pending { handle, .. } => handle.clone(),
        other => panic!("expected pending, got {other:?}"),
    }
}

fn finished(progress: ActionProgress) -> (bool, String) {
    match progress {
        ActionProgress::Finished { ok, details } => (ok, details),
        other => panic!("expected finished, got {other:?}"),
    }
}

#[tokio::test]
async fn scaling_sets_one_more_instance_and_finishes_when_it_is_in_service() {
    let w = world(3);
    let started = w
        .runner
        .start(&lane(), &problem(), &action(Action::Scaling { by: 1 }))
        .await;
    let handle = handle_of(&started);
    assert_eq!(
        w.scaling.desired_changes(),
        [("production-asg".to_string(), 2)]
    );

    let still = w.runner.check(&lane(), &handle, 0, 10_000).await;
    assert!(
        matches!(&still, ActionProgress::Pending { details, .. } if details.contains("InService 1/2")),
        "{still:?}"
    );

    w.scaling.set_in_service("production-asg", 2);
    let (ok, details) = finished(w.runner.check(&lane(), &handle, 0, 34_000).await);
    assert!(ok);
    assert_eq!(
        details,
        "desired 1 → 2 of group production-asg, InService 2/2 after 34 s"
    );
}

#[tokio::test]
async fn scaling_beyond_max_size_fails_with_the_reason_and_changes_nothing() {
    let w = world(1);
    let (ok, details) = finished(
        w.runner
            .start(&lane(), &problem(), &action(Action::Scaling { by: 1 }))
            .await,
    );
    assert!(!ok);
    assert_eq!(
        details,
        "desired 2 would exceed MaxSize 1 of group production-asg"
    );
    assert!(w.scaling.desired_changes().is_empty());
}

#[tokio::test]
async fn instances_that_never_come_fail_the_scaling_at_its_timeout() {
    let w = world(3);
    let handle = handle_of(
        &w.runner
            .start(&lane(), &problem(), &action(Action::Scaling { by: 1 }))
            .await,
    );
    let (ok, details) = finished(w.runner.check(&lane(), &handle, 0, 600_000).await);
    assert!(!ok);
    assert!(
        details.contains("only 1/2 InService after 600 s"),
        "{details}"
    );
}

#[tokio::test]
async fn a_feature_toggle_is_switched_and_read_back_and_an_unknown_flag_fails() {
    let w = world(3);
    let off = Action::FeatureToggle {
        toggles: vec![FlagToggle {
            flag: "EnablePromotion".into(),
            enabled: false,
        }],
    };
    let (ok, details) = finished(w.runner.start(&lane(), &problem(), &action(off)).await);
    assert!(ok);
    assert_eq!(details, "EnablePromotion on → off, read back");
    assert_eq!(w.toggles.state("EnablePromotion"), Some(false));
    assert_eq!(w.toggles.changes().len(), 1);

    let unknown = Action::FeatureToggle {
        toggles: vec![FlagToggle {
            flag: "NoSuchFlag".into(),
            enabled: false,
        }],
    };
    let (ok, details) = finished(w.runner.start(&lane(), &problem(), &action(unknown)).await);
    assert!(!ok);
    assert!(
        details.contains("\"NoSuchFlag\" does not exist in project \"default\""),
        "{details}"
    );

    let mut without = world(3);
    without.runner.toggles = None;
    let toggle = Action::FeatureToggle {
        toggles: vec![FlagToggle {
            flag: "EnablePromotion".into(),
            enabled: false,
        }],
    };
    let (ok, details) = finished(
        without
            .runner
            .start(&lane(), &problem(), &action(toggle))
            .await,
    );
    assert!(!ok);
    assert!(details.contains("UnleashUrl"), "{details}");
}

#[tokio::test]
async fn a_rollback_redeploys_the_previous_revision_and_waits_for_it() {
    let w = world(3);
    let handle = handle_of(
        &w.runner
            .start(&lane(), &problem(), &action(Action::Rollback))
            .await,
    );
    let redeploys = w.deployer.redeploys.lock().unwrap().clone();
    assert_eq!(redeploys.len(), 1);
    assert_eq!(redeploys[0].2.key, "build3.zip");
    assert!(
        redeploys[0].3.starts_with("Unbreakable rollback")
            && redeploys[0]
                .3
                .contains("replaces d-4 (asked by self-healing)"),
        "{}",
        redeploys[0].3
    );

    w.deployer.deployments.lock().unwrap().insert(
        "d-ROLLBACK1".into(),
        deployment(
            "d-ROLLBACK1",
            DeploymentStatus::InProgress,
            "build3.zip",
            Some("build4.zip"),
        ),
    );
    assert!(matches!(
        w.runner.check(&lane(), &handle, 0, 5_000).await,
        ActionProgress::Pending { .. }
    ));
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .get_mut("d-ROLLBACK1")
        .unwrap()
        .status = DeploymentStatus::Succeeded;
    let (ok, details) = finished(w.runner.check(&lane(), &handle, 0, 41_000).await);
    assert!(ok);
    assert_eq!(
        details,
        "redeployed s3://artifacts/build3.zip as d-ROLLBACK1, Succeeded after 41 s"
    );
}

#[tokio::test]
async fn an_unreadable_handle_fails_without_running_anything() {
    let w = world(3);
    let (ok, details) = finished(
        w.runner
            .check(&lane(), &serde_json::json!({"kind": "teleport"}), 0, 1)
            .await,
    );
    assert!(!ok);
    assert!(details.contains("it is not run again"), "{details}");
    assert!(w.scaling.desired_changes().is_empty());
}

#[tokio::test]
async fn a_self_healing_rollback_of_a_rollback_is_refused_with_the_reason() {
    let w = world(3);
    let mut rollback = deployment(
        "d-5",
        DeploymentStatus::Succeeded,
        "build3.zip",
        Some("build4.zip"),
    );
    rollback.description = Some("Unbreakable rollback for problem P-1: build3 replaces d-4".into());
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .insert("d-5".into(), rollback);
    let (ok, details) = finished(
        w.runner
            .start(&lane(), &problem(), &action(Action::Rollback))
            .await,
    );
    assert!(!ok);
    assert!(
        details.contains("d-5 is itself a rollback; not rolling back a rollback"),
        "{details}"
    );
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_self_healing_rollback_of_a_deployment_newer_than_the_problem_is_refused() {
    let w = world(3);
    let mut fix = deployment(
        "d-6",
        DeploymentStatus::Succeeded,
        "build6.zip",
        Some("build4.zip"),
    );
    fix.created_ms = Some(90_000);
    w.deployer
        .deployments
        .lock()
        .unwrap()
        .insert("d-6".into(), fix);
    let (ok, details) = finished(
        w.runner
            .start(&lane(), &problem(), &action(Action::Rollback))
            .await,
    );
    assert!(!ok);
    assert!(details.contains("it cannot have caused it"), "{details}");
    assert!(w.deployer.redeploys.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_second_rollback_inside_the_group_cooldown_is_refused() {
    let w = world(3);
    handle_of(
        &w.runner
            .start(&lane(), &problem(), &action(Action::Rollback))
            .await,
    );
    let mut other = problem();
    other.id = "other@2026-11-22T01:00:00.000Z".into();
    let (ok, details) = finished(
        w.runner
            .start(&lane(), &other, &action(Action::Rollback))
            .await,
    );
    assert!(!ok);
    assert!(details.contains("cooldown is 15 minutes"), "{details}");
    assert_eq!(w.deployer.redeploys.lock().unwrap().len(), 1);
}
