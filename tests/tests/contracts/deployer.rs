//! The deployer ([`Deployer`]): the in-memory double and the CodeDeploy adapter over the
//! project's CodeDeploy fake, held to the same checks. Each side comes with a [`DeployWorld`]
//! that records deployments as CodeDeploy would (the double's are data behind the port) and
//! reads back what a redeploy asked CodeDeploy to create.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use unbreakable_emulators::aws::AwsFake;
use unbreakable_shared::aws::codedeploy::CodeDeployDeployer;
use unbreakable_shared::aws::declared::DeclaredActions;
use unbreakable_shared::aws::AwsClients;
use unbreakable_shared::ports::deploy::{
    DeployError, Deployer, DeploymentInfo, DeploymentStatus, S3Revision,
};
use unbreakable_shared::ports::memory::MemoryDeployer;

const APP: &str = "SampleDevOpsApp";

/// What a redeploy asked CodeDeploy for: (application, group, revision, description).
type Created = (String, String, S3Revision, String);

/// What a contract arranges on either side, and what it reads back of the service.
trait DeployWorld {
    fn deployer(&self) -> &dyn Deployer;
    fn create_group(&self, application: &str, group: &str);
    /// A deployment of `revision` that ran to success or failure, as CodeDeploy records it;
    /// returns its id.
    fn deploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
        succeeded: bool,
    ) -> String;
    /// What CodeDeploy was asked to create as deployment `id`, if it was.
    fn created(&self, id: &str) -> Option<Created>;
    /// How many deployments CodeDeploy has, however made.
    fn deployments_made(&self) -> usize;
    /// The next CreateDeployment is refused.
    fn refuse_next_create(&self);
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn revision(build: &str) -> S3Revision {
    S3Revision {
        bucket: "unbreakable-artifacts".into(),
        key: format!("{APP}/{build}.zip"),
        bundle_type: Some("zip".into()),
        version: Some(format!("version-{build}")),
        etag: Some(format!("etag-{build}")),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, DeployError>, name: &str) {
    match result {
        Err(DeployError::NotFound(why)) => assert!(why.contains(name), "{why}"),
        other => panic!("{name}: expected NotFound, got {other:?}"),
    }
}

/// A deployment reads back as CodeDeploy recorded it: its group, status, creator,
/// description and revision, and the revision the group ran before it (none for the group's
/// first; the last that succeeded, for one after a failure).
async fn a_deployment_reads_back_as_recorded(world: &dyn DeployWorld) {
    world.create_group(APP, "Production");
    let before = now_ms();
    let first = world.deploy(APP, "Production", &revision("build-1"), "build 1", true);
    let second = world.deploy(APP, "Production", &revision("build-2"), "build 2", true);
    let after = now_ms();

    let info = world.deployer().deployment(&second).await.unwrap();
    let created = info.created_ms.expect("CodeDeploy says when");
    assert!(
        (before - 1_000..=after + 1_000).contains(&created),
        "created at {created}, deployed between {before} and {after}"
    );
    assert_eq!(
        info,
        DeploymentInfo {
            id: second.clone(),
            application: APP.into(),
            group: "Production".into(),
            status: DeploymentStatus::Succeeded,
            created_ms: Some(created),
            creator: Some("user".into()),
            description: Some("build 2".into()),
            revision: Some(revision("build-2")),
            previous_revision: Some(revision("build-1")),
            rollback_of: None,
        }
    );
    assert_eq!(
        world
            .deployer()
            .deployment(&first)
            .await
            .unwrap()
            .previous_revision,
        None,
        "the group's first deployment has nothing before it"
    );

    let failed = world.deploy(APP, "Production", &revision("build-3"), "build 3", false);
    let info = world.deployer().deployment(&failed).await.unwrap();
    assert_eq!(info.status, DeploymentStatus::Failed);
    assert_eq!(info.previous_revision, Some(revision("build-2")));
    let after_failure = world.deploy(APP, "Production", &revision("build-4"), "build 4", true);
    assert_eq!(
        world
            .deployer()
            .deployment(&after_failure)
            .await
            .unwrap()
            .previous_revision,
        Some(revision("build-2")),
        "a failed deployment is not what the group ran"
    );

    assert_not_found(
        world.deployer().deployment("d-NOSUCH000").await,
        "d-NOSUCH000",
    );
}

/// The group's last successful deployment is the newest that succeeded, in that group; a
/// group without one has none.
async fn the_last_successful_deployment_is_the_newest_that_succeeded(world: &dyn DeployWorld) {
    world.create_group(APP, "Production");
    world.create_group(APP, "Staging");
    let d = world.deployer();
    assert_eq!(d.last_successful(APP, "Production").await.unwrap(), None);

    world.deploy(APP, "Production", &revision("build-1"), "build 1", true);
    let second = world.deploy(APP, "Production", &revision("build-2"), "build 2", true);
    assert_eq!(
        d.last_successful(APP, "Production").await.unwrap(),
        Some(second.clone())
    );
    world.deploy(APP, "Production", &revision("build-3"), "build 3", false);
    assert_eq!(
        d.last_successful(APP, "Production").await.unwrap(),
        Some(second),
        "a failed deployment is not"
    );
    assert_eq!(
        d.last_successful(APP, "Staging").await.unwrap(),
        None,
        "another group's deployments are not its"
    );
}

/// A redeploy asks CodeDeploy for a new deployment of the revision to the group, with the
/// description, and returns its id; a refused CreateDeployment is an error and creates
/// nothing.
async fn a_redeploy_creates_a_new_deployment(world: &dyn DeployWorld) {
    world.create_group(APP, "Production");
    let first = world.deploy(APP, "Production", &revision("build-1"), "build 1", true);
    let second = world.deploy(APP, "Production", &revision("build-2"), "build 2", true);
    let d = world.deployer();

    let description = format!("roll back {second} for problem P-1");
    let rollback = d
        .redeploy(APP, "Production", &revision("build-1"), &description)
        .await
        .unwrap();
    assert!(
        rollback != first && rollback != second,
        "a new deployment: {rollback}"
    );
    assert_eq!(
        world.created(&rollback),
        Some((
            APP.to_string(),
            "Production".to_string(),
            revision("build-1"),
            description
        ))
    );
    let again = d
        .redeploy(APP, "Production", &revision("build-1"), "again")
        .await
        .unwrap();
    assert_ne!(again, rollback, "each redeploy is a deployment of its own");

    world.refuse_next_create();
    let made = world.deployments_made();
    match d
        .redeploy(APP, "Production", &revision("build-1"), "refused")
        .await
    {
        Err(DeployError::Call(_)) => {}
        other => panic!("expected a refused call, got {other:?}"),
    }
    assert_eq!(world.deployments_made(), made, "nothing was created");
}

/// A redeploy is a deployment like any other: read back with its group, revision, the
/// revision the group ran before it, and its description.
async fn a_redeploy_reads_back_as_a_deployment(world: &dyn DeployWorld) {
    world.create_group(APP, "Production");
    world.deploy(APP, "Production", &revision("build-1"), "build 1", true);
    world.deploy(APP, "Production", &revision("build-2"), "build 2", true);
    let d = world.deployer();
    let rollback = d
        .redeploy(APP, "Production", &revision("build-1"), "roll back build 2")
        .await
        .unwrap();
    let info = d.deployment(&rollback).await.unwrap();
    assert_eq!(
        (
            info.application.as_str(),
            info.group.as_str(),
            info.revision,
            info.previous_revision,
            info.description.as_deref()
        ),
        (
            APP,
            "Production",
            Some(revision("build-1")),
            Some(revision("build-2")),
            Some("roll back build 2")
        )
    );
}

/// A deployment group CodeDeploy does not know is NotFound, whether asked for its last
/// successful deployment or redeployed to.
async fn an_unknown_group_is_not_found(world: &dyn DeployWorld) {
    world.create_group(APP, "Production");
    let d = world.deployer();
    assert_not_found(d.last_successful(APP, "NoSuchGroup").await, "NoSuchGroup");
    assert_not_found(
        d.redeploy(APP, "NoSuchGroup", &revision("build-1"), "nowhere")
            .await,
        "NoSuchGroup",
    );
}

/// The double, with deployments recorded as the fake records them.
#[derive(Default)]
struct MemoryWorld {
    double: MemoryDeployer,
    ids: AtomicU64,
}

impl DeployWorld for MemoryWorld {
    fn deployer(&self) -> &dyn Deployer {
        &self.double
    }

    fn create_group(&self, application: &str, group: &str) {
        self.double
            .groups
            .lock()
            .unwrap()
            .insert((application.into(), group.into()));
    }

    fn deploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
        succeeded: bool,
    ) -> String {
        // Ids in creation order: the double's `last_successful` takes the greatest.
        let id = format!("d-MEM{:05}", self.ids.fetch_add(1, Ordering::Relaxed) + 1);
        let mut deployments = self.double.deployments.lock().unwrap();
        // What the group ran before: the revision of its last successful deployment.
        let previous_revision = deployments
            .values()
            .filter(|d| d.application == application && d.group == group)
            .filter(|d| d.status == DeploymentStatus::Succeeded)
            .max_by(|a, b| a.id.cmp(&b.id))
            .and_then(|d| d.revision.clone());
        deployments.insert(
            id.clone(),
            DeploymentInfo {
                id: id.clone(),
                application: application.into(),
                group: group.into(),
                status: if succeeded {
                    DeploymentStatus::Succeeded
                } else {
                    DeploymentStatus::Failed
                },
                created_ms: Some(now_ms()),
                creator: Some("user".into()),
                description: Some(description.into()),
                revision: Some(revision.clone()),
                previous_revision,
                rollback_of: None,
            },
        );
        id
    }

    fn created(&self, id: &str) -> Option<Created> {
        // The double numbers its redeploys d-ROLLBACK<n>, from 1.
        let n: usize = id.strip_prefix("d-ROLLBACK")?.parse().ok()?;
        self.double
            .redeploys
            .lock()
            .unwrap()
            .get(n.checked_sub(1)?)
            .cloned()
    }

    fn deployments_made(&self) -> usize {
        // A redeploy is a deployment there too.
        self.double.deployments.lock().unwrap().len()
    }

    fn refuse_next_create(&self) {
        self.double
            .redeploy_failures
            .lock()
            .unwrap()
            .push(DeployError::Call(
                "CreateDeployment: InvalidRoleException: the service role cannot be assumed".into(),
            ));
    }
}

