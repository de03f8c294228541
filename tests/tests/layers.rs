//! The layering, checked. The layers are crates, so the compiler holds each to what its
//! Cargo.toml names; these tests hold the Cargo.tomls to the rules, from Cargo.lock:
//!
//! 1. the pure core (`core/`) depends on no workspace crate and on nothing that does I/O, and
//!    its code reads no clock and touches no file, socket, process or environment variable;
//! 2. the application layer (`app/`: ports and use cases) depends on the core alone of the
//!    workspace, and on no AWS SDK, `lambda_*` crate or HTTP client;
//! 3. the adapters (`adapters/`) never depend on the handlers, and the handlers (`handlers/`)
//!    never on the adapters nor on an AWS SDK client: both sit on core and app;
//! 4. each function is a composition root over the facade (`shared/`), or over the handlers
//!    and the adapters; the emulators stand alone and nothing depends on the tests.
//!
//! Each layer rule has a companion test that shows its check can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each package of Cargo.lock with the names of the packages it depends on. A name that is
/// in the lock twice (two versions) is one node: the walk only grows more cautious.
fn lock_graph(lock: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut dependencies = BTreeSet::new();
        let mut in_dependencies = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"').to_string());
            } else if line == "dependencies = [" {
                in_dependencies = true;
            } else if in_dependencies && line == "]" {
                in_dependencies = false;
            } else if in_dependencies {
                let entry = line.trim_end_matches(',').trim_matches('"');
                let dependency = entry.split(' ').next().unwrap_or(entry);
                dependencies.insert(dependency.to_string());
            }
        }
        let name = name.expect("every [[package]] of Cargo.lock has a name");
        graph.entry(name).or_default().extend(dependencies);
    }
    graph
}

/// Every package `root` depends on, directly or not, by the lock file (all targets and
/// features: a superset of what a build uses).
fn dependencies_of(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut next: Vec<String> = graph[root].iter().cloned().collect();
    while let Some(package) = next.pop() {
        if seen.insert(package.clone()) {
            next.extend(graph.get(&package).into_iter().flatten().cloned());
        }
    }
    seen
}

/// Crates that do I/O or belong to an outer layer: the runtime, the SDKs, the HTTP stack.
const NOT_IN_THE_CORE: &[&str] = &[
    "tokio", "aws-", "aws_", "lambda_", "reqwest", "hyper", "axum", "rustls", "mio",
];

/// What would mean the core does I/O or reads the clock.
const NOT_IN_THE_CORE_CODE: &[&str] = &[
    "SystemTime::now",
    "Instant::now",
    "Utc::now",
    "Local::now",
    "std::fs::",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::process::",
    "std::env::var",
    "thread::sleep",
];

