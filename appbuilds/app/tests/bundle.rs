//! The CodeDeploy bundle's hook scripts run for real: start the app as the bundle's build with
//! the tutorial's Dynatrace variables, validate it, drive the load test at it, stop both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn bundle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(script: &Path, env: &[(&str, String)]) -> (bool, String) {
    let out = Command::new("bash")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run hook");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_hooks_start_validate_load_and_stop_the_bundled_build() {
    let dir = std::env::temp_dir().join(format!("unbreakable-bundle-{}", std::process::id()));
    let app_dir = dir.join("app");
    let tests_dir = dir.join("tests");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::create_dir_all(&tests_dir).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_sample-app"), app_dir.join("sample-app")).unwrap();
    std::fs::write(app_dir.join("build.env"), "BUILD_NUMBER=3\n").unwrap();
    std::fs::copy(
        bundle_dir().join("loadtest/scripts/load.sh"),
        tests_dir.join("load.sh"),
    )
    .unwrap();
    let env = vec![
        ("UNBREAKABLE_APP_DIR", app_dir.display().to_string()),
        ("UNBREAKABLE_TESTS_DIR", tests_dir.display().to_string()),
        ("APP_PORT", "0".to_string()),
        ("APP_BIND", "127.0.0.1".to_string()),
        ("LATENCY_SCALE", "0.02".to_string()),
        ("DEPLOYMENT_ID", "d-TEST00001".to_string()),
        ("DEPLOYMENT_GROUP_NAME", "Staging".to_string()),
        ("APPLICATION_NAME", "SampleDevOpsApp".to_string()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ];
    let scripts = bundle_dir().join("bundle/scripts");
    let (ok, output) = run(&scripts.join("start_server.sh"), &env);
    assert!(ok, "start_server.sh failed:\n{output}");
    assert!(
        output
            .contains("Deployed build 3: DEPLOYMENT_ID=d-TEST00001 DEPLOYMENT_GROUP_NAME=Staging"),
        "{output}"
    );
    let url = std::fs::read_to_string(app_dir.join("app.out"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let page = reqwest::blocking_get(&url);
    assert!(
        page.contains("DeploymentGroup=Staging"),
        "DT_TAGS reach the app:\n{page}"
    );
    assert!(
        page.contains("DEPLOYMENT_ID=d-TEST00001"),
        "DT_CUSTOM_PROP reaches the app:\n{page}"
    );

    let (ok, output) = run(&scripts.join("validate_service.sh"), &env);
    assert!(ok, "validate_service.sh failed:\n{output}");
    assert!(output.contains("build 3 answers"), "{output}");

    let mut load_env = env.clone();
    load_env.push(("TARGET_URL", url.clone()));
    for (setting, value) in [
        ("LOAD_WORKERS", "two"),
        ("LOAD_CART_CALLS", "-1"),
        ("LOAD_WORKERS", "0"),
    ] {
        let mut bad = load_env.clone();
        bad.push((setting, value.to_string()));
        let (ok, output) = run(&bundle_dir().join("loadtest/scripts/start_load.sh"), &bad);
        assert!(
            !ok && output.contains(&format!("{setting} must be")),
            "{setting}={value}: {output}"
        );
    }
    load_env.push(("LOAD_WORKERS", "2".to_string()));
    load_env.push(("LOAD_CART_CALLS", "1".to_string()));
    let (ok, output) = run(
        &bundle_dir().join("loadtest/scripts/start_load.sh"),
        &load_env,
    );
    assert!(ok, "start_load.sh failed:\n{output}");
    std::thread::sleep(Duration::from_millis(1500));
    let (ok, _) = run(
        &bundle_dir().join("loadtest/scripts/stop_load.sh"),
        &load_env,
    );
    assert!(ok);
    let metrics = reqwest::blocking_get(&format!("{url}/metrics"));
    assert!(
        metrics.contains("path=\"/api/invoke\""),
        "the load reached the app:\n{metrics}"
    );
    assert!(
        metrics.contains("http_requests_total{path=\"/api/cart\",status=\"200\"}"),
        "LOAD_CART_CALLS adds cart calls:\n{metrics}"
    );
    let load_out = std::fs::read_to_string(tests_dir.join("load.out")).unwrap_or_default();
    assert!(load_out.is_empty(), "the load test complained: {load_out}");
    // The workers end their round, see the stop file and leave.
    let load_sh = tests_dir.join("load.sh").display().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !running(&load_sh).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "load workers still running: {:?}",
            running(&load_sh)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let (ok, _) = run(&scripts.join("stop_server.sh"), &env);
    assert!(ok);
    assert!(
        std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err(),
        "the app still listens"
    );
    // Stopping twice (ApplicationStop after BeforeInstall) is fine.
    assert!(run(&scripts.join("stop_server.sh"), &env).0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Processes whose command line mentions `needle`, from /proc (procps may be absent).
fn running(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

mod reqwest {
    /// A blocking GET on a fresh runtime (the test itself is synchronous, like the hooks).
    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
