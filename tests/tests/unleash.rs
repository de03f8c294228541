//! The feature-toggle action against a real Unleash 7.5 on a real PostgreSQL 15, both
//! started here on free loopback ports (one pair for this whole test binary: migrations take
//! seconds) and gone when the binary exits. Every test uses flags of its own, so they can
//! share the server and run in parallel.
//!
//! Needs `postgresql` and `npm install --prefix .cache/unleash-server unleash-server@~7.5`;
//! bash .ci/run installs both.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use unbreakable_emulators::unleash::UnleashServer;
use unbreakable_shared::ports::memory::MemorySecrets;
use unbreakable_shared::ports::toggles::{FeatureToggles, ToggleChange, ToggleError};
use unbreakable_shared::unleash::{UnleashAdmin, UnleashSettings};

const TOKEN_SECRET: &str = "unbreakable/unleash-admin-token";

fn unleash() -> &'static UnleashServer {
    static SERVER: OnceLock<Result<UnleashServer, String>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let server = UnleashServer::start().map_err(|e| format!("{e:#}"))?;
        eprintln!(
            "Unleash and PostgreSQL ready in {:.1} s",
            server.startup.as_secs_f64()
        );
        Ok(server)
    });
    match server {
        Ok(server) => server,
        Err(error) => panic!("cannot start Unleash: {error}"),
    }
}

/// The adapter as the worker builds it, with the admin token in a (memory) secret store.
fn toggles(server: &UnleashServer, token: &str, environment: &str) -> UnleashAdmin {
    let secrets = MemorySecrets {
        values: [(TOKEN_SECRET.to_string(), token.to_string())].into(),
    };
    let mut settings = UnleashSettings::new(&server.url, TOKEN_SECRET);
    settings.environment = environment.to_string();
    settings.timeout = Duration::from_secs(10);
    UnleashAdmin::new(settings, Arc::new(secrets)).unwrap()
}