#[test]
fn the_core_depends_on_no_workspace_crate_and_nothing_that_does_io() {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    assert!(
        graph.contains_key("unbreakable-core"),
        "Cargo.lock has no unbreakable-core"
    );
    let wrong: Vec<String> = dependencies_of(&graph, "unbreakable-core")
        .into_iter()
        .filter(|p| {
            p.starts_with("unbreakable-") || NOT_IN_THE_CORE.iter().any(|n| p.starts_with(n))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "the core (core/Cargo.toml) depends on {wrong:?}: the core stays pure; put what needs these in unbreakable-app (behind a port) or unbreakable-adapters"
    );
}

#[test]
fn the_lock_walk_sees_what_the_shared_crate_depends_on() {
    // The check above must be able to fail: the same walk finds the runtime under shared.
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let below_shared = dependencies_of(&lock_graph(&lock), "unbreakable-shared");
    for expected in [
        "unbreakable-core",
        "unbreakable-app",
        "unbreakable-adapters",
        "unbreakable-handlers",
        "tokio",
        "reqwest",
        "aws-sdk-dynamodb",
    ] {
        assert!(
            below_shared.contains(expected),
            "{expected} not found under shared"
        );
    }
}

/// The workspace crates (`unbreakable-*`) `root` depends on, directly or not, that are not
/// in `allowed`.
fn workspace_crates_below_but(
    graph: &BTreeMap<String, BTreeSet<String>>,
    root: &str,
    allowed: &[&str],
) -> Vec<String> {
    dependencies_of(graph, root)
        .into_iter()
        .filter(|p| p.starts_with("unbreakable-") && !allowed.contains(&p.as_str()))
        .collect()
}

/// The packages `root` depends on, directly or not, whose names start with one of `prefixes`.
fn packages_below_named(
    graph: &BTreeMap<String, BTreeSet<String>>,
    root: &str,
    prefixes: &[&str],
) -> Vec<String> {
    dependencies_of(graph, root)
        .into_iter()
        .filter(|p| prefixes.iter().any(|n| p.starts_with(n)))
        .collect()
}

/// What the application layer must not pull in: the AWS SDKs and `aws_lambda_events`, the
/// Lambda runtime, the HTTP clients and servers (tokio is fine: the use cases are async).
const NOT_IN_THE_APP: &[&str] = &[
    "aws-", "aws_", "lambda_", "reqwest", "hyper", "axum", "rustls",
];

/// What the handlers must not pull in: an AWS SDK client (they reach AWS through the ports;
/// `aws_lambda_events`, the event types, is theirs).
const NOT_IN_THE_HANDLERS: &[&str] = &["aws-config", "aws-sdk-", "aws-sigv4"];

#[test]
fn the_application_layer_depends_on_the_core_alone_and_on_no_sdk_runtime_or_http_client() {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    assert!(
        graph.contains_key("unbreakable-app"),
        "Cargo.lock has no unbreakable-app"
    );
    let workspace_below =
        workspace_crates_below_but(&graph, "unbreakable-app", &["unbreakable-core"]);
    assert!(
        workspace_below.is_empty(),
        "app/ (unbreakable-app) depends on {workspace_below:?}: the ports and use cases sit on the core alone; what needs an adapter or a handler belongs there, behind a port"
    );
    let outer = packages_below_named(&graph, "unbreakable-app", NOT_IN_THE_APP);
    assert!(
        outer.is_empty(),
        "app/ (unbreakable-app) depends on {outer:?}: the application layer talks to the world only through its ports; move the code that needs these to unbreakable-adapters (or unbreakable-handlers for the Lambda runtime)"
    );
}

#[test]
fn the_adapters_and_the_handlers_sit_side_by_side_on_core_and_app() {
    // The compiler holds the code to these Cargo.tomls: an adapter cannot name a handler
    // (`crate::lambda`), nor a handler an adapter's client, while these hold.
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    let below = ["unbreakable-core", "unbreakable-app"];
    for (layer, folder) in [
        ("unbreakable-adapters", "adapters/"),
        ("unbreakable-handlers", "handlers/"),
    ] {
        assert!(graph.contains_key(layer), "Cargo.lock has no {layer}");
        let wrong = workspace_crates_below_but(&graph, layer, &below);
        assert!(
            wrong.is_empty(),
            "{folder} ({layer}) depends on {wrong:?}: adapters never depend on handlers and handlers never on adapters; move what both need to unbreakable-app (settings to app/src/settings/), and composition to functions/"
        );
    }
    let clients = packages_below_named(&graph, "unbreakable-handlers", NOT_IN_THE_HANDLERS);
    assert!(
        clients.is_empty(),
        "handlers/ (unbreakable-handlers) depends on {clients:?}: a handler reaches AWS through the ports; the clients are built in functions/ from unbreakable-adapters"
    );
}

#[test]
fn the_layer_checks_find_an_upward_edge() {
    // The two checks above must be able to fail: a lock where the handlers depend on the
    // adapters (and so on an AWS SDK), and the application layer on reqwest and on another
    // workspace crate; what is below a layer counts too.
    let lock = r#"
[[package]]
name = "unbreakable-core"
version = "0.1.0"

[[package]]
name = "unbreakable-app"
version = "0.1.0"
dependencies = [
 "reqwest",
 "unbreakable-core",
 "unbreakable-local",
]

[[package]]
name = "unbreakable-adapters"
version = "0.1.0"
dependencies = [
 "aws-sdk-s3",
 "unbreakable-app",
]

[[package]]
name = "unbreakable-handlers"
version = "0.1.0"
dependencies = [
 "unbreakable-adapters",
 "unbreakable-core",
]

[[package]]
name = "reqwest"
version = "0.12.0"
dependencies = [
 "hyper 1.0.0",
]
"#;
    let graph = lock_graph(lock);
    let below = ["unbreakable-core", "unbreakable-app"];
    assert_eq!(
        workspace_crates_below_but(&graph, "unbreakable-handlers", &below),
        vec!["unbreakable-adapters", "unbreakable-local"]
    );
    assert_eq!(
        packages_below_named(&graph, "unbreakable-handlers", NOT_IN_THE_HANDLERS),
        vec!["aws-sdk-s3"]
    );
    assert_eq!(
        workspace_crates_below_but(&graph, "unbreakable-app", &["unbreakable-core"]),
        vec!["unbreakable-local"]
    );
    assert_eq!(
        packages_below_named(&graph, "unbreakable-app", NOT_IN_THE_APP),
        vec!["hyper", "reqwest"]
    );
    assert_eq!(
        workspace_crates_below_but(&graph, "unbreakable-adapters", &below),
        vec!["unbreakable-local"]
    );
}

/// The non-test code of a source file: up to its `#[cfg(test)]` module, and nothing of a
/// file that holds only tests.
fn code_outside_tests(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name.ends_with("_tests.rs") || name == "test_data.rs" {
        return None;
    }
    Some(
        text.split("#[cfg(test)]")
            .next()
            .unwrap_or(text)
            .to_string(),
    )
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_reads_no_clock_and_touches_no_file_socket_process_or_environment() {
    let mut files = Vec::new();
    rust_files(&workspace().join("core/src"), &mut files);
    assert!(files.len() > 20, "core/src holds {} files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source");
        let Some(code) = code_outside_tests(file, &text) else {
            continue;
        };
        for (number, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for pattern in NOT_IN_THE_CORE_CODE {
                if line.contains(pattern) {
                    found.push(format!(
                        "{}:{}: {pattern}",
                        file.strip_prefix(workspace()).unwrap_or(file).display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core must stay pure (time is a parameter; I/O belongs behind a port of unbreakable-app, its real side in unbreakable-adapters):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_source_check_finds_a_clock_read_and_skips_tests() {
    let code = "fn now() -> i64 { std::time::SystemTime::now(); 0 }\n#[cfg(test)]\nmod tests { fn t() { std::fs::read(\"x\"); } }";
    let kept = code_outside_tests(Path::new("core/src/x.rs"), code).unwrap();
    assert!(kept.contains("SystemTime::now"));
    assert!(!kept.contains("std::fs::"));
    assert!(code_outside_tests(Path::new("core/src/report/timeline_tests.rs"), code).is_none());
}

/// The callers of the functions: they speak to them through the wire contract.
const CALLERS_OF_THE_FUNCTIONS: &[&str] = &["local/src", "cli/src"];

/// The Rust files at `relative` (a folder, walked, or one file).
fn files_at(relative: &str) -> Vec<PathBuf> {
    let path = workspace().join(relative);
    if path.is_dir() {
        let mut files = Vec::new();
        rust_files(&path, &mut files);
        files
    } else {
        vec![path]
    }
}

/// Where the non-test code of `files` names `pattern` (comments aside), as `path:line`.
fn lines_naming(files: &[PathBuf], pattern: &str) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("source");
        let Some(code) = code_outside_tests(file, &text) else {
            continue;
        };
        for (number, line) in code.lines().enumerate() {
            if !line.trim_start().starts_with("//") && line.contains(pattern) {
                found.push(format!(
                    "{}:{}",
                    file.strip_prefix(workspace()).unwrap_or(file).display(),
                    number + 1
                ));
            }
        }
    }
    found
}

// That no adapter imports a handler (`crate::lambda`) was a search of the source while they
// were one crate; now the compiler holds it: unbreakable-adapters does not depend on
// unbreakable-handlers (checked from Cargo.lock above), so an adapter cannot name one.

#[test]
fn callers_take_the_wire_constants_from_the_contract() {
    let callers: Vec<PathBuf> = CALLERS_OF_THE_FUNCTIONS
        .iter()
        .flat_map(|&p| files_at(p))
        .collect();
    let from_handlers = lines_naming(&callers, "unbreakable_shared::lambda");
    assert!(
        from_handlers.is_empty(),
        "a caller of the functions takes something from a handler; take the paths, headers and markers from unbreakable_shared::contract:\n{}",
        from_handlers.join("\n")
    );
}

#[test]
fn the_emulators_stand_alone_and_nothing_depends_on_the_tests() {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    let workspace_below_emulators: Vec<String> = dependencies_of(&graph, "unbreakable-emulators")
        .into_iter()
        .filter(|p| p.starts_with("unbreakable-"))
        .collect();
    assert!(
        workspace_below_emulators.is_empty(),
        "emulators/ depends on {workspace_below_emulators:?}: an emulator speaks the outside system's wire protocol and must not share our code, or it would agree with our bugs"
    );
    let on_tests: Vec<&String> = graph
        .iter()
        .filter(|(_, dependencies)| dependencies.contains("unbreakable-tests"))
        .map(|(package, _)| package)
        .collect();
    assert!(
        on_tests.is_empty(),
        "{on_tests:?} depend on unbreakable-tests: move what they need out of tests/"
    );
}

/// The layers a function may compose instead of the facade.
const COMPOSED_LAYERS: &[&str] = &[
    "unbreakable-handlers",
    "unbreakable-adapters",
    "unbreakable-app",
    "unbreakable-core",
];

/// Whether a function's direct workspace dependencies make it a composition root: the facade
/// alone, or the handlers with the adapters and the layers below them.
fn composes_allowed_layers(direct: &[&str]) -> bool {
    let over_the_facade = direct == ["unbreakable-shared"];
    let over_the_layers = direct.contains(&"unbreakable-handlers")
        && direct.iter().all(|p| COMPOSED_LAYERS.contains(p));
    over_the_facade || over_the_layers
}

#[test]
fn the_function_rule_refuses_a_function_over_another_workspace_crate() {
    assert!(composes_allowed_layers(&["unbreakable-shared"]));
    assert!(composes_allowed_layers(&[
        "unbreakable-adapters",
        "unbreakable-app",
        "unbreakable-handlers",
    ]));
    assert!(!composes_allowed_layers(&[
        "unbreakable-local",
        "unbreakable-shared"
    ]));
    assert!(!composes_allowed_layers(&["unbreakable-adapters"]));
    assert!(!composes_allowed_layers(&[
        "unbreakable-handlers",
        "unbreakable-local"
    ]));
}

#[test]
fn each_function_depends_on_the_facade_or_on_the_handlers_and_adapters_alone() {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    let functions: Vec<String> = std::fs::read_dir(workspace().join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(functions.len(), 6, "functions/: {functions:?}");
    for function in functions {
        let direct: Vec<&str> = graph
            .get(&function)
            .unwrap_or_else(|| panic!("Cargo.lock has no package {function}"))
            .iter()
            .map(String::as_str)
            .filter(|p| p.starts_with("unbreakable-"))
            .collect();
        assert!(
            composes_allowed_layers(&direct),
            "functions/{function} depends on {direct:?}: a function is a composition root over unbreakable-shared (the facade), or over unbreakable-handlers and unbreakable-adapters"
        );
    }
}

/// The longest a product file may be before its inline tests, and a function.
const MAX_FILE_LINES: usize = 900;
const MAX_FUNCTION_LINES: usize = 150;

/// The product code's crates (tests/ and the benches are not product code).
const PRODUCT_SOURCES: &[&str] = &[
    "core/src",
    "app/src",
    "adapters/src",
    "handlers/src",
    "shared/src",
    "cli/src",
    "local/src",
    "emulators/src",
    "functions",
    "appbuilds/app/src",
];

/// Functions longer than [`MAX_FUNCTION_LINES`], as (name, first line, lines): from each
/// `fn` line to the closing brace at its indentation.
fn long_functions(code: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let after_qualifiers = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("async ");
        let Some(rest) = after_qualifiers.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let closing = format!("{}}}", " ".repeat(indent));
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.starts_with(&closing) && l.len() - l.trim_start().len() == indent)
            .map_or(lines.len(), |i| start + 1 + i);
        let length = end - start + 1;
        if length > MAX_FUNCTION_LINES {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            long.push((name, start + 1, length));
        }
    }
    long
}

#[test]
fn no_product_file_is_over_900_lines_before_its_tests_and_no_function_over_150() {
    let mut files = Vec::new();
    for dir in PRODUCT_SOURCES {
        rust_files(&workspace().join(dir), &mut files);
    }
    assert!(files.len() > 100, "{} product files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source");
        let Some(code) = code_outside_tests(file, &text) else {
            continue;
        };
        let shown = file.strip_prefix(workspace()).unwrap_or(file).display();
        let lines = code.lines().count();
        if lines > MAX_FILE_LINES {
            found.push(format!("{shown}: {lines} lines before its tests"));
        }
        for (name, line, length) in long_functions(&code) {
            found.push(format!("{shown}:{line}: fn {name} is {length} lines"));
        }
    }
    assert!(
        found.is_empty(),
        "split these by responsibility (files at most {MAX_FILE_LINES} lines before their tests, functions at most {MAX_FUNCTION_LINES}):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_function_measure_finds_a_long_function_and_skips_declarations() {
    let body = "    x += 1;\n".repeat(MAX_FUNCTION_LINES);
    let code = format!(
        "fn short() {{\n}}\n\npub async fn long(x: &mut i32) {{\n{body}}}\n\ntrait T {{\n    fn declared(&self);\n}}\n"
    );
    assert_eq!(
        long_functions(&code),
        vec![("long".to_string(), 4, MAX_FUNCTION_LINES + 2)]
    );
}

/// The gate of an in-memory double: its crate's own tests, or the feature `testing`.
const TESTING_GATE: &str = "#[cfg(any(test, feature = \"testing\"))]";

#[test]
fn the_in_memory_doubles_ship_only_under_the_testing_feature() {
    let mut files = Vec::new();
    for dir in ["app/src", "adapters/src", "handlers/src", "shared/src"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    let mut ungated = Vec::new();
    let mut doubles = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source");
        let Some(code) = code_outside_tests(file, &text) else {
            continue;
        };
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("pub struct Memory") {
                continue;
            }
            doubles += 1;
            let attributes = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("#[") || l.starts_with("///"));
            let gated = attributes.clone().any(|l| *l == TESTING_GATE);
            let in_gated_module = file.ends_with("ports/memory.rs");
            if !gated && !in_gated_module {
                ungated.push(format!(
                    "{}:{}",
                    file.strip_prefix(workspace()).unwrap_or(file).display(),
                    i + 1
                ));
            }
        }
    }
    assert!(doubles >= 10, "found {doubles} doubles");
    let ports = std::fs::read_to_string(workspace().join("app/src/ports/mod.rs")).expect("ports");
    assert!(
        ports.contains(&format!("{TESTING_GATE}\npub mod memory;")),
        "ports/memory.rs must be behind {TESTING_GATE}"
    );
    assert!(
        ungated.is_empty(),
        "in-memory doubles outside {TESTING_GATE}: {ungated:?}"
    );
}
