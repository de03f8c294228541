//! The `validate-build-worker` Lambda function; the handler is `unbreakable::functions::worker`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::worker::main().await
}
