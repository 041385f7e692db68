//! Reports the lifecycle writes without running a check: the blocked stub (SPEC §5.3), the
//! live report of a just-claimed run (§4.1) and the abandoned-run report (§5.4).

use chrono::{DateTime, Utc};

use crate::domain::{
    CheckKey, CheckResult, CheckStatus, CheckTitle, FlowDescriptor, NextStep, ParseError, ReasonCode, Report,
    ReportDraft, ReportIdentity, RunId, RunIdentity, Severity,
};

/// The key of the stub report's single check.
pub const CONFIGURED_CHECK_KEY: &str = "provider_connection.configured";

/// The stub report of a run whose prerequisites are missing: one blocking failing check
/// `provider_connection.configured` with a next step to configure the connection.
///
/// # Errors
/// Never in practice: the check is built from constants.
pub fn blocked_stub_report(
    run_id: RunId,
    identity: &RunIdentity,
    entra_tenant_id: Option<crate::domain::DirectoryId>,
    why: &str,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
) -> Result<Report, ParseError> {
    let configure =
        format!("/v1/workspaces/{}/tenants/{}/provider-connections", identity.workspace_id, identity.tenant_id);
    let check = CheckResult::new(
        CheckKey::parse(CONFIGURED_CHECK_KEY)?,
        CheckTitle::parse("Provider connection is configured")?,
        CheckStatus::Fail,
        Severity::Critical,
        true,
        ReasonCode::MISSING_CONFIGURATION,
    )
    .with_message(why)
    .with_next_step(NextStep::new("Configure the provider connection", configure));
    Report::assemble(ReportDraft {
        report_id: run_id,
        flow: identity.flow.clone(),
        generated_at,
        identity: report_identity(identity, entra_tenant_id),
        previous_report_id,
        checks: vec![check],
    })
}

/// The report identity of a run.
#[must_use]
pub fn report_identity(identity: &RunIdentity, entra_tenant_id: Option<crate::domain::DirectoryId>) -> ReportIdentity {
    ReportIdentity {
        workspace_id: identity.workspace_id,
        tenant_id: identity.tenant_id,
        provider_connection_id: identity.provider_connection_id,
        entra_tenant_id,
    }
}

/// A flow's checks as `running`, before any has finished.
#[must_use]
pub fn running_checks(flow: &FlowDescriptor) -> Vec<CheckResult> {
    flow.checks
        .iter()
        .map(|d| {
            CheckResult::new(
                d.key.clone(),
                d.title.clone(),
                CheckStatus::Running,
                d.severity,
                d.blocking,
                ReasonCode::RUNNER_IN_PROGRESS,
            )
        })
        .collect()
}

/// The live report a worker writes when it claims a run: every check `running`.
///
/// # Errors
/// [`ParseError`] when the flow declares a key twice.
pub fn live_report(
    run_id: RunId,
    identity: &RunIdentity,
    entra_tenant_id: Option<crate::domain::DirectoryId>,
    flow: &FlowDescriptor,
    generated_at: DateTime<Utc>,
) -> Result<Report, ParseError> {
    Report::assemble(ReportDraft {
        report_id: run_id,
        flow: identity.flow.clone(),
        generated_at,
        identity: report_identity(identity, entra_tenant_id),
        previous_report_id: None,
        checks: running_checks(flow),
    })
}

/// The final report of an abandoned run: finished checks are kept, unfinished ones are recorded
/// as `fail`, non-blocking, `ext.runner.aborted`.
///
/// # Errors
/// [`ParseError`] when the draft's keys are not unique.
pub fn abandoned_report(
    mut draft: ReportDraft,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
) -> Result<Report, ParseError> {
    for check in &mut draft.checks {
        if check.status == CheckStatus::Running {
            check.status = CheckStatus::Fail;
            check.blocking = false;
            check.reason_code = ReasonCode::RUNNER_ABORTED;
            check.message =
                "The run was abandoned after repeated worker failures; this check never finished.".to_owned();
        }
    }
    draft.generated_at = generated_at;
    draft.previous_report_id = previous_report_id;
    Report::assemble(draft)
}

/// The final report from a run's checks: a check still `running` at this point never
/// finished, so it is recorded as aborted, exactly as for an abandoned run.
///
/// # Errors
/// [`ParseError`] when the draft's keys are not unique.
pub fn final_report(
    draft: ReportDraft,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
) -> Result<Report, ParseError> {
    abandoned_report(draft, generated_at, previous_report_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckDescriptor, FlowId, Outcome, Overall, TenantId, WorkspaceId};
    use crate::rules::outcome_for;

    fn identity() -> RunIdentity {
        RunIdentity {
            flow: FlowId::parse("provider.connection.check").unwrap(),
            workspace_id: WorkspaceId::new(3).unwrap(),
            tenant_id: TenantId::new(4).unwrap(),
            provider_connection_id: None,
        }
    }

    fn flow() -> FlowDescriptor {
        FlowDescriptor {
            id: FlowId::parse("provider.connection.check").unwrap(),
            requires_provider_connection: true,
            checks: ["a", "b", "c"]
                .into_iter()
                .map(|k| CheckDescriptor {
                    key: CheckKey::parse(k).unwrap(),
                    title: CheckTitle::parse(format!("Check {k}")).unwrap(),
                    severity: Severity::High,
                    blocking: true,
                })
                .collect(),
        }
    }

    #[test]
    fn blocked_stub_has_one_blocking_missing_configuration_check() {
        let report =
            blocked_stub_report(RunId::generate(), &identity(), None, "No provider connection.", Utc::now(), None)
                .unwrap();
        assert_eq!(report.checks().len(), 1);
        let check = &report.checks()[0];
        assert_eq!(check.key.as_str(), "provider_connection.configured");
        assert!(check.is_blocker());
        assert_eq!(check.reason_code, ReasonCode::MISSING_CONFIGURATION);
        assert_eq!(check.next_steps[0].url, "/v1/workspaces/3/tenants/4/provider-connections");
        assert_eq!(report.summary().overall, Overall::Blocked);
    }

    #[test]
    fn live_report_is_all_running() {
        let report = live_report(RunId::generate(), &identity(), None, &flow(), Utc::now()).unwrap();
        assert_eq!(report.summary().overall, Overall::Running);
        assert_eq!(report.summary().counts.running, 3);
    }

    #[test]
    fn abandoned_report_keeps_finished_checks_and_aborts_the_rest() {
        let mut draft = live_report(RunId::generate(), &identity(), None, &flow(), Utc::now()).unwrap().to_draft();
        draft.checks[0].status = CheckStatus::Pass;
        draft.checks[0].reason_code = ReasonCode::OK;
        let previous = RunId::generate();
        let report = abandoned_report(draft, Utc::now(), Some(previous)).unwrap();
        assert_eq!(report.checks()[0].status, CheckStatus::Pass);
        for c in &report.checks()[1..] {
            assert_eq!((c.status, c.blocking, c.reason_code), (CheckStatus::Fail, false, ReasonCode::RUNNER_ABORTED));
        }
        assert_eq!(report.summary().overall, Overall::NeedsAttention);
        assert_eq!(report.previous_report_id(), Some(previous));
        assert_ne!(outcome_for(report.summary().overall), Outcome::Pending);
    }
}
