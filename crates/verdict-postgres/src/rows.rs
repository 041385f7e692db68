//! Adapter-private row types and their conversion into domain values. Domain types never derive
//! `FromRow`; a stored value that no longer parses is a broken invariant
//! ([`StoreError::Unexpected`]), never silently repaired.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;
use verdict_core::domain::{
    AckReason, Acknowledgement, AcknowledgementId, Actor, AuditAction, AuditEvent, AuditEventId, ChainHash, CheckKey,
    ClientId, DirectoryId, DisplayName, FlowId, LeaseOwner, Outcome, ParseError, ProviderConnection,
    ProviderConnectionId, Report, Run, RunId, RunIdentity, RunIdentityHash, RunStatus, SecretCiphertext,
    StoredAuditEvent, Subject, SubjectType, TenantId, UserId, WorkspaceId,
};
use verdict_core::ports::StoreError;

use crate::error::unexpected;

/// A stored value that does not parse back into its domain type.
#[derive(Debug, thiserror::Error)]
#[error("stored {what} is invalid: {detail}")]
pub(crate) struct CorruptRow {
    what: &'static str,
    detail: String,
}

fn corrupt(what: &'static str) -> impl FnOnce(ParseError) -> StoreError {
    move |err| unexpected(CorruptRow { what, detail: err.to_string() })
}

fn out_of_range(what: &'static str) -> impl FnOnce(std::num::TryFromIntError) -> StoreError {
    move |err| unexpected(CorruptRow { what, detail: err.to_string() })
}

/// `operation_runs`, as selected by `queries::run_columns!`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RunRow {
    id: Uuid,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<Uuid>,
    flow: String,
    run_identity_hash: String,
    status: String,
    outcome: String,
    initiator_user_id: Option<String>,
    summary_counts: Option<Value>,
    failure_summary: Option<Value>,
    report: Option<Value>,
    attempt: i32,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        let identity = RunIdentity {
            flow: FlowId::parse(row.flow).map_err(corrupt("flow"))?,
            workspace_id: WorkspaceId::new(row.workspace_id).map_err(corrupt("workspace_id"))?,
            tenant_id: TenantId::new(row.tenant_id).map_err(corrupt("tenant_id"))?,
            provider_connection_id: row
                .provider_connection_id
                .map(ProviderConnectionId::from_uuid)
                .transpose()
                .map_err(corrupt("provider_connection_id"))?,
        };
        Ok(Self {
            id: RunId::from_uuid(row.id).map_err(corrupt("run id"))?,
            identity,
            identity_hash: RunIdentityHash::parse(row.run_identity_hash).map_err(corrupt("run_identity_hash"))?,
            status: RunStatus::parse(&row.status).map_err(corrupt("status"))?,
            outcome: Outcome::parse(&row.outcome).map_err(corrupt("outcome"))?,
            initiator_user_id: row.initiator_user_id.map(UserId::parse).transpose().map_err(corrupt("initiator"))?,
            summary_counts: row.summary_counts,
            failure_summary: row.failure_summary,
            report: row.report.map(report_from_json).transpose()?,
            attempt: u32::try_from(row.attempt).map_err(out_of_range("attempt"))?,
            lease_owner: row.lease_owner.map(LeaseOwner::parse).transpose().map_err(corrupt("lease_owner"))?,
            lease_expires_at: row.lease_expires_at,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })
    }
}

/// A stored report, re-validated (summary and fingerprint must match its checks).
pub(crate) fn report_from_json(value: Value) -> Result<Report, StoreError> {
    serde_json::from_value(value).map_err(|err| unexpected(CorruptRow { what: "report", detail: err.to_string() }))
}

