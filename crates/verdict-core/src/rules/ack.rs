//! Whether a check of a run may be acknowledged (docs/contract.md#acknowledgements).

use chrono::{DateTime, Utc};

use crate::domain::{CheckKey, CheckStatus, Run, RunStatus};

/// Why an acknowledgement is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckRejection {
    /// The run has not completed; its report can still change.
    #[error("the run has not completed")]
    RunNotCompleted,
    /// The report has no check with that key.
    #[error("the report has no such check")]
    CheckNotFound,
    /// The check is not failing or warning.
    #[error("only failing or warning checks can be acknowledged; this one is {status:?}")]
    NotAcknowledgeable {
        /// The check's status.
        status: CheckStatus,
    },
    /// `expires_at` lies in the past.
    #[error("expires_at must not be earlier than now")]
    ExpiresInPast,
}

/// Allowed only on a completed run, for a check of its report with status `fail` or `warn`,
/// with an expiry (if any) not earlier than `now`.
///
/// # Errors
/// The first [`AckRejection`] that applies.
pub fn check_acknowledgeable(
    run: &Run,
    check_key: &CheckKey,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), AckRejection> {
    if run.status != RunStatus::Completed {
        return Err(AckRejection::RunNotCompleted);
    }
    let report = run.report.as_ref().ok_or(AckRejection::RunNotCompleted)?;
    let check = report.checks().iter().find(|c| &c.key == check_key).ok_or(AckRejection::CheckNotFound)?;
    if !matches!(check.status, CheckStatus::Fail | CheckStatus::Warn) {
        return Err(AckRejection::NotAcknowledgeable { status: check.status });
    }
    if expires_at.is_some_and(|at| at < now) {
        return Err(AckRejection::ExpiresInPast);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        FlowId, NewRun, Outcome, ReasonCode, Report, ReportDraft, RunId, RunIdentity, Severity, TenantId, UserId,
        WorkspaceId,
    };
    use crate::rules::{report_identity, test_support::check};

    fn run(status: RunStatus) -> Run {
        let identity = RunIdentity {
            flow: FlowId::parse("f").unwrap(),
            workspace_id: WorkspaceId::new(1).unwrap(),
            tenant_id: TenantId::new(1).unwrap(),
            provider_connection_id: None,
        };
        let new = NewRun {
            id: RunId::generate(),
            identity: identity.clone(),
            initiator_user_id: UserId::parse("u").ok(),
            created_at: Utc::now(),
        };
        let report = Report::assemble(ReportDraft {
            report_id: new.id,
            flow: identity.flow.clone(),
            generated_at: Utc::now(),
            identity: report_identity(&identity, None),
            previous_report_id: None,
            checks: vec![
                check("blocker", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
                check("warned", CheckStatus::Warn, false, ReasonCode::THROTTLED, Severity::Low),
                check("passed", CheckStatus::Pass, false, ReasonCode::OK, Severity::Low),
                check("skipped", CheckStatus::Skip, false, ReasonCode::PREREQUISITE_FAILED, Severity::Low),
            ],
        })
        .unwrap();
        Run {
            id: new.id,
            identity_hash: identity.hash(),
            identity,
            status,
            outcome: Outcome::Failed,
            initiator_user_id: None,
            summary_counts: None,
            failure_summary: None,
            report: Some(report),
            attempt: 1,
            lease_owner: None,
            lease_expires_at: None,
            created_at: Utc::now(),
            started_at: None,
            completed_at: None,
        }
    }

    fn key(k: &str) -> CheckKey {
        CheckKey::parse(k).unwrap()
    }

    #[test]
    fn acknowledgement_eligibility_table() {
        let now = Utc::now();
        let done = run(RunStatus::Completed);
        let table = [
            (&done, "blocker", None, Ok(())),
            (&done, "warned", Some(now), Ok(())),
            (&done, "passed", None, Err(AckRejection::NotAcknowledgeable { status: CheckStatus::Pass })),
            (&done, "skipped", None, Err(AckRejection::NotAcknowledgeable { status: CheckStatus::Skip })),
            (&done, "missing", None, Err(AckRejection::CheckNotFound)),
            (&done, "warned", Some(now - chrono::Duration::seconds(1)), Err(AckRejection::ExpiresInPast)),
        ];
        for (run, k, expires, expected) in table {
            assert_eq!(check_acknowledgeable(run, &key(k), expires, now), expected, "{k}");
        }
        for status in [RunStatus::Queued, RunStatus::Running] {
            assert_eq!(
                check_acknowledgeable(&run(status), &key("blocker"), None, now),
                Err(AckRejection::RunNotCompleted)
            );
        }
    }
}
