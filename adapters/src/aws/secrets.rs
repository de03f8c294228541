//! [`SecretSource`] on Secrets Manager, or an SSM SecureString parameter when the id is an
//! SSM parameter ARN (for teams that keep the token there already).

use async_trait::async_trait;

use crate::aws::sdk_error::error_parts;
use crate::aws::ssm::SsmClient;
use crate::ports::secrets::{SecretError, SecretSource};

pub struct AwsSecrets {
    secrets_manager: aws_sdk_secretsmanager::Client,
    ssm: SsmClient,
}

impl AwsSecrets {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            secrets_manager: aws_sdk_secretsmanager::Client::new(config),
            ssm: SsmClient::new(config),
        }
    }

    pub fn from_clients(secrets_manager: aws_sdk_secretsmanager::Client, ssm: SsmClient) -> Self {
        Self {
            secrets_manager,
            ssm,
        }
    }
}

/// `arn:aws:ssm:<region>:<account>:parameter/<name>` → `/<name>` (or `<name>`).
fn ssm_parameter_name(id: &str) -> Option<String> {
    let rest = id.strip_prefix("arn:")?;
    let (_, after) = rest.split_once(":ssm:")?;
    let (_, name) = after.split_once(":parameter")?;
    Some(if name.starts_with('/') && name[1..].contains('/') {
        name.to_string()
    } else {
        name.trim_start_matches('/').to_string()
    })
}

#[async_trait]
impl SecretSource for AwsSecrets {
    async fn secret(&self, id: &str) -> Result<String, SecretError> {
        let fail = |message: String| SecretError {
            id: id.to_string(),
            message,
        };
        let value = if let Some(name) = ssm_parameter_name(id) {
            let value = self
                .ssm
                .get_parameter(&name)
                .await
                .map_err(|e| fail(e.text))?;
            Some(value)
        } else {
            let out = self
                .secrets_manager
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| fail(error_parts("GetSecretValue", &e).1))?;
            out.secret_string().map(str::to_string)
        };
        let value = value.map(|v| v.trim().to_string()).unwrap_or_default();
        if value.is_empty() {
            return Err(fail("the secret has no string value".into()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::ssm_parameter_name;

    #[test]
    fn ssm_arns_name_the_parameter() {
        assert_eq!(
            ssm_parameter_name("arn:aws:ssm:us-east-1:123456789012:parameter/DT_API_TOKEN")
                .as_deref(),
            Some("DT_API_TOKEN")
        );
        assert_eq!(
            ssm_parameter_name("arn:aws:ssm:us-east-1:123456789012:parameter/team/dt/token")
                .as_deref(),
            Some("/team/dt/token")
        );
        assert_eq!(
            ssm_parameter_name("arn:aws:secretsmanager:us-east-1:1:secret:x"),
            None
        );
    }
}
