//! The scaler: the Auto Scaling group behind a CodeDeploy deployment group, read and resized,
//! behind [`Scaling`]. [`MemoryScaling`] is its in-memory double.

#[cfg(any(test, feature = "testing"))]
use std::collections::BTreeMap;
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

use async_trait::async_trait;

pub use unbreakable_core::model::scaling::ScalingGroup;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScalingError {
    /// CodeDeploy knows no such application or deployment group.
    #[error("deployment group {group} of CodeDeploy application {application} not found ({message}); check the application and deployment group names")]
    DeploymentGroupNotFound {
        application: String,
        group: String,
        message: String,
    },
    /// Scaling a deployment group needs exactly one Auto Scaling group to resize.
    #[error("deployment group {group} of CodeDeploy application {application} has {}; scaling needs exactly one: attach its Auto Scaling group to the deployment group (AutoScalingGroups)", describe_groups(.groups))]
    NotExactlyOneGroup {
        application: String,
        group: String,
        groups: Vec<String>,
    },
    #[error(
        "Auto Scaling group {name} not found; check the name attached to the deployment group"
    )]
    GroupNotFound { name: String },
    /// The service refused the change (e.g. a desired capacity outside MinSize..MaxSize).
    #[error("Auto Scaling refused to change {name}: {message}")]
    Refused { name: String, message: String },
    #[error("Auto Scaling or CodeDeploy call failed: {0}")]
    Call(String),
}

fn describe_groups(groups: &[String]) -> String {
    match groups {
        [] => "no Auto Scaling group".to_string(),
        [one] => format!("1 Auto Scaling group ({one})"),
        many => format!("{} Auto Scaling groups ({})", many.len(), many.join(", ")),
    }
}

#[async_trait]
pub trait Scaling: Send + Sync {
    /// The Auto Scaling group of a CodeDeploy deployment group (GetDeploymentGroup →
    /// autoScalingGroups; exactly one, else an error that says how many).
    async fn group_for(
        &self,
        application: &str,
        deployment_group: &str,
    ) -> Result<ScalingGroup, ScalingError>;
    async fn group(&self, name: &str) -> Result<ScalingGroup, ScalingError>;
    /// Set the group's desired capacity now (cooldowns not honoured: the remediation
    /// sequence keeps its own).
    async fn set_desired(&self, name: &str, desired: i32) -> Result<(), ScalingError>;
}

#[cfg(any(test, feature = "testing"))]
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct MemoryScalingState {
    groups: BTreeMap<String, ScalingGroup>,
    /// (application, deployment group) → the Auto Scaling groups attached to it.
    attachments: BTreeMap<(String, String), Vec<String>>,
    /// The next calls fail with these, first first.
    failures: Vec<ScalingError>,
    /// Every accepted SetDesiredCapacity: (group, desired).
    desired_changes: Vec<(String, i32)>,
}

