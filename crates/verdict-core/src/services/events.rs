//! The audit events each action writes, with their (small, safe) metadata.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::{
    Actor, AuditAction, Completion, NewAcknowledgement, NewRun, PendingAuditEvent, ProviderConnection, Run, RunId,
    RunIdentity, Subject, SubjectType,
};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn run_started(run: &NewRun, at: DateTime<Utc>) -> PendingAuditEvent {
    PendingAuditEvent::new(
        at,
        run.identity.workspace_id,
        Some(run.identity.tenant_id),
        super::verifications::actor_of(run),
        AuditAction::VerificationStarted,
        Subject { kind: SubjectType::OperationRun, id: run.id.to_string() },
        object(json!({
            "flow": run.identity.flow,
            "provider_connection_id": run.identity.provider_connection_id,
        })),
    )
}

/// `verification.completed`, written in the completion's transaction.
pub(crate) fn run_completed(
    run_id: &RunId,
    identity: &RunIdentity,
    actor: Actor,
    completion: &Completion,
    attempt: u32,
) -> PendingAuditEvent {
    let report = completion.report();
    PendingAuditEvent::new(
        completion.completed_at(),
        identity.workspace_id,
        Some(identity.tenant_id),
        actor,
        AuditAction::VerificationCompleted,
        Subject { kind: SubjectType::OperationRun, id: run_id.to_string() },
        object(json!({
            "flow": report.flow(),
            "outcome": completion.outcome().as_str(),
            "overall": report.summary().overall.as_str(),
            "counts": report.summary().counts,
            "fingerprint": report.fingerprint(),
            "previous_report_id": report.previous_report_id(),
            "attempt": attempt,
        })),
    )
}

/// `verification.completed` of a run a worker claimed.
pub(crate) fn claimed_run_completed(run: &Run, completion: &Completion) -> PendingAuditEvent {
    run_completed(&run.id, &run.identity, Actor::runner(), completion, run.attempt)
}

pub(crate) fn check_acknowledged(ack: &NewAcknowledgement) -> PendingAuditEvent {
    // The reason is operator free text and deliberately not recorded here (docs/contract.md#acknowledgements).
    PendingAuditEvent::new(
        ack.acknowledged_at,
        ack.workspace_id,
        Some(ack.tenant_id),
        Actor::User(ack.acknowledged_by.clone()),
        AuditAction::CheckAcknowledged,
        Subject { kind: SubjectType::Acknowledgement, id: ack.id.to_string() },
        object(json!({
            "run_id": ack.run_id,
            "check_key": ack.check_key,
            "expires_at": ack.expires_at.map(crate::domain::format_timestamp),
        })),
    )
}

pub(crate) fn connection_event(
    connection: &ProviderConnection,
    actor: Actor,
    action: AuditAction,
    at: DateTime<Utc>,
) -> PendingAuditEvent {
    PendingAuditEvent::new(
        at,
        connection.workspace_id,
        Some(connection.tenant_id),
        actor,
        action,
        Subject { kind: SubjectType::ProviderConnection, id: connection.id.to_string() },
        object(json!({
            "entra_tenant_id": connection.entra_tenant_id,
            "client_id": connection.client_id,
        })),
    )
}