/// Unleash's admin API, for setup and for checking what the adapter did independently of it.
struct Admin {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Admin {
    fn new(server: &UnleashServer) -> Self {
        Admin {
            http: reqwest::Client::new(),
            url: server.url.clone(),
            token: server.admin_token().to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .header("Authorization", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {path}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A release flag in project `default`, on in production when `on` (Unleash then gives
    /// it its default strategy), off everywhere otherwise.
    async fn create_flag(&self, flag: &str, on: bool) {
        self.call(
            reqwest::Method::POST,
            "/api/admin/projects/default/features",
            Some(json!({"name": flag})),
        )
        .await;
        if on {
            self.call(
                reqwest::Method::POST,
                &format!("/api/admin/projects/default/features/{flag}/environments/production/on"),
                None,
            )
            .await;
        }
    }

    /// `environments[].enabled` for production, read by us, not by the adapter.
    async fn on_in_production(&self, flag: &str) -> bool {
        let feature = self
            .call(
                reqwest::Method::GET,
                &format!("/api/admin/projects/default/features/{flag}"),
                None,
            )
            .await;
        feature["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "production")
            .unwrap()["enabled"]
            .as_bool()
            .unwrap()
    }

    /// The event log's environment switches of `flag`, oldest first, as (type, environment).
    async fn switches(&self, flag: &str) -> Vec<(String, String)> {
        let answer = self
            .call(
                reqwest::Method::GET,
                &format!("/api/admin/search/events?feature=IS:{flag}&limit=100"),
                None,
            )
            .await;
        let mut switches: Vec<(String, String)> = answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["featureName"] == flag)
            .filter_map(|e| {
                let kind = e["type"].as_str()?;
                let environment = e["environment"].as_str()?;
                kind.starts_with("feature-environment-")
                    .then(|| (kind.to_string(), environment.to_string()))
            })
            .collect();
        switches.reverse();
        switches
    }
}

fn switch(kind: &str) -> (String, String) {
    (
        format!("feature-environment-{kind}"),
        "production".to_string(),
    )
}

#[tokio::test]
async fn turning_a_flag_off_changes_it_once_and_unleash_logs_exactly_one_disable() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("EnablePromotion", true).await;
    assert_eq!(admin.switches("EnablePromotion").await, [switch("enabled")]);

    let toggles = toggles(server, server.admin_token(), "production");
    let change = toggles.set("EnablePromotion", false).await.unwrap();
    assert_eq!(
        change,
        ToggleChange {
            flag: "EnablePromotion".into(),
            project: "default".into(),
            environment: "production".into(),
            was_on: Some(true),
            now_on: false,
        }
    );
    assert!(change.changed());
    assert!(!admin.on_in_production("EnablePromotion").await);
    assert_eq!(
        admin.switches("EnablePromotion").await,
        [switch("enabled"), switch("disabled")]
    );

    // A second remediation run (a retry after a crash) finds it off and changes nothing.
    let again = toggles.set("EnablePromotion", false).await.unwrap();
    assert_eq!((again.was_on, again.now_on), (Some(false), false));
    assert!(!again.changed());
    assert_eq!(
        admin.switches("EnablePromotion").await,
        [switch("enabled"), switch("disabled")],
        "setting the state a flag has made Unleash log a change"
    );
}

#[tokio::test]
async fn turning_a_flag_on_that_is_off_reports_off_before_and_on_after() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("EnableItemCache", false).await;
    let toggles = toggles(server, server.admin_token(), "production");
    let change = toggles.set("EnableItemCache", true).await.unwrap();
    assert_eq!((change.was_on, change.now_on), (Some(false), true));
    assert!(admin.on_in_production("EnableItemCache").await);
    assert_eq!(admin.switches("EnableItemCache").await, [switch("enabled")]);
}

#[tokio::test]
async fn setting_the_state_a_flag_already_has_is_reported_truthfully_and_logs_nothing() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("AlreadyOff", false).await;
    let toggles = toggles(server, server.admin_token(), "production");
    let change = toggles.set("AlreadyOff", false).await.unwrap();
    assert_eq!((change.was_on, change.now_on), (Some(false), false));
    assert!(!change.changed());
    assert!(admin.switches("AlreadyOff").await.is_empty());
}

#[tokio::test]
async fn an_unknown_flag_fails_naming_the_flag_and_the_project() {
    let server = unleash();
    let toggles = toggles(server, server.admin_token(), "production");
    let error = toggles.set("EnablePromotoin", false).await.unwrap_err();
    assert_eq!(
        error,
        ToggleError::UnknownFlag {
            flag: "EnablePromotoin".into(),
            project: "default".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "feature flag \"EnablePromotoin\" does not exist in project \"default\": create it there, or correct the flag name in remediation.yaml"
    );
}

#[tokio::test]
async fn an_environment_the_flag_lacks_is_named_with_the_ones_it_has() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("StagingOnly", true).await;
    let toggles = toggles(server, server.admin_token(), "staging");
    let error = toggles.set("StagingOnly", false).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "feature flag \"StagingOnly\" in project \"default\" has no environment \"staging\" (it has: development, production): enable that environment for the project, or set the toggle environment to one of these"
    );
    assert!(
        admin.on_in_production("StagingOnly").await,
        "a refused toggle changed the flag"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_the_message_never_shows_it() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("GuardedFlag", true).await;
    let wrong = "*:*.not-the-admin-secret-4f1c";
    let toggles = toggles(server, wrong, "production");
    let error = toggles.set("GuardedFlag", false).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ToggleError::Unauthorized(_)), "{error:?}");
    assert_eq!(
        text,
        format!(
            "the flag service refused the token: Unleash at {} answered GET /api/admin/projects/default/features/GuardedFlag with HTTP 401 Unauthorized: You must log in to use Unleash.; the token in secret {TOKEN_SECRET} must be an admin API token (a backend or frontend token is not enough)",
            server.url
        )
    );
    assert!(!text.contains("not-the-admin-secret"), "{text}");
    assert!(!text.contains(server.admin_token()), "{text}");
    assert!(admin.on_in_production("GuardedFlag").await);
}

/// The token a client SDK reads flags with is not enough to change one (HTTP 403).
#[tokio::test]
async fn a_backend_token_is_unauthorized_to_switch_a_flag() {
    let server = unleash();
    let admin = Admin::new(server);
    admin.create_flag("ClientTokenFlag", true).await;
    let toggles = toggles(server, server.backend_token(), "production");
    let error = toggles.set("ClientTokenFlag", false).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ToggleError::Unauthorized(_)), "{error:?}");
    assert!(
        text.contains(
            "answered GET /api/admin/projects/default/features/ClientTokenFlag with HTTP 403 Forbidden: "
        ),
        "{text}"
    );
    assert!(
        text.ends_with("must be an admin API token (a backend or frontend token is not enough)"),
        "{text}"
    );
    let secret = server.backend_token().split_once('.').unwrap().1;
    assert!(!text.contains(secret), "{text}");
    assert!(admin.on_in_production("ClientTokenFlag").await);
}
