//! A real Prometheus (Debian's `prometheus` package, 2.42) on a free loopback port, with a
//! temporary configuration and data directory, stopped and removed on drop. `.ci/run`
//! installs the package; `PROMETHEUS` points at another binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct PrometheusServer {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

/// What a Prometheus started by [`PrometheusServer::start_with`] scrapes, evaluates and
/// alerts to. It scrapes itself too, and scrapes and evaluates every second.
#[derive(Debug, Clone, Default)]
pub struct PrometheusOptions {
    /// Job name → `host:port`; a job named several times scrapes each of its targets.
    pub targets: Vec<(String, String)>,
    /// Rule files (their YAML, as `unbreakable alert-rules` writes it), loaded at start.
    pub rule_files: Vec<String>,
    /// The Alertmanager firing alerts go to, like `http://127.0.0.1:9093`.
    pub alertmanager_url: Option<String>,
}

/// `name` from `VARIABLE`, or the first of `names` on the PATH.
pub(crate) fn find_executable(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(variable) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        path.split(':')
            .map(|dir| PathBuf::from(dir).join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn executable() -> anyhow::Result<PathBuf> {
    match find_executable("PROMETHEUS", &["prometheus"]) {
        Some(path) => Ok(path),
        None => bail!("prometheus is not installed: `sudo apt-get install prometheus` (Debian 12 ships 2.42; bash .ci/run installs it), or set PROMETHEUS to its binary"),
    }
}

/// A YAML double-quoted scalar (a JSON string is one).
pub(crate) fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// The alerting section for `url`: scheme, `host:port` and path prefix.
fn alerting(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url)
        .with_context(|| format!("the Alertmanager URL \"{url}\" is not a URL"))?;
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        bail!("the Alertmanager URL \"{url}\" has no host and port");
    };
    Ok(format!(
        "alerting:\n  alertmanagers:\n    - scheme: {}\n      path_prefix: {}\n      static_configs: [{{targets: [{}]}}]\n",
        parsed.scheme(),
        quoted(parsed.path()),
        quoted(&format!("{host}:{port}"))
    ))
}

impl PrometheusServer {
    /// Start Prometheus scraping `targets` (job name → `host:port`) and itself every second.
    pub fn start(targets: &[(&str, String)]) -> anyhow::Result<Self> {
        Self::start_with(&PrometheusOptions {
            targets: targets
                .iter()
                .map(|(job, target)| (job.to_string(), target.clone()))
                .collect(),
            ..PrometheusOptions::default()
        })
    }

    /// Start Prometheus as `options` say. Alerts are re-sent every second
    /// (`--rules.alert.resend-delay=1s`), so a test sees a firing or resolved alert at once.
    pub fn start_with(options: &PrometheusOptions) -> anyhow::Result<Self> {
        super::aws::on_a_free_port(|port| Self::start_on(options, port))
    }

    fn start_on(options: &PrometheusOptions, port: u16) -> anyhow::Result<Self> {
        let binary = executable()?;
        let dir = std::env::temp_dir().join(format!(
            "unbreakable-prometheus-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
        if let Some(url) = &options.alertmanager_url {
            config.push_str(&alerting(url)?);
        }
        if !options.rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for (i, rules) in options.rule_files.iter().enumerate() {
                let file = dir.join(format!("rules-{i}.yml"));
                std::fs::write(&file, rules)?;
                config.push_str(&format!("  - {}\n", quoted(&file.display().to_string())));
            }
        }
        config.push_str("scrape_configs:\n");
        config.push_str(&format!(
            "  - job_name: prometheus\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n"
        ));
        // Targets of one job (the instances of a group) are one scrape config: Prometheus
        // refuses a job name twice.
        let mut jobs: Vec<(&str, Vec<String>)> = Vec::new();
        for (job, target) in &options.targets {
            match jobs.iter_mut().find(|(name, _)| name == job) {
                Some((_, targets)) => targets.push(quoted(target)),
                None => jobs.push((job, vec![quoted(target)])),
            }
        }
        for (job, targets) in jobs {
            config.push_str(&format!(
                "  - job_name: {}\n    static_configs: [{{targets: [{}]}}]\n",
                quoted(job),
                targets.join(", ")
            ));
        }
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config)?;
        let log = dir.join("prometheus.log");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = PrometheusServer {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        wait_until_ready("prometheus", &mut server.child, port, &log)?;
        Ok(server)
    }
}

/// Wait for `GET /-/ready` to answer 200; if the process exits first, the error carries the
/// end of its log (a bad rule file, a missing template).
pub(crate) fn wait_until_ready(
    name: &str,
    child: &mut Child,
    port: u16,
    log: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if ready(port) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited at start ({status}):\n{}", log_tail(log));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!(
                "{name} was not ready on port {port} within 30 s:\n{}",
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `GET /-/ready` answers 200 once the server can serve (Prometheus: the TSDB is open).
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
