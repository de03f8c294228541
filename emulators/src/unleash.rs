//! A real Unleash (npm's `unleash-server` 7.5.x, the last line that runs on Node 20) on a
//! free loopback port, on its own [`PostgresServer`], with authentication on and one admin
//! API token set at start; stopped and removed on drop.
//!
//! The package is not vendored: `.ci/run` installs it with
//! `npm install --prefix .cache/unleash-server unleash-server@~7.5 --no-audit --no-fund`
//! (a gitignored directory in the workspace); `UNLEASH_SERVER_DIR` points at another
//! install prefix and `NODE` at another node binary.
//!
//! Like the database, the node process is tethered to its owner: a small start script exits
//! as soon as its stdin closes, which happens on drop and on the owner's exit however it ends,
//! so one instance kept in a `static` for a whole test binary is cleaned up too. Startup,
//! migrations included, takes about 4 s on an idle machine (more when the cores are busy),
//! which is why a test binary should share one instance.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::postgres::{last_lines, PostgresServer};

/// How long migrations and startup may take on a busy machine.
const READY_WITHIN: Duration = Duration::from_secs(180);

const INSTALL: &str =
    "npm install --prefix .cache/unleash-server unleash-server@~7.5 --no-audit --no-fund";

/// Runs Unleash until stdin closes. Unleash reads every setting from the environment the
/// launcher gives it; this script only ties its life to ours.
const START_SCRIPT: &str = r#"// Written by unbreakable-emulators (emulators/src/unleash.rs).
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [serverImpl, dir] = process.argv.slice(2);
// Our owner closed the pipe (dropped us, or exited however it ended): stop at once; the
// database is throwaway, so there is nothing to flush.
const stop = () => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

const { start } = await import(pathToFileURL(serverImpl).href);
start().catch((error) => {
    console.error('unleash-server failed to start:', error);
    process.exit(1);
});
"#;

pub struct UnleashServer {
    /// The tether: closing it stops node (see the module comment).
    stdin: Option<ChildStdin>,
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub url: String,
    admin_token: String,
    backend_token: String,
    /// How long it took from spawning node to `/health` answering, migrations included.
    pub startup: Duration,
    /// Declared last so it drops after node has stopped.
    postgres: PostgresServer,
}

/// The install prefix (`UNLEASH_SERVER_DIR`, else `.cache/unleash-server` in the workspace)
/// and, inside it, the package's server entry point, checked to be a 7.5.x.
fn server_impl() -> anyhow::Result<PathBuf> {
    let (prefix, from_env) = match std::env::var("UNLEASH_SERVER_DIR") {
        Ok(dir) => (PathBuf::from(dir), true),
        Err(_) => (
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(".cache/unleash-server"),
            false,
        ),
    };
    server_impl_in(&prefix, from_env)
}

fn server_impl_in(prefix: &Path, from_env: bool) -> anyhow::Result<PathBuf> {
    let package = prefix.join("node_modules/unleash-server");
    let manifest = package.join("package.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        if from_env {
            bail!(
                "UNLEASH_SERVER_DIR={} holds no unleash-server ({} is missing): point it at the --prefix directory of `npm install --prefix <dir> unleash-server@~7.5`, or unset it and run `{INSTALL}` in the workspace root (bash .ci/run does)",
                prefix.display(),
                manifest.display()
            );
        }
        bail!(
            "unleash-server is not installed ({} is missing): run `{INSTALL}` in the workspace root (bash .ci/run does), or set UNLEASH_SERVER_DIR to another install prefix",
            manifest.display()
        );
    };
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|manifest| manifest["version"].as_str().map(str::to_string))
        .unwrap_or_default();
    // 7.6 and later need Node 22; CI has Node 20.
    if !version.starts_with("7.5.") {
        bail!(
            "{} is unleash-server {version:?}, not 7.5.x (the last line that runs on Node 20): remove {} and run `{INSTALL}` in the workspace root",
            manifest.display(),
            prefix.display()
        );
    }
    Ok(package.join("dist/lib/server-impl.js"))
}

