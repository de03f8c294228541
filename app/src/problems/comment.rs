//! The comment left on the Dynatrace problem: what was done, per deployment.

use super::{OpenOutcome, COMMENT_LIMIT};
use crate::inbound::dynatrace::Notification;
use crate::remediation::rollback::RollbackOutcome;
use crate::text::{printable, truncate_chars};

/// The comment on the problem: every part we did not write ourselves goes through
/// [`printable`], so no control or bidi character reaches Dynatrace's UI.
pub(super) fn comment_text(notification: &Notification, open: &OpenOutcome) -> String {
    let mut lines = vec![format!(
        "Unbreakable handled problem {}:",
        notification
            .display_id
            .as_deref()
            .unwrap_or(&notification.pid)
    )];
    for a in &open.actions {
        let what = match a.action {
            RollbackOutcome::RolledBack => format!(
                "rolled back {} ({}; new deployment {})",
                a.deployment_id,
                a.reason,
                a.rollback_deployment_id.as_deref().unwrap_or("?")
            ),
            RollbackOutcome::Skipped if a.deployment_id.is_empty() => {
                format!("no rollback: {}", a.reason)
            }
            RollbackOutcome::Skipped => {
                format!("did not roll back {}: {}", a.deployment_id, a.reason)
            }
            RollbackOutcome::Failed => format!("rollback failed: {}", a.reason),
            RollbackOutcome::Queued => format!("self-healing: {}", a.reason),
        };
        lines.push(format!("- {}", printable(&what)));
    }
    if let Some(note) = &open.note {
        lines.push(format!("- {}", printable(note)));
    }
    truncate_chars(&lines.join("\n"), COMMENT_LIMIT)
}
