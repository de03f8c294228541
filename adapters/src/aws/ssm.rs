//! SSM's GetParameter (and PutParameter, for the tests' fixtures) on the AWS JSON 1.1
//! protocol, signed with SigV4 by [`super::json_protocol`]: `POST /` with
//! `X-Amz-Target: AmazonSSM.<Operation>`. One call does not justify aws-sdk-ssm, which cost
//! 101 s of compile on the CLI's critical path.
//!
//! The endpoint is the one the SDK would pick (`AWS_ENDPOINT_URL_SSM`, the configuration's,
//! `AWS_ENDPOINT_URL`, the region's: see [`resolve_endpoint`]). Errors are one line,
//! `Operation: code: message`, never the credentials nor a parameter's value.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use serde_json::{json, Value};

use super::json_protocol::{self, AwsJsonClient, AwsJsonError, Service, JSON_1_1};

pub use super::json_protocol::{error_code, SignedRequest};

/// SSM on the JSON protocol.
pub static SSM: Service = Service {
    signing_name: "ssm",
    target_prefix: "AmazonSSM",
    content_type: JSON_1_1,
    endpoint_env: "AWS_ENDPOINT_URL_SSM",
    host_prefix: "ssm",
    label: "SSM",
};

/// A failed SSM call (its code, and one line to show).
pub type SsmError = AwsJsonError;

/// The endpoint the SDK resolves for SSM: `AWS_ENDPOINT_URL_SSM`, else the configuration's
/// (set in code, or `AWS_ENDPOINT_URL` / a profile's `endpoint_url` that aws-config read),
/// else `AWS_ENDPOINT_URL`, else the regional one; `None` without a region to name it.
pub fn resolve_endpoint(
    ssm_env: Option<&str>,
    configured: Option<&str>,
    global_env: Option<&str>,
    region: Option<&str>,
) -> Option<String> {
    json_protocol::resolve_endpoint(&SSM, ssm_env, configured, global_env, region)
}

/// `POST <endpoint>/` of `AmazonSSM.<operation>` with `body`, signed for `region` with
/// `credentials` at `time`.
pub fn signed_request(
    endpoint: &str,
    region: &str,
    credentials: &Credentials,
    operation: &str,
    body: &Value,
    time: SystemTime,
) -> Result<SignedRequest, String> {
    json_protocol::signed_request(&SSM, endpoint, region, credentials, operation, body, time)
}

/// The SSM client: see the module.
pub struct SsmClient {
    client: AwsJsonClient,
}

impl SsmClient {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SsmClient {
            client: AwsJsonClient::new(&SSM, config),
        }
    }

    /// Where the calls go, if a region or an endpoint was configured.
    pub fn endpoint(&self) -> Option<&str> {
        self.client.endpoint()
    }

    /// A parameter's value, SecureStrings decrypted.
    pub async fn get_parameter(&self, name: &str) -> Result<String, SsmError> {
        const OPERATION: &str = "GetParameter";
        let answer = self
            .client
            .call(OPERATION, &json!({"Name": name, "WithDecryption": true}))
            .await?;
        answer
            .pointer("/Parameter/Value")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                self.client
                    .unexpected_answer(OPERATION, "has no Parameter.Value")
            })
    }

    /// Creates or overwrites a parameter of `kind` (`String`, `StringList`, `SecureString`).
    /// For the tests' fixtures: nothing in the functions or the CLI writes parameters.
    pub async fn put_parameter(&self, name: &str, value: &str, kind: &str) -> Result<(), SsmError> {
        self.client
            .call(
                "PutParameter",
                &json!({"Name": name, "Value": value, "Type": kind, "Overwrite": true}),
            )
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::provider::SharedCredentialsProvider;

    use super::*;
    use crate::aws::sdk_error::NO_CREDENTIALS;

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "tests",
        )
    }

    fn header<'a>(request: &'a SignedRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn get_parameter_is_a_signed_json_1_1_post() {
        // 2024-01-02T03:04:05Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        let body = json!({"Name": "/team/dt/token", "WithDecryption": true});
        let request = signed_request(
            "http://127.0.0.1:5000/",
            "us-east-1",
            &credentials(None),
            "GetParameter",
            &body,
            time,
        )
        .unwrap();
        assert_eq!(request.url, "http://127.0.0.1:5000/");
        assert_eq!(
            header(&request, "x-amz-target"),
            Some("AmazonSSM.GetParameter")
        );
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-amz-json-1.1")
        );
        assert_eq!(header(&request, "x-amz-date"), Some("20240102T030405Z"));
        let authorization = header(&request, "authorization").expect("signed");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/ssm/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
            ),
            "{authorization}"
        );
        assert!(!authorization.contains("wJalrXUtnFEMI"));
        assert_eq!(header(&request, "x-amz-security-token"), None);
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, body);

        // The same request at the same time signs the same; a session token is sent.
        let again = signed_request(
            "http://127.0.0.1:5000",
            "us-east-1",
            &credentials(None),
            "GetParameter",
            &body,
            time,
        )
        .unwrap();
        assert_eq!(header(&again, "authorization"), Some(authorization));
        let session = signed_request(
            "http://127.0.0.1:5000",
            "us-east-1",
            &credentials(Some("SESSION")),
            "GetParameter",
            &body,
            time,
        )
        .unwrap();
        assert_eq!(header(&session, "x-amz-security-token"), Some("SESSION"));
    }

    #[test]
    fn the_endpoint_is_chosen_as_the_sdk_chooses_it() {
        let ssm = Some("http://ssm.local:4566/");
        let configured = Some("http://127.0.0.1:5000");
        let global = Some("http://global:1");
        assert_eq!(
            resolve_endpoint(ssm, configured, global, Some("us-east-1")).as_deref(),
            Some("http://ssm.local:4566")
        );
        assert_eq!(
            resolve_endpoint(Some(" "), configured, global, Some("us-east-1")).as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            resolve_endpoint(None, None, global, None).as_deref(),
            Some("http://global:1")
        );
        assert_eq!(
            resolve_endpoint(None, None, None, Some("eu-central-1")).as_deref(),
            Some("https://ssm.eu-central-1.amazonaws.com")
        );
        assert_eq!(
            resolve_endpoint(None, None, None, Some("cn-north-1")).as_deref(),
            Some("https://ssm.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(resolve_endpoint(None, None, None, None), None);
    }

    #[test]
    fn errors_read_like_the_sdk_adapters() {
        let err = SsmError::new(
            "GetParameter",
            "ParameterNotFound",
            Some("Parameter /team/dt/token not found."),
        );
        assert_eq!(err.code, "ParameterNotFound");
        assert!(
            err.text.starts_with(
                "GetParameter: ParameterNotFound: Parameter /team/dt/token not found. (not found"
            ),
            "{}",
            err.text
        );
        assert!(err.transient(None) && err.transient(Some(503)) && !err.transient(Some(400)));
    }

    #[tokio::test]
    async fn a_call_without_an_answer_says_why() {
        // Nothing listens on port 9 of loopback.
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(SharedCredentialsProvider::new(credentials(None)))
            .build();
        let err = SsmClient::new(&sdk)
            .get_parameter("/team/dt/token")
            .await
            .unwrap_err();
        assert_eq!(err.code, "");
        assert!(
            err.text
                .starts_with("GetParameter: cannot connect to the AWS endpoint"),
            "{}",
            err.text
        );

        let no_credentials = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let err = SsmClient::new(&no_credentials)
            .get_parameter("/team/dt/token")
            .await
            .unwrap_err();
        assert_eq!(err.text, format!("GetParameter: {NO_CREDENTIALS}"));
    }
}
