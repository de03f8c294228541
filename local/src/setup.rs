//! The run's first steps, which may take minutes on a fresh clone: building the function
//! binaries and the sample app, and installing moto into the project's venv. They share
//! nothing (cargo's target directory, pip's `.venv`), so they run at the same time.

use std::process::Command;

use anyhow::{anyhow, bail};
use unbreakable_emulators::aws::moto::moto_executable;
use unbreakable_emulators::lambda::binaries::workspace_root;

/// Whether moto must be installed first: no `MOTO_SERVER`, none in `.venv`.
pub fn moto_missing() -> bool {
    moto_executable().is_err()
}

/// Installs moto into the project's venv: `python3 -m venv .venv`, then pip. pip's own
/// messages go to the terminal; the error says which step failed and how to get past it.
pub fn install_moto() -> anyhow::Result<()> {
    let root = workspace_root();
    match Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(&root)
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => bail!("cannot create the Python venv .venv (python3 -m venv: {status}): install python3 and python3-venv (Debian: apt-get install python3-venv), then run again"),
        Err(e) => bail!("cannot create the Python venv .venv (cannot run python3: {e}): install python3 and python3-venv (Debian: apt-get install python3-venv), then run again"),
    }
    let pip = Command::new(root.join(".venv/bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            // Byte-compiling all of moto at install took 19 of pip's 54 s here; Python
            // compiles the few modules the local stack imports when it first starts moto.
            "--no-compile",
            "moto[server]>=5.1,<6",
        ])
        .status();
    let failed = match pip {
        Ok(status) if status.success() => None,
        Ok(status) => Some(status.to_string()),
        Err(e) => Some(format!("cannot run .venv/bin/pip: {e}")),
    };
    if let Some(why) = failed {
        bail!("pip could not install moto into .venv ({why}; no access to PyPI?). Install it with `.venv/bin/pip install 'moto[server]'`, or set MOTO_SERVER to a moto_server executable, then run again");
    }
    moto_executable().map(|_| ())
}

/// Runs two blocking steps at once and waits for both, even when one fails early (pip is
/// never cut off halfway through the venv). Both results, or the failure of each that
/// failed, each with its own message.
pub async fn at_once<A, B>(
    a: impl FnOnce() -> anyhow::Result<A> + Send + 'static,
    b: impl FnOnce() -> anyhow::Result<B> + Send + 'static,
) -> anyhow::Result<(A, B)>
where
    A: Send + 'static,
    B: Send + 'static,
{
    let a = tokio::task::spawn_blocking(a);
    let b = tokio::task::spawn_blocking(b);
    let a = a.await.map_err(anyhow::Error::from).and_then(|r| r);
    let b = b.await.map_err(anyhow::Error::from).and_then(|r| r);
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(anyhow!("{a:#}; and {b:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::at_once;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Each step waits for the other's signal: run one after the other, the first would
    /// time out.
    #[tokio::test]
    async fn both_steps_run_at_the_same_time() {
        let (to_b, from_a) = mpsc::channel();
        let (to_a, from_b) = mpsc::channel();
        let wait = Duration::from_secs(10);
        let (a, b) = at_once(
            move || {
                to_b.send(()).unwrap();
                from_b
                    .recv_timeout(wait)
                    .map_err(|_| anyhow::anyhow!("a ran alone"))?;
                Ok("built")
            },
            move || {
                to_a.send(()).unwrap();
                from_a
                    .recv_timeout(wait)
                    .map_err(|_| anyhow::anyhow!("b ran alone"))?;
                Ok(1)
            },
        )
        .await
        .unwrap();
        assert_eq!((a, b), ("built", 1));
    }

    #[tokio::test]
    async fn a_failure_waits_for_the_other_step_and_each_failure_is_said() {
        let (done_tx, done_rx) = mpsc::channel();
        let err = at_once(
            || -> anyhow::Result<()> { anyhow::bail!("building the workspace's binaries failed") },
            move || {
                std::thread::sleep(Duration::from_millis(200));
                done_tx.send(()).unwrap();
                Ok(())
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "building the workspace's binaries failed");
        assert!(done_rx.try_recv().is_ok(), "the other step had finished");

        let err = at_once(
            || -> anyhow::Result<()> { anyhow::bail!("the build failed") },
            || -> anyhow::Result<()> { anyhow::bail!("pip could not install moto") },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the build failed; and pip could not install moto"
        );
    }
}
