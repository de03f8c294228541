//! SSM's GetParameter (and PutParameter, for the tests' fixtures) on the AWS JSON 1.1
//! protocol, signed with SigV4: `POST /` with `X-Amz-Target: AmazonSSM.<Operation>`. One call
//! does not justify aws-sdk-ssm, which cost 101 s of compile on the CLI's critical path.
//!
//! Configured like an SDK client, from the [`aws_config::SdkConfig`]: its credentials
//! provider and region, and the endpoint the SDK would pick (see [`resolve_endpoint`]).
//! Errors read as [`super::sdk_error::error_parts`] writes them: `Operation: code: message`,
//! with the fix for the usual codes, or why the call got no answer. Never the credentials,
//! nor a parameter's value.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use serde_json::{json, Value};

use super::sdk_error::{
    causes, code_fix, credentials_error_text, no_answer, NO_CREDENTIALS, NO_REGION,
};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The SDK's default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// The whole call, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of a call that got no answer, a 5xx or a throttling code (the SDK's standard
/// retry mode makes 3 too).
const ATTEMPTS: u32 = 3;
/// Credentials expiring within this are fetched again.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// A failed SSM call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct SsmError {
    /// The service's error code (`ParameterNotFound`); empty when the service never answered.
    pub code: String,
    /// One line: `Operation: code: message[ (fix)]`, or `Operation: why there was no answer`.
    pub text: String,
}

impl SsmError {
    fn new(operation: &str, code: &str, message: Option<&str>) -> Self {
        let fix = code_fix(code)
            .map(|fix| format!(" ({fix})"))
            .unwrap_or_default();
        let text = match message {
            Some(message) => format!("{operation}: {code}: {message}{fix}"),
            None => format!("{operation}: {code}{fix}"),
        };
        SsmError {
            code: code.to_string(),
            text,
        }
    }

    fn no_answer(operation: &str, line: &str) -> Self {
        SsmError {
            code: String::new(),
            text: format!("{operation}: {line}"),
        }
    }

    /// Whether another attempt may succeed: no answer, a 5xx, or throttled.
    fn transient(&self, status: Option<u16>) -> bool {
        status.is_none_or(|s| s >= 500)
            || matches!(
                self.code.as_str(),
                "ThrottlingException" | "TooManyUpdates" | "InternalServerError"
            )
    }
}

/// The endpoint the SDK resolves for SSM: `AWS_ENDPOINT_URL_SSM`, else the configuration's
/// (set in code, or `AWS_ENDPOINT_URL` / a profile's `endpoint_url` that aws-config read),
/// else `AWS_ENDPOINT_URL`, else the regional one; `None` without a region to name it.
pub fn resolve_endpoint(
    ssm_env: Option<&str>,
    configured: Option<&str>,
    global_env: Option<&str>,
    region: Option<&str>,
) -> Option<String> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    if let Some(url) = given(ssm_env)
        .or_else(|| given(configured))
        .or_else(|| given(global_env))
    {
        return Some(url.trim_end_matches('/').to_string());
    }
    let region = given(region)?;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://ssm.{region}.{suffix}"))
}

/// A request ready to send: where, its headers (signature included) and body. No `Debug`:
/// it holds a session token and, for PutParameter, a value.
pub struct SignedRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let target = format!("AmazonSSM.{operation}");
    let identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ssm")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [
        ("content-type", CONTENT_TYPE),
        ("x-amz-target", target.as_str()),
    ];
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Ok(SignedRequest {
        url,
        headers: all,
        body,
    })
}

/// The error code of a JSON 1.1 answer: the `x-amzn-ErrorType` header, else the body's
/// `__type` (or `code`), without the namespace (`com.amazonaws.ssm#`) or the URI after `:`.
pub fn error_code(header: Option<&str>, body: &Value) -> Option<String> {
    let raw = header
        .filter(|h| !h.trim().is_empty())
        .or_else(|| body.get("__type").and_then(Value::as_str))
        .or_else(|| body.get("code").and_then(Value::as_str))?;
    let code = raw.split(':').next().unwrap_or(raw);
    let code = code.rsplit('#').next().unwrap_or(code).trim();
    (!code.is_empty()).then(|| code.to_string())
}

/// The SSM client: see the module.
pub struct SsmClient {
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    endpoint: Option<String>,
    /// Built at the first call: most invocations read their secret from Secrets Manager.
    http: OnceLock<reqwest::Client>,
    /// The last credentials, until [`CREDENTIALS_MARGIN`] before they expire (the SDK's
    /// clients cache theirs the same way; the configuration's provider does not).
    cached: Mutex<Option<Credentials>>,
}

