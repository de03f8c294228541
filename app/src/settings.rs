//! Settings read from environment variables: a [`Setting`] names one variable and says what
//! it should hold, [`Env`] reads and checks it, and a missing or bad one is a [`ConfigError`]
//! that names the variable. Handlers (`unbreakable-handlers`) and adapters
//! (`unbreakable-adapters`) alike declare and read their settings with these; nothing here
//! knows a handler or an adapter. [`dynatrace`] and [`unleash`] hold the settings of those
//! two adapters that handlers' `Config`s carry, as plain data, so no handler names an adapter.

use std::time::Duration;

pub mod dynatrace;
pub mod unleash;

/// One environment variable a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub variable: &'static str,
    pub meaning: &'static str,
    /// The function does not start without it.
    pub required: bool,
}

impl Setting {
    pub const fn required(variable: &'static str, meaning: &'static str) -> Self {
        Setting {
            variable,
            meaning,
            required: true,
        }
    }

    pub const fn optional(variable: &'static str, meaning: &'static str) -> Self {
        Setting {
            variable,
            meaning,
            required: false,
        }
    }

    pub fn error(&self, problem: String) -> ConfigError {
        ConfigError {
            variable: self.variable,
            problem,
            meaning: self.meaning,
        }
    }
}

/// A missing or bad setting. The message names the variable and says what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {variable} {problem} ({meaning})")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
    pub meaning: &'static str,
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    /// The trimmed value, or `None` when unset or blank.
    pub fn optional(&self, setting: &Setting) -> Option<String> {
        (self.lookup)(setting.variable)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, setting: &Setting) -> Result<String, ConfigError> {
        self.optional(setting)
            .ok_or_else(|| setting.error("is not set".into()))
    }

    /// An `http(s)://` URL without a trailing slash.
    pub fn url(&self, setting: &Setting) -> Result<String, ConfigError> {
        let value = self.required(setting)?;
        check_url(setting, &value)
    }

    pub fn optional_url(&self, setting: &Setting) -> Result<Option<String>, ConfigError> {
        self.optional(setting)
            .map(|v| check_url(setting, &v))
            .transpose()
    }

    /// A positive number, or `default` when unset.
    pub fn number(&self, setting: &Setting, default: f64) -> Result<f64, ConfigError> {
        match self.optional(setting) {
            None => Ok(default),
            Some(text) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(setting.error(format!("must be a number above 0, got \"{text}\""))),
            },
        }
    }

    /// `true` or `false`, or `default` when unset.
    pub fn flag(&self, setting: &Setting, default: bool) -> Result<bool, ConfigError> {
        match self.optional(setting).map(|t| t.to_ascii_lowercase()) {
            None => Ok(default),
            Some(t) if t == "true" => Ok(true),
            Some(t) if t == "false" => Ok(false),
            Some(t) => Err(setting.error(format!("must be true or false, got \"{t}\""))),
        }
    }

    pub fn seconds(&self, setting: &Setting, default_secs: f64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs_f64(self.number(setting, default_secs)?))
    }

    /// Seconds where 0 is a value (a delay that may be none), up to `max`.
    pub fn delay(
        &self,
        setting: &Setting,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        match self.optional(setting) {
            None => Ok(default),
            Some(text) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 && v <= max.as_secs_f64() => {
                    Ok(Duration::from_secs_f64(v))
                }
                _ => Err(setting.error(format!(
                    "must be a number of seconds from 0 to {}, got \"{text}\"",
                    max.as_secs()
                ))),
            },
        }
    }

    /// A value `T` parses from the text (its error is the problem shown), or `T::default()`
    /// when unset.
    pub fn parsed<T>(&self, setting: &Setting) -> Result<T, ConfigError>
    where
        T: std::str::FromStr<Err = String> + Default,
    {
        match self.optional(setting) {
            None => Ok(T::default()),
            Some(text) => text
                .parse()
                .map_err(|problem: String| setting.error(problem)),
        }
    }
}

fn check_url(setting: &Setting, value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(setting.error(format!(
            "must be an http(s) URL, got \"{}\"",
            crate::text::redacted_url(value)
        ))),
    }
}

/// Test support: the variables a `Config::from_env` looked up, to check them against the
/// `SETTINGS` it declares (the handlers' tests, through the feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub fn variables_read<T>(
    read: impl FnOnce(&Env<Box<dyn Fn(&str) -> Option<String>>>) -> Result<T, ConfigError>,
    values: &'static [(&'static str, &'static str)],
) -> std::collections::BTreeSet<String> {
    use std::cell::RefCell;
    use std::rc::Rc;
    let seen = Rc::new(RefCell::new(std::collections::BTreeSet::new()));
    let recorder = seen.clone();
    let env = Env::new(Box::new(move |name: &str| {
        recorder.borrow_mut().insert(name.to_string());
        values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }) as Box<dyn Fn(&str) -> Option<String>>);
    read(&env).expect("the configuration reads");
    let read = seen.borrow().clone();
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    const TABLE: Setting = Setting::required("VALIDATION_TABLE", "the table");
    const TENANT: Setting = Setting::required("DT_TENANT_URL", "the tenant");
    const LEASE: Setting = Setting::optional("WORKER_LEASE_SECONDS", "the lease");

    #[test]
    fn missing_and_bad_settings_name_the_variable() {
        let e = env(&[]).required(&TABLE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: VALIDATION_TABLE is not set (the table)"
        );
        let e = env(&[("DT_TENANT_URL", "abc.live.dynatrace.com")])
            .url(&TENANT)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: DT_TENANT_URL must be an http(s) URL, got \"(not shown: it may hold a token)\" (the tenant)"
        );
        let e = env(&[("WORKER_LEASE_SECONDS", "-5")])
            .seconds(&LEASE, 300.0)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("must be a number above 0, got \"-5\""),
            "{e}"
        );
    }

    #[test]
    fn urls_lose_their_trailing_slash_and_defaults_apply() {
        let e = env(&[(
            "DT_TENANT_URL",
            "https://x.example/v1/BuildValidationResults/",
        )]);
        assert_eq!(
            e.url(&TENANT).unwrap(),
            "https://x.example/v1/BuildValidationResults"
        );
        assert_eq!(e.number(&LEASE, 7.0).unwrap(), 7.0);
        let max = Duration::from_secs(60);
        assert_eq!(
            env(&[("WORKER_LEASE_SECONDS", "0")])
                .delay(&LEASE, max, max)
                .unwrap(),
            Duration::ZERO,
            "0 is a delay, not a missing one"
        );
        let too_long = env(&[("WORKER_LEASE_SECONDS", "61")])
            .delay(&LEASE, max, max)
            .unwrap_err();
        assert_eq!(
            too_long.to_string(),
            "configuration: WORKER_LEASE_SECONDS must be a number of seconds from 0 to 60, got \"61\" (the lease)"
        );
        assert_eq!(e.optional_url(&LEASE).unwrap(), None);
    }
}
