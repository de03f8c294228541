//! One reading of AWS SDK errors for every adapter and the CLI: the service's error code (to
//! classify) and one line naming the operation, what went wrong and how to fix it (to show).
//! Never the SDK's debug structures (`DispatchFailure(DispatchFailure { … })`): a call that
//! got no answer is said by its cause (no region, no credentials, the endpoint unreachable or
//! silent), a refused one by its code, with the fix for the usual ones (access denied,
//! throttling, credentials refused).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// `(code, "Operation: what went wrong[: the fix]")`; the code is empty when the service
/// never answered.
pub fn error_parts<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().unwrap_or_default().to_string();
    let fix = code_fix(&code)
        .map(|fix| format!(" ({fix})"))
        .unwrap_or_default();
    let text = match err.message() {
        Some(message) => format!("{operation}: {code}: {message}{fix}"),
        None if !code.is_empty() => format!("{operation}: {code}{fix}"),
        None => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            format!("{operation}: {}", no_answer(&causes(err), status))
        }
    };
    (code, text)
}

/// The line for a call without a region.
pub const NO_REGION: &str = "no AWS region: set AWS_REGION (the CLI also takes --region)";

/// The line for a shell without AWS credentials.
pub const NO_CREDENTIALS: &str =
    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE";

/// Whether `sdk` finds credentials, asked before any call so that a shell without them gets
/// [`NO_CREDENTIALS`] instead of the first call's failure. `None` when it does.
pub async fn credentials_problem(sdk: &aws_config::SdkConfig) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = sdk.credentials_provider() else {
        return Some(NO_CREDENTIALS.into());
    };
    provider
        .provide_credentials()
        .await
        .err()
        .map(|e| credentials_error_text(&e))
}

/// What a credential provider's failure tells a person: [`NO_CREDENTIALS`], with where the
/// chain ended when it did not simply find none.
pub fn credentials_error_text(
    err: &aws_credential_types::provider::error::CredentialsError,
) -> String {
    use aws_credential_types::provider::error::CredentialsError;
    match err {
        CredentialsError::CredentialsNotLoaded(_) => NO_CREDENTIALS.into(),
        e => format!(
            "{NO_CREDENTIALS} (the SDK's credential chain ended with: {})",
            causes(e).join(": ")
        ),
    }
}

/// The messages of an error and its sources, outermost first, each once.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.trim().is_empty() && !out.contains(&text) {
            out.push(text);
        }
        next = e.source();
    }
    out
}

/// The fix for a service error code people meet from a shell, if it has a usual one.
pub fn code_fix(code: &str) -> Option<&'static str> {
    let fix = match code {
        c if c.starts_with("AccessDenied") || c == "UnauthorizedOperation" => {
            "access denied: the identity's IAM policy lacks this action on this resource; allow it, or use credentials that have it"
        }
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException" => {
            "AWS refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and renew an expired session token"
        }
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "ProvisionedThroughputExceededException"
        | "SlowDown" => "throttled by AWS: wait a minute and run it again",
        "ResourceNotFoundException" | "ParameterNotFound" | "QueueDoesNotExist" => {
            "not found: check the name and the region (AWS_REGION)"
        }
        _ => return None,
    };
    Some(fix)
}

/// Why a call got no answer from the service, from its causes (see [`causes`]) and the HTTP
/// status when something answered without an AWS error: one line with the fix.
pub fn no_answer(causes: &[String], status: Option<u16>) -> String {
    let all = causes.join(": ");
    let has = |needle: &str| all.to_ascii_lowercase().contains(needle);
    let innermost = causes.last().map(String::as_str).unwrap_or("no detail");
    if has("missing region") || has("missingsigningregion") || has("signing region") {
        NO_REGION.into()
    } else if has("loading credentials")
        || has("credential provider")
        || has("provided credentials")
        || has("no credentials")
    {
        NO_CREDENTIALS.into()
    } else if has("timeout") || has("timed out") {
        format!("the AWS endpoint did not answer in time ({innermost}): check AWS_ENDPOINT_URL and the network")
    } else if has("io error") || has("connect") || has("dns error") || has("dispatch failure") {
        format!("cannot connect to the AWS endpoint ({innermost}): check AWS_ENDPOINT_URL, the region and the network")
    } else if let Some(status) = status {
        format!("the endpoint answered HTTP {status} without an AWS error: check that AWS_ENDPOINT_URL points at the service")
    } else {
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_call_without_an_answer_is_said_by_its_cause_with_the_fix() {
        let cases = [
            (
                texts(&["dispatch failure", "other", "Invalid Configuration: Missing Region"]),
                None,
                "no AWS region: set AWS_REGION (the CLI also takes --region)",
            ),
            (
                texts(&[
                    "dispatch failure",
                    "other",
                    "an error occurred while loading credentials",
                    "failed to load IMDS session token",
                ]),
                None,
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            ),
            (
                texts(&[
                    "dispatch failure",
                    "io error",
                    "client error (Connect)",
                    "tcp connect error",
                    "Connection refused (os error 111)",
                ]),
                None,
                "cannot connect to the AWS endpoint (Connection refused (os error 111)): check AWS_ENDPOINT_URL, the region and the network",
            ),
            (
                texts(&["dispatch failure", "timeout", "HTTP connect timeout occurred after 3.1s"]),
                None,
                "the AWS endpoint did not answer in time (HTTP connect timeout occurred after 3.1s): check AWS_ENDPOINT_URL and the network",
            ),
            (
                texts(&["service error", "unhandled error", "Error"]),
                Some(404),
                "the endpoint answered HTTP 404 without an AWS error: check that AWS_ENDPOINT_URL points at the service",
            ),
        ];
        for (causes, status, expected) in cases {
            let line = no_answer(&causes, status);
            assert_eq!(line, expected, "{causes:?}");
            assert!(!line.contains('{') && !line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn refusals_people_meet_get_their_fix() {
        assert!(code_fix("AccessDeniedException")
            .unwrap()
            .starts_with("access denied"));
        assert!(code_fix("ProvisionedThroughputExceededException")
            .unwrap()
            .starts_with("throttled by AWS"));
        assert!(code_fix("UnrecognizedClientException")
            .unwrap()
            .starts_with("AWS refused the credentials"));
        assert_eq!(code_fix("ConditionalCheckFailedException"), None);
    }
}
