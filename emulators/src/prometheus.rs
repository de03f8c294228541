//! A real Prometheus (Debian's `prometheus` package, 2.42) on a free loopback port, with a
//! temporary configuration and data directory, stopped and removed on drop. `.ci/run`
//! installs the package; `PROMETHEUS` points at another binary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct PrometheusServer {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

fn executable() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("PROMETHEUS") {
        return Ok(PathBuf::from(path));
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let candidate = PathBuf::from(dir).join("prometheus");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("prometheus is not installed: `sudo apt-get install prometheus` (Debian 12 ships 2.42; bash .ci/run installs it), or set PROMETHEUS to its binary")
}

impl PrometheusServer {
    /// Start Prometheus scraping `targets` (job name → `host:port`) and itself every second.
    pub fn start(targets: &[(&str, String)]) -> anyhow::Result<Self> {
        let binary = executable()?;
        let port = super::aws::free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "unbreakable-prometheus-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        config.push_str(&format!(
            "  - job_name: prometheus\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n"
        ));
        for (job, target) in targets {
            config.push_str(&format!(
                "  - job_name: \"{job}\"\n    static_configs: [{{targets: [\"{target}\"]}}]\n"
            ));
        }
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config)?;
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = PrometheusServer {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if ready(port) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("prometheus exited at start ({status})");
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("prometheus was not ready on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `GET /-/ready` answers 200 once the TSDB is open.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
