//! The secrets adapter's contract against moto: an SSM SecureString parameter named by its ARN
//! (read by `adapters/src/aws/ssm.rs`, the hand-signed GetParameter that replaced aws-sdk-ssm),
//! a Secrets Manager secret, and what a missing one says: the operation, the error code and
//! the id, never a value or the credentials.

use unbreakable_emulators::aws::MotoServer;
use unbreakable_shared::aws::secrets::AwsSecrets;
use unbreakable_shared::aws::ssm::SsmClient;
use unbreakable_shared::ports::secrets::SecretSource;

const TOKEN_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/team/dt/token";
const TOKEN: &str = "dt0c01.SSM-SECURESTRING-never-in-an-error";
const PLAIN_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/DT_API_TOKEN";
const PLAIN: &str = "dt0c01.TOP-LEVEL-PARAMETER";
const MISSING_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/team/dt/missing";
const WEBHOOK: &str = "whsec-SECRETS-MANAGER-value";
const ACCESS_KEY: &str = "AKIDSECRETSTEST";
const SECRET_KEY: &str = "secret-key-never-in-an-error";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    unbreakable_shared::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .load()
        .await
}

fn assert_no_value(text: &str) {
    for value in [TOKEN, PLAIN, WEBHOOK, SECRET_KEY] {
        assert!(!text.contains(value), "{text}");
    }
}

#[tokio::test]
async fn ssm_parameters_and_secrets_manager_secrets_are_read_and_missing_ones_named() {
    let moto = MotoServer::start().expect("moto");
    let sdk = sdk(&moto.endpoint).await;

    let ssm = SsmClient::new(&sdk);
    assert_eq!(ssm.endpoint(), Some(moto.endpoint.as_str()));
    ssm.put_parameter("/team/dt/token", TOKEN, "SecureString")
        .await
        .expect("PutParameter SecureString");
    ssm.put_parameter("DT_API_TOKEN", PLAIN, "SecureString")
        .await
        .expect("PutParameter at the top level");
    let webhook_arn = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("problem-webhook-secret")
        .secret_string(WEBHOOK)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("the secret's ARN")
        .to_string();

    for secrets in [
        AwsSecrets::new(&sdk),
        AwsSecrets::from_clients(
            aws_sdk_secretsmanager::Client::new(&sdk),
            SsmClient::new(&sdk),
        ),
    ] {
        // SSM SecureStrings, decrypted; a nested name keeps its leading slash, a top-level
        // one has none.
        assert_eq!(secrets.secret(TOKEN_ARN).await.expect("SSM"), TOKEN);
        assert_eq!(secrets.secret(PLAIN_ARN).await.expect("SSM"), PLAIN);
        // Secrets Manager, for any other id.
        assert_eq!(
            secrets.secret(&webhook_arn).await.expect("Secrets Manager"),
            WEBHOOK
        );

        let missing = secrets.secret(MISSING_ARN).await.unwrap_err();
        assert_eq!(missing.id, MISSING_ARN);
        let text = missing.to_string();
        assert!(
            text.starts_with(&format!(
                "secret {MISSING_ARN}: GetParameter: ParameterNotFound: "
            )),
            "{text}"
        );
        assert!(text.contains("/team/dt/missing"), "{text}");
        assert!(!text.contains('\n') && !text.contains('{'), "{text}");
        assert_no_value(&text);

        let gone = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf";
        let text = secrets.secret(gone).await.unwrap_err().to_string();
        assert!(
            text.starts_with(&format!(
                "secret {gone}: GetSecretValue: ResourceNotFoundException"
            )),
            "{text}"
        );
        assert_no_value(&text);
    }
}

#[tokio::test]
async fn an_ssm_endpoint_that_does_not_answer_is_said_so() {
    // A port nothing listens on: the connection is refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("address").port()
    };
    let sdk = sdk(&format!("http://127.0.0.1:{port}")).await;
    let err = AwsSecrets::new(&sdk)
        .secret(TOKEN_ARN)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "secret {TOKEN_ARN}: GetParameter: cannot connect to the AWS endpoint"
        )),
        "{err}"
    );
    assert_no_value(&err);
}
