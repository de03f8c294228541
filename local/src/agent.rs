//! A local CodeDeploy agent: it polls the CodeDeploy emulator for deployments, downloads each
//! revision from (moto) S3, and installs it on a local "host" (a directory) the way the EC2
//! agent does an in-place deployment: ApplicationStop from the last revision, BeforeInstall,
//! Install (the appspec's files, re-rooted under the host directory), AfterInstall,
//! ApplicationStart and ValidateService, each hook a real `bash` run of the bundle's script
//! with CodeDeploy's environment variables.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use super::progress::{Progress, ProgressSender};
use unbreakable_emulators::aws::fake::Deployment;
use unbreakable_emulators::aws::AwsFake;

/// What CodeDeploy runs, in order, for an in-place deployment (after ApplicationStop, which
/// comes from the previous revision).
const LIFECYCLE: [&str; 4] = [
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub location: String,
    pub timeout: Duration,
}

/// The part of `appspec.yml` (version 0.0, os linux) an EC2 in-place deployment uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppSpec {
    /// (source in the bundle, destination directory on the host).
    pub files: Vec<(String, String)>,
    pub hooks: BTreeMap<String, Vec<Hook>>,
}

/// Read an appspec. Only its block-style YAML subset is accepted; anything else is an error
/// that names the line.
pub fn parse_appspec(text: &str) -> Result<AppSpec, String> {
    let mut spec = AppSpec::default();
    let mut section = String::new();
    let mut event = String::new();
    let (mut version, mut os) = (None, None);
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or_default().trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = |m: &str| format!("appspec.yml line {}: {m}", number + 1);
        let indent = line.len() - line.trim_start().len();
        let item = line.trim_start().strip_prefix("- ");
        let body = item.unwrap_or(line.trim_start());
        let (key, value) = body
            .split_once(':')
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .ok_or_else(|| at("expected `key: value`"))?;
        if indent == 0 {
            section = key.to_string();
            match key {
                "version" => version = Some(value.to_string()),
                "os" => os = Some(value.to_string()),
                _ => {}
            }
            continue;
        }
        match section.as_str() {
            "files" => match (item.is_some(), key) {
                (true, "source") => spec.files.push((value.to_string(), String::new())),
                (false, "destination") => {
                    let last = spec
                        .files
                        .last_mut()
                        .ok_or_else(|| at("destination before source"))?;
                    last.1 = value.to_string();
                }
                _ => return Err(at(&format!("unexpected `{key}` in files"))),
            },
            "hooks" => {
                if item.is_none() && value.is_empty() && key != "location" {
                    event = key.to_string();
                    spec.hooks.entry(event.clone()).or_default();
                    continue;
                }
                let hooks = spec
                    .hooks
                    .get_mut(&event)
                    .ok_or_else(|| at("a hook outside a lifecycle event"))?;
                match (item.is_some(), key) {
                    (true, "location") => hooks.push(Hook {
                        location: value.to_string(),
                        timeout: Duration::from_secs(3600),
                    }),
                    (false, "timeout") => {
                        let secs: u64 = value
                            .parse()
                            .map_err(|_| at("timeout must be a number of seconds"))?;
                        hooks
                            .last_mut()
                            .ok_or_else(|| at("timeout before location"))?
                            .timeout = Duration::from_secs(secs);
                    }
                    (false, "runas") => {}
                    _ => return Err(at(&format!("unexpected `{key}` in hooks"))),
                }
            }
            _ => {}
        }
    }
    if version.as_deref() != Some("0.0") {
        return Err("appspec.yml: version must be 0.0".into());
    }
    if os.as_deref() != Some("linux") {
        return Err("appspec.yml: os must be linux for this agent".into());
    }
    Ok(spec)
}

/// One local host: the deployment groups whose EC2 tag filter selects it share it.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub root: PathBuf,
    /// The port the sample app listens on (port 80 on the EC2 host).
    pub app_port: u16,
}

impl Host {
    /// A bundle destination such as `/opt/unbreakable/app`, inside this host.
    pub fn path(&self, destination: &str) -> PathBuf {
        self.root.join(destination.trim_start_matches('/'))
    }

    pub fn app_dir(&self) -> PathBuf {
        self.path("/opt/unbreakable/app")
    }
}

