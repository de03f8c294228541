//! The deployer: CodeDeploy deployments, read and redeployed, behind [`Deployer`].

use async_trait::async_trait;

pub use unbreakable_core::model::deploy::{DeploymentInfo, DeploymentStatus, S3Revision};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("CodeDeploy: {0}")]
    NotFound(String),
    #[error("CodeDeploy call failed: {0}")]
    Call(String),
}

#[async_trait]
pub trait Deployer: Send + Sync {
    async fn deployment(&self, id: &str) -> Result<DeploymentInfo, DeployError>;
    /// The id of the group's last successful deployment, if any.
    async fn last_successful(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Option<String>, DeployError>;
    /// Deploy `revision` to the group again (files overwritten). Returns the deployment id.
    async fn redeploy(
        &self,
        application: &str,
        group: &str,
        revision: &S3Revision,
        description: &str,
    ) -> Result<String, DeployError>;
}
