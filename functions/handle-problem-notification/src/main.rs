//! The `handle-problem-notification` Lambda function; the handler is `unbreakable::functions::problem`.

#[tokio::main]
async fn main() -> Result<(), unbreakable::functions::LambdaError> {
    unbreakable::functions::problem::main().await
}
