//! Reports the lifecycle writes without running a check: the blocked stub (docs/contract.md#blocked-runs), the
//! live report of a just-claimed run (docs/contract.md#live-and-final-reports) and the abandoned-run report (docs/contract.md#outcomes-and-abandoned-runs).

use chrono::{DateTime, Utc};

use crate::domain::{
    CheckKey, CheckResult, CheckStatus, CheckTitle, Ending, FlowDescriptor, NextStep, ParseError, ReasonCode, Report,
    ReportDraft, ReportIdentity, RunId, RunIdentity, Severity,
};

/// The key of the stub report's single check.
pub const CONFIGURED_CHECK_KEY: &str = "provider_connection.configured";

/// The stub report of a run whose prerequisites are missing: one blocking failing check
/// `provider_connection.configured` with a next step to configure the connection.
#[must_use]
pub fn blocked_stub_report(
    run_id: RunId,
    identity: &RunIdentity,
    entra_tenant_id: Option<crate::domain::DirectoryId>,
    why: &str,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
) -> Report {
    let configure =
        format!("/v1/workspaces/{}/tenants/{}/provider-connections", identity.workspace_id, identity.tenant_id);
    let check = CheckResult::new(
        CheckKey::from_static(CONFIGURED_CHECK_KEY),
        CheckTitle::from_static("Provider connection is configured"),
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
    .unwrap_or_else(|e| unreachable!("a report of one check always assembles: {e}"))
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

/// The final report of a run from its recorded checks. A check still `running` at this point
/// never finished; it is recorded as `fail`, non-blocking, `ext.runner.aborted`, with a message
/// saying why — the same for a finished run and an abandoned one, only the wording differs.
///
/// # Errors
/// [`ParseError`] when the draft's keys are not unique.
pub fn final_report(
    mut draft: ReportDraft,
    ending: Ending,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
) -> Result<Report, ParseError> {
    let why = match ending {
        Ending::Abandoned => "The run was abandoned after repeated worker failures; this check never finished.",
        Ending::Finished | Ending::Blocked => "The run completed before this check finished.",
    };
    for check in &mut draft.checks {
        if check.status == CheckStatus::Running {
            check.status = CheckStatus::Fail;
            check.blocking = false;
            check.reason_code = ReasonCode::RUNNER_ABORTED;
            why.clone_into(&mut check.message);
        }
    }
    draft.generated_at = generated_at;
    draft.previous_report_id = previous_report_id;
    Report::assemble(draft)
}

/// The reason of a blocked stub report (its single check's message), or `None` when the report
/// is not a stub: what makes a later blocked start reuse it (docs/contract.md, "Idempotent
/// starts").
#[must_use]
pub fn blocked_stub_reason(report: &Report) -> Option<&str> {
    match report.checks() {
        [check]
            if check.key.as_str() == CONFIGURED_CHECK_KEY
                && check.is_blocker()
                && check.reason_code == ReasonCode::MISSING_CONFIGURATION =>
        {
            Some(check.message.as_str())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckDescriptor, FlowId, Outcome, Overall, TenantId, WorkspaceId};

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
            blocked_stub_report(RunId::generate(), &identity(), None, "No provider connection.", Utc::now(), None);
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
    fn final_report_keeps_finished_checks_and_aborts_the_rest() {
        let mut draft = live_report(RunId::generate(), &identity(), None, &flow(), Utc::now()).unwrap().to_draft();
        draft.checks[0].status = CheckStatus::Pass;
        draft.checks[0].reason_code = ReasonCode::OK;
        let previous = RunId::generate();
        for (ending, outcome) in [(Ending::Abandoned, Outcome::Failed), (Ending::Finished, Outcome::Succeeded)] {
            let report = final_report(draft.clone(), ending, Utc::now(), Some(previous)).unwrap();
            assert_eq!(report.checks()[0].status, CheckStatus::Pass);
            for c in &report.checks()[1..] {
                let line = (c.status, c.blocking, c.reason_code);
                assert_eq!(line, (CheckStatus::Fail, false, ReasonCode::RUNNER_ABORTED));
            }
            assert_eq!(report.summary().overall, Overall::NeedsAttention);
            assert_eq!(report.previous_report_id(), Some(previous));
            assert_eq!(ending.outcome(report.summary().overall), outcome);
        }
    }

    #[test]
    fn only_a_stub_has_a_blocked_stub_reason() {
        let stub = blocked_stub_report(RunId::generate(), &identity(), None, "Disabled.", Utc::now(), None);
        assert_eq!(blocked_stub_reason(&stub), Some("Disabled."));
        let live = live_report(RunId::generate(), &identity(), None, &flow(), Utc::now()).unwrap();
        assert_eq!(blocked_stub_reason(&live), None);
    }
}
