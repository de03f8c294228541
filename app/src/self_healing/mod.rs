//! The self-healing use cases over the ports: the SLO (or monspec) evaluation of a lane after
//! an action ([`evaluator`]), and the actions themselves ([`actions`]: scaling, feature
//! toggles, rollback, checked until done). Comments and escalations go through the
//! `ProblemNotifier` port; its real side, which posts to webhooks, is an adapter
//! (`unbreakable-adapters`' `notifier`).

pub mod actions;
pub mod evaluator;

#[cfg(test)]
mod actions_tests;