/// `node` must run and be 20 or later (unleash-server 7.5 says `engines.node >= 20`).
fn check_node(node: &str) -> anyhow::Result<()> {
    let output = Command::new(node).arg("--version").output();
    let version = match output {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            text.lines().next().unwrap_or_default().trim().to_string()
        }
        Ok(output) => bail!("`{node} --version` failed ({}): install Node.js 20, or set NODE to its binary", output.status),
        Err(error) => bail!("cannot run {node} ({error}): install Node.js 20 (Debian: apt-get install nodejs npm), or set NODE to its binary"),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        bail!("{node} is Node.js {version}; unleash-server 7.5 needs 20 or later: install Node.js 20, or set NODE to its binary");
    }
    Ok(())
}

/// A token secret nobody can guess across runs (Unleash's token format is
/// `<project>:<environment>.<secret>`).
fn new_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut secret = String::new();
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        secret.push_str(&format!("{:016x}", hasher.finish()));
    }
    secret
}

impl UnleashServer {
    /// Start PostgreSQL and Unleash on free loopback ports and wait until `/health` is GOOD.
    pub fn start() -> anyhow::Result<Self> {
        let server_impl = server_impl()?;
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_string());
        check_node(&node)?;
        let postgres = PostgresServer::start("unleash")?;
        let port = crate::aws::free_port()?;
        let dir =
            std::env::temp_dir().join(format!("unbreakable-unleash-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let script = dir.join("start.mjs");
        std::fs::write(&script, START_SCRIPT)?;
        let log_path = dir.join("unleash.log");
        let log = File::create(&log_path)?;
        let url = format!("http://127.0.0.1:{port}");
        let admin_token = format!("*:*.{}", new_secret());
        let backend_token = format!("default:production.{}", new_secret());
        let spawned = Instant::now();
        let child = Command::new(&node)
            .arg(&script)
            .arg(&server_impl)
            .arg(&dir)
            .current_dir(&dir)
            .env("DATABASE_URL", postgres.url())
            .env("DATABASE_SSL", "false")
            .env("HTTP_HOST", "127.0.0.1")
            .env("HTTP_PORT", port.to_string())
            .env("UNLEASH_URL", &url)
            // Username/password login plus API tokens: every API call needs a token.
            .env("AUTH_TYPE", "OPEN_SOURCE")
            .env("INIT_ADMIN_API_TOKENS", &admin_token)
            .env("INIT_BACKEND_API_TOKENS", &backend_token)
            // No calls out of this machine.
            .env("CHECK_VERSION", "false")
            .env("SEND_TELEMETRY", "false")
            .env("SCARF_ANALYTICS", "false")
            .env("DO_NOT_TRACK", "1")
            .env("LOG_LEVEL", "warn")
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                bail!("cannot start {node}: {error}");
            }
        };
        let stdin = child.stdin.take();
        let mut server = UnleashServer {
            stdin,
            child,
            dir,
            url,
            admin_token,
            backend_token,
            startup: Duration::ZERO,
            postgres,
        };
        loop {
            if healthy(port) {
                server.startup = spawned.elapsed();
                if let Some(stdin) = server.stdin.as_mut() {
                    stdin.flush()?;
                }
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!(
                    "unleash-server exited at start ({status}):\n{}",
                    last_lines(&log, 30)
                );
            }
            if spawned.elapsed() > READY_WITHIN {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!(
                    "unleash-server was not healthy on port {port} within {} s:\n{}",
                    READY_WITHIN.as_secs(),
                    last_lines(&log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The admin API token (`Authorization: <token>`). Never print it.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A backend (client SDK) token for project `default`, environment `production`: what an
    /// app reads its flags with (`GET /api/client/features`). Never print it.
    pub fn backend_token(&self) -> &str {
        &self.backend_token
    }

    /// The database Unleash runs on.
    pub fn postgres(&self) -> &PostgresServer {
        &self.postgres
    }
}

/// `GET /health` answers 200 `{"health":"GOOD"}` once migrations ran and the app listens.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    (answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"))
        && answer.contains("GOOD")
}

impl Drop for UnleashServer {
    fn drop(&mut self) {
        // Closing the tether makes the script exit and remove its directory.
        drop(self.stdin.take());
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        // `postgres` drops after this, with node gone.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_install_says_which_npm_command_to_run() {
        let error = server_impl_in(Path::new("/nonexistent/cache"), false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unleash-server is not installed (/nonexistent/cache/node_modules/unleash-server/package.json is missing): run `npm install --prefix .cache/unleash-server unleash-server@~7.5 --no-audit --no-fund` in the workspace root (bash .ci/run does), or set UNLEASH_SERVER_DIR to another install prefix"
        );
        let error = server_impl_in(Path::new("/nonexistent/prefix"), true).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("UNLEASH_SERVER_DIR=/nonexistent/prefix holds no unleash-server"),
            "{error}"
        );
    }

    #[test]
    fn another_version_than_7_5_is_refused_with_the_reinstall_command() {
        let prefix = std::env::temp_dir().join(format!(
            "unbreakable-unleash-version-{}",
            std::process::id()
        ));
        let package = prefix.join("node_modules/unleash-server");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("package.json"), r#"{"version": "8.0.1"}"#).unwrap();
        let error = server_impl_in(&prefix, true).unwrap_err().to_string();
        std::fs::remove_dir_all(&prefix).unwrap();
        assert!(
            error.contains("is unleash-server \"8.0.1\", not 7.5.x (the last line that runs on Node 20): remove"),
            "{error}"
        );
        assert!(
            error.ends_with(&format!("run `{INSTALL}` in the workspace root")),
            "{error}"
        );
    }

    #[test]
    fn a_node_that_does_not_run_says_how_to_get_one() {
        let error = check_node("/nonexistent/node").unwrap_err().to_string();
        assert!(
            error.starts_with("cannot run /nonexistent/node (")
                && error.ends_with("): install Node.js 20 (Debian: apt-get install nodejs npm), or set NODE to its binary"),
            "{error}"
        );
        // coreutils' `echo --version` runs and prints a version that is not Node's.
        let error = check_node("echo").unwrap_err().to_string();
        assert!(
            error.starts_with("echo is Node.js echo (GNU coreutils)")
                && error.ends_with("; unleash-server 7.5 needs 20 or later: install Node.js 20, or set NODE to its binary"),
            "{error}"
        );
        check_node("node").unwrap();
    }

    #[test]
    fn token_secrets_differ_per_call() {
        let (first, second) = (new_secret(), new_secret());
        assert_eq!(first.len(), 32, "{first}");
        assert_ne!(first, second);
    }

    /// Health, a token-authenticated admin call, a refused anonymous one, the backend token
    /// good for the client API only; after drop nothing
    /// listens on either port and both directories are gone.
    #[test]
    fn unleash_runs_with_auth_on_and_is_removed_on_drop() {
        let server = UnleashServer::start().unwrap();
        let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
        let get = |path: &str, authorization: Option<&str>| {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let header = authorization
                .map(|token| format!("Authorization: {token}\r\n"))
                .unwrap_or_default();
            write!(
                stream,
                "GET {path} HTTP/1.0\r\nHost: localhost\r\n{header}\r\n"
            )
            .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        };
        let admin = "/api/admin/projects";
        let answer = get(admin, Some(server.admin_token()));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\"id\":\"default\""), "{answer}");
        let answer = get(admin, None);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        let answer = get(admin, Some(server.backend_token()));
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let answer = get("/api/client/features", Some(server.backend_token()));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(server.admin_token().starts_with("*:*."));
        assert!(server.backend_token().starts_with("default:production."));
        let (postgres_port, unleash_dir, postgres_dir) = (
            server.postgres().port,
            server.dir.clone(),
            server.postgres().dir().to_path_buf(),
        );
        drop(server);
        for port in [port, postgres_port] {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "something still listens on {port}"
            );
        }
        for dir in [unleash_dir, postgres_dir] {
            assert!(!dir.exists(), "{} is left behind", dir.display());
        }
    }
}
