//! The real sides of the self-healing ports, composed from the other adapters: the SLO
//! evaluation of a lane ([`evaluator`]), comments and escalations ([`notifier`]), and the
//! actions themselves ([`actions`]).

pub mod actions;
pub mod evaluator;
pub mod notifier;

#[cfg(test)]
mod actions_tests;
