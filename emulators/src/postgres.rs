//! A real PostgreSQL 15 (Debian's `postgresql` package) for tests and `local`: a throwaway
//! cluster in a temporary directory, served on a free loopback port with trust
//! authentication, with one database created; stopped and removed on drop.
//!
//! The server is tethered to its owner: a small shell wrapper holds the postmaster and stops
//! it (fast shutdown) and removes the directory as soon as its stdin closes. Dropping the
//! [`PostgresServer`] closes that pipe, and so does the owning process's exit, however it
//! ends, so an instance kept in a `static` for a whole test binary is cleaned up too.
//!
//! PostgreSQL refuses to run as root; tests and CI do run as root, so then `initdb` and
//! `postgres` run as the `postgres` system user (created by the Debian package) through
//! `setpriv`, which execs in place (unlike `runuser`, which forks), so the wrapper's signal
//! reaches the postmaster itself.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Where Debian's `postgresql` package puts the server binaries.
const DEBIAN_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The superuser role `initdb` creates, which every client of the cluster connects as.
pub const SUPERUSER: &str = "postgres";

/// How long the cluster may take to accept connections after the postmaster starts.
const READY_WITHIN: Duration = Duration::from_secs(30);

const INSTALL_HINT: &str = "install PostgreSQL 15 (`sudo apt-get install postgresql`; bash .ci/run installs it), or set PG_BIN to the directory holding initdb, postgres, pg_isready and createdb";

pub struct PostgresServer {
    /// The tether: closing it stops the server (see the module comment).
    stdin: Option<ChildStdin>,
    wrapper: Child,
    dir: PathBuf,
    pub port: u16,
    pub database: String,
}

/// The directory holding `initdb`, `postgres`, `pg_isready` and `createdb`: `PG_BIN`, else
/// Debian's PostgreSQL 15, else wherever `initdb` is on `PATH`.
fn binaries() -> anyhow::Result<PathBuf> {
    binaries_from(
        std::env::var("PG_BIN").ok(),
        Path::new(DEBIAN_BIN),
        &std::env::var("PATH").unwrap_or_default(),
    )
}

fn binaries_from(pg_bin: Option<String>, debian: &Path, path: &str) -> anyhow::Result<PathBuf> {
    const NEEDED: [&str; 4] = ["initdb", "postgres", "pg_isready", "createdb"];
    let complete = |dir: &Path| NEEDED.iter().all(|name| dir.join(name).is_file());
    if let Some(dir) = pg_bin {
        let dir = PathBuf::from(dir);
        if !complete(&dir) {
            bail!(
                "PG_BIN={} does not hold all of {}: point it at PostgreSQL's bin directory ({DEBIAN_BIN} on Debian)",
                dir.display(),
                NEEDED.join(", ")
            );
        }
        return Ok(dir);
    }
    if complete(debian) {
        return Ok(debian.to_path_buf());
    }
    for dir in path.split(':') {
        let dir = PathBuf::from(dir);
        if complete(&dir) {
            return Ok(dir);
        }
    }
    bail!("PostgreSQL is not installed (no initdb in PG_BIN, {DEBIAN_BIN} or PATH): {INSTALL_HINT}")
}

/// The user and group ids to run the server as when we are root, or `None` when we are not.
fn server_account() -> anyhow::Result<Option<(u32, u32)>> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user.
    let euid = std::fs::metadata("/proc/self")
        .context("cannot read /proc/self to learn whether we run as root")?
        .uid();
    if euid != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let output = Command::new("id")
            .args([flag, SUPERUSER])
            .output()
            .context("cannot run `id` to look up the postgres user")?;
        if !output.status.success() {
            bail!(
                "running as root, and PostgreSQL refuses to run as root: it would run as the `postgres` system user, which does not exist; {INSTALL_HINT} (the package creates that user), or run the tests as a non-root user"
            );
        }
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("`id` printed something other than a number")
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// `setpriv`'s arguments that run the rest of the command line as the server's account.
const AS_SERVER_ACCOUNT: [&str; 6] = [
    "--reuid",
    SUPERUSER,
    "--regid",
    SUPERUSER,
    "--init-groups",
    "--",
];

