//! The scaling adapter against moto's Auto Scaling (a launch template, a group of MinSize 1,
//! MaxSize 2) and the project's CodeDeploy fake for the deployment group it is attached to:
//! moto 5.2.5 answers GetDeploymentGroup with `"autoScalingGroups": [{}]`, without the names.
//! Every call goes through the declared-actions interceptor with `SCALING_ACTIONS` only, so a
//! call the declaration lacks fails here.

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use unbreakable_emulators::aws::{AwsFake, MotoServer};
use unbreakable_shared::aws::autoscaling::{AutoScalingScaler, SCALING_ACTIONS};
use unbreakable_shared::aws::codedeploy::CodeDeployDeployer;
use unbreakable_shared::aws::declared::DeclaredActions;
use unbreakable_shared::ports::scaling::{Scaling, ScalingError};
use unbreakable_shared::remediation::scaling::{plan, progress, ScaleTo, ScalingProgress};
use unbreakable_tests::ec2::create_launch_template;

const APP: &str = "SampleDevOpsApp";
const ASG: &str = "unbreakable-production";
const LAUNCH_TEMPLATE: &str = "unbreakable-production-template";
const SERVICE_ROLE: &str = "arn:aws:iam::123456789012:role/codedeploy";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    unbreakable_shared::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

struct Setup {
    _moto: MotoServer,
    _fake: AwsFake,
    scaler: AutoScalingScaler,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// moto with the launch template and the group (min 1, max 2, desired 1); the fake with the
/// deployment groups: Production (the group), Bare (none), Twice (two), Dangling (a name
/// Auto Scaling does not know).
async fn setup() -> Setup {
    let moto = MotoServer::start().expect("moto");
    let fake = AwsFake::start().await.expect("fake");
    let moto_sdk = sdk(&moto.endpoint).await;
    let fake_sdk = sdk(&fake.endpoint).await;
    create_launch_template(&moto.endpoint, LAUNCH_TEMPLATE)
        .await
        .expect("launch template");
    let autoscaling = aws_sdk_autoscaling::Client::new(&moto_sdk);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(ASG)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name(LAUNCH_TEMPLATE)
                .version("$Latest")
                .build(),
        )
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("CreateAutoScalingGroup");
    let codedeploy = aws_sdk_codedeploy::Client::new(&fake_sdk);
    for (group, attached) in [
        ("Production", vec![ASG]),
        ("Bare", vec![]),
        ("Twice", vec![ASG, "another-group"]),
        ("Dangling", vec!["deleted-group"]),
    ] {
        codedeploy
            .create_deployment_group()
            .application_name(APP)
            .deployment_group_name(group)
            .service_role_arn(SERVICE_ROLE)
            .set_auto_scaling_groups(Some(attached.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .expect("CreateDeploymentGroup");
    }
    let declared = DeclaredActions {
        actions: &SCALING_ACTIONS,
    };
    let scaler = AutoScalingScaler::new(
        aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&moto_sdk)
                .interceptor(declared)
                .build(),
        ),
        CodeDeployDeployer::new(aws_sdk_codedeploy::Client::from_conf(
            aws_sdk_codedeploy::config::Builder::from(&fake_sdk)
                .interceptor(declared)
                .build(),
        )),
    );
    Setup {
        _moto: moto,
        _fake: fake,
        scaler,
        autoscaling,
    }
}

#[tokio::test]
async fn scales_the_deployment_groups_auto_scaling_group_within_its_max_size() {
    let s = setup().await;
    let group = s.scaler.group_for(APP, "Production").await.unwrap();
    assert_eq!(
        (group.name.as_str(), group.min, group.max, group.desired),
        (ASG, 1, 2, 1)
    );
    assert_eq!(
        group.in_service, 1,
        "moto starts the first instance at once"
    );

    let target = plan(&group, 1).unwrap();
    assert_eq!(target, ScaleTo { from: 1, to: 2 });
    s.scaler.set_desired(ASG, target.to).await.unwrap();
    let resized = s.scaler.group(ASG).await.unwrap();
    assert_eq!(resized.desired, 2);
    // moto launches the new instance InService at once; AWS shows it Pending first.
    assert_eq!(
        progress(&target, &resized),
        ScalingProgress::Done { in_service: 2 }
    );

    // At MaxSize: the plan refuses before any call. moto itself would accept 3 (it does
    // not check MaxSize), so this refusal is the only guard against it here.
    assert_eq!(
        plan(&resized, 1).unwrap_err(),
        format!("desired 3 would exceed MaxSize 2 of group {ASG}")
    );
    let untouched = s
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(ASG)
        .send()
        .await
        .unwrap();
    assert_eq!(
        untouched.auto_scaling_groups()[0].desired_capacity(),
        Some(2)
    );
}

#[tokio::test]
async fn a_deployment_group_without_exactly_one_known_auto_scaling_group_is_a_clear_error() {
    let s = setup().await;
    let err = |e: ScalingError| e.to_string();

    let unknown_group = err(s.scaler.group_for(APP, "Nope").await.unwrap_err());
    assert_eq!(
        unknown_group,
        "deployment group Nope of CodeDeploy application SampleDevOpsApp not found (GetDeploymentGroup: DeploymentGroupDoesNotExistException: No deployment group Nope in SampleDevOpsApp); check the application and deployment group names"
    );
    let unknown_app = err(s
        .scaler
        .group_for("NoSuchApp", "Production")
        .await
        .unwrap_err());
    assert!(
        unknown_app.starts_with(
            "deployment group Production of CodeDeploy application NoSuchApp not found (GetDeploymentGroup: ApplicationDoesNotExistException:"
        ),
        "{unknown_app}"
    );
    let bare = err(s.scaler.group_for(APP, "Bare").await.unwrap_err());
    assert_eq!(
        bare,
        "deployment group Bare of CodeDeploy application SampleDevOpsApp has no Auto Scaling group; scaling needs exactly one: attach its Auto Scaling group to the deployment group (AutoScalingGroups)"
    );
    let twice = err(s.scaler.group_for(APP, "Twice").await.unwrap_err());
    assert!(
        twice.contains(&format!(
            "deployment group Twice of CodeDeploy application SampleDevOpsApp has 2 Auto Scaling groups ({ASG}, another-group)"
        )),
        "{twice}"
    );
    let dangling = s.scaler.group_for(APP, "Dangling").await.unwrap_err();
    assert_eq!(
        dangling,
        ScalingError::GroupNotFound {
            name: "deleted-group".into()
        }
    );
    assert_eq!(
        dangling.to_string(),
        "Auto Scaling group deleted-group not found; check the name attached to the deployment group"
    );
}
