//! How a run ends (docs/contract.md, "Run lifecycle"): the final report, the outcome and the
//! columns derived from the report — `summary_counts`, `failure_summary`, and what the fleet
//! status reads (overall, change since the previous report, the credential expiry the report
//! found) — computed here once, so no adapter derives them itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckKey, CheckResult, CheckStatus, Counts, EvidenceValue, Outcome, Overall, ReasonCode, Report};

/// The check whose `expires_at` evidence is the expiry of the connection's credential
/// (docs/contract.md, "Provider flow"); the flow declares its key from this constant.
pub const CREDENTIAL_EXPIRY_CHECK: &str = "provider_connection.credential_expiry";

/// Report-level change indicator (docs/contract.md, "Change rules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    /// There is no previous report.
    None,
    /// Fingerprints are equal.
    Unchanged,
    /// Fingerprints differ.
    Changed,
}

impl ChangeState {
    /// Every state, in the documented order.
    pub const ALL: [Self; 3] = [Self::None, Self::Unchanged, Self::Changed];

    /// How `current` compares with the report it links as previous.
    #[must_use]
    pub fn between(current: &Report, previous: Option<&Report>) -> Self {
        match previous {
            None => Self::None,
            Some(previous) if previous.fingerprint() == current.fingerprint() => Self::Unchanged,
            Some(_) => Self::Changed,
        }
    }

    /// The stored and serialized name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unchanged => "unchanged",
            Self::Changed => "changed",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`super::ParseError`] for anything else.
    pub fn parse(text: &str) -> Result<Self, super::ParseError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| super::ParseError::new("change_state", "must be none, unchanged or changed"))
    }
}

/// The expiry the report's credential-expiry check found, when it found one.
#[must_use]
pub fn credential_expiry_found(report: &Report) -> Option<DateTime<Utc>> {
    let check = report.checks().iter().find(|c| c.key.as_str() == CREDENTIAL_EXPIRY_CHECK)?;
    check.evidence.iter().find(|e| e.kind.as_str() == "expires_at").and_then(|e| match &e.value {
        EvidenceValue::Text(text) => DateTime::parse_from_rfc3339(text).ok().map(|at| at.to_utc()),
        EvidenceValue::Bool(_) | EvidenceValue::Int(_) => None,
    })
}

/// Why a run is being completed; decides the outcome together with the final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every check ran (or was recorded as aborted): the outcome follows the report's overall.
    Finished,
    /// Workers kept dying: the run fails whatever its report says.
    Abandoned,
    /// Prerequisites were missing before any check could run (the stub report).
    Blocked,
}

impl Ending {
    /// The outcome of a run ending this way with a final report whose overall is `overall`:
    /// ready or needs attention → succeeded; blocked → failed. A final report is never `running`
    /// (unfinished checks are recorded as aborted first), so that case maps to failed as well.
    #[must_use]
    pub const fn outcome(self, overall: Overall) -> Outcome {
        match (self, overall) {
            (Self::Blocked, _) => Outcome::Blocked,
            (Self::Abandoned, _) | (Self::Finished, Overall::Blocked | Overall::Running) => Outcome::Failed,
            (Self::Finished, Overall::Ready | Overall::NeedsAttention) => Outcome::Succeeded,
        }
    }
}

/// One failing check as `operation_runs.failure_summary` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailingCheck {
    /// The check.
    pub check_key: CheckKey,
    /// Its reason.
    pub reason_code: ReasonCode,
    /// Whether it blocks.
    pub blocking: bool,
}

/// The failing checks of a report, in report order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FailureSummary(pub Vec<FailingCheck>);

impl FailureSummary {
    /// The failing checks of `checks`.
    #[must_use]
    pub fn of(checks: &[CheckResult]) -> Self {
        Self(
            checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail)
                .map(|c| FailingCheck { check_key: c.key.clone(), reason_code: c.reason_code, blocking: c.blocking })
                .collect(),
        )
    }
}

/// What a store needs to finish a run: the final report, the outcome and the report's mirrors.
/// Only [`Completion::new`] builds one, so the mirrors always agree with the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    report: Report,
    outcome: Outcome,
    failure_summary: FailureSummary,
    change_state: ChangeState,
    credential_expires_at: Option<DateTime<Utc>>,
    completed_at: DateTime<Utc>,
}