pub struct Agent {
    pub fake: Arc<AwsFake>,
    pub s3: aws_sdk_s3::Client,
    /// Deployment group → its host.
    pub hosts: BTreeMap<String, Host>,
    /// Variables every hook gets besides CodeDeploy's (PATH, the run marker, the app's
    /// latency scale).
    pub base_env: Vec<(String, String)>,
    /// Variables the hooks of one deployment group get on top (the self-healing scenario
    /// points Production's load test at the balancer with `TARGET_URL`).
    pub group_env: BTreeMap<String, Vec<(String, String)>>,
    pub progress: ProgressSender,
    /// Group → the archive of its last successful deployment (where ApplicationStop runs).
    last_archive: BTreeMap<String, PathBuf>,
}

impl Agent {
    pub fn new(
        fake: Arc<AwsFake>,
        s3: aws_sdk_s3::Client,
        hosts: BTreeMap<String, Host>,
        base_env: Vec<(String, String)>,
        progress: ProgressSender,
    ) -> Self {
        Agent {
            fake,
            s3,
            hosts,
            base_env,
            group_env: BTreeMap::new(),
            progress,
            last_archive: BTreeMap::new(),
        }
    }

    /// Poll for deployments until the task is dropped.
    pub async fn run(mut self) {
        loop {
            match self.fake.claim_deployment() {
                Some(d) => {
                    let outcome = self.deploy(&d).await;
                    let build = self.hosts.get(&d.group).and_then(|h| {
                        read_build_number(&h.root.join("deployment-root").join(&d.id))
                    });
                    let rollback = d
                        .description
                        .contains(unbreakable_shared::contract::ROLLBACK_MARKER);
                    self.progress.send(Progress::Deployed {
                        group: d.group.clone(),
                        deployment_id: d.id.clone(),
                        build,
                        rollback,
                        error: outcome.as_ref().err().map(|e| format!("{e:#}")),
                    });
                    self.fake
                        .finish_deployment(&d.id, outcome.map_err(|e| format!("{e:#}")));
                }
                None => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        }
    }

    async fn deploy(&mut self, d: &Deployment) -> anyhow::Result<()> {
        let host = self
            .hosts
            .get(&d.group)
            .cloned()
            .ok_or_else(|| anyhow!("no local host serves deployment group {}", d.group))?;
        let location = &d.revision["s3Location"];
        let (bucket, key) = (
            location["bucket"].as_str().unwrap_or_default(),
            location["key"].as_str().unwrap_or_default(),
        );
        let bundle = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("DownloadBundle: s3://{bucket}/{key}"))?
            .body
            .collect()
            .await
            .context("DownloadBundle: reading the bundle")?
            .into_bytes();
        let archive = host
            .root
            .join("deployment-root")
            .join(&d.id)
            .join("deployment-archive");
        unzip(&bundle, &archive).context("DownloadBundle: unpacking the bundle")?;
        let spec_text = std::fs::read_to_string(archive.join("appspec.yml"))
            .context("the bundle has no appspec.yml at its root")?;
        let spec = parse_appspec(&spec_text).map_err(|e| anyhow!(e))?;
        let log = host
            .root
            .join("deployment-root")
            .join(&d.id)
            .join("scripts.log");

        if let Some(previous) = self.last_archive.get(&d.group).cloned() {
            if let Ok(text) = std::fs::read_to_string(previous.join("appspec.yml")) {
                let previous_spec = parse_appspec(&text).map_err(|e| anyhow!(e))?;
                self.run_hooks(&previous_spec, "ApplicationStop", &previous, &host, d, &log)
                    .await?;
            }
        }
        for event in LIFECYCLE {
            if event == "AfterInstall" {
                install(&spec, &archive, &host)?;
            }
            self.run_hooks(&spec, event, &archive, &host, d, &log)
                .await?;
        }
        self.last_archive.insert(d.group.clone(), archive);
        Ok(())
    }

