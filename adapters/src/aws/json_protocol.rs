//! AWS's JSON protocol (1.0 and 1.1), signed with SigV4: `POST /` with
//! `X-Amz-Target: <Prefix>.<Operation>` and the input as a JSON object. Services we call once
//! or twice (SSM's GetParameter, SQS's SendMessage and ReceiveMessage) do not justify an SDK
//! crate each: aws-sdk-ssm alone cost 101 s of compile on the CLI's critical path. A
//! [`Service`] names what differs between them; [`AwsJsonClient`] does the rest.
//!
//! Configured like an SDK client, from the [`aws_config::SdkConfig`]: its credentials
//! provider and region, and the endpoint the SDK would pick (see [`resolve_endpoint`]).
//! Errors read as [`super::sdk_error::error_parts`] writes them: `Operation: code: message`,
//! with the fix for the usual codes, or why the call got no answer. Never the credentials,
//! nor a request's or an answer's body (they hold parameter values and message bodies).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use serde_json::{json, Value};

use super::declared::{iam_action, DeclaredActions};
use super::sdk_error::{
    causes, code_fix, credentials_error_text, no_answer, NO_CREDENTIALS, NO_REGION,
};

/// The content type of services whose model says `jsonVersion: 1.1` (SSM).
pub const JSON_1_1: &str = "application/x-amz-json-1.1";
/// The content type of services whose model says `jsonVersion: 1.0` (SQS).
pub const JSON_1_0: &str = "application/x-amz-json-1.0";

/// The SDK's default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// A whole call, connection included, unless the operation asks for longer (a long poll:
/// see [`AwsJsonClient::call_within`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of a call that got no answer, a 5xx or a throttling code (the SDK's standard
/// retry mode makes 3 too).
const ATTEMPTS: u32 = 3;
/// Credentials expiring within this are fetched again.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// What differs between services on the JSON protocol: how a request is addressed, signed
/// and said in messages.
#[derive(Debug)]
pub struct Service {
    /// SigV4's service name, in the credential scope (`ssm`, `sqs`).
    pub signing_name: &'static str,
    /// `X-Amz-Target`'s prefix: the target is `<prefix>.<Operation>` (`AmazonSSM`).
    pub target_prefix: &'static str,
    /// [`JSON_1_1`] or [`JSON_1_0`], as the service's model says.
    pub content_type: &'static str,
    /// The variable that points this service alone elsewhere (`AWS_ENDPOINT_URL_SSM`).
    pub endpoint_env: &'static str,
    /// The regional host's first label: `https://<prefix>.<region>.amazonaws.com`.
    pub host_prefix: &'static str,
    /// The service as messages name it (`SSM`).
    pub label: &'static str,
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct AwsJsonError {
    /// The service's error code (`ParameterNotFound`, `QueueDoesNotExist`); empty when the
    /// service never answered.
    pub code: String,
    /// One line: `Operation: code: message[ (fix)]`, or `Operation: why there was no answer`.
    pub text: String,
}

impl AwsJsonError {
    /// The service refused `operation` with `code`.
    pub fn new(operation: &str, code: &str, message: Option<&str>) -> Self {
        let fix = code_fix(code)
            .map(|fix| format!(" ({fix})"))
            .unwrap_or_default();
        let text = match message {
            Some(message) => format!("{operation}: {code}: {message}{fix}"),
            None => format!("{operation}: {code}{fix}"),
        };
        AwsJsonError {
            code: code.to_string(),
            text,
        }
    }

    /// `operation` got no answer from the service, or not one it could read: `line` says why.
    pub fn no_answer(operation: &str, line: &str) -> Self {
        AwsJsonError {
            code: String::new(),
            text: format!("{operation}: {line}"),
        }
    }

    /// Whether another attempt may succeed: no answer, a 5xx, or throttled.
    pub fn transient(&self, status: Option<u16>) -> bool {
        status.is_none_or(|s| s >= 500)
            || matches!(
                self.code.as_str(),
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyUpdates"
                    | "RequestThrottled"
                    | "InternalServerError"
            )
    }
}

/// The endpoint the SDK resolves for `service`: its own variable's value (`service_env`,
/// from [`Service::endpoint_env`]), else the configuration's (set in code, or
/// `AWS_ENDPOINT_URL` / a profile's `endpoint_url` that aws-config read), else
/// `AWS_ENDPOINT_URL`, else the regional one; `None` without a region to name it.
pub fn resolve_endpoint(
    service: &Service,
    service_env: Option<&str>,
    configured: Option<&str>,
    global_env: Option<&str>,
    region: Option<&str>,
) -> Option<String> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    if let Some(url) = given(service_env)
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
    Some(format!("https://{}.{region}.{suffix}", service.host_prefix))
}

