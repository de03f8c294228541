//! moto server on a free loopback port, started from the project's venv (`.venv`, which
//! `.ci/run` creates) or from `MOTO_SERVER`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

/// Where the `moto_server` executable is.
pub fn moto_executable() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join(".venv/bin/moto_server");
    if venv.exists() {
        return Ok(venv);
    }
    bail!(
        "moto server not found: run `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'` in the repository root, or set MOTO_SERVER to the moto_server executable"
    )
}

/// moto's own server, with its requests handled one at a time. moto checks a DynamoDB
/// condition and then writes, without a lock, so two workers claiming one item at the same
/// moment could both win (seen: a validation approved twice by racing workers). DynamoDB
/// makes each conditional write atomic; serialising the requests gives moto the same
/// guarantee. Connections stay concurrent (threaded server, HTTP/1.1).
///
/// The server binds port 0 itself and prints the port it got. Picking a free port first and
/// passing it on lost a race in CI: between the pick and moto's bind, a test's in-process
/// server took the same port, and the test's DynamoDB calls reached that server instead.
const SERIALIZED_MOTO: &str = r#"
import os, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app,
)
lock = threading.Lock()
dispatch = DomainDispatcherApplication.__call__
def one_at_a_time(self, environ, start_response):
    with lock:
        return list(dispatch(self, environ, start_response))
DomainDispatcherApplication.__call__ = one_at_a_time
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
os.environ["MOTO_PORT"] = str(server.server_port)
print(server.server_port, flush=True)
server.serve_forever()
"#;

/// How long moto may take to import and listen (it imports every service's backend).
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl MotoServer {
    pub fn start() -> anyhow::Result<Self> {
        let executable = moto_executable()?;
        // The venv's interpreter beside moto_server runs moto with serialised requests.
        let python = executable.with_file_name("python3");
        if python.exists() {
            Self::start_serialized(&python)
        } else {
            Self::start_executable(&executable)
        }
    }

    /// Start [`SERIALIZED_MOTO`] and read the port it bound from its first line of output.
    fn start_serialized(python: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(python)
            .args(["-c", SERIALIZED_MOTO])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start moto with {}", python.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("moto's output was not captured")?;
        let (sender, port) = std::sync::mpsc::channel();
        // The first line is the port; the rest is drained, so moto never writes to a closed
        // pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = sender.send(first);
            lines.map_while(Result::ok).for_each(drop);
        });
        let mut server = MotoServer {
            child,
            endpoint: String::new(),
        };
        let line = match port.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => bail!(
                "moto server did not listen within {} s",
                START_TIMEOUT.as_secs()
            ),
        };
        match line.trim().parse::<u16>() {
            Ok(port) => {
                server.endpoint = format!("http://127.0.0.1:{port}");
                Ok(server)
            }
            Err(_) => match server.child.try_wait()? {
                Some(status) => bail!("moto server exited at start ({status})"),
                None => bail!("moto server printed {:?} instead of its port", line.trim()),
            },
        }
    }

    /// Start a `moto_server` executable on a free port (`MOTO_SERVER` without a python3
    /// beside it): its requests are not serialised, and the port is picked before it binds.
    fn start_executable(executable: &Path) -> anyhow::Result<Self> {
        let port = super::free_port()?;
        let child = Command::new(executable)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", executable.display()))?;
        let mut server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("moto server exited at start ({status})");
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "moto server did not listen on port {port} within {} s",
                    START_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