/// What the adapter calls, declared as a function declares them: a call beyond it fails.
const DEPLOY_ACTIONS: [&str; 3] = [
    "codedeploy:CreateDeployment",
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentGroup",
];

/// The CodeDeploy adapter over the fake, arranged through the fake's own methods.
struct FakeWorld {
    fake: AwsFake,
    adapter: CodeDeployDeployer,
}

impl FakeWorld {
    async fn start() -> Self {
        let fake = AwsFake::start().await.expect("CodeDeploy fake");
        let clients = AwsClients {
            sdk: crate::sdk(&fake.endpoint).await,
            declared: DeclaredActions {
                actions: &DEPLOY_ACTIONS,
            },
        };
        FakeWorld {
            adapter: clients.deployer(),
            fake,
        }
    }
}

/// A revision as CodeDeploy's API writes it.
fn revision_json(r: &S3Revision) -> Value {
    let mut s3 = json!({"bucket": r.bucket, "key": r.key});
    for (name, value) in [
        ("bundleType", &r.bundle_type),
        ("version", &r.version),
        ("eTag", &r.etag),
    ] {
        if let Some(value) = value {
            s3[name] = json!(value);
        }
    }
    json!({"revisionType": "S3", "s3Location": s3})
}

fn revision_from_json(revision: &Value) -> Option<S3Revision> {
    let s3 = &revision["s3Location"];
    let text = |name: &str| s3[name].as_str().map(str::to_string);
    Some(S3Revision {
        bucket: text("bucket")?,
        key: text("key")?,
        bundle_type: text("bundleType"),
        version: text("version"),
        etag: text("eTag"),
    })
}

