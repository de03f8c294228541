//! [`Scaling`] over the AWS SDK: CodeDeploy names the deployment group's Auto Scaling group,
//! Auto Scaling reads and resizes it.

use async_trait::async_trait;
use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_autoscaling::Client;

use crate::aws::codedeploy::CodeDeployDeployer;
use crate::aws::sdk_error::error_parts;
use crate::ports::deploy::DeployError;
use crate::ports::scaling::{Scaling, ScalingError, ScalingGroup};

/// The AWS actions this adapter calls: a function that scales declares them (its
/// `MANIFEST.aws_actions`, held to its role by the template test).
pub const SCALING_ACTIONS: [&str; 3] = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:SetDesiredCapacity",
    "codedeploy:GetDeploymentGroup",
];

pub struct AutoScalingScaler {
    autoscaling: Client,
    codedeploy: CodeDeployDeployer,
}

impl AutoScalingScaler {
    pub fn new(autoscaling: Client, codedeploy: CodeDeployDeployer) -> Self {
        Self {
            autoscaling,
            codedeploy,
        }
    }
}

fn scaling_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    name: &str,
    err: SdkError<E>,
) -> ScalingError {
    let (code, text) = error_parts(operation, &err);
    let message = err.message().unwrap_or_default();
    // Auto Scaling answers an unknown group, and a size outside MinSize..MaxSize, with a
    // ValidationError; only the message tells them apart.
    match code.as_str() {
        "ValidationError" if message.contains("not found") => ScalingError::GroupNotFound {
            name: name.to_string(),
        },
        "ValidationError" | "ScalingActivityInProgress" => ScalingError::Refused {
            name: name.to_string(),
            message: text,
        },
        _ => ScalingError::Call(text),
    }
}

#[async_trait]
impl Scaling for AutoScalingScaler {
    async fn group_for(
        &self,
        application: &str,
        deployment_group: &str,
    ) -> Result<ScalingGroup, ScalingError> {
        let names = self
            .codedeploy
            .auto_scaling_groups(application, deployment_group)
            .await
            .map_err(|e| match e {
                DeployError::NotFound(message) => ScalingError::DeploymentGroupNotFound {
                    application: application.to_string(),
                    group: deployment_group.to_string(),
                    message,
                },
                DeployError::Call(message) => ScalingError::Call(message),
            })?;
        match names.as_slice() {
            [name] => self.group(name).await,
            _ => Err(ScalingError::NotExactlyOneGroup {
                application: application.to_string(),
                group: deployment_group.to_string(),
                groups: names,
            }),
        }
    }

    async fn group(&self, name: &str) -> Result<ScalingGroup, ScalingError> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| scaling_error("DescribeAutoScalingGroups", name, e))?;
        let group = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
            .ok_or_else(|| ScalingError::GroupNotFound {
                name: name.to_string(),
            })?;
        let size = |value: Option<i32>, what: &str| {
            value.ok_or_else(|| {
                ScalingError::Call(format!(
                    "DescribeAutoScalingGroups: group {name} came back without its {what}"
                ))
            })
        };
        Ok(ScalingGroup {
            name: name.to_string(),
            min: size(group.min_size(), "MinSize")?,
            max: size(group.max_size(), "MaxSize")?,
            desired: size(group.desired_capacity(), "DesiredCapacity")?,
            in_service: group
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                .count() as i32,
        })
    }

    async fn set_desired(&self, name: &str, desired: i32) -> Result<(), ScalingError> {
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(name)
            .desired_capacity(desired)
            // The remediation sequence has its own wait and cooldown; a group cooldown
            // left by an earlier scaling activity must not turn this action into a no-op.
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| scaling_error("SetDesiredCapacity", name, e))?;
        Ok(())
    }
}
