//! Builders for the values the suite writes.

use chrono::{DateTime, Duration, Utc};
use serde_json::Map;

use crate::domain::{
    AckReason, AcknowledgementId, Actor, AuditAction, CheckKey, CheckResult, CheckStatus, CheckTitle, ClientId,
    Completion, DirectoryId, DisplayName, Ending, FlowId, LeaseOwner, NewAcknowledgement, NewRun, Outcome,
    PendingAuditEvent, ProviderConnection, ProviderConnectionId, ReasonCode, Report, ReportDraft, Run, RunId,
    RunIdentity, SecretCiphertext, Severity, Subject, SubjectType, TenantId, UserId, WorkspaceId, to_micros,
};
use crate::rules::report_identity;
use crate::services::events;

/// A workspace id.
#[must_use]
pub fn ws(n: i64) -> WorkspaceId {
    WorkspaceId::new(n).unwrap()
}

/// A tenant id.
#[must_use]
pub fn tenant(n: i64) -> TenantId {
    TenantId::new(n).unwrap()
}

/// Now, at store precision.
#[must_use]
pub fn now() -> DateTime<Utc> {
    to_micros(Utc::now())
}

/// An identity of the provider-connection flow.
#[must_use]
pub fn identity(workspace: i64, tenant_id: i64, connection: Option<ProviderConnectionId>) -> RunIdentity {
    RunIdentity {
        flow: FlowId::parse("provider.connection.check").unwrap(),
        workspace_id: ws(workspace),
        tenant_id: tenant(tenant_id),
        provider_connection_id: connection,
    }
}

/// A new run of `identity` created at `at`.
#[must_use]
pub fn new_run(identity: &RunIdentity, at: DateTime<Utc>) -> NewRun {
    NewRun { id: RunId::generate(), identity: identity.clone(), initiator_user_id: Some(user()), created_at: at }
}

/// The test user.
#[must_use]
pub fn user() -> UserId {
    UserId::parse("user-42").unwrap()
}

/// The `verification.started` event of a run.
#[must_use]
pub fn started(run: &NewRun) -> PendingAuditEvent {
    events::run_started(run, run.created_at)
}

/// A lease owner.
#[must_use]
pub fn owner(name: &str) -> LeaseOwner {
    LeaseOwner::parse(name).unwrap()
}

/// A check result.
#[must_use]
pub fn check(key: &str, status: CheckStatus, blocking: bool, reason: ReasonCode) -> CheckResult {
    CheckResult::new(
        CheckKey::parse(key).unwrap(),
        CheckTitle::parse(format!("Check {key}")).unwrap(),
        status,
        Severity::High,
        blocking,
        reason,
    )
}

/// A final report for `run` with `checks`, linking `previous`.
#[must_use]
pub fn report(run: &Run, checks: Vec<CheckResult>, previous: Option<RunId>) -> Report {
    Report::assemble(ReportDraft {
        report_id: run.id,
        flow: run.identity.flow.clone(),
        generated_at: now(),
        identity: report_identity(&run.identity, None),
        previous_report_id: previous,
        checks,
    })
    .unwrap()
}

/// A completion with `report`.
#[must_use]
pub fn completion(report: Report) -> Completion {
    Completion::new(report, Ending::Finished, now(), None)
}

/// The `verification.completed` event of a run.
#[must_use]
pub fn completed(run: &Run, report: &Report) -> PendingAuditEvent {
    events::claimed_run_completed(run, &completion(report.clone()))
}

/// A report with one passing and one blocking failing check.
#[must_use]
pub fn mixed_checks() -> Vec<CheckResult> {
    vec![
        check("a", CheckStatus::Pass, false, ReasonCode::OK),
        check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED),
        check("c", CheckStatus::Warn, false, ReasonCode::THROTTLED),
    ]
}

/// Starts, claims and completes a run of `identity`, returning it completed.
pub async fn run_to_completion(stores: &super::Stores, identity: &RunIdentity, checks: Vec<CheckResult>) -> Run {
    let new = new_run(identity, now());
    let event = started(&new);
    let created = stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let worker = owner("worker-complete");
    let at = now() + Duration::days(3650);
    let claimed = stores.queue.claim_next(&worker, at, at + Duration::seconds(60)).await.unwrap().unwrap();
    assert_eq!(claimed.id, created.run().id, "run_to_completion needs a store without other claimable runs");
    let previous = stores.runs.previous_completed_report(&claimed.identity_hash, claimed.cursor()).await.unwrap();
    let report = report(&claimed, checks, previous.as_ref().map(Report::report_id));
    let event = completed(&claimed, &report);
    let done = Completion::new(report, Ending::Finished, now(), previous.as_ref());
    let events = crate::rules::completion_events(claimed.id, &claimed.identity, &done, previous.as_ref());
    stores.queue.complete(claimed.id, &worker, done, event, events).await.unwrap()
}

/// A provider connection of `workspace`/`tenant_id`.
#[must_use]
pub fn connection(workspace: i64, tenant_id: i64) -> ProviderConnection {
    let at = now();
    ProviderConnection {
        id: ProviderConnectionId::generate(),
        workspace_id: ws(workspace),
        tenant_id: tenant(tenant_id),
        display_name: DisplayName::parse("Contoso").unwrap(),
        entra_tenant_id: DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").unwrap(),
        client_id: ClientId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap(),
        client_secret_ciphertext: Some(SecretCiphertext::from_bytes(vec![1, 2, 3, 4])),
        secret_updated_at: Some(at),
        client_secret_expires_at: None,
        created_at: at,
        updated_at: at,
        disabled_at: None,
    }
}

/// An audit event about a connection.
#[must_use]
pub fn connection_event(connection: &ProviderConnection, action: AuditAction) -> PendingAuditEvent {
    let mut metadata = Map::new();
    metadata.insert("connection_id".into(), connection.id.to_string().into());
    PendingAuditEvent::new(
        now(),
        connection.workspace_id,
        Some(connection.tenant_id),
        Actor::User(user()),
        action,
        Subject { kind: SubjectType::ProviderConnection, id: connection.id.to_string() },
        metadata,
    )
}

/// An acknowledgement of `key` on `run`.
#[must_use]
pub fn acknowledgement(run: &Run, key: &str) -> NewAcknowledgement {
    NewAcknowledgement {
        id: AcknowledgementId::generate(),
        workspace_id: run.identity.workspace_id,
        tenant_id: run.identity.tenant_id,
        run_id: run.id,
        check_key: CheckKey::parse(key).unwrap(),
        reason: AckReason::parse("Known: vendor ticket 4711").unwrap(),
        expires_at: Some(now() + Duration::days(7)),
        acknowledged_by: user(),
        acknowledged_at: now(),
    }
}

/// The audit event of an acknowledgement.
#[must_use]
pub fn acknowledged(ack: &NewAcknowledgement) -> PendingAuditEvent {
    events::check_acknowledged(ack)
}

/// Whether the outcome of a completion is what the suite wrote.
#[must_use]
pub fn outcome_of(report: &Report) -> Outcome {
    Ending::Finished.outcome(report.summary().overall)
}