    async fn run_hooks(
        &self,
        spec: &AppSpec,
        event: &str,
        archive: &Path,
        host: &Host,
        d: &Deployment,
        log: &Path,
    ) -> anyhow::Result<()> {
        for hook in spec.hooks.get(event).into_iter().flatten() {
            let script = archive.join(&hook.location);
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?;
            let mut command = tokio::process::Command::new("bash");
            command
                .arg(&script)
                .current_dir(archive)
                .env_clear()
                .envs(self.base_env.iter().map(|(k, v)| (k, v)))
                .env("LIFECYCLE_EVENT", event)
                .env("DEPLOYMENT_ID", &d.id)
                .env("APPLICATION_NAME", &d.application)
                .env("DEPLOYMENT_GROUP_NAME", &d.group)
                .env("DEPLOYMENT_GROUP_ID", format!("dg-{}", d.group))
                .env("UNBREAKABLE_APP_DIR", host.app_dir())
                .env("UNBREAKABLE_TESTS_DIR", host.path("/opt/unbreakable/tests"))
                .env("APP_PORT", host.app_port.to_string())
                .env("APP_BIND", "127.0.0.1")
                .envs(
                    self.group_env
                        .get(&d.group)
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k, v)),
                )
                .stdin(std::process::Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file)
                .kill_on_drop(true);
            let mut child = command
                .spawn()
                .with_context(|| format!("{event}: cannot run bash {}", script.display()))?;
            let status = match tokio::time::timeout(hook.timeout, child.wait()).await {
                Ok(status) => status?,
                Err(_) => bail!(
                    "{event}: {} ran longer than its {} s timeout",
                    hook.location,
                    hook.timeout.as_secs()
                ),
            };
            if !status.success() {
                let tail = std::fs::read_to_string(log)
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join(" | ");
                bail!("{event}: {} failed ({status}): {tail}", hook.location);
            }
        }
        Ok(())
    }
}

/// Install: copy each `files` entry into its destination directory on the host.
fn install(spec: &AppSpec, archive: &Path, host: &Host) -> anyhow::Result<()> {
    for (source, destination) in &spec.files {
        let from = archive.join(source);
        let to_dir = host.path(destination);
        std::fs::create_dir_all(&to_dir)?;
        if from.is_dir() {
            copy_tree(&from, &to_dir)?;
        } else {
            let name = from
                .file_name()
                .ok_or_else(|| anyhow!("Install: bad source {source}"))?;
            std::fs::copy(&from, to_dir.join(name))
                .with_context(|| format!("Install: {source} → {destination}"))?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn unzip(bytes: &[u8], into: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    std::fs::create_dir_all(into)?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let relative = file
            .enclosed_name()
            .ok_or_else(|| anyhow!("the bundle holds an unsafe path {:?}", file.name().ok()))?;
        let path = into.join(relative);
        if file.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut content = vec![];
        file.read_to_end(&mut content)?;
        std::fs::write(&path, content)?;
        if let Some(mode) = file.unix_mode() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    Ok(())
}

/// The build a deployed bundle carries (`build.env`), for the progress view.
fn read_build_number(deployment_root: &Path) -> Option<u32> {
    let text =
        std::fs::read_to_string(deployment_root.join("deployment-archive/build.env")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("BUILD_NUMBER="))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sample_bundles_appspecs() {
        let root = unbreakable_emulators::lambda::binaries::workspace_root();
        let app = parse_appspec(
            &std::fs::read_to_string(root.join("appbuilds/bundle/appspec.yml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            app.files,
            vec![
                ("sample-app".to_string(), "/opt/unbreakable/app".to_string()),
                ("build.env".to_string(), "/opt/unbreakable/app".to_string())
            ]
        );
        assert_eq!(
            app.hooks["ApplicationStart"][0].location,
            "scripts/start_server.sh"
        );
        assert_eq!(
            app.hooks["ApplicationStart"][0].timeout,
            Duration::from_secs(60)
        );
        assert_eq!(app.hooks.len(), 4);
        let tests = parse_appspec(
            &std::fs::read_to_string(root.join("appbuilds/loadtest/appspec.yml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            tests.hooks["ApplicationStop"][0].location,
            "scripts/stop_load.sh"
        );
    }

    #[test]
    fn a_bad_appspec_names_the_line() {
        for (text, expected) in [
            ("version: 0.0\nos: windows\n", "os must be linux"),
            ("os: linux\n", "version must be 0.0"),
            (
                "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: a.sh\n      timeout: soon\n",
                "line 6: timeout must be a number of seconds",
            ),
            ("version: 0.0\nos: linux\nfiles:\n  destination: /x\n", "line 4: destination before source"),
            ("version: 0.0\nos: linux\nfiles:\n  - source\n", "line 4: expected `key: value`"),
        ] {
            let error = parse_appspec(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
