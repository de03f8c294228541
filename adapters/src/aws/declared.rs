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
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Err("an AWS call without operation metadata; cannot check it against the declared actions".into());
        };
        // IAM has no TransactWriteItems action: it authorises each item's own action.
        let actions = match context
            .input()
            .downcast_ref::<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput>()
        {
            Some(input) => transact_write_actions(input),
            None => vec![iam_action(metadata.service(), metadata.name())],
        };
        match actions.iter().find_map(|a| self.refusal(a)) {
            None => Ok(()),
            Some(refusal) => Err(refusal.into()),
        }
    }
}

impl DeclaredActions {
    /// Why `action` (`sqs:SendMessage`) may not be called, or `None` when it is declared.
    /// The interceptor's check, for the hand-signed clients too (see
    /// [`super::json_protocol`]).
    pub fn refusal(&self, action: &str) -> Option<String> {
        (!self.actions.contains(&action)).then(|| {
            format!(
                "{action} is not among this function's declared AWS actions {:?}: add it to the function's AWS_ACTIONS and to its role in cloudformation/unbreakable.json",
                self.actions
            )
        })
    }
}

/// The IAM actions a DynamoDB transaction needs: one per kind of item it writes.
fn transact_write_actions(
    input: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput,
) -> Vec<String> {
    input
        .transact_items()
        .iter()
        .flat_map(|item| {
            [
                item.put().map(|_| "PutItem"),
                item.update().map(|_| "UpdateItem"),
                item.delete().map(|_| "DeleteItem"),
                item.condition_check().map(|_| "ConditionCheckItem"),
            ]
        })
        .flatten()
        .map(|op| iam_action("DynamoDB", op))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{iam_action, DeclaredActions};

    /// The interceptor stops an undeclared call before anything is sent (the endpoint
    /// does not exist), and lets a declared one through to the network.
    #[tokio::test]
    async fn an_undeclared_call_is_refused_before_it_is_sent() {
        let sdk = crate::aws::sdk_config_loader()
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "k", "s", None, None, "test",
            ))
            .load()
            .await;
        let client = |actions: &'static [&'static str]| {
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(DeclaredActions { actions })
                    .retry_config(aws_config::retry::RetryConfig::disabled())
                    .build(),
            )
        };
        let refused = client(&["dynamodb:Query"])
            .get_item()
            .table_name("t")
            .send()
            .await
            .unwrap_err();
        let text = format!("{:?}", refused);
        assert!(
            text.contains("dynamodb:GetItem is not among this function's declared AWS actions"),
            "{text}"
        );
        let sent = client(&["dynamodb:GetItem"])
            .get_item()
            .table_name("t")
            .send()
            .await
            .unwrap_err();
        let text = format!("{:?}", sent);
        assert!(!text.contains("declared AWS actions"), "{text}");
    }

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
