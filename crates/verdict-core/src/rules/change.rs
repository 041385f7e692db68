//! What changed since the previous report (docs/contract.md#change-rules), computed at read time from stored
//! reports only.

use std::collections::HashMap;

use serde::Serialize;

pub use crate::domain::ChangeState;
use crate::domain::{CheckKey, CheckResult, CheckStatus, Report, RunId};

use super::outcome_line;

/// How one check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckChangeKind {
    /// Only in the current report.
    Added,
    /// Only in the previous report.
    Removed,
    /// Same outcome line.
    Unchanged,
    /// Rank went up (worse).
    Regressed,
    /// Rank went down (better).
    Improved,
    /// Same rank, other reason code, severity or blocking.
    Changed,
}

/// One check's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckChange {
    /// The check.
    pub key: CheckKey,
    /// Its change.
    pub change: CheckChangeKind,
}

/// The change between a report and its previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportChange {
    /// The indicator.
    pub state: ChangeState,
    /// The previous report compared against.
    pub previous_report_id: Option<RunId>,
    /// Per-check changes: current checks in report order, then removed ones. Empty without a
    /// previous report.
    pub checks: Vec<CheckChange>,
}

/// Severity rank of a result: pass = skip = 0, warn = 1, non-blocking fail = 2, blocker = 3.
/// A still-running check ranks 0: it has not found anything yet.
#[must_use]
pub fn rank(check: &CheckResult) -> u8 {
    match check.status {
        CheckStatus::Pass | CheckStatus::Skip | CheckStatus::Running => 0,
        CheckStatus::Warn => 1,
        CheckStatus::Fail if check.blocking => 3,
        CheckStatus::Fail => 2,
    }
}

/// How one check changed between two reports.
#[must_use]
pub fn check_change(current: &CheckResult, previous: &CheckResult) -> CheckChangeKind {
    if outcome_line(current) == outcome_line(previous) {
        return CheckChangeKind::Unchanged;
    }
    match rank(current).cmp(&rank(previous)) {
        std::cmp::Ordering::Greater => CheckChangeKind::Regressed,
        std::cmp::Ordering::Less => CheckChangeKind::Improved,
        std::cmp::Ordering::Equal => CheckChangeKind::Changed,
    }
}

/// Compares `current` with the report it links as previous (if that report is available).
#[must_use]
pub fn compare_reports(current: &Report, previous: Option<&Report>) -> ReportChange {
    let Some(previous) = previous else {
        return ReportChange { state: ChangeState::None, previous_report_id: None, checks: Vec::new() };
    };
    let state = ChangeState::between(current, Some(previous));
    let before: HashMap<&CheckKey, &CheckResult> = previous.checks().iter().map(|c| (&c.key, c)).collect();
    let mut checks: Vec<CheckChange> = current
        .checks()
        .iter()
        .map(|c| CheckChange {
            key: c.key.clone(),
            change: before.get(&c.key).map_or(CheckChangeKind::Added, |p| check_change(c, p)),
        })
        .collect();
    let now: HashMap<&CheckKey, ()> = current.checks().iter().map(|c| (&c.key, ())).collect();
    checks.extend(
        previous
            .checks()
            .iter()
            .filter(|p| !now.contains_key(&p.key))
            .map(|p| CheckChange { key: p.key.clone(), change: CheckChangeKind::Removed }),
    );
    ReportChange { state, previous_report_id: Some(previous.report_id()), checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FlowId, ReasonCode, ReportDraft, ReportIdentity, Severity, TenantId, WorkspaceId};
    use crate::rules::test_support::check;
    use CheckStatus::{Fail, Pass, Skip, Warn};

    fn report(checks: Vec<CheckResult>) -> Report {
        Report::assemble(ReportDraft {
            report_id: RunId::generate(),
            flow: FlowId::parse("f").unwrap(),
            generated_at: chrono::Utc::now(),
            identity: ReportIdentity {
                workspace_id: WorkspaceId::new(1).unwrap(),
                tenant_id: TenantId::new(1).unwrap(),
                provider_connection_id: None,
                entra_tenant_id: None,
            },
            previous_report_id: None,
            checks,
        })
        .unwrap()
    }

    fn c(status: CheckStatus, blocking: bool, reason: ReasonCode, severity: Severity) -> CheckResult {
        check("k", status, blocking, reason, severity)
    }

    #[test]
    fn per_check_change_table() {
        use CheckChangeKind::{Changed, Improved, Regressed, Unchanged};
        let ok = ReasonCode::OK;
        let denied = ReasonCode::PERMISSION_DENIED;
        let hi = Severity::High;
        let table = [
            (c(Pass, false, ok, hi), c(Pass, false, ok, hi), Unchanged, "same line"),
            (c(Pass, false, ok, hi), c(Skip, false, ok, hi), Changed, "pass and skip share rank 0"),
            (c(Warn, false, denied, hi), c(Pass, false, ok, hi), Regressed, "pass to warn"),
            (c(Fail, false, denied, hi), c(Warn, false, denied, hi), Regressed, "warn to fail"),
            (c(Fail, true, denied, hi), c(Fail, false, denied, hi), Regressed, "fail to blocker"),
            (c(Pass, false, ok, hi), c(Fail, true, denied, hi), Improved, "blocker to pass"),
            (c(Warn, false, denied, hi), c(Fail, false, denied, hi), Improved, "fail to warn"),
            (c(Fail, false, ReasonCode::INVALID_STATE, hi), c(Fail, false, denied, hi), Changed, "other reason"),
            (c(Fail, false, denied, Severity::Low), c(Fail, false, denied, hi), Changed, "other severity"),
            (c(Pass, true, ok, hi), c(Pass, false, ok, hi), Changed, "blocking flag on a pass"),
        ];
        for (current, previous, expected, rule) in table {
            assert_eq!(check_change(&current, &previous), expected, "{rule}");
        }
    }

    #[test]
    fn report_change_states_and_added_removed_keys() {
        let first = report(vec![
            check("a", Pass, false, ReasonCode::OK, Severity::High),
            check("gone", Pass, false, ReasonCode::OK, Severity::High),
        ]);
        assert_eq!(compare_reports(&first, None).state, ChangeState::None);

        let same = report(first.checks().to_vec());
        let change = compare_reports(&same, Some(&first));
        assert_eq!(change.state, ChangeState::Unchanged);
        assert_eq!(change.previous_report_id, Some(first.report_id()));
        assert!(change.checks.iter().all(|c| c.change == CheckChangeKind::Unchanged));

        let next = report(vec![
            check("new", Warn, false, ReasonCode::THROTTLED, Severity::Low),
            check("a", Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
        ]);
        let change = compare_reports(&next, Some(&first));
        assert_eq!(change.state, ChangeState::Changed);
        let kinds: Vec<(&str, CheckChangeKind)> = change.checks.iter().map(|c| (c.key.as_str(), c.change)).collect();
        assert_eq!(
            kinds,
            [("new", CheckChangeKind::Added), ("a", CheckChangeKind::Regressed), ("gone", CheckChangeKind::Removed)]
        );
    }
}
