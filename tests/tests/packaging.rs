//! `scripts/package-lambdas.sh` end to end (with the dev profile): it builds the functions, checks
//! their glibc needs, and writes `target/lambda/<function>.zip` holding an executable
//! `bootstrap`; with a ceiling lower than what the binaries need it fails and says why.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use unbreakable_emulators::lambda::binaries::{clean_cargo_env, workspace_root, FUNCTIONS};

fn package(max_glibc: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new("bash");
    command
        .arg("scripts/package-lambdas.sh")
        .current_dir(workspace_root());
    clean_cargo_env(&mut command);
    // The debug tree `cargo test` built: the script's logic is under test, not the optimiser.
    command.env("UNBREAKABLE_PACKAGE_PROFILE", "dev");
    if let Some(max) = max_glibc {
        command.env("UNBREAKABLE_MAX_GLIBC", max);
    }
    let out = command.output().expect("run the packaging script");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn lambda_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"))
        .join("lambda")
}

#[test]
fn packages_every_function_as_an_executable_bootstrap_and_checks_glibc() {
    let (ok, stdout, stderr) = package(None);
    assert!(ok, "{stdout}\n{stderr}");
    for f in FUNCTIONS {
        let path = lambda_dir().join(format!("{f}.zip"));
        assert!(
            stdout.contains(&format!("{f}.zip")) && stdout.contains("KiB"),
            "the size of {f}.zip is printed: {stdout}"
        );
        let mut zip =
            zip::ZipArchive::new(std::fs::File::open(&path).expect("zip")).expect("a zip");
        assert_eq!(zip.len(), 1, "{f}: only the bootstrap");
        let mut entry = zip.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(
            entry.unix_mode().unwrap_or(0) & 0o111,
            0o111,
            "{f}: executable"
        );
        let mut magic = [0u8; 4];
        entry.read_exact(&mut magic).unwrap();
        assert_eq!(&magic, b"\x7fELF", "{f}: a Linux binary");
    }

    // Every Rust binary links at least GLIBC_2.2.5 symbols: a ceiling of 2.1 must fail,
    // naming the function and the version it needs.
    let (ok, stdout, stderr) = package(Some("2.1"));
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("error: build-validation-report needs GLIBC_2.")
            && stderr.contains("newer than glibc 2.1 (Amazon Linux 2023, provided.al2023)"),
        "{stderr}"
    );
}
