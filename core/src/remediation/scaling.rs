//! The scaling action's decisions, pure: the desired capacity to set ([`plan`]) and whether
//! the group has reached it ([`progress`]). The worker reads the group, asks [`plan`], sets
//! the capacity, then polls the group and asks [`progress`] until done or timed out.

use crate::model::scaling::ScalingGroup;

/// A change of desired capacity that stays within the group's MinSize..MaxSize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleTo {
    pub from: i32,
    pub to: i32,
}

impl std::fmt::Display for ScaleTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "desired {} → {}", self.from, self.to)
    }
}

/// Where a group stands against the capacity an action set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingProgress {
    /// The instances in service reached the new desired capacity.
    Done { in_service: i32 },
    /// Instances are still starting (or stopping).
    Pending { in_service: i32 },
    /// The desired capacity is no longer the one this action set: someone (a scaling policy,
    /// a person) changed it since, so this action's result cannot be awaited.
    Overridden { desired: i32 },
}

/// The desired capacity after adding `by` instances (removing, when negative), or why not.
/// Auto Scaling refuses a capacity outside MinSize..MaxSize; refusing here says so in the
/// sequence's words, before any call.
pub fn plan(group: &ScalingGroup, by: i64) -> Result<ScaleTo, String> {
    let name = &group.name;
    if by == 0 {
        return Err(format!(
            "scaling by 0 would leave group {name} at desired {}",
            group.desired
        ));
    }
    let to = i64::from(group.desired) + by;
    if to > i64::from(group.max) {
        return Err(format!(
            "desired {to} would exceed MaxSize {} of group {name}",
            group.max
        ));
    }
    if to < i64::from(group.min) {
        return Err(format!(
            "desired {to} would fall below MinSize {} of group {name}",
            group.min
        ));
    }
    Ok(ScaleTo {
        from: group.desired,
        // Within min..=max, both i32.
        to: to as i32,
    })
}

/// Whether the group has reached `target.to`: for a scale-out, that many instances in service;
/// for a scale-in, no more than that many.
pub fn progress(target: &ScaleTo, group: &ScalingGroup) -> ScalingProgress {
    if group.desired != target.to {
        return ScalingProgress::Overridden {
            desired: group.desired,
        };
    }
    let reached = if target.to >= target.from {
        group.in_service >= target.to
    } else {
        group.in_service <= target.to
    };
    if reached {
        ScalingProgress::Done {
            in_service: group.in_service,
        }
    } else {
        ScalingProgress::Pending {
            in_service: group.in_service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(min: i32, max: i32, desired: i32, in_service: i32) -> ScalingGroup {
        ScalingGroup {
            name: "prod-asg".into(),
            min,
            max,
            desired,
            in_service,
        }
    }

    #[test]
    fn plan_cases() {
        let cases: [(&str, ScalingGroup, i64, Result<ScaleTo, &str>); 8] = [
            (
                "one more",
                group(1, 2, 1, 1),
                1,
                Ok(ScaleTo { from: 1, to: 2 }),
            ),
            (
                "up to MaxSize exactly",
                group(1, 3, 1, 1),
                2,
                Ok(ScaleTo { from: 1, to: 3 }),
            ),
            (
                "one less",
                group(1, 3, 2, 2),
                -1,
                Ok(ScaleTo { from: 2, to: 1 }),
            ),
            (
                "above MaxSize",
                group(1, 2, 2, 2),
                1,
                Err("desired 3 would exceed MaxSize 2 of group prod-asg"),
            ),
            (
                "far above MaxSize",
                group(1, 2, 1, 1),
                i64::MAX - 1,
                Err("desired 9223372036854775807 would exceed MaxSize 2 of group prod-asg"),
            ),
            (
                "below MinSize",
                group(1, 2, 1, 1),
                -1,
                Err("desired 0 would fall below MinSize 1 of group prod-asg"),
            ),
            (
                "far below MinSize",
                group(1, 2, 1, 1),
                i64::MIN + 1,
                Err("desired -9223372036854775806 would fall below MinSize 1 of group prod-asg"),
            ),
            (
                "by 0",
                group(1, 2, 1, 1),
                0,
                Err("scaling by 0 would leave group prod-asg at desired 1"),
            ),
        ];
        for (case, g, by, expected) in cases {
            assert_eq!(plan(&g, by), expected.map_err(str::to_string), "{case}");
        }
    }

    #[test]
    fn progress_cases() {
        let out = ScaleTo { from: 1, to: 2 };
        let scale_in = ScaleTo { from: 3, to: 2 };
        let cases = [
            (
                "scale-out, instance starting",
                out,
                group(1, 3, 2, 1),
                ScalingProgress::Pending { in_service: 1 },
            ),
            (
                "scale-out, all in service",
                out,
                group(1, 3, 2, 2),
                ScalingProgress::Done { in_service: 2 },
            ),
            (
                "scale-in, instance stopping",
                scale_in,
                group(1, 3, 2, 3),
                ScalingProgress::Pending { in_service: 3 },
            ),
            (
                "scale-in, done",
                scale_in,
                group(1, 3, 2, 2),
                ScalingProgress::Done { in_service: 2 },
            ),
            (
                "desired changed by someone else",
                out,
                group(1, 3, 3, 3),
                ScalingProgress::Overridden { desired: 3 },
            ),
        ];
        for (case, target, g, expected) in cases {
            assert_eq!(progress(&target, &g), expected, "{case}");
        }
    }

    #[test]
    fn a_scale_to_reads_as_the_timeline_shows_it() {
        assert_eq!(ScaleTo { from: 1, to: 2 }.to_string(), "desired 1 → 2");
    }
}