/// `program` run as the server's account: through `setpriv` when we are root.
fn as_server_account(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("setpriv");
        command.args(AS_SERVER_ACCOUNT).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn describe(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    last_lines(&text, 20)
}

/// The last `n` lines of a program's output, for an error message.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The shell wrapper that tethers the server to our stdin pipe: on EOF it asks the
/// postmaster for a fast shutdown (SIGINT: disconnect clients, no waiting for them), waits
/// for it, and removes the cluster's directory.
const TETHER: &str = r#"
"$@" &
server=$!
cat > /dev/null
kill -INT "$server" 2> /dev/null
wait "$server"
rm -rf -- "$TETHERED_DIR"
"#;

impl PostgresServer {
    /// Create a cluster, start it on a free loopback port and create `database`.
    pub fn start(database: &str) -> anyhow::Result<Self> {
        crate::aws::on_a_free_port(|port| Self::start_on(database, port))
    }

    fn start_on(database: &str, port: u16) -> anyhow::Result<Self> {
        let bin = binaries()?;
        let account = server_account()?;
        let root = account.is_some();
        let dir = std::env::temp_dir().join(format!(
            "unbreakable-postgres-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // From here on, a failure must not leave the directory behind.
        let cleanup = RemoveOnError(Some(dir.clone()));
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", dir.display()))?;
        }
        let data = dir.join("data");
        let output = as_server_account(&bin.join("initdb"), root)
            .arg("--pgdata")
            .arg(&data)
            .args([
                "--username",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                // A throwaway cluster: nothing to make durable.
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .with_context(|| format!("cannot run {}", bin.join("initdb").display()))?;
        if !output.status.success() {
            let hint = if root {
                " (run as the postgres user, which must be able to reach that directory: if TMPDIR points into a private directory, set it to /tmp)"
            } else {
                ""
            };
            bail!(
                "initdb {} failed ({}){hint}:\n{}",
                data.display(),
                output.status,
                describe(&output)
            );
        }
        // Trust is fine only because nothing but this machine's loopback can connect.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )?;

        let log_path = dir.join("postgres.log");
        let log = File::create(&log_path)?;
        let mut wrapper = Command::new("sh");
        wrapper
            .args(["-c", TETHER, "sh"])
            .env("TETHERED_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log);
        if root {
            wrapper.arg("setpriv").args(AS_SERVER_ACCOUNT);
        }
        wrapper
            .arg(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        let mut wrapper = wrapper
            .spawn()
            .context("cannot start the postgres wrapper (sh)")?;
        let stdin = wrapper.stdin.take();
        let mut server = PostgresServer {
            stdin,
            wrapper,
            dir,
            port,
            database: database.to_string(),
        };
        // The server owns the directory now; its Drop removes it.
        std::mem::forget(cleanup);

        let started = Instant::now();
        loop {
            let probe = Command::new(bin.join("pg_isready"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--username", SUPERUSER, "--timeout", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            if probe.success() {
                break;
            }
            if let Some(status) = server.wrapper.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!(
                    "postgres exited at start ({status}):\n{}",
                    last_lines(&log, 20)
                );
            }
            if started.elapsed() > READY_WITHIN {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!(
                    "postgres did not accept connections on 127.0.0.1:{port} within {} s:\n{}",
                    READY_WITHIN.as_secs(),
                    last_lines(&log, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }

        let output = Command::new(bin.join("createdb"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--username", SUPERUSER, "--", database])
            .output()
            .context("cannot run createdb")?;
        if !output.status.success() {
            bail!(
                "createdb {database} on 127.0.0.1:{port} failed ({}):\n{}",
                output.status,
                describe(&output)
            );
        }
        // Keep the write end open; `cat` in the wrapper blocks on it until we drop.
        if let Some(stdin) = server.stdin.as_mut() {
            stdin.flush()?;
        }
        Ok(server)
    }

    /// The cluster's directory (data, socket, log), removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`: trust authentication, no password.
    pub fn url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port, self.database
        )
    }
}

/// Removes a directory on drop unless forgotten: the error paths of [`PostgresServer::start`]
/// before the server owns it.
struct RemoveOnError(Option<PathBuf>);

impl Drop for RemoveOnError {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Closing the tether makes the wrapper stop the server and remove the directory.
        drop(self.stdin.take());
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(15) {
            match self.wrapper.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        // A postmaster that outlived this shuts itself down once its lock file is gone.
        let _ = self.wrapper.kill();
        let _ = self.wrapper.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server accepts SQL on its port, and after drop nothing listens there and its
    /// directory is gone.
    #[test]
    fn a_cluster_serves_its_database_and_is_removed_on_drop() {
        let server = PostgresServer::start("unleash").unwrap();
        let bin = binaries().unwrap();
        let output = Command::new(bin.join("psql"))
            .args(["--host", "127.0.0.1", "--port", &server.port.to_string()])
            .args(["--username", SUPERUSER, "--dbname", "unleash", "-Atc"])
            .arg("select current_database()")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "unleash");
        assert_eq!(
            server.url(),
            format!("postgres://postgres@127.0.0.1:{}/unleash", server.port)
        );
        let (port, dir) = (server.port, server.dir.clone());
        drop(server);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port}"
        );
    }

    #[test]
    fn a_pg_bin_without_the_binaries_is_named_in_the_error() {
        let error =
            binaries_from(Some("/nonexistent/pg".into()), Path::new(DEBIAN_BIN), "").unwrap_err();
        assert_eq!(
            error.to_string(),
            "PG_BIN=/nonexistent/pg does not hold all of initdb, postgres, pg_isready, createdb: point it at PostgreSQL's bin directory (/usr/lib/postgresql/15/bin on Debian)"
        );
    }

    #[test]
    fn missing_postgresql_says_how_to_install_it() {
        let error =
            binaries_from(None, Path::new("/nonexistent/15/bin"), "/nonexistent/bin").unwrap_err();
        assert_eq!(
            error.to_string(),
            "PostgreSQL is not installed (no initdb in PG_BIN, /usr/lib/postgresql/15/bin or PATH): install PostgreSQL 15 (`sudo apt-get install postgresql`; bash .ci/run installs it), or set PG_BIN to the directory holding initdb, postgres, pg_isready and createdb"
        );
    }

    /// The tether: a process that ends without dropping its server (a `static` shared by a
    /// test binary, or a crash) still leaves no server and no directory behind.
    #[test]
    fn a_cluster_stops_when_its_owner_exits_without_dropping_it() {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "postgres::tests::exit_without_drop",
                "--nocapture",
            ])
            .env("UNBREAKABLE_EXIT_WITHOUT_DROP", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix("started "))
            .unwrap_or_else(|| panic!("the child did not start a server:\n{text}"));
        let (port, dir) = line.split_once(' ').unwrap();
        let dir = PathBuf::from(dir);
        let asked = Instant::now();
        while dir.exists() && asked.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err(),
            "something still listens on {port}"
        );
    }

    /// Run by the test above in a child process: start a server and exit without dropping it.
    /// A no-op in a normal test run.
    #[test]
    fn exit_without_drop() {
        if std::env::var("UNBREAKABLE_EXIT_WITHOUT_DROP").is_ok() {
            let server = PostgresServer::start("unleash").unwrap();
            println!("started {} {}", server.port, server.dir.display());
            std::process::exit(0);
        }
    }
}
