//! Feature flags, behind [`FeatureToggles`]: the remediation action that turns a flag on or
//! off (Keptn's `featuretoggle`). The real adapter is `unleash::UnleashAdmin` in
//! `unbreakable-adapters`; [`MemoryToggles`] is the in-memory double with the same contract.

#[cfg(any(test, feature = "testing"))]
use std::collections::BTreeMap;
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

use async_trait::async_trait;

/// What a toggle did, as read back from the flag service: the timeline shows
/// `EnablePromotion on → off, read back` from this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToggleChange {
    pub flag: String,
    pub project: String,
    pub environment: String,
    /// The state before the change; `None` when the service could not tell.
    pub was_on: Option<bool>,
    /// The state read back after the change (always the one asked for, or the call fails
    /// with [`ToggleError::NotConfirmed`]).
    pub now_on: bool,
}

impl ToggleChange {
    /// Whether the call changed anything: turning off a flag that was off is no change.
    pub fn changed(&self) -> bool {
        self.was_on != Some(self.now_on)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToggleError {
    #[error("feature flag \"{flag}\" does not exist in project \"{project}\": create it there, or correct the flag name in remediation.yaml")]
    UnknownFlag { flag: String, project: String },
    #[error("feature flag \"{flag}\" in project \"{project}\" has no environment \"{environment}\" (it has: {}): enable that environment for the project, or set the toggle environment to one of these", known.join(", "))]
    UnknownEnvironment {
        flag: String,
        project: String,
        environment: String,
        known: Vec<String>,
    },
    /// The token was missing, wrong or lacks the permission. The message never holds it.
    #[error("the flag service refused the token: {0}")]
    Unauthorized(String),
    #[error("feature flag \"{flag}\" still reads {} after it was turned {}", on_off(!*wanted), on_off(*wanted))]
    NotConfirmed { flag: String, wanted: bool },
    /// Unreachable, timed out, a server error or an answer we cannot read: a retry may help.
    #[error("{0}")]
    Call(String),
}

/// `on` or `off`, as flags are spoken of.
pub fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[async_trait]
pub trait FeatureToggles: Send + Sync {
    /// Turn `flag` on or off in the configured project and environment, then read it back.
    async fn set(&self, flag: &str, on: bool) -> Result<ToggleChange, ToggleError>;
}

#[cfg(any(test, feature = "testing"))]
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(any(test, feature = "testing"))]
/// Flags of one project and environment by name; an unknown flag fails as Unleash's 404
/// does. Every change that happened is recorded, like Unleash's event log (setting the state a
/// flag already has records nothing, as there).
pub struct MemoryToggles {
    pub project: String,
    pub environment: String,
    flags: Mutex<BTreeMap<String, bool>>,
    changes: Mutex<Vec<ToggleChange>>,
    /// When set, every call fails with this error (a service that is down or refuses us).
    failure: Mutex<Option<ToggleError>>,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryToggles {
    /// Project `default`, environment `production`, as Unleash's defaults.
    pub fn new(flags: &[(&str, bool)]) -> Self {
        MemoryToggles {
            project: "default".into(),
            environment: "production".into(),
            flags: Mutex::new(
                flags
                    .iter()
                    .map(|(name, on)| (name.to_string(), *on))
                    .collect(),
            ),
            changes: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
        }
    }

    /// Fail every call from now on with `error`; `None` heals.
    pub fn fail_with(&self, error: Option<ToggleError>) {
        *lock(&self.failure) = error;
    }

    /// The flag's state; `None` when it does not exist.
    pub fn state(&self, flag: &str) -> Option<bool> {
        lock(&self.flags).get(flag).copied()
    }

    /// The calls that changed a flag, in order.
    pub fn changes(&self) -> Vec<ToggleChange> {
        lock(&self.changes).clone()
    }
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl FeatureToggles for MemoryToggles {
    async fn set(&self, flag: &str, on: bool) -> Result<ToggleChange, ToggleError> {
        if let Some(error) = lock(&self.failure).clone() {
            return Err(error);
        }
        let mut flags = lock(&self.flags);
        let Some(state) = flags.get_mut(flag) else {
            return Err(ToggleError::UnknownFlag {
                flag: flag.to_string(),
                project: self.project.clone(),
            });
        };
        let change = ToggleChange {
            flag: flag.to_string(),
            project: self.project.clone(),
            environment: self.environment.clone(),
            was_on: Some(*state),
            now_on: on,
        };
        *state = on;
        if change.changed() {
            lock(&self.changes).push(change.clone());
        }
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turning_a_flag_off_reports_both_states_and_records_one_change() {
        let toggles = MemoryToggles::new(&[("EnablePromotion", true)]);
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
        assert_eq!(toggles.state("EnablePromotion"), Some(false));
        assert_eq!(toggles.changes(), vec![change]);
    }

    #[tokio::test]
    async fn setting_the_state_a_flag_has_is_reported_as_no_change() {
        let toggles = MemoryToggles::new(&[("EnablePromotion", false)]);
        let change = toggles.set("EnablePromotion", false).await.unwrap();
        assert_eq!((change.was_on, change.now_on), (Some(false), false));
        assert!(!change.changed());
        assert!(toggles.changes().is_empty());
    }

    #[tokio::test]
    async fn an_unknown_flag_is_named_with_its_project() {
        let toggles = MemoryToggles::new(&[("EnablePromotion", true)]);
        let error = toggles.set("EnablePromotoin", false).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "feature flag \"EnablePromotoin\" does not exist in project \"default\": create it there, or correct the flag name in remediation.yaml"
        );
    }

    #[tokio::test]
    async fn a_failing_service_fails_every_call_until_healed() {
        let toggles = MemoryToggles::new(&[("EnablePromotion", true)]);
        toggles.fail_with(Some(ToggleError::Call("Unleash is down".into())));
        assert_eq!(
            toggles.set("EnablePromotion", false).await,
            Err(ToggleError::Call("Unleash is down".into()))
        );
        assert_eq!(toggles.state("EnablePromotion"), Some(true));
        toggles.fail_with(None);
        assert!(toggles.set("EnablePromotion", false).await.is_ok());
    }

    #[test]
    fn messages_say_what_is_wrong_and_what_to_do() {
        assert_eq!(
            ToggleError::NotConfirmed {
                flag: "EnablePromotion".into(),
                wanted: false
            }
            .to_string(),
            "feature flag \"EnablePromotion\" still reads on after it was turned off"
        );
        assert_eq!(
            ToggleError::UnknownEnvironment {
                flag: "EnablePromotion".into(),
                project: "default".into(),
                environment: "prod".into(),
                known: vec!["development".into(), "production".into()],
            }
            .to_string(),
            "feature flag \"EnablePromotion\" in project \"default\" has no environment \"prod\" (it has: development, production): enable that environment for the project, or set the toggle environment to one of these"
        );
    }
}
