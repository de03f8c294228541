//! A CodeDeploy deployment and the revision it deployed.

/// A bundle in S3, as CodeDeploy records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Revision {
    pub bucket: String,
    pub key: String,
    pub bundle_type: Option<String>,
    pub version: Option<String>,
    pub etag: Option<String>,
}

impl std::fmt::Display for S3Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version {
            write!(f, "?versionId={v}")?;
        }
        Ok(())
    }
}

outside_state! {
    /// A deployment's status, as CodeDeploy documents it (`DeploymentStatus`).
    pub enum DeploymentStatus {
        Created => "Created",
        Queued => "Queued",
        InProgress => "InProgress",
        Baking => "Baking",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Stopped => "Stopped",
        Ready => "Ready",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub id: String,
    pub application: String,
    pub group: String,
    /// `Other("")` when CodeDeploy sends none.
    pub status: DeploymentStatus,
    /// When CodeDeploy created the deployment (epoch ms), if it says.
    pub created_ms: Option<i64>,
    /// `user`, `codeDeployRollback`, …
    pub creator: Option<String>,
    pub description: Option<String>,
    pub revision: Option<S3Revision>,
    /// The revision before this one. CodeDeploy (and moto) may send it empty: that is `None`.
    pub previous_revision: Option<S3Revision>,
    /// Set when CodeDeploy created this deployment as an automatic rollback.
    pub rollback_of: Option<String>,
}
