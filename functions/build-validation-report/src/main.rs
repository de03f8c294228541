//! The `build-validation-report` Lambda function; the handler is `unbreakable::functions::report`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::report::main().await
}
