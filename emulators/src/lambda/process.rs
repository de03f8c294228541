//! A function binary running against the emulator, with its output captured.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub struct FunctionProcess {
    child: Child,
    output: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr; joined once the process has exited, so
    /// `output()` then holds everything it printed.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl FunctionProcess {
    /// Start `binary` polling the emulator at `runtime_api`, with only the Lambda variables,
    /// a fake region and credentials, and `env` (nothing inherited from the caller's AWS setup).
    pub fn spawn(
        binary: &Path,
        runtime_api: &str,
        env: &[(&str, String)],
    ) -> std::io::Result<Self> {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function")
            .to_string();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn()?;
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut o = output.lock().expect("output");
                    o.push_str(&line);
                    o.push('\n');
                }
            }));
        }
        Ok(FunctionProcess {
            child,
            output,
            readers,
        })
    }

    /// Everything the function printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory in KiB (`VmHWM`), while the process runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// SIGKILL, as when a Lambda sandbox dies mid-invocation.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for the process to exit by itself (a failed cold start); its exit code.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The pipes reach end of file with the exit: take the last lines in.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
