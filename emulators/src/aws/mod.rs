//! AWS services for tests: moto server (DynamoDB, S3, Secrets Manager, SSM) as a child
//! process, and a stateful CodePipeline/CodeDeploy fake for the parts moto lacks.

pub mod fake;
pub mod moto;

pub use fake::{AwsFake, FakeState};
pub use moto::MotoServer;

/// A free loopback port (bound and released; the caller binds it next).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