/// `verification_check_acknowledgements`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AckRow {
    id: Uuid,
    workspace_id: i64,
    tenant_id: i64,
    operation_run_id: Uuid,
    check_key: String,
    ack_reason: String,
    expires_at: Option<DateTime<Utc>>,
    acknowledged_at: DateTime<Utc>,
    acknowledged_by_user_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AckRow> for Acknowledgement {
    type Error = StoreError;

    fn try_from(row: AckRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: AcknowledgementId::from_uuid(row.id).map_err(corrupt("acknowledgement id"))?,
            workspace_id: WorkspaceId::new(row.workspace_id).map_err(corrupt("workspace_id"))?,
            tenant_id: TenantId::new(row.tenant_id).map_err(corrupt("tenant_id"))?,
            run_id: RunId::from_uuid(row.operation_run_id).map_err(corrupt("operation_run_id"))?,
            check_key: CheckKey::parse(row.check_key).map_err(corrupt("check_key"))?,
            reason: AckReason::parse(&row.ack_reason).map_err(corrupt("ack_reason"))?,
            expires_at: row.expires_at,
            acknowledged_by: UserId::parse(row.acknowledged_by_user_id).map_err(corrupt("acknowledged_by"))?,
            acknowledged_at: row.acknowledged_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `provider_connections`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    id: Uuid,
    workspace_id: i64,
    tenant_id: i64,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
    client_secret_ciphertext: Option<Vec<u8>>,
    secret_updated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    client_secret_expires_at: Option<DateTime<Utc>>,
}

impl TryFrom<ConnectionRow> for ProviderConnection {
    type Error = StoreError;

    fn try_from(row: ConnectionRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: ProviderConnectionId::from_uuid(row.id).map_err(corrupt("provider connection id"))?,
            workspace_id: WorkspaceId::new(row.workspace_id).map_err(corrupt("workspace_id"))?,
            tenant_id: TenantId::new(row.tenant_id).map_err(corrupt("tenant_id"))?,
            display_name: DisplayName::parse(&row.display_name).map_err(corrupt("display_name"))?,
            entra_tenant_id: DirectoryId::parse(&row.entra_tenant_id).map_err(corrupt("entra_tenant_id"))?,
            client_id: ClientId::parse(&row.client_id).map_err(corrupt("client_id"))?,
            client_secret_ciphertext: row.client_secret_ciphertext.map(SecretCiphertext::from_bytes),
            secret_updated_at: row.secret_updated_at,
            client_secret_expires_at: row.client_secret_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            disabled_at: row.disabled_at,
        })
    }
}

/// `audit_logs`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: Uuid,
    workspace_id: i64,
    seq: i64,
    occurred_at: DateTime<Utc>,
    tenant_id: Option<i64>,
    actor_type: String,
    actor_id: String,
    action: String,
    subject_type: String,
    subject_id: String,
    metadata: Value,
    prev_hash: String,
    hash: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let Value::Object(metadata) = row.metadata else {
            return Err(unexpected(CorruptRow { what: "audit metadata", detail: "not an object".to_owned() }));
        };
        Ok(Self::from_stored(StoredAuditEvent {
            id: AuditEventId::from_uuid(row.id).map_err(corrupt("audit event id"))?,
            seq: u64::try_from(row.seq).map_err(out_of_range("seq"))?,
            occurred_at: row.occurred_at,
            workspace_id: WorkspaceId::new(row.workspace_id).map_err(corrupt("workspace_id"))?,
            tenant_id: row.tenant_id.map(TenantId::new).transpose().map_err(corrupt("tenant_id"))?,
            actor: actor_from(&row.actor_type, row.actor_id)?,
            action: AuditAction::parse(&row.action).map_err(corrupt("action"))?,
            subject: Subject { kind: subject_type_from(&row.subject_type)?, id: row.subject_id },
            metadata,
            prev_hash: ChainHash::parse(row.prev_hash).map_err(corrupt("prev_hash"))?,
            hash: ChainHash::parse(row.hash).map_err(corrupt("hash"))?,
        }))
    }
}

/// The stored `(actor_type, actor_id)` of an actor.
pub(crate) fn actor_columns(actor: &Actor) -> (&'static str, &str) {
    match actor {
        Actor::User(user) => ("user", user.as_str()),
        Actor::System(component) => ("system", component.as_str()),
    }
}

fn actor_from(kind: &str, id: String) -> Result<Actor, StoreError> {
    match kind {
        "user" => Ok(Actor::User(UserId::parse(id).map_err(corrupt("actor id"))?)),
        "system" => Ok(Actor::System(id)),
        other => Err(unexpected(CorruptRow { what: "actor_type", detail: other.to_owned() })),
    }
}

/// The stored name of a subject type.
pub(crate) const fn subject_type_name(kind: SubjectType) -> &'static str {
    match kind {
        SubjectType::OperationRun => "operation_run",
        SubjectType::ProviderConnection => "provider_connection",
        SubjectType::Acknowledgement => "acknowledgement",
    }
}

fn subject_type_from(name: &str) -> Result<SubjectType, StoreError> {
    [SubjectType::OperationRun, SubjectType::ProviderConnection, SubjectType::Acknowledgement]
        .into_iter()
        .find(|kind| subject_type_name(*kind) == name)
        .ok_or_else(|| unexpected(CorruptRow { what: "subject_type", detail: name.to_owned() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_type_names_match_the_serde_names_core_hashes() {
        for kind in [SubjectType::OperationRun, SubjectType::ProviderConnection, SubjectType::Acknowledgement] {
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::from(subject_type_name(kind)));
            assert_eq!(subject_type_from(subject_type_name(kind)).unwrap(), kind);
        }
    }

    #[test]
    fn actors_round_trip_through_their_columns() {
        for actor in [Actor::User(UserId::parse("user-1").unwrap()), Actor::runner()] {
            let (kind, id) = actor_columns(&actor);
            assert_eq!(actor_from(kind, id.to_owned()).unwrap(), actor);
            assert_eq!(serde_json::to_value(&actor).unwrap()["type"], kind);
        }
    }
}
