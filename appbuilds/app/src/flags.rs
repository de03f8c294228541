//! Feature flags read from Unleash's client API, as a backend SDK reads them.
//!
//! `GET <UNLEASH_URL>/api/client/features` with `Authorization: <client token>` answers the
//! flags of the token's project and environment: `{"version": 2, "features": [{"name",
//! "enabled", "strategies": [{"name", "parameters", "constraints", "segments"}], …}], …}`.
//! The answer is polled every second in the background; the request path only reads the
//! last known values, so a slow or absent Unleash never slows a request down.
//!
//! Without a request context (no user, no session) a flag is on when it is enabled in the
//! environment and it has no strategy or one that is on for everybody: `default`, or a
//! rollout of 100 %. Constraints, segments and partial rollouts need a context the app does
//! not have: they count as off, so a half-configured promotion stays off.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// Keptn's carts example: on, every 3rd cart call fails.
pub const PROMOTION: &str = "EnablePromotion";

/// Where the flags come from (`UNLEASH_URL`, `UNLEASH_CLIENT_TOKEN`, `UNLEASH_APP_NAME`).
#[derive(Clone, PartialEq)]
pub struct UnleashSettings {
    /// `<UNLEASH_URL>/api/client/features`.
    pub features_url: String,
    token: String,
    pub app_name: String,
}

impl std::fmt::Debug for UnleashSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of every log line and panic message.
        f.debug_struct("UnleashSettings")
            .field("features_url", &self.features_url)
            .field("app_name", &self.app_name)
            .finish_non_exhaustive()
    }
}

impl UnleashSettings {
    pub fn new(url: &str, token: &str, app_name: &str) -> Self {
        // Unleash's SDKs are configured with the API root (`…/api`); accept that too.
        let base = url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base);
        UnleashSettings {
            features_url: format!("{base}/api/client/features"),
            token: token.trim().to_string(),
            app_name: app_name.to_string(),
        }
    }

    /// No `UNLEASH_URL`: no flags service, every flag off, nothing polled.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let var = |key: &str| var(key).filter(|v| !v.trim().is_empty());
        let Some(url) = var("UNLEASH_URL") else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "UNLEASH_URL must start with http:// or https://, e.g. http://127.0.0.1:4242; got \"{url}\""
            ));
        }
        let token = var("UNLEASH_CLIENT_TOKEN").ok_or(
            "UNLEASH_URL is set but UNLEASH_CLIENT_TOKEN is not: give the app a client (backend) \
             token of its environment, e.g. default:production.<secret>, or unset UNLEASH_URL",
        )?;
        let app_name = var("UNLEASH_APP_NAME").unwrap_or_else(|| "sample-app".into());
        Ok(Some(UnleashSettings::new(&url, &token, &app_name)))
    }
}

/// The last known state of every flag; a flag Unleash never mentioned is off.
#[derive(Default)]
pub struct FeatureFlags {
    on: Mutex<BTreeMap<String, bool>>,
}

impl FeatureFlags {
    pub fn is_on(&self, flag: &str) -> bool {
        self.on
            .lock()
            .expect("flags")
            .get(flag)
            .copied()
            .unwrap_or(false)
    }

    /// Take Unleash's answer; returns the flags whose state changed, with their new state.
    pub fn replace(&self, new: BTreeMap<String, bool>) -> Vec<(String, bool)> {
        let mut on = self.on.lock().expect("flags");
        let mut changes: Vec<(String, bool)> = new
            .iter()
            .filter(|(name, state)| on.get(*name).copied().unwrap_or(false) != **state)
            .map(|(name, state)| (name.clone(), *state))
            .collect();
        // A flag that disappeared (archived, or moved to another project) is off now.
        changes.extend(
            on.iter()
                .filter(|(name, state)| **state && !new.contains_key(*name))
                .map(|(name, _)| (name.clone(), false)),
        );
        *on = new;
        changes
    }
}

#[derive(Deserialize)]
struct ClientFeatures {
    features: Vec<ClientFeature>,
}

#[derive(Deserialize)]
struct ClientFeature {
    name: String,
    enabled: bool,
    #[serde(default)]
    strategies: Vec<Strategy>,
}

#[derive(Deserialize)]
struct Strategy {
    name: String,
    #[serde(default)]
    parameters: BTreeMap<String, Value>,
    #[serde(default)]
    constraints: Vec<Value>,
    #[serde(default)]
    segments: Vec<Value>,
}

