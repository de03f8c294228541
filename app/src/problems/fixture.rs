//! The world the problem use case's tests and the webhook handler's tests share: build 4
//! (d-4) runs in Production since 2 minutes before problem -7_1V2 opened on SERVICE-PROD;
//! build 3 (d-3) before it. The problem is OPEN in Dynatrace.

use std::sync::Arc;
use std::time::Duration;

use super::ProblemService;
use crate::inbound::dynatrace::{parse_notification, Notification};
use crate::ports::deploy::{DeploymentInfo, DeploymentStatus, S3Revision};
use crate::ports::lanes::{LaneConfig, LaneConfigs, LaneKey, MemoryLaneConfigs, MemoryLanes};
use crate::ports::memory::{MemoryDeployer, MemoryMonitoring, MemoryStore};
use crate::ports::monitoring::{ProblemDetails, ProblemStatus, RecordedDeployment};
use crate::rollback::{RollbackExecutor, RollbackSettings};
use crate::time::now_ms;

pub const PID: &str = "-7_1V2";
pub const OPEN: &str = r#"{"State":"OPEN","ProblemID":"P-7","PID":"-7_1V2","ImpactedEntities":[{"entity":"SERVICE-PROD"},{"entity":"SERVICE-PROD"}]}"#;

pub fn revision(key: &str) -> S3Revision {
    S3Revision {
        bucket: "b".into(),
        key: key.into(),
        bundle_type: Some("zip".into()),
        version: None,
        etag: None,
    }
}

pub fn deployment(id: &str, created_ms: i64, key: &str, previous: &str) -> DeploymentInfo {
    DeploymentInfo {
        id: id.into(),
        application: "app".into(),
        group: "Production".into(),
        status: DeploymentStatus::Succeeded,
        created_ms: Some(created_ms),
        creator: Some("user".into()),
        description: None,
        revision: Some(revision(key)),
        previous_revision: Some(revision(previous)),
        rollback_of: None,
    }
}

pub fn event(entity: &str, start_ms: i64, deployment_id: &str) -> RecordedDeployment {
    RecordedDeployment {
        entity_id: entity.into(),
        start_ms,
        properties: [
            ("CodeDeploy.DeploymentId", deployment_id),
            ("CodeDeploy.Application", "app"),
            ("CodeDeploy.DeploymentGroup", "Production"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

/// A notification body, read as the handler reads it.
pub fn notification(body: &str) -> Notification {
    parse_notification(body.as_bytes()).expect("a notification")
}

pub fn production() -> LaneKey {
    LaneKey {
        service: "app".into(),
        stage: "Production".into(),
    }
}

/// The in-memory sides of the ports, kept to look at after a call.
pub struct World {
    pub store: Arc<MemoryStore>,
    pub deployer: Arc<MemoryDeployer>,
    pub monitoring: Arc<MemoryMonitoring>,
    pub lanes: Arc<MemoryLanes>,
    pub configs: Arc<MemoryLaneConfigs>,
    pub problem_start: i64,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        let problem_start = now_ms() - 60_000;
        let deployer = Arc::new(MemoryDeployer::default());
        for d in [
            deployment("d-3", problem_start - 600_000, "build3.zip", "build2.zip"),
            deployment("d-4", problem_start - 120_000, "build4.zip", "build3.zip"),
        ] {
            deployer.deployments.lock().unwrap().insert(d.id.clone(), d);
        }
        let monitoring = Arc::new(MemoryMonitoring::default());
        monitoring.deployments.lock().unwrap().insert(
            "SERVICE-PROD".into(),
            vec![event("SERVICE-PROD", problem_start - 110_000, "d-4")],
        );
        monitoring.problems.lock().unwrap().insert(
            PID.into(),
            ProblemDetails {
                id: PID.into(),
                display_id: Some("P-7".into()),
                status: ProblemStatus::Open,
                title: Some("Response time degradation".into()),
                start_ms: problem_start,
                entities: vec!["SERVICE-PROD".into()],
            },
        );
        World {
            store: Arc::new(MemoryStore::default()),
            deployer,
            monitoring,
            lanes: Arc::new(MemoryLanes::new()),
            configs: Arc::new(MemoryLaneConfigs::default()),
            problem_start,
        }
    }

    /// The use case over this world: a lookback of an hour, a cooldown of 15 minutes.
    pub fn service(&self) -> ProblemService {
        ProblemService {
            monitoring: self.monitoring.clone(),
            deployer: self.deployer.clone(),
            lanes: self.lanes.clone(),
            configs: self.configs.clone(),
            wakeups: Arc::new(crate::ports::wakeups::SweepOnly),
            rollbacks: Arc::new(RollbackExecutor {
                deployer: self.deployer.clone(),
                ledger: self.store.clone(),
                settings: RollbackSettings {
                    lookback: Duration::from_secs(3600),
                    cooldown: Duration::from_secs(900),
                },
            }),
            tenant_url: Some("https://abc123.live.dynatrace.com".into()),
        }
    }

    /// Production gets a remediation.yaml: its problems go to its lane.
    pub async fn with_remediation(&self) {
        let config = LaneConfig {
            remediation_yaml: Some("remediations: []".into()),
            ..Default::default()
        };
        self.configs
            .put_config(&production(), &config)
            .await
            .unwrap();
    }
}