#[cfg(any(test, feature = "testing"))]
/// Auto Scaling groups and the deployment groups they are attached to, in memory, with the
/// service's contract: a desired capacity outside MinSize..MaxSize is refused. Instances do
/// not start by themselves: the test moves the InService count ([`Self::set_in_service`]).
#[derive(Default)]
pub struct MemoryScaling {
    state: Mutex<MemoryScalingState>,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryScaling {
    pub fn add_group(&self, group: ScalingGroup) {
        lock(&self.state).groups.insert(group.name.clone(), group);
    }

    /// Attach Auto Scaling groups (none, one or several) to a deployment group.
    pub fn attach(&self, application: &str, deployment_group: &str, names: &[&str]) {
        lock(&self.state).attachments.insert(
            (application.to_string(), deployment_group.to_string()),
            names.iter().map(|n| n.to_string()).collect(),
        );
    }

    /// Instances came into service (or left it).
    pub fn set_in_service(&self, name: &str, in_service: i32) {
        if let Some(g) = lock(&self.state).groups.get_mut(name) {
            g.in_service = in_service;
        }
    }

    /// The next call (of any method) fails with `error`.
    pub fn fail_next(&self, error: ScalingError) {
        lock(&self.state).failures.push(error);
    }

    /// Every accepted desired capacity change, in order.
    pub fn desired_changes(&self) -> Vec<(String, i32)> {
        lock(&self.state).desired_changes.clone()
    }

    fn injected_failure(state: &mut MemoryScalingState) -> Result<(), ScalingError> {
        if state.failures.is_empty() {
            Ok(())
        } else {
            Err(state.failures.remove(0))
        }
    }
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl Scaling for MemoryScaling {
    async fn group_for(
        &self,
        application: &str,
        deployment_group: &str,
    ) -> Result<ScalingGroup, ScalingError> {
        let mut state = lock(&self.state);
        Self::injected_failure(&mut state)?;
        let names = state
            .attachments
            .get(&(application.to_string(), deployment_group.to_string()))
            .ok_or_else(|| ScalingError::DeploymentGroupNotFound {
                application: application.to_string(),
                group: deployment_group.to_string(),
                message: "no such deployment group".into(),
            })?;
        let [name] = names.as_slice() else {
            return Err(ScalingError::NotExactlyOneGroup {
                application: application.to_string(),
                group: deployment_group.to_string(),
                groups: names.clone(),
            });
        };
        state
            .groups
            .get(name)
            .cloned()
            .ok_or_else(|| ScalingError::GroupNotFound { name: name.clone() })
    }

    async fn group(&self, name: &str) -> Result<ScalingGroup, ScalingError> {
        let mut state = lock(&self.state);
        Self::injected_failure(&mut state)?;
        state
            .groups
            .get(name)
            .cloned()
            .ok_or_else(|| ScalingError::GroupNotFound {
                name: name.to_string(),
            })
    }

    async fn set_desired(&self, name: &str, desired: i32) -> Result<(), ScalingError> {
        let mut state = lock(&self.state);
        Self::injected_failure(&mut state)?;
        let group = state
            .groups
            .get_mut(name)
            .ok_or_else(|| ScalingError::GroupNotFound {
                name: name.to_string(),
            })?;
        // Auto Scaling's own wording for these refusals (ValidationError).
        if desired > group.max {
            return Err(ScalingError::Refused {
                name: name.to_string(),
                message: format!(
                    "New SetDesiredCapacity value {desired} is above max value {} for the AutoScalingGroup.",
                    group.max
                ),
            });
        }
        if desired < group.min {
            return Err(ScalingError::Refused {
                name: name.to_string(),
                message: format!(
                    "New SetDesiredCapacity value {desired} is below min value {} for the AutoScalingGroup.",
                    group.min
                ),
            });
        }
        group.desired = desired;
        state.desired_changes.push((name.to_string(), desired));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> ScalingGroup {
        ScalingGroup {
            name: name.into(),
            min: 1,
            max: 2,
            desired: 1,
            in_service: 1,
        }
    }

    #[tokio::test]
    async fn the_double_finds_the_one_attached_group_and_resizes_it() {
        let scaling = MemoryScaling::default();
        scaling.add_group(group("prod-asg"));
        scaling.attach("App", "Production", &["prod-asg"]);
        assert_eq!(
            scaling.group_for("App", "Production").await.unwrap(),
            group("prod-asg")
        );
        scaling.set_desired("prod-asg", 2).await.unwrap();
        let resized = scaling.group("prod-asg").await.unwrap();
        assert_eq!((resized.desired, resized.in_service), (2, 1));
        scaling.set_in_service("prod-asg", 2);
        assert_eq!(scaling.group("prod-asg").await.unwrap().in_service, 2);
        assert_eq!(scaling.desired_changes(), vec![("prod-asg".into(), 2)]);
    }

    #[tokio::test]
    async fn the_double_refuses_what_auto_scaling_refuses() {
        let scaling = MemoryScaling::default();
        scaling.add_group(group("prod-asg"));
        let above = scaling.set_desired("prod-asg", 3).await.unwrap_err();
        assert_eq!(
            above.to_string(),
            "Auto Scaling refused to change prod-asg: New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup."
        );
        let below = scaling.set_desired("prod-asg", 0).await.unwrap_err();
        assert!(below.to_string().contains("below min value 1"), "{below}");
        assert!(scaling.desired_changes().is_empty());
    }

    #[tokio::test]
    async fn errors_name_the_deployment_group_and_how_many_auto_scaling_groups_it_has() {
        let scaling = MemoryScaling::default();
        scaling.attach("App", "Bare", &[]);
        scaling.attach("App", "Twice", &["a", "b"]);
        let none = scaling.group_for("App", "Bare").await.unwrap_err();
        assert_eq!(
            none.to_string(),
            "deployment group Bare of CodeDeploy application App has no Auto Scaling group; scaling needs exactly one: attach its Auto Scaling group to the deployment group (AutoScalingGroups)"
        );
        let two = scaling.group_for("App", "Twice").await.unwrap_err();
        assert!(
            two.to_string().contains("has 2 Auto Scaling groups (a, b)"),
            "{two}"
        );
        let unknown = scaling.group_for("App", "Nope").await.unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("deployment group Nope of CodeDeploy application App not found"),
            "{unknown}"
        );
    }

    #[tokio::test]
    async fn an_injected_failure_fails_the_next_call_only() {
        let scaling = MemoryScaling::default();
        scaling.add_group(group("prod-asg"));
        scaling.fail_next(ScalingError::Call("throttled".into()));
        assert_eq!(
            scaling.set_desired("prod-asg", 2).await,
            Err(ScalingError::Call("throttled".into()))
        );
        assert!(scaling.set_desired("prod-asg", 2).await.is_ok());
    }
}