impl Strategy {
    fn on_for_everybody(&self) -> bool {
        if !self.constraints.is_empty() || !self.segments.is_empty() {
            return false;
        }
        let percent = |key: &str| -> Option<f64> {
            match self.parameters.get(key)? {
                Value::String(s) => s.trim().parse().ok(),
                Value::Number(n) => n.as_f64(),
                _ => None,
            }
        };
        match self.name.as_str() {
            "default" => true,
            "flexibleRollout" => percent("rollout") == Some(100.0),
            "gradualRolloutRandom" | "gradualRolloutUserId" | "gradualRolloutSessionId" => {
                percent("percentage") == Some(100.0)
            }
            _ => false,
        }
    }
}

/// Which flags are on, from the body of a `GET /api/client/features` answer.
pub fn flags_from_client_features(body: &[u8]) -> Result<BTreeMap<String, bool>, String> {
    let answer: ClientFeatures = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(answer
        .features
        .into_iter()
        .map(|f| {
            let on = f.enabled
                && (f.strategies.is_empty() || f.strategies.iter().any(|s| s.on_for_everybody()));
            (f.name, on)
        })
        .collect())
}

/// Polls Unleash and keeps [`FeatureFlags`] up to date.
pub struct Poller {
    settings: UnleashSettings,
    http: reqwest::Client,
    etag: Option<String>,
}

enum Fetched {
    Unchanged,
    Flags(BTreeMap<String, bool>),
}

impl Poller {
    pub fn new(settings: UnleashSettings) -> Self {
        Poller {
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                // One call a second: a fresh connection each time notices at once that
                // Unleash went away, instead of writing into a dead pooled one.
                .pool_max_idle_per_host(0)
                .user_agent("unbreakable-sample-app")
                .build()
                .expect("http client"),
            etag: None,
        }
    }

