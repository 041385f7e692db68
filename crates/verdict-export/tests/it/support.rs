//! Stored rows as the HTTP handler would load them: identities, runs with reports (completed or
//! still running), previous reports and acknowledgements, built through core's constructors so
//! every report is sanitized and consistent exactly like a stored one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use verdict_core::domain::Ending;
use verdict_core::domain::{
    AckReason, Acknowledgement, AcknowledgementId, CheckKey, CheckResult, CheckStatus, CheckTitle, FlowId,
    NewAcknowledgement, Outcome, ProviderConnectionId, ReasonCode, Report, ReportDraft, Run, RunId, RunIdentity,
    RunStatus, Severity, TenantId, UserId, WorkspaceId,
};
use verdict_core::rules::report_identity;

pub const FLOW: &str = "provider.connection.check";

/// A fixed connection id, so generated cases are reproducible.
pub fn connection() -> ProviderConnectionId {
    "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap()
}

pub fn identity(tenant: i64, connection: Option<ProviderConnectionId>) -> RunIdentity {
    RunIdentity {
        flow: FlowId::parse(FLOW).unwrap(),
        workspace_id: WorkspaceId::new(7).unwrap(),
        tenant_id: TenantId::new(tenant).unwrap(),
        provider_connection_id: connection,
    }
}

pub fn check(key: &str, status: CheckStatus, blocking: bool, severity: Severity, reason: ReasonCode) -> CheckResult {
    CheckResult::new(
        CheckKey::parse(key).unwrap(),
        CheckTitle::parse(format!("Check {key}")).unwrap(),
        status,
        severity,
        blocking,
        reason,
    )
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
}

/// A run and its report, as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub run: Run,
    pub report: Report,
}

/// A completed run of `identity` whose report links `previous`. `sequence` orders runs in time.
pub fn completed(identity: &RunIdentity, sequence: i64, previous: Option<&Report>, checks: Vec<CheckResult>) -> Stored {
    let started = base_time() + Duration::hours(sequence);
    let report = assemble(identity, started + Duration::seconds(3), previous.map(Report::report_id), checks);
    let run =
        run(identity, &report, RunStatus::Completed, Ending::Finished.outcome(report.summary().overall), started, true);
    Stored { run, report }
}

/// A running run with a live report (no previous report is linked until completion).
pub fn running(identity: &RunIdentity, checks: Vec<CheckResult>) -> Stored {
    let started = base_time();
    let report = assemble(identity, started + Duration::seconds(1), None, checks);
    let run = run(identity, &report, RunStatus::Running, Outcome::Pending, started, false);
    Stored { run, report }
}

fn assemble(
    identity: &RunIdentity,
    generated_at: DateTime<Utc>,
    previous_report_id: Option<RunId>,
    checks: Vec<CheckResult>,
) -> Report {
    Report::assemble(ReportDraft {
        report_id: RunId::generate(),
        flow: identity.flow.clone(),
        generated_at,
        identity: report_identity(identity, None),
        previous_report_id,
        checks,
    })
    .unwrap()
}

fn run(
    identity: &RunIdentity,
    report: &Report,
    status: RunStatus,
    outcome: Outcome,
    started: DateTime<Utc>,
    completed: bool,
) -> Run {
    Run {
        id: report.report_id(),
        identity: identity.clone(),
        identity_hash: identity.hash(),
        status,
        outcome,
        initiator_user_id: None,
        summary_counts: None,
        failure_summary: None,
        report: Some(report.clone()),
        attempt: 1,
        lease_owner: None,
        lease_expires_at: None,
        created_at: started - Duration::seconds(1),
        started_at: Some(started),
        completed_at: completed.then(|| started + Duration::seconds(4)),
    }
}

/// An acknowledgement of `key` on `run`.
pub fn ack(run: &Run, key: &str, reason: &str) -> Acknowledgement {
    let at = run.completed_at.unwrap_or_else(base_time) + Duration::minutes(5);
    Acknowledgement::from_new(NewAcknowledgement {
        id: AcknowledgementId::generate(),
        workspace_id: run.identity.workspace_id,
        tenant_id: run.identity.tenant_id,
        run_id: run.id,
        check_key: CheckKey::parse(key).unwrap(),
        reason: AckReason::parse(reason).unwrap(),
        expires_at: None,
        acknowledged_by: UserId::parse("operator-1").unwrap(),
        acknowledged_at: at,
    })
}
