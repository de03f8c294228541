//! What a monitoring tool says of a problem.

outside_state! {
    /// A problem's state: Dynatrace's problem status (`OPEN`, `CLOSED`) and the state its
    /// notifications send (`OPEN`, `RESOLVED`).
    pub enum ProblemStatus {
        Open => "OPEN",
        Resolved => "RESOLVED",
        Closed => "CLOSED",
    }
}