    async fn fetch(&mut self) -> Result<Fetched, String> {
        let url = &self.settings.features_url;
        let mut request = self
            .http
            .get(url)
            .header("Authorization", &self.settings.token)
            .header("UNLEASH-APPNAME", &self.settings.app_name)
            .header(
                "UNLEASH-INSTANCEID",
                format!("{}-{}", self.settings.app_name, std::process::id()),
            );
        if let Some(etag) = &self.etag {
            request = request.header("If-None-Match", etag);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach Unleash at {url}: {e}"))?;
        match response.status() {
            StatusCode::NOT_MODIFIED => return Ok(Fetched::Unchanged),
            StatusCode::OK => {}
            s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(format!(
                "Unleash refused UNLEASH_CLIENT_TOKEN at {url} (HTTP {}): give the app a client \
                     (backend) token of its environment, e.g. default:production.<secret>",
                s.as_u16()
            ))
            }
            s => return Err(format!("Unleash answered HTTP {} at {url}", s.as_u16())),
        }
        let etag = response
            .headers()
            .get("ETag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading Unleash's answer at {url}: {e}"))?;
        let flags = flags_from_client_features(&body).map_err(|e| {
            format!("Unleash's answer at {url} is not the client features JSON: {e}")
        })?;
        self.etag = etag;
        Ok(Fetched::Flags(flags))
    }

    /// Poll every `interval` until the task is dropped. `log(severity, entry)` hears of each
    /// flag that changes, and once of each outage: while Unleash cannot be read, the flags
    /// keep their last known values.
    pub async fn run(
        mut self,
        flags: std::sync::Arc<FeatureFlags>,
        interval: Duration,
        log: impl Fn(&str, &str),
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            match self.fetch().await {
                Ok(fetched) => {
                    if failing {
                        log("Info", "Feature flags: Unleash answers again");
                        failing = false;
                    }
                    if let Fetched::Flags(new) = fetched {
                        for (flag, on) in flags.replace(new) {
                            let state = if on { "on" } else { "off" };
                            log("Info", &format!("Feature flag {flag} is {state}"));
                        }
                    }
                }
                Err(error) if !failing => {
                    log(
                        "Warning",
                        &format!("Feature flags: {error}; the flags keep their last known values"),
                    );
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::response::{IntoResponse, Response};
    use serde_json::json;

    fn feature(name: &str, enabled: bool, strategies: Value) -> Value {
        json!({"name": name, "type": "release", "enabled": enabled, "stale": false,
               "impressionData": false, "project": "default", "strategies": strategies,
               "variants": []})
    }

    fn answer(features: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({"version": 2, "features": features, "segments": [],
            "query": {"environment": "production", "inlineSegmentConstraints": true},
            "meta": {"revisionId": 7, "etag": "\"76d8bb0e:7\"", "queryHash": "76d8bb0e"}}))
        .unwrap()
    }

    #[test]
    fn a_flag_is_on_when_enabled_with_a_strategy_on_for_everybody() {
        let everybody = json!([{"name": "flexibleRollout", "constraints": [], "segments": [],
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": "f"}, "variants": []}]);
        let half = json!([{"name": "flexibleRollout",
            "parameters": {"rollout": "50", "stickiness": "default", "groupId": "f"}}]);
        let constrained = json!([{"name": "default", "parameters": {},
            "constraints": [{"contextName": "userId", "operator": "IN", "values": ["1"]}]}]);
        let cases = [
            (
                "enabled, flexibleRollout 100 %",
                true,
                everybody.clone(),
                true,
            ),
            ("disabled, flexibleRollout 100 %", false, everybody, false),
            ("enabled, no strategy", true, json!([]), true),
            ("enabled, default", true, json!([{"name": "default"}]), true),
            (
                "enabled, rollout as a number",
                true,
                json!([{"name": "flexibleRollout", "parameters": {"rollout": 100}}]),
                true,
            ),
            ("enabled, 50 % rollout", true, half, false),
            ("enabled, constrained", true, constrained, false),
            (
                "enabled, segment",
                true,
                json!([{"name": "default", "segments": [1]}]),
                false,
            ),
            (
                "enabled, userWithId",
                true,
                json!([{"name": "userWithId", "parameters": {"userIds": "1"}}]),
                false,
            ),
            (
                "enabled, old gradual rollout 100",
                true,
                json!([{"name": "gradualRolloutRandom", "parameters": {"percentage": "100"}}]),
                true,
            ),
        ];
        for (case, enabled, strategies, expected) in cases {
            let flags =
                flags_from_client_features(&answer(vec![feature(PROMOTION, enabled, strategies)]))
                    .unwrap();
            assert_eq!(flags[PROMOTION], expected, "{case}");
        }
    }

    #[test]
    fn a_body_that_is_not_the_client_api_is_an_error() {
        assert!(flags_from_client_features(b"{\"features\": 3}")
            .unwrap_err()
            .contains("invalid type"));
        assert!(flags_from_client_features(b"<html>").is_err());
    }

    #[test]
    fn changes_are_reported_and_a_vanished_flag_is_off() {
        let flags = FeatureFlags::default();
        assert!(!flags.is_on(PROMOTION), "off until Unleash says otherwise");
        let changes = flags.replace(BTreeMap::from([
            (PROMOTION.into(), true),
            ("Other".into(), false),
        ]));
        assert_eq!(changes, vec![(PROMOTION.to_string(), true)]);
        assert!(flags.is_on(PROMOTION));
        assert_eq!(
            flags.replace(BTreeMap::from([(PROMOTION.into(), true)])),
            vec![]
        );
        assert_eq!(
            flags.replace(BTreeMap::new()),
            vec![(PROMOTION.to_string(), false)]
        );
        assert!(!flags.is_on(PROMOTION));
    }

    #[test]
    fn settings_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(UnleashSettings::from_env(env(&[])), Ok(None));
        let s = UnleashSettings::from_env(env(&[
            ("UNLEASH_URL", "http://127.0.0.1:4242/api/"),
            ("UNLEASH_CLIENT_TOKEN", "default:production.s3cr3t"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.features_url, "http://127.0.0.1:4242/api/client/features");
        assert_eq!(s.app_name, "sample-app");
        assert!(!format!("{s:?}").contains("s3cr3t"), "no token in {s:?}");
        assert_eq!(
            UnleashSettings::from_env(env(&[("UNLEASH_URL", "http://u:4242")])),
            Err("UNLEASH_URL is set but UNLEASH_CLIENT_TOKEN is not: give the app a client (backend) token of its environment, e.g. default:production.<secret>, or unset UNLEASH_URL".into())
        );
        assert_eq!(
            UnleashSettings::from_env(env(&[("UNLEASH_URL", "u:4242"), ("UNLEASH_CLIENT_TOKEN", "t")])),
            Err("UNLEASH_URL must start with http:// or https://, e.g. http://127.0.0.1:4242; got \"u:4242\"".into())
        );
    }

    /// A stand-in for Unleash's client endpoint: the token it accepts, the answer it gives
    /// (with an ETag, answering 304 to a client that already has it), and the calls it saw.
    #[derive(Default)]
    struct FakeUnleash {
        promotion: Mutex<bool>,
        calls: Mutex<Vec<(Option<String>, Option<String>)>>,
    }

    const TOKEN: &str = "default:production.unit-test-secret";

    async fn client_features(State(fake): State<Arc<FakeUnleash>>, headers: HeaderMap) -> Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        fake.calls
            .lock()
            .unwrap()
            .push((header("UNLEASH-APPNAME"), header("If-None-Match")));
        if header("Authorization").as_deref() != Some(TOKEN) {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                "{\"name\":\"AuthenticationRequired\"}",
            )
                .into_response();
        }
        let on = *fake.promotion.lock().unwrap();
        let etag = format!("\"rev-{on}\"");
        if header("If-None-Match").as_deref() == Some(etag.as_str()) {
            return axum::http::StatusCode::NOT_MODIFIED.into_response();
        }
        let strategies = json!([{"name": "flexibleRollout", "parameters": {"rollout": "100", "stickiness": "default", "groupId": PROMOTION}, "constraints": []}]);
        (
            [("ETag", etag)],
            answer(vec![feature(PROMOTION, on, strategies)]),
        )
            .into_response()
    }

    async fn serve(fake: Arc<FakeUnleash>) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/api/client/features", axum::routing::get(client_features))
            .with_state(fake);
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        (url, task)
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !check() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn the_poller_follows_unleash_and_keeps_the_last_values_while_it_is_away() {
        let fake = Arc::new(FakeUnleash::default());
        let (url, server) = serve(fake.clone()).await;
        let flags = Arc::new(FeatureFlags::default());
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let poller = Poller::new(UnleashSettings::new(&url, TOKEN, "carts"));
        let task = tokio::spawn({
            let (flags, log) = (flags.clone(), log.clone());
            async move {
                poller
                    .run(flags, Duration::from_millis(20), move |severity, entry| {
                        log.lock().unwrap().push(format!("{severity} - {entry}"))
                    })
                    .await
            }
        });
        eventually("a first poll", || fake.calls.lock().unwrap().len() >= 2).await;
        assert!(!flags.is_on(PROMOTION));
        let (app_name, _) = fake.calls.lock().unwrap()[0].clone();
        assert_eq!(app_name.as_deref(), Some("carts"));
        // The second call had the first answer's ETag: nothing changed, nothing resent.
        assert_eq!(
            fake.calls.lock().unwrap()[1].1.as_deref(),
            Some("\"rev-false\"")
        );

        *fake.promotion.lock().unwrap() = true;
        eventually("EnablePromotion on", || flags.is_on(PROMOTION)).await;

        server.abort();
        let _ = server.await;
        let calls = fake.calls.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            fake.calls.lock().unwrap().len(),
            calls,
            "the server is gone"
        );
        assert!(flags.is_on(PROMOTION), "the last known value stays");
        task.abort();

        let log = log.lock().unwrap().clone();
        assert_eq!(
            log[0], "Info - Feature flag EnablePromotion is on",
            "{log:?}"
        );
        let outages: Vec<_> = log.iter().filter(|l| l.starts_with("Warning")).collect();
        assert_eq!(
            outages.len(),
            1,
            "one line per outage, not per poll: {log:?}"
        );
        assert!(
            outages[0].starts_with(&format!(
                "Warning - Feature flags: cannot reach Unleash at {url}/api/client/features"
            )) && outages[0].ends_with("the flags keep their last known values"),
            "{log:?}"
        );
        assert!(
            log.iter().all(|l| !l.contains("unit-test-secret")),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_logged_once_and_every_flag_stays_off() {
        let fake = Arc::new(FakeUnleash::default());
        *fake.promotion.lock().unwrap() = true;
        let (url, server) = serve(fake.clone()).await;
        let flags = Arc::new(FeatureFlags::default());
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let poller = Poller::new(UnleashSettings::new(
            &url,
            "default:production.wrong",
            "carts",
        ));
        let task = tokio::spawn({
            let (flags, log) = (flags.clone(), log.clone());
            async move {
                poller
                    .run(flags, Duration::from_millis(10), move |severity, entry| {
                        log.lock().unwrap().push(format!("{severity} - {entry}"))
                    })
                    .await
            }
        });
        eventually("several polls", || fake.calls.lock().unwrap().len() >= 5).await;
        task.abort();
        server.abort();
        assert!(!flags.is_on(PROMOTION));
        assert_eq!(
            log.lock().unwrap().clone(),
            vec![format!("Warning - Feature flags: Unleash refused UNLEASH_CLIENT_TOKEN at {url}/api/client/features (HTTP 401): give the app a client (backend) token of its environment, e.g. default:production.<secret>; the flags keep their last known values")]
        );
    }
}
