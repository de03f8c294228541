//! An Auto Scaling group's sizes.

/// An Auto Scaling group's sizes as the service reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingGroup {
    pub name: String,
    pub min: i32,
    pub max: i32,
    pub desired: i32,
    /// Instances whose lifecycle state is `InService` (not Pending, Terminating, Standby…).
    pub in_service: i32,
}
