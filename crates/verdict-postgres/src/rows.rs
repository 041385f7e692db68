//! Adapter-private row types: they only decode PostgreSQL's columns (JSON columns as text);
//! core's `from_stored` constructors give the values their meaning and re-validate them.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use verdict_core::domain::{
    Acknowledgement, AuditEvent, FleetRow, ProviderConnection, Run, StoredAcknowledgement, StoredAuditEvent,
    StoredConnection, StoredFleetRow, StoredRun,
};
use verdict_core::ports::StoreError;

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
    summary_counts: Option<String>,
    failure_summary: Option<String>,
    report: Option<String>,
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
        Ok(Self::from_stored(StoredRun {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            provider_connection_id: row.provider_connection_id,
            flow: row.flow,
            run_identity_hash: row.run_identity_hash,
            status: row.status,
            outcome: row.outcome,
            initiator_user_id: row.initiator_user_id,
            summary_counts: row.summary_counts,
            failure_summary: row.failure_summary,
            report: row.report,
            attempt: i64::from(row.attempt),
            lease_owner: row.lease_owner,
            lease_expires_at: row.lease_expires_at,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })?)
    }
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
        Ok(Self::from_stored(StoredAcknowledgement {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            operation_run_id: row.operation_run_id,
            check_key: row.check_key,
            ack_reason: row.ack_reason,
            expires_at: row.expires_at,
            acknowledged_at: row.acknowledged_at,
            acknowledged_by_user_id: row.acknowledged_by_user_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })?)
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
        Ok(Self::from_stored(StoredConnection {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            display_name: row.display_name,
            entra_tenant_id: row.entra_tenant_id,
            client_id: row.client_id,
            client_secret_ciphertext: row.client_secret_ciphertext,
            secret_updated_at: row.secret_updated_at,
            client_secret_expires_at: row.client_secret_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            disabled_at: row.disabled_at,
        })?)
    }
}

/// `audit_logs`, with `metadata` as text.
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
    metadata: String,
    prev_hash: String,
    hash: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredAuditEvent {
            id: row.id,
            seq: row.seq,
            occurred_at: row.occurred_at,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            actor_type: row.actor_type,
            actor_id: row.actor_id,
            action: row.action,
            subject_type: row.subject_type,
            subject_id: row.subject_id,
            metadata: row.metadata,
            prev_hash: row.prev_hash,
            hash: row.hash,
        })?)
    }
}

/// One row of `queries::fleet_status`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FleetRowRecord {
    tenant_id: i64,
    provider_connection_id: Uuid,
    display_name: String,
    client_secret_expires_at: Option<DateTime<Utc>>,
    run_id: Option<Uuid>,
    flow: Option<String>,
    status: Option<String>,
    overall: Option<String>,
    outcome: Option<String>,
    completed_at: Option<DateTime<Utc>>,
    change_state: Option<String>,
    run_credential_expires_at: Option<DateTime<Utc>>,
    schedule_interval: Option<String>,
    interval_seconds: Option<i64>,
    next_run_at: Option<DateTime<Utc>>,
}

impl TryFrom<FleetRowRecord> for FleetRow {
    type Error = StoreError;

    fn try_from(row: FleetRowRecord) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredFleetRow {
            tenant_id: row.tenant_id,
            provider_connection_id: row.provider_connection_id,
            display_name: row.display_name,
            client_secret_expires_at: row.client_secret_expires_at,
            run_id: row.run_id,
            flow: row.flow,
            status: row.status,
            overall: row.overall,
            outcome: row.outcome,
            completed_at: row.completed_at,
            change_state: row.change_state,
            run_credential_expires_at: row.run_credential_expires_at,
            schedule_interval: row.schedule_interval,
            interval_seconds: row.interval_seconds,
            next_run_at: row.next_run_at,
        })?)
    }
}
