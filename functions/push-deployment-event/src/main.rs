//! The `push-deployment-event` Lambda function; the handler is `unbreakable::functions::deployment_event`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::deployment_event::main().await
}