impl Completion {
    /// Completes with `report` (already final: no check `running`), ending as `ending`;
    /// `previous` is the report it links as previous, when there is one.
    #[must_use]
    pub fn new(report: Report, ending: Ending, completed_at: DateTime<Utc>, previous: Option<&Report>) -> Self {
        let outcome = ending.outcome(report.summary().overall);
        let failure_summary = FailureSummary::of(report.checks());
        let change_state = ChangeState::between(&report, previous);
        let credential_expires_at = credential_expiry_found(&report).map(super::to_micros);
        Self {
            report,
            outcome,
            failure_summary,
            change_state,
            credential_expires_at,
            completed_at: super::to_micros(completed_at),
        }
    }

    /// The report's overall, stored beside it for the fleet status.
    #[must_use]
    pub fn overall(&self) -> Overall {
        self.report.summary().overall
    }

    /// What changed since the previous report.
    #[must_use]
    pub fn change_state(&self) -> ChangeState {
        self.change_state
    }

    /// The credential expiry the report's expiry check found.
    #[must_use]
    pub fn credential_expires_at(&self) -> Option<DateTime<Utc>> {
        self.credential_expires_at
    }

    /// The final report.
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The final report, owned.
    #[must_use]
    pub fn into_report(self) -> Report {
        self.report
    }

    /// The outcome.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// `summary_counts`: the report's counts.
    #[must_use]
    pub fn summary_counts(&self) -> &Counts {
        &self.report.summary().counts
    }

    /// `failure_summary`: keys and reason codes of failing checks.
    #[must_use]
    pub fn failure_summary(&self) -> &FailureSummary {
        &self.failure_summary
    }

    /// When the run completed.
    #[must_use]
    pub fn completed_at(&self) -> DateTime<Utc> {
        self.completed_at
    }

    /// The stored JSON text of `summary_counts`.
    #[must_use]
    pub fn summary_counts_json(&self) -> String {
        self.report.summary_counts_json()
    }

    /// The stored JSON text of `failure_summary`.
    #[must_use]
    pub fn failure_summary_json(&self) -> String {
        json_text(&self.failure_summary)
    }
}

/// The JSON text of a value whose serialization cannot fail (plain structs of strings and
/// numbers), as stored in JSON columns.
pub(crate) fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| unreachable!("serializing a plain struct failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::rules::test_support::check;

    #[test]
    fn outcome_follows_the_ending_and_the_overall() {
        use Overall::{Blocked, NeedsAttention, Ready, Running};
        let table = [
            (Ending::Finished, Ready, Outcome::Succeeded),
            (Ending::Finished, NeedsAttention, Outcome::Succeeded),
            (Ending::Finished, Blocked, Outcome::Failed),
            (Ending::Finished, Running, Outcome::Failed),
            (Ending::Abandoned, Ready, Outcome::Failed),
            (Ending::Abandoned, NeedsAttention, Outcome::Failed),
            (Ending::Blocked, Blocked, Outcome::Blocked),
        ];
        for (ending, overall, outcome) in table {
            assert_eq!(ending.outcome(overall), outcome, "{ending:?} {overall:?}");
        }
    }

    #[test]
    fn failure_summary_lists_failing_checks_only_and_keeps_its_stored_shape() {
        let checks = [
            check("a", CheckStatus::Pass, true, ReasonCode::OK, Severity::High),
            check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("c", CheckStatus::Warn, false, ReasonCode::THROTTLED, Severity::Low),
            check("d", CheckStatus::Fail, false, ReasonCode::INVALID_STATE, Severity::Low),
        ];
        let summary = FailureSummary::of(&checks);
        assert_eq!(
            serde_json::to_value(&summary).unwrap(),
            serde_json::json!([
                {"check_key": "b", "reason_code": "permission_denied", "blocking": true},
                {"check_key": "d", "reason_code": "invalid_state", "blocking": false}
            ])
        );
        assert_eq!(serde_json::from_str::<FailureSummary>(&json_text(&summary)).unwrap(), summary);
        assert_eq!(json_text(&FailureSummary::of(&[])), "[]");
    }
}