impl DeployWorld for FakeWorld {
    fn deployer(&self) -> &dyn Deployer {
        &self.adapter
    }

    fn create_group(&self, application: &str, group: &str) {
        self.fake.create_group(application, group);
    }

    fn deploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
        succeeded: bool,
    ) -> String {
        let revision = revision_json(revision);
        if succeeded {
            return self
                .fake
                .deploy(application, group, revision, "user", description);
        }
        // A failure is an agent's report: run this one by an agent, which fails it, so the
        // group's revision stays where it was.
        self.fake.run_deployments_by_agent();
        let id = self
            .fake
            .deploy(application, group, revision, "user", description);
        let claimed = self.fake.claim_deployment().expect("the deployment waits");
        assert_eq!(claimed.id, id);
        self.fake
            .finish_deployment(&id, Err("ValidateService failed".into()));
        self.fake.lock().agent_runs_deployments = false;
        id
    }

    fn created(&self, id: &str) -> Option<Created> {
        let d = self.fake.deployment(id)?;
        Some((
            d.application,
            d.group,
            revision_from_json(&d.revision)?,
            d.description,
        ))
    }

    fn deployments_made(&self) -> usize {
        self.fake.deployments().len()
    }

    fn refuse_next_create(&self) {
        // Not a throttling error: the SDK would retry that, and the retry succeed.
        self.fake.fail_next_create_deployment(
            "InvalidRoleException",
            "The service role cannot be assumed",
        );
    }
}

#[tokio::test]
async fn the_in_memory_deployer_keeps_the_contract() {
    a_deployment_reads_back_as_recorded(&MemoryWorld::default()).await;
    the_last_successful_deployment_is_the_newest_that_succeeded(&MemoryWorld::default()).await;
    a_redeploy_creates_a_new_deployment(&MemoryWorld::default()).await;
    a_redeploy_reads_back_as_a_deployment(&MemoryWorld::default()).await;
    an_unknown_group_is_not_found(&MemoryWorld::default()).await;
}

#[tokio::test]
async fn the_codedeploy_adapter_keeps_the_contract() {
    a_deployment_reads_back_as_recorded(&FakeWorld::start().await).await;
    the_last_successful_deployment_is_the_newest_that_succeeded(&FakeWorld::start().await).await;
    a_redeploy_creates_a_new_deployment(&FakeWorld::start().await).await;
    a_redeploy_reads_back_as_a_deployment(&FakeWorld::start().await).await;
    an_unknown_group_is_not_found(&FakeWorld::start().await).await;
}