/// A request ready to send: where, its headers (signature included) and body. No `Debug`:
/// it holds a session token and, for PutParameter or SendMessage, a value.
pub struct SignedRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `POST <endpoint>/` of `<target prefix>.<operation>` with `body`, signed for `service` in
/// `region` with `credentials` at `time`.
pub fn signed_request(
    service: &Service,
    endpoint: &str,
    region: &str,
    credentials: &Credentials,
    operation: &str,
    body: &Value,
    time: SystemTime,
) -> Result<SignedRequest, String> {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let target = format!("{}.{operation}", service.target_prefix);
    let identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service.signing_name)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [
        ("content-type", service.content_type),
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

/// The error code of a JSON protocol answer: the `x-amzn-ErrorType` header, else the body's
/// `__type` (or `code`), without the namespace (`com.amazonaws.sqs#`) or the URI after `:`.
pub fn error_code(header: Option<&str>, body: &Value) -> Option<String> {
    let raw = header
        .filter(|h| !h.trim().is_empty())
        .or_else(|| body.get("__type").and_then(Value::as_str))
        .or_else(|| body.get("code").and_then(Value::as_str))?;
    let code = raw.split(':').next().unwrap_or(raw);
    let code = code.rsplit('#').next().unwrap_or(code).trim();
    (!code.is_empty()).then(|| code.to_string())
}

/// A client of one [`Service`]: see the module.
pub struct AwsJsonClient {
    service: &'static Service,
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    endpoint: Option<String>,
    /// The actions a function declared, when it was built for one: any other call is refused
    /// before it is sent, as the SDK clients' interceptor does (see [`super::declared`]).
    declared: Option<DeclaredActions>,
    /// Built at the first call: a function may never make one.
    http: OnceLock<reqwest::Client>,
    /// The last credentials, until [`CREDENTIALS_MARGIN`] before they expire (the SDK's
    /// clients cache theirs the same way; the configuration's provider does not).
    cached: Mutex<Option<Credentials>>,
}

impl AwsJsonClient {
    pub fn new(service: &'static Service, config: &aws_config::SdkConfig) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        let ignore_env = config.endpoint_url().is_none()
            && env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let (service_env, global_env) = if ignore_env {
            (None, None)
        } else {
            (env(service.endpoint_env), env("AWS_ENDPOINT_URL"))
        };
        let region = config.region().map(|r| r.to_string());
        AwsJsonClient {
            service,
            credentials: config.credentials_provider(),
            endpoint: resolve_endpoint(
                service,
                service_env.as_deref(),
                config.endpoint_url(),
                global_env.as_deref(),
                region.as_deref(),
            ),
            region,
            declared: None,
            http: OnceLock::new(),
            cached: Mutex::new(None),
        }
    }

    /// Refuses, before sending, any operation whose IAM action (`sqs:SendMessage`) is not
    /// among `declared`.
    pub fn declared(mut self, declared: DeclaredActions) -> Self {
        self.declared = Some(declared);
        self
    }

    /// Where the calls go, if a region or an endpoint was configured.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// An answer without what `operation` must return: `what` says what is missing
    /// (`has no QueueUrl`). Usually an endpoint that is not the service's.
    pub fn unexpected_answer(&self, operation: &str, what: &str) -> AwsJsonError {
        AwsJsonError::no_answer(
            operation,
            &format!(
                "the answer {what}: check that AWS_ENDPOINT_URL points at {}",
                self.service.label
            ),
        )
    }

    /// One operation within [`CALL_TIMEOUT`], retried while transient; the answer's JSON.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, AwsJsonError> {
        self.call_within(operation, body, CALL_TIMEOUT).await
    }

    /// One operation, each attempt within `timeout` (connection included), retried while
    /// transient; the answer's JSON (`{}` for an operation without output).
    pub async fn call_within(
        &self,
        operation: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, AwsJsonError> {
        if let Some(refusal) = self
            .declared
            .and_then(|d| d.refusal(&iam_action(self.service.signing_name, operation)))
        {
            return Err(AwsJsonError::no_answer(operation, &refusal));
        }
        let region = self
            .region
            .as_deref()
            .ok_or_else(|| AwsJsonError::no_answer(operation, NO_REGION))?;
        let endpoint = self
            .endpoint
            .as_deref()
            .ok_or_else(|| AwsJsonError::no_answer(operation, NO_REGION))?;
        let credentials = self.credentials(operation).await?;
        let call = Attempt {
            operation,
            endpoint,
            region,
            credentials: &credentials,
            body,
            timeout,
        };
        let mut attempt = 1;
        loop {
            match self.attempt(&call).await {
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

    fn http(&self) -> &reqwest::Client {
        // No client-wide timeout: each request sets its own (a long poll waits longer).
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build()
                .expect("an HTTP client with rustls")
        })
    }

    async fn credentials(&self, operation: &str) -> Result<Credentials, AwsJsonError> {
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
            .ok_or_else(|| AwsJsonError::no_answer(operation, NO_CREDENTIALS))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| AwsJsonError::no_answer(operation, &credentials_error_text(&e)))?;
        *self.cached.lock().expect("credentials") = Some(credentials.clone());
        Ok(credentials)
    }

    /// One signed attempt; on failure, the error and the HTTP status if there was an answer.
    async fn attempt(&self, call: &Attempt<'_>) -> Result<Value, (AwsJsonError, Option<u16>)> {
        let operation = call.operation;
        let request = signed_request(
            self.service,
            call.endpoint,
            call.region,
            call.credentials,
            operation,
            call.body,
            SystemTime::now(),
        )
        .map_err(|e| {
            (
                AwsJsonError::no_answer(operation, &format!("cannot sign the request: {e}")),
                None,
            )
        })?;
        let mut builder = self
            .http()
            .post(&request.url)
            .timeout(call.timeout)
            .body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder.send().await.map_err(|e| {
            let mut why = causes(&e);
            if e.is_timeout() {
                why.insert(0, "timeout".into());
            }
            (
                AwsJsonError::no_answer(operation, &no_answer(&why, None)),
                None,
            )
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|e| {
            (
                AwsJsonError::no_answer(operation, &no_answer(&causes(&e), Some(status))),
                Some(status),
            )
        })?;
        // Never the body itself in an error: a GetParameter's holds the value, a
        // ReceiveMessage's the messages.
        let json: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            // An operation without output (DeleteMessage) may answer nothing at all.
            Some(json!({}))
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return json.ok_or_else(|| {
                (
                    AwsJsonError::no_answer(
                        operation,
                        &format!(
                            "the endpoint answered HTTP {status} without JSON: check that AWS_ENDPOINT_URL points at {}",
                            self.service.label
                        ),
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
                    .map(one_line)
                    .filter(|m| !m.is_empty());
                AwsJsonError::new(operation, &code, message.as_deref())
            }
            None => AwsJsonError::no_answer(operation, &no_answer(&[], Some(status))),
        };
        Err((err, Some(status)))
    }
}

/// What every attempt of one call shares.
struct Attempt<'a> {
    operation: &'a str,
    endpoint: &'a str,
    region: &'a str,
    credentials: &'a Credentials,
    body: &'a Value,
    timeout: Duration,
}

/// A service's message on one line: errors are one line, whatever the service sends.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_SERVICE: Service = Service {
        signing_name: "sqs",
        target_prefix: "AmazonSQS",
        content_type: JSON_1_0,
        endpoint_env: "AWS_ENDPOINT_URL_TEST_ONLY",
        host_prefix: "sqs",
        label: "SQS",
    };

    fn credentials() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None, None, "tests")
    }

    #[test]
    fn the_regional_endpoint_is_named_by_the_service() {
        assert_eq!(
            resolve_endpoint(&TEST_SERVICE, None, None, None, Some("eu-west-1")).as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            resolve_endpoint(
                &TEST_SERVICE,
                Some("http://sqs.local:4566/"),
                Some("http://configured"),
                None,
                None
            )
            .as_deref(),
            Some("http://sqs.local:4566")
        );
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
            error_code(Some("com.amazonaws.sqs#QueueDoesNotExist"), &Value::Null).as_deref(),
            Some("QueueDoesNotExist")
        );
        assert_eq!(
            error_code(None, &json!({"__type": "ParameterNotFound"})).as_deref(),
            Some("ParameterNotFound")
        );
        assert_eq!(error_code(None, &Value::Null), None);
    }

    #[test]
    fn throttling_and_server_errors_are_tried_again() {
        let throttled = AwsJsonError::new("SendMessage", "RequestThrottled", None);
        assert!(throttled.transient(Some(400)));
        let missing = AwsJsonError::new("SendMessage", "QueueDoesNotExist", Some("gone"));
        assert!(!missing.transient(Some(400)) && missing.transient(Some(500)));
        assert!(AwsJsonError::no_answer("SendMessage", "refused").transient(None));
    }

    #[test]
    fn a_service_message_is_kept_on_one_line() {
        assert_eq!(
            one_line(" The queue\n does  not exist. "),
            "The queue does not exist."
        );
    }

    #[tokio::test]
    async fn an_undeclared_operation_is_refused_before_it_is_sent() {
        // Nothing listens on port 9 of loopback: a call that were sent would say so.
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(SharedCredentialsProvider::new(credentials()))
            .build();
        let client = AwsJsonClient::new(&TEST_SERVICE, &sdk).declared(DeclaredActions {
            actions: &["sqs:ReceiveMessage"],
        });
        let err = client
            .call("SendMessage", &json!({"MessageBody": "never-in-an-error"}))
            .await
            .unwrap_err();
        assert_eq!(err.code, "");
        assert!(
            err.text.starts_with(
                "SendMessage: sqs:SendMessage is not among this function's declared AWS actions"
            ),
            "{}",
            err.text
        );
        assert!(!err.text.contains("never-in-an-error"), "{}", err.text);
        assert_eq!(
            client
                .unexpected_answer("CreateQueue", "has no QueueUrl")
                .text,
            "CreateQueue: the answer has no QueueUrl: check that AWS_ENDPOINT_URL points at SQS"
        );
    }
}
