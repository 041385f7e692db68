//! A completed run's outcome and failure summary (SPEC §5.4).

use serde_json::{Value, json};

use crate::domain::{CheckResult, CheckStatus, Counts, Outcome, Overall};

/// The outcome of a run whose final report has `overall`: ready or needs attention →
/// succeeded; blocked → failed. A final report is never `running` (unfinished checks are
/// recorded as aborted first), so that case maps to failed as well.
#[must_use]
pub fn outcome_for(overall: Overall) -> Outcome {
    match overall {
        Overall::Ready | Overall::NeedsAttention => Outcome::Succeeded,
        Overall::Blocked | Overall::Running => Outcome::Failed,
    }
}

/// The keys and reason codes of failing checks, in report order, as stored in
/// `operation_runs.failure_summary`.
#[must_use]
pub fn failure_summary(checks: &[CheckResult]) -> Value {
    Value::Array(
        checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| json!({ "check_key": c.key, "reason_code": c.reason_code, "blocking": c.blocking }))
            .collect(),
    )
}

/// `summary_counts` as stored: the report's counts.
#[must_use]
pub fn summary_counts(counts: &Counts) -> Value {
    serde_json::to_value(counts).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ReasonCode, Severity};
    use crate::rules::test_support::check;

    #[test]
    fn outcome_mapping() {
        assert_eq!(outcome_for(Overall::Ready), Outcome::Succeeded);
        assert_eq!(outcome_for(Overall::NeedsAttention), Outcome::Succeeded);
        assert_eq!(outcome_for(Overall::Blocked), Outcome::Failed);
        assert_eq!(outcome_for(Overall::Running), Outcome::Failed);
    }

    #[test]
    fn failure_summary_lists_failing_checks_only() {
        let checks = [
            check("a", CheckStatus::Pass, true, ReasonCode::OK, Severity::High),
            check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("c", CheckStatus::Warn, false, ReasonCode::THROTTLED, Severity::Low),
            check("d", CheckStatus::Fail, false, ReasonCode::INVALID_STATE, Severity::Low),
        ];
        assert_eq!(
            failure_summary(&checks),
            json!([
                {"check_key": "b", "reason_code": "permission_denied", "blocking": true},
                {"check_key": "d", "reason_code": "invalid_state", "blocking": false}
            ])
        );
        assert_eq!(failure_summary(&[]), json!([]));
    }
}
