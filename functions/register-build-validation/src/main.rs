//! The `register-build-validation` Lambda function; the handler is `unbreakable::functions::register`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::register::main().await
}
