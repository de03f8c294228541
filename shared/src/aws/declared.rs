//! Each function declares the AWS actions it calls (its `AWS_ACTIONS`, which the template
//! test holds its IAM role to). This interceptor refuses any other call before it is sent, so
//! the scenario tests through the real binaries catch a new SDK call that the declaration,
//! and so the role, does not list.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Copy)]
pub struct DeclaredActions {
    pub actions: &'static [&'static str],
}

/// The IAM action of an SDK operation: `DynamoDB` + `UpdateItem` → `dynamodb:UpdateItem`.
pub fn iam_action(service: &str, operation: &str) -> String {
    let prefix: String = service
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{prefix}:{operation}")
}

impl Intercept for DeclaredActions {
    fn name(&self) -> &'static str {
        "DeclaredActions"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Err("an AWS call without operation metadata; cannot check it against the declared actions".into());
        };
        let action = iam_action(metadata.service(), metadata.name());
        if self.actions.contains(&action.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "{action} is not among this function's declared AWS actions {:?}: add it to the function's AWS_ACTIONS and to its role in cloudformation/unbreakable.json",
                self.actions
            )
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::iam_action;

    #[test]
    fn sdk_service_names_become_iam_prefixes() {
        assert_eq!(iam_action("DynamoDB", "UpdateItem"), "dynamodb:UpdateItem");
        assert_eq!(
            iam_action("Secrets Manager", "GetSecretValue"),
            "secretsmanager:GetSecretValue"
        );
        assert_eq!(
            iam_action("CodePipeline", "GetJobDetails"),
            "codepipeline:GetJobDetails"
        );
    }
}