impl SsmClient {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        let ignore_env = config.endpoint_url().is_none()
            && env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let (ssm_env, global_env) = if ignore_env {
            (None, None)
        } else {
            (env("AWS_ENDPOINT_URL_SSM"), env("AWS_ENDPOINT_URL"))
        };
        let region = config.region().map(|r| r.to_string());
        SsmClient {
            credentials: config.credentials_provider(),
            endpoint: resolve_endpoint(
                ssm_env.as_deref(),
                config.endpoint_url(),
                global_env.as_deref(),
                region.as_deref(),
            ),
            region,
            http: OnceLock::new(),
            cached: Mutex::new(None),
        }
    }

    /// Where the calls go, if a region or an endpoint was configured.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// A parameter's value, SecureStrings decrypted.
    pub async fn get_parameter(&self, name: &str) -> Result<String, SsmError> {
        const OPERATION: &str = "GetParameter";
        let answer = self
            .call(OPERATION, &json!({"Name": name, "WithDecryption": true}))
            .await?;
        answer
            .pointer("/Parameter/Value")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                SsmError::no_answer(
                    OPERATION,
                    "the answer has no Parameter.Value: check that AWS_ENDPOINT_URL points at SSM",
                )
            })
    }

    /// Creates or overwrites a parameter of `kind` (`String`, `StringList`, `SecureString`).
    /// For the tests' fixtures: nothing in the functions or the CLI writes parameters.
    pub async fn put_parameter(&self, name: &str, value: &str, kind: &str) -> Result<(), SsmError> {
        self.call(
            "PutParameter",
            &json!({"Name": name, "Value": value, "Type": kind, "Overwrite": true}),
        )
        .await
        .map(|_| ())
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(CALL_TIMEOUT)
                .build()
                .expect("an HTTP client with rustls")
        })
    }

    async fn credentials(&self, operation: &str) -> Result<Credentials, SsmError> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + CREDENTIALS_MARGIN)
        };
        let cached = self.cached.lock().expect("credentials").clone();
        if let Some(c) = cached.filter(fresh) {
            return Ok(c);
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| SsmError::no_answer(operation, NO_CREDENTIALS))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| SsmError::no_answer(operation, &credentials_error_text(&e)))?;
        *self.cached.lock().expect("credentials") = Some(credentials.clone());
        Ok(credentials)
    }

    /// One operation, retried while transient; the answer's JSON.
    async fn call(&self, operation: &str, body: &Value) -> Result<Value, SsmError> {
        let region = self
            .region
            .as_deref()
            .ok_or_else(|| SsmError::no_answer(operation, NO_REGION))?;
        let endpoint = self
            .endpoint
            .as_deref()
            .ok_or_else(|| SsmError::no_answer(operation, NO_REGION))?;
        let credentials = self.credentials(operation).await?;
        let mut attempt = 1;
        loop {
            let result = self
                .attempt(operation, endpoint, region, &credentials, body)
                .await;
            match result {
                Ok(answer) => return Ok(answer),
                Err((err, status)) if attempt < ATTEMPTS && err.transient(status) => {
                    let base = 100u64 << attempt;
                    tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..base))).await;
                    attempt += 1;
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// One signed attempt; on failure, the error and the HTTP status if there was an answer.
    async fn attempt(
        &self,
        operation: &str,
        endpoint: &str,
        region: &str,
        credentials: &Credentials,
        body: &Value,
    ) -> Result<Value, (SsmError, Option<u16>)> {
        let request = signed_request(
            endpoint,
            region,
            credentials,
            operation,
            body,
            SystemTime::now(),
        )
        .map_err(|e| {
            (
                SsmError::no_answer(operation, &format!("cannot sign the request: {e}")),
                None,
            )
        })?;
        let mut builder = self.http().post(&request.url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder.send().await.map_err(|e| {
            let mut why = causes(&e);
            if e.is_timeout() {
                why.insert(0, "timeout".into());
            }
            (SsmError::no_answer(operation, &no_answer(&why, None)), None)
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|e| {
            (
                SsmError::no_answer(operation, &no_answer(&causes(&e), Some(status))),
                Some(status),
            )
        })?;
        // Never the body itself in an error: a successful GetParameter's holds the value.
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| {
                (
                    SsmError::no_answer(
                        operation,
                        &format!("the endpoint answered HTTP {status} without JSON: check that AWS_ENDPOINT_URL points at SSM"),
                    ),
                    Some(status),
                )
            });
        }
        let json = json.unwrap_or(Value::Null);
        let err = match error_code(error_type.as_deref(), &json) {
            Some(code) => {
                let message = ["message", "Message"]
                    .iter()
                    .find_map(|k| json.get(*k).and_then(Value::as_str))
                    .map(str::trim)
                    .filter(|m| !m.is_empty());
                SsmError::new(operation, &code, message)
            }
            None => SsmError::no_answer(operation, &no_answer(&[], Some(status))),
        };
        Err((err, Some(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_codes_lose_their_namespace() {
        let body = json!({"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "x"});
        assert_eq!(
            error_code(None, &body).as_deref(),
            Some("ParameterNotFound")
        );
        assert_eq!(
            error_code(
                Some("AccessDeniedException:http://internal.amazon.com/coral/"),
                &body
            )
            .as_deref(),
            Some("AccessDeniedException")
        );
        assert_eq!(
            error_code(None, &json!({"__type": "ParameterNotFound"})).as_deref(),
            Some("ParameterNotFound")
        );
        assert_eq!(error_code(None, &Value::Null), None);
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
