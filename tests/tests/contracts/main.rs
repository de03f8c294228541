//! Contract suites: each port's behaviours, held against its in-memory double and its real
//! adapter, as `lanes.rs` does for the lane store. The validation store runs on DynamoDB in
//! moto; the pipeline gate and the deployer run on the project's CodePipeline/CodeDeploy fake
//! through the real SDK clients. One binary, so the three suites link once.
//!
//! Every behaviour runs on both sides. Where the double did not do what its adapter does (a
//! redeploy unknown to `deployment`, unknown groups and jobs, CodePipeline's text limits, the
//! table's item size, report projection and unreadable items), the double was changed.

mod deployer;
mod pipeline;
mod store;

/// SDK configuration for a loopback endpoint (moto or the fake), with test credentials.
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
