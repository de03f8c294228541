//! The function binaries under test, and the sample app `unbreakable local` deploys: every
//! binary of the workspace, built once per process in the profile of the program asking
//! (`cargo test` → dev, `cargo run --release` → release), so the dependency tree the caller
//! was built with is reused rather than built a second time. Cargo serialises concurrent
//! builds itself.
//!
//! `UNBREAKABLE_FUNCTIONS_DIR` points at prebuilt binaries instead;
//! `UNBREAKABLE_FUNCTIONS_PROFILE` picks another profile.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub const FUNCTIONS: [&str; 6] = [
    "register-build-validation",
    "validate-build-worker",
    "build-validation-report",
    "push-deployment-event",
    "handle-problem-notification",
    "publish-validation-result",
];

/// The sample app's package and binary.
pub const SAMPLE_APP_PACKAGE: &str = "unbreakable-sample-app";
pub const SAMPLE_APP_BINARY: &str = "sample-app";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Remove the variables `cargo test` hands its test processes (CARGO_PKG_*,
/// CARGO_MANIFEST_DIR, …) from a nested cargo command: build scripts that watch the
/// environment would see them and rebuild everything.
pub fn clean_cargo_env(command: &mut Command) {
    for (key, _) in std::env::vars() {
        let keep = matches!(key.as_str(), "CARGO_HOME" | "CARGO_TARGET_DIR")
            || key.starts_with("CARGO_REGISTRIES")
            || key.starts_with("CARGO_NET");
        if (key.starts_with("CARGO_") || key.starts_with("__CARGO") || key.starts_with("RUST_TEST"))
            && !keep
        {
            command.env_remove(&key);
        }
    }
}

/// The profile this program was built with: the nested build reuses its dependencies.
pub fn own_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    }
}

/// Where cargo puts a profile's binaries.
pub fn profile_dir(profile: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join(if profile == "dev" { "debug" } else { profile })
}

/// `cargo build --workspace --bins`: the whole workspace, so cargo unifies features exactly
/// as for `cargo test --workspace` and `cargo run -p unbreakable-cli` and every dependency
/// is shared with them. Cargo's progress goes to stderr.
fn cargo_build(profile: &str) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args([
        "build",
        "--workspace",
        "--bins",
        "--profile",
        profile,
    ]);
    clean_cargo_env(&mut command);
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the workspace's binaries failed ({status})"
        ));
    }
    Ok(())
}

fn build() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("UNBREAKABLE_FUNCTIONS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let profile = std::env::var("UNBREAKABLE_FUNCTIONS_PROFILE")
        .unwrap_or_else(|_| own_profile().to_string());
    cargo_build(&profile)?;
    Ok(profile_dir(&profile))
}

/// The directory holding the function binaries and the sample app, building them first if
/// needed. The error says what failed.
pub fn binaries_dir() -> Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(build).clone()
}

/// The path of one function's binary, building them all first if needed.
pub fn function_binary(name: &str) -> PathBuf {
    let dir = binaries_dir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}
