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

/// How many ports a child server is offered before its start fails.
const PORT_ATTEMPTS: usize = 3;

/// Start a child server with `start(port)` on a port picked with [`free_port`], and on another
/// one when that port was taken before the child bound it: tests run in parallel, and any of
/// them may bind port 0 in between. A start that fails for another reason is not repeated.
pub fn on_a_free_port<T>(mut start: impl FnMut(u16) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut attempt = 1;
    loop {
        match start(free_port()?) {
            Err(e) if attempt < PORT_ATTEMPTS && port_was_taken(&e) => attempt += 1,
            result => return result,
        }
    }
}

/// Whether a start failed because its port was in use (Go's and PostgreSQL's wording, and
/// Node's code).
fn port_was_taken(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}").to_lowercase();
    text.contains("address already in use") || text.contains("eaddrinuse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_whose_port_was_taken_is_tried_on_another_port_and_other_failures_are_not() {
        let mut ports = Vec::new();
        let started = on_a_free_port(|port| {
            ports.push(port);
            if ports.len() < 2 {
                anyhow::bail!("prometheus exited at start:\nlisten tcp 127.0.0.1:{port}: bind: address already in use")
            }
            Ok(port)
        })
        .unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(started, ports[1]);

        let mut tries = 0;
        let error = on_a_free_port(|_| -> anyhow::Result<()> {
            tries += 1;
            anyhow::bail!("prometheus exited at start: bad rule file")
        })
        .unwrap_err();
        assert_eq!(tries, 1);
        assert!(error.to_string().contains("bad rule file"));

        let mut tries = 0;
        on_a_free_port(|_| -> anyhow::Result<()> {
            tries += 1;
            anyhow::bail!("could not bind IPv4 address: Address already in use")
        })
        .unwrap_err();
        assert_eq!(tries, PORT_ATTEMPTS);
    }
}
