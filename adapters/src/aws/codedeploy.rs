//! [`Deployer`] over the AWS SDK for CodeDeploy.

use async_trait::async_trait;
use aws_sdk_codedeploy::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codedeploy::types::{
    BundleType, FileExistsBehavior, RevisionLocation, RevisionLocationType, S3Location,
};
use aws_sdk_codedeploy::Client;

use crate::aws::sdk_error::error_parts;

use crate::ports::deploy::{DeployError, Deployer, DeploymentInfo, DeploymentStatus, S3Revision};

pub struct CodeDeployDeployer {
    client: Client,
}

impl CodeDeployDeployer {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn deploy_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    err: SdkError<E>,
) -> DeployError {
    let (code, text) = error_parts(operation, &err);
    if code.contains("DoesNotExist") {
        DeployError::NotFound(text)
    } else {
        DeployError::Call(text)
    }
}

/// An S3 revision, or `None` for an empty or non-S3 location.
fn s3_revision(location: Option<&RevisionLocation>) -> Option<S3Revision> {
    let s3 = location?.s3_location()?;
    let (bucket, key) = (s3.bucket()?, s3.key()?);
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    Some(S3Revision {
        bucket: bucket.to_string(),
        key: key.to_string(),
        bundle_type: s3.bundle_type().map(|b| b.as_str().to_string()),
        version: s3.version().map(str::to_string),
        etag: s3.e_tag().map(str::to_string),
    })
}

impl CodeDeployDeployer {
    async fn deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> Result<
        aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput,
        DeployError,
    > {
        self.client
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
            .map_err(|e| deploy_error("GetDeploymentGroup", e))
    }

    /// The names of the Auto Scaling groups attached to a deployment group
    /// (GetDeploymentGroup → `autoScalingGroups`), in CodeDeploy's order.
    pub async fn auto_scaling_groups(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Vec<String>, DeployError> {
        Ok(self
            .deployment_group(application, group)
            .await?
            .deployment_group_info()
            .map(|g| g.auto_scaling_groups())
            .unwrap_or_default()
            .iter()
            .filter_map(|asg| asg.name())
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect())
    }
}

#[async_trait]
impl Deployer for CodeDeployDeployer {
    async fn deployment(&self, id: &str) -> Result<DeploymentInfo, DeployError> {
        let out = self
            .client
            .get_deployment()
            .deployment_id(id)
            .send()
            .await
            .map_err(|e| deploy_error("GetDeployment", e))?;
        let info = out
            .deployment_info()
            .ok_or_else(|| DeployError::NotFound(format!("GetDeployment: {id} has no info")))?;
        Ok(DeploymentInfo {
            id: id.to_string(),
            application: info.application_name().unwrap_or_default().to_string(),
            group: info.deployment_group_name().unwrap_or_default().to_string(),
            status: DeploymentStatus::parse(info.status().map_or("", |s| s.as_str())),
            created_ms: info.create_time().and_then(|t| t.to_millis().ok()),
            creator: info.creator().map(|c| c.as_str().to_string()),
            description: info.description().map(str::to_string),
            revision: s3_revision(info.revision()),
            previous_revision: s3_revision(info.previous_revision()),
            rollback_of: info
                .rollback_info()
                .and_then(|r| r.rollback_triggering_deployment_id())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    async fn last_successful(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Option<String>, DeployError> {
        Ok(self
            .deployment_group(application, group)
            .await?
            .deployment_group_info()
            .and_then(|g| g.last_successful_deployment())
            .and_then(|d| d.deployment_id())
            .filter(|s| !s.is_empty())
            .map(str::to_string))
    }

    async fn redeploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
    ) -> Result<String, DeployError> {
        let location = S3Location::builder()
            .bucket(&revision.bucket)
            .key(&revision.key)
            .bundle_type(BundleType::from(
                revision.bundle_type.as_deref().unwrap_or("zip"),
            ))
            .set_version(revision.version.clone())
            .set_e_tag(revision.etag.clone())
            .build();
        let out = self
            .client
            .create_deployment()
            .application_name(application)
            .deployment_group_name(group)
            .revision(
                RevisionLocation::builder()
                    .revision_type(RevisionLocationType::S3)
                    .s3_location(location)
                    .build(),
            )
            .description(description)
            .file_exists_behavior(FileExistsBehavior::Overwrite)
            .send()
            .await
            .map_err(|e| deploy_error("CreateDeployment", e))?;
        out.deployment_id()
            .map(str::to_string)
            .ok_or_else(|| DeployError::Call("CreateDeployment returned no id".into()))
    }
}
