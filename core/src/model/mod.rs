//! The plain data the core's policies read and return, and the ports of `unbreakable-app`
//! carry: no behaviour beyond what the data says of itself.

/// A state an outside system reports (CodeDeploy, CodePipeline, Dynatrace): the values it
/// documents as variants, and `Other` for one it may add later, kept as sent so it is shown
/// and stored as it came. The adapter reads the wire text once with `parse` (also `From<&str>`);
/// `as_str` and `Display` give the same text back. Build a known value with its variant, not
/// `Other`: `Other("Succeeded")` is not `Succeeded`.
macro_rules! outside_state {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this code does not know, as sent.
            Other(String),
        }

        impl $name {
            /// The state the wire text names (exact, case-sensitive), else `Other`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }

            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod artifacts;
pub mod deploy;
pub mod metrics;
pub mod monitoring;
pub mod pipeline;
pub mod samples;
pub mod scaling;
pub mod store;

#[cfg(test)]
mod tests {
    use super::deploy::DeploymentStatus;
    use super::monitoring::ProblemStatus;
    use super::pipeline::ActionStatus;

    #[test]
    fn known_states_read_and_render_as_sent() {
        for text in [
            "Created",
            "Queued",
            "InProgress",
            "Baking",
            "Succeeded",
            "Failed",
            "Stopped",
            "Ready",
        ] {
            let status = DeploymentStatus::parse(text);
            assert!(!matches!(status, DeploymentStatus::Other(_)), "{text}");
            assert_eq!(status.as_str(), text);
            assert_eq!(status.to_string(), text);
        }
        for text in ["InProgress", "Abandoned", "Succeeded", "Failed"] {
            let status = ActionStatus::parse(text);
            assert!(!matches!(status, ActionStatus::Other(_)), "{text}");
            assert_eq!(status.as_str(), text);
        }
        for text in ["OPEN", "RESOLVED", "CLOSED"] {
            let status = ProblemStatus::parse(text);
            assert!(!matches!(status, ProblemStatus::Other(_)), "{text}");
            assert_eq!(status.as_str(), text);
        }
    }

    #[test]
    fn an_unknown_state_is_kept_as_sent() {
        assert_eq!(
            DeploymentStatus::from("succeeded"),
            DeploymentStatus::Other("succeeded".into()),
            "case matters: CodeDeploy sends Succeeded"
        );
        assert_eq!(DeploymentStatus::from("").as_str(), "");
        assert_eq!(
            ActionStatus::parse("Stopping").to_string(),
            "Stopping",
            "a stage's Stopping is not an action status"
        );
        assert_eq!(
            ProblemStatus::from("MERGED"),
            ProblemStatus::Other("MERGED".into())
        );
    }
}
