//! One reading of AWS SDK errors for every adapter: the service's error code (to classify)
//! and a message naming the operation (to show).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// `(code, "Operation: Code: message")`, or the transport failure when the service never
/// answered (code empty).
pub fn error_parts<E, R>(operation: &str, err: &SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_string();
    let text = match err.message() {
        Some(message) => format!("{operation}: {code}: {message}"),
        None if !code.is_empty() => format!("{operation}: {code}"),
        None => format!(
            "{operation}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(err)
        ),
    };
    (code, text)
}
