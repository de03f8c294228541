//! A real Alertmanager (Debian's `prometheus-alertmanager` package, 0.25) on a free loopback
//! port, with a temporary configuration and storage directory, stopped and removed on drop.
//! Every alert goes to one webhook receiver, with `Authorization: Bearer <token>`, resolved
//! alerts too. Debian's binary reads its notification templates from the package's share
//! directory: install the package (an unpacked binary never listens). `ALERTMANAGER` points
//! at another binary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use crate::prometheus::{find_executable, quoted, wait_until_ready};

pub struct AlertmanagerServer {
    child: Child,
    dir: PathBuf,
    /// Where Prometheus sends alerts and a test pushes them (`POST /api/v2/alerts`).
    pub url: String,
}

fn executable() -> anyhow::Result<PathBuf> {
    match find_executable("ALERTMANAGER", &["prometheus-alertmanager", "alertmanager"]) {
        Some(path) => Ok(path),
        None => bail!("Alertmanager is not installed: `sudo apt-get install prometheus-alertmanager` (Debian 12 ships 0.25), or set ALERTMANAGER to its binary"),
    }
}

/// Grouping, waits and repeats of about a second, so that a test sees a notification within
/// seconds of the alert (production values are 30 s, 5 m and 4 h).
fn config(webhook_url: &str, token_file: &str) -> String {
    format!(
        r#"route:
  receiver: unbreakable
  group_by: [alertname, service, stage]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1s
receivers:
  - name: unbreakable
    webhook_configs:
      - url: {}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {}
"#,
        quoted(webhook_url),
        quoted(token_file)
    )
}

impl AlertmanagerServer {
    /// Start Alertmanager sending every notification to `webhook_url` with
    /// `Authorization: Bearer <bearer_token>`. The token goes to a file only Alertmanager
    /// reads (`credentials_file`), not into the configuration.
    pub fn start(webhook_url: &str, bearer_token: &str) -> anyhow::Result<Self> {
        super::aws::on_a_free_port(|port| Self::start_on(webhook_url, bearer_token, port))
    }

    fn start_on(webhook_url: &str, bearer_token: &str, port: u16) -> anyhow::Result<Self> {
        let binary = executable()?;
        let dir = std::env::temp_dir().join(format!(
            "unbreakable-alertmanager-{}-{port}",
            std::process::id()
        ));
        // A directory left by a killed run with the same process id and port would make the
        // token file's create_new fail.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let token_file = dir.join("webhook-token");
        write_private(&token_file, bearer_token)?;
        let config_file = dir.join("alertmanager.yml");
        std::fs::write(
            &config_file,
            config(webhook_url, &token_file.display().to_string()),
        )?;
        let log = dir.join("alertmanager.log");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No gossip: a lone instance, and no cluster port to collide with.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = AlertmanagerServer {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        wait_until_ready("alertmanager", &mut server.child, port, &log)?;
        Ok(server)
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

impl Drop for AlertmanagerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
