//! [`FeatureToggles`] on Unleash's admin API (7.x). One toggle is three calls: read the flag
//! (`GET /api/admin/projects/{project}/features/{flag}`, `environments[].enabled`) to know
//! the state before, `POST …/environments/{environment}/on|off`, and the same read again to
//! confirm. Unleash records no event when a flag already has the asked state, so setting it
//! again is harmless and reported as no change.
//!
//! The admin token comes from a [`SecretSource`] (Secrets Manager in AWS) at every call, so
//! the source's cache decides when a rotation is seen. It travels only in the
//! `Authorization` header (marked sensitive) and never appears in a message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::ports::secrets::SecretSource;
use crate::ports::toggles::{FeatureToggles, ToggleChange, ToggleError};
use crate::text::{redacted_url, truncate_chars};

/// The settings are plain data below the handlers (the remediation's `Config` reads them)
/// and this adapter: `unbreakable-app`'s `settings::unleash`, re-exported here.
pub use crate::settings::unleash::UnleashSettings;

/// A setting [`UnleashAdmin::new`] cannot work with: which one, and what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unleash {setting}: {problem}")]
pub struct UnleashSettingsError {
    /// `url`, `project`, `environment`, `token secret id` or `timeout`.
    pub setting: &'static str,
    pub problem: String,
}

pub struct UnleashAdmin {
    base: url::Url,
    /// The base URL as messages show it: without user information, query or fragment.
    shown_url: String,
    project: String,
    environment: String,
    token_secret_id: String,
    secrets: Arc<dyn SecretSource>,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for UnleashAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnleashAdmin")
            .field("url", &self.shown_url)
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("token_secret_id", &self.token_secret_id)
            .finish_non_exhaustive()
    }
}

