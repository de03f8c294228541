//! moto server on a free loopback port, started from the project's venv (`.venv`, which
//! `.ci/run` creates) or from `MOTO_SERVER`.

use std::path::PathBuf;
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
const SERIALIZED_MOTO: &str = r#"
import sys, threading
from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
lock = threading.Lock()
dispatch = DomainDispatcherApplication.__call__
def one_at_a_time(self, environ, start_response):
    with lock:
        return list(dispatch(self, environ, start_response))
DomainDispatcherApplication.__call__ = one_at_a_time
sys.argv = ["moto_server"] + sys.argv[1:]
server.main()
"#;

impl MotoServer {
    pub fn start() -> anyhow::Result<Self> {
        let executable = moto_executable()?;
        let port = super::free_port()?;
        // The venv's interpreter beside moto_server runs moto with serialised requests.
        let python = executable.with_file_name("python3");
        let mut command = if python.exists() {
            let mut c = Command::new(&python);
            c.args(["-c", SERIALIZED_MOTO]);
            c
        } else {
            Command::new(&executable)
        };
        let child = command
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
            if started.elapsed() > Duration::from_secs(30) {
                bail!("moto server did not listen on port {port} within 30 s");
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
