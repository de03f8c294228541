//! The `publish-validation-result` Lambda function; the handler is `unbreakable::functions::publish`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::publish::main().await
}