/// Unleash names (projects, environments) are URL-friendly; anything else is a typo.
fn check_name(setting: &'static str, value: &str) -> Result<(), UnleashSettingsError> {
    let fail = |problem: String| Err(UnleashSettingsError { setting, problem });
    if value.is_empty() {
        return fail(format!(
            "is empty: give the Unleash {setting} name (e.g. \"{}\")",
            if setting == "project" {
                UnleashSettings::DEFAULT_PROJECT
            } else {
                UnleashSettings::DEFAULT_ENVIRONMENT
            }
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return fail(format!(
            "\"{}\" holds {c:?}, which no Unleash {setting} name has (letters, digits, - _ . ~)",
            crate::text::printable(value)
        ));
    }
    Ok(())
}

impl UnleashAdmin {
    pub fn new(
        settings: UnleashSettings,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, UnleashSettingsError> {
        let url_error = |problem: String| UnleashSettingsError {
            setting: "url",
            problem,
        };
        let base = url::Url::parse(settings.url.trim()).map_err(|e| {
            url_error(format!(
                "{} is not a URL ({e}): give the Unleash base URL, e.g. https://unleash.example.com",
                redacted_url(&settings.url)
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(url_error(format!(
                "{} is not an http(s) URL: give the Unleash base URL, e.g. https://unleash.example.com",
                redacted_url(&settings.url)
            )));
        }
        if base.cannot_be_a_base() || base.host_str().is_none_or(str::is_empty) {
            return Err(url_error(format!(
                "{} has no host: give the Unleash base URL, e.g. https://unleash.example.com",
                redacted_url(&settings.url)
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(url_error(format!(
                "{} has a query or fragment, which the admin API paths cannot follow: give the base URL alone",
                redacted_url(&settings.url)
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(url_error(
                "holds a user or password: Unleash authenticates with the admin token from the secret, so give the URL without them".into(),
            ));
        }
        check_name("project", &settings.project)?;
        check_name("environment", &settings.environment)?;
        if settings.token_secret_id.trim().is_empty() {
            return Err(UnleashSettingsError {
                setting: "token secret id",
                problem: "is empty: give the id or ARN of the Secrets Manager secret that holds an Unleash admin API token".into(),
            });
        }
        if settings.timeout.is_zero() {
            return Err(UnleashSettingsError {
                setting: "timeout",
                problem: "is zero: every call would time out; give a few seconds".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| UnleashSettingsError {
                setting: "url",
                problem: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(UnleashAdmin {
            shown_url: base.as_str().trim_end_matches('/').to_string(),
            base,
            project: settings.project,
            environment: settings.environment,
            token_secret_id: settings.token_secret_id.trim().to_string(),
            secrets,
            http,
            timeout: settings.timeout,
        })
    }

    /// `<base>/api/admin/projects/<project>/features/<flag>[/environments/<env>/<on|off>]`,
    /// each segment percent-encoded.
    fn flag_url(&self, flag: &str, switch: Option<bool>) -> url::Url {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .expect("checked at construction: the base URL can be a base");
            segments.pop_if_empty().extend([
                "api",
                "admin",
                "projects",
                &self.project,
                "features",
                flag,
            ]);
            if let Some(on) = switch {
                segments.extend([
                    "environments",
                    &self.environment,
                    if on { "on" } else { "off" },
                ]);
            }
        }
        url
    }

    async fn token(&self) -> Result<HeaderValue, ToggleError> {
        let token = self
            .secrets
            .secret(&self.token_secret_id)
            .await
            .map_err(|e| ToggleError::Call(format!("cannot read the Unleash admin token: {e}")))?;
        let token = token.trim();
        if token.is_empty() {
            return Err(ToggleError::Unauthorized(format!(
                "the secret {} is empty: store an Unleash admin API token in it",
                self.token_secret_id
            )));
        }
        let mut value = HeaderValue::from_str(token).map_err(|_| {
            ToggleError::Unauthorized(format!(
                "the secret {} holds characters an HTTP header cannot carry: store the admin API token alone, without line breaks",
                self.token_secret_id
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One admin API call: the JSON answer on success, else the error its status means.
    async fn call(
        &self,
        method: Method,
        flag: &str,
        switch: Option<bool>,
        token: &HeaderValue,
    ) -> Result<Value, ToggleError> {
        let url = self.flag_url(flag, switch);
        let what = format!("{method} {}", url.path());
        let response = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, token.clone())
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    format!("no answer within {} s", self.timeout.as_secs_f64())
                } else {
                    e.without_url().to_string()
                };
                ToggleError::Call(format!(
                    "cannot reach Unleash at {} ({what}): {why}",
                    self.shown_url
                ))
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        // Unleash's errors are `{"name", "message", "details"}`; never echo a token it quoted.
        let unleash_says = || {
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| body.clone());
            let message = match token.to_str() {
                Ok(secret) if !secret.is_empty() => message.replace(secret, "(token)"),
                _ => message,
            };
            truncate_chars(&crate::text::printable(message.trim()), 300)
        };
        match status {
            s if s.is_success() => {
                if body.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(&body).map_err(|e| {
                    ToggleError::Call(format!(
                        "Unleash at {} answered {what} with HTTP {status} but not JSON ({e})",
                        self.shown_url
                    ))
                })
            }
            StatusCode::NOT_FOUND => Err(ToggleError::UnknownFlag {
                flag: flag.to_string(),
                project: self.project.clone(),
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(ToggleError::Unauthorized(format!(
                    "Unleash at {} answered {what} with HTTP {status}: {}; the token in secret {} must be an admin API token (a backend or frontend token is not enough)",
                    self.shown_url,
                    unleash_says(),
                    self.token_secret_id
                )))
            }
            _ => Err(ToggleError::Call(format!(
                "Unleash at {} answered {what} with HTTP {status}: {}",
                self.shown_url,
                unleash_says()
            ))),
        }
    }

    /// Whether `flag` is on in our environment, from `GET …/features/{flag}`.
    async fn read(&self, flag: &str, token: &HeaderValue) -> Result<bool, ToggleError> {
        let answer = self.call(Method::GET, flag, None, token).await?;
        let environments = answer["environments"].as_array().ok_or_else(|| {
            ToggleError::Call(format!(
                "Unleash at {} sent feature \"{flag}\" without an environments list",
                self.shown_url
            ))
        })?;
        let found = environments
            .iter()
            .find(|e| e["name"].as_str() == Some(self.environment.as_str()));
        match found {
            Some(environment) => environment["enabled"].as_bool().ok_or_else(|| {
                ToggleError::Call(format!(
                    "Unleash at {} sent environment \"{}\" of feature \"{flag}\" without a boolean \"enabled\"",
                    self.shown_url, self.environment
                ))
            }),
            None => Err(ToggleError::UnknownEnvironment {
                flag: flag.to_string(),
                project: self.project.clone(),
                environment: self.environment.clone(),
                known: environments
                    .iter()
                    .filter_map(|e| e["name"].as_str().map(str::to_string))
                    .collect(),
            }),
        }
    }
}

#[async_trait]
impl FeatureToggles for UnleashAdmin {
    async fn set(&self, flag: &str, on: bool) -> Result<ToggleChange, ToggleError> {
        if flag.trim().is_empty() {
            return Err(ToggleError::UnknownFlag {
                flag: flag.to_string(),
                project: self.project.clone(),
            });
        }
        let token = self.token().await?;
        let was_on = self.read(flag, &token).await?;
        self.call(Method::POST, flag, Some(on), &token).await?;
        let now_on = self.read(flag, &token).await?;
        if now_on != on {
            return Err(ToggleError::NotConfirmed {
                flag: flag.to_string(),
                wanted: on,
            });
        }
        Ok(ToggleChange {
            flag: flag.to_string(),
            project: self.project.clone(),
            environment: self.environment.clone(),
            was_on: Some(was_on),
            now_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::MemorySecrets;

    fn admin(settings: UnleashSettings) -> Result<UnleashAdmin, UnleashSettingsError> {
        UnleashAdmin::new(settings, Arc::new(MemorySecrets::default()))
    }

    fn error_for(url: &str) -> String {
        admin(UnleashSettings::new(url, "unleash-admin-token"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_base_url_that_is_not_one_says_what_to_give() {
        assert_eq!(
            error_for("unleash:4242"),
            "Unleash url: unleash:4242 is not an http(s) URL: give the Unleash base URL, e.g. https://unleash.example.com"
        );
        assert_eq!(
            error_for("not a url"),
            "Unleash url: (not shown: it may hold a token) is not a URL (relative URL without a base): give the Unleash base URL, e.g. https://unleash.example.com"
        );
        assert_eq!(
            error_for("https://unleash.example.com/?token=abc"),
            "Unleash url: https://unleash.example.com/?(query not shown) has a query or fragment, which the admin API paths cannot follow: give the base URL alone"
        );
        let with_password = error_for("https://admin:hunter2@unleash.example.com");
        assert_eq!(
            with_password,
            "Unleash url: holds a user or password: Unleash authenticates with the admin token from the secret, so give the URL without them"
        );
    }

    #[test]
    fn names_and_the_secret_id_are_checked() {
        let mut settings = UnleashSettings::new("https://unleash.example.com", "id");
        settings.environment = "prod uction".into();
        assert_eq!(
            admin(settings).unwrap_err().to_string(),
            "Unleash environment: \"prod uction\" holds ' ', which no Unleash environment name has (letters, digits, - _ . ~)"
        );
        let mut settings = UnleashSettings::new("https://unleash.example.com", "id");
        settings.project = String::new();
        assert_eq!(
            admin(settings).unwrap_err().to_string(),
            "Unleash project: is empty: give the Unleash project name (e.g. \"default\")"
        );
        let settings = UnleashSettings::new("https://unleash.example.com", " ");
        assert_eq!(
            admin(settings).unwrap_err().to_string(),
            "Unleash token secret id: is empty: give the id or ARN of the Secrets Manager secret that holds an Unleash admin API token"
        );
        let mut settings = UnleashSettings::new("https://unleash.example.com", "id");
        settings.timeout = Duration::ZERO;
        assert_eq!(
            admin(settings).unwrap_err().to_string(),
            "Unleash timeout: is zero: every call would time out; give a few seconds"
        );
    }

    #[test]
    fn paths_keep_a_base_prefix_and_encode_the_flag() {
        let admin = admin(UnleashSettings::new("https://example.com/unleash/", "id")).unwrap();
        assert_eq!(
            admin.flag_url("EnablePromotion", Some(false)).as_str(),
            "https://example.com/unleash/api/admin/projects/default/features/EnablePromotion/environments/production/off"
        );
        assert_eq!(
            admin.flag_url("a/b?c", None).as_str(),
            "https://example.com/unleash/api/admin/projects/default/features/a%2Fb%3Fc"
        );
    }

    #[tokio::test]
    async fn a_missing_secret_fails_the_call_naming_the_secret() {
        let admin = admin(UnleashSettings::new(
            "http://127.0.0.1:1",
            "unleash-admin-token",
        ))
        .unwrap();
        assert_eq!(
            admin.set("EnablePromotion", false).await.unwrap_err().to_string(),
            "cannot read the Unleash admin token: secret unleash-admin-token: the secret does not exist"
        );
    }

    #[tokio::test]
    async fn an_unreachable_unleash_is_a_call_error_without_the_token() {
        let secrets = MemorySecrets {
            values: [("id".to_string(), "*:*.s3cret".to_string())].into(),
        };
        let admin = UnleashAdmin::new(
            UnleashSettings::new("http://127.0.0.1:1", "id"),
            Arc::new(secrets),
        )
        .unwrap();
        let error = admin.set("EnablePromotion", false).await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ToggleError::Call(_)), "{error:?}");
        assert!(
            text.starts_with("cannot reach Unleash at http://127.0.0.1:1 (GET /api/admin/projects/default/features/EnablePromotion): "),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!format!("{admin:?}").contains("s3cret"));
    }

    /// Answers each request with the next canned (status, JSON body) and records the request
    /// line and Authorization header it got: the contract paths a real Unleash will not take
    /// on request (a switch that does not stick, a server error).
    async fn canned(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            for (status, body) in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap() == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let line = head.lines().next().unwrap_or_default().to_string();
                let authorization = head
                    .lines()
                    .find_map(|l| l.strip_prefix("authorization: "))
                    .unwrap_or("(none)")
                    .to_string();
                record
                    .lock()
                    .unwrap()
                    .push(format!("{line} [{authorization}]"));
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        (url, seen)
    }

    fn with_token(url: &str) -> UnleashAdmin {
        let secrets = MemorySecrets {
            values: [("id".to_string(), "*:*.s3cret".to_string())].into(),
        };
        UnleashAdmin::new(UnleashSettings::new(url, "id"), Arc::new(secrets)).unwrap()
    }

    const ON: &str =
        r#"{"name":"EnablePromotion","environments":[{"name":"production","enabled":true}]}"#;

    #[tokio::test]
    async fn a_switch_that_does_not_read_back_is_not_confirmed() {
        let (url, seen) = canned(vec![(200, ON), (200, ""), (200, ON)]).await;
        let error = with_token(&url)
            .set("EnablePromotion", false)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ToggleError::NotConfirmed {
                flag: "EnablePromotion".into(),
                wanted: false
            }
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "GET /api/admin/projects/default/features/EnablePromotion HTTP/1.1 [*:*.s3cret]",
                "POST /api/admin/projects/default/features/EnablePromotion/environments/production/off HTTP/1.1 [*:*.s3cret]",
                "GET /api/admin/projects/default/features/EnablePromotion HTTP/1.1 [*:*.s3cret]",
            ]
        );
    }

    #[tokio::test]
    async fn a_server_error_is_a_call_error_with_unleashs_message() {
        let (url, _) = canned(vec![
            (200, ON),
            (
                500,
                r#"{"name":"InternalError","message":"database *:*.s3cret is gone"}"#,
            ),
        ])
        .await;
        let error = with_token(&url)
            .set("EnablePromotion", false)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("Unleash at {url} answered POST /api/admin/projects/default/features/EnablePromotion/environments/production/off with HTTP 500 Internal Server Error: database (token) is gone")
        );
    }
}
