//! Adapter-private row types: they only decode SQLite's columns (text ids, text instants, JSON
//! text); core's `from_stored` constructors give the values their meaning and re-validate them.

use chrono::{DateTime, Utc};
use sqlx::types::uuid::fmt::Hyphenated;
use verdict_core::domain::{
    Acknowledgement, AuditEvent, FleetRow, ProviderConnection, Run, StoredAcknowledgement, StoredAuditEvent,
    StoredConnection, StoredFleetRow, StoredRun, format_timestamp,
};
use verdict_core::ports::StoreError;

/// The columns of [`RunRow`], for `SELECT` and `RETURNING` clauses.
macro_rules! run_columns {
    () => {
        "id, workspace_id, tenant_id, provider_connection_id, type AS flow, run_identity_hash, status, outcome, \
         initiator_user_id, summary_counts, failure_summary, context -> '$.verification_report' AS report, \
         attempt, lease_owner, lease_expires_at, created_at, started_at, completed_at"
    };
}
pub(crate) use run_columns;

/// The columns of a listed run: those of [`run_columns`] with a null report, because a page of
/// runs carries no report (see `RunStore::list`).
macro_rules! list_run_columns {
    () => {
        "id, workspace_id, tenant_id, provider_connection_id, type AS flow, run_identity_hash, status, outcome, \
         initiator_user_id, summary_counts, failure_summary, NULL AS report, \
         attempt, lease_owner, lease_expires_at, created_at, started_at, completed_at"
    };
}
pub(crate) use list_run_columns;

/// The columns of [`AckRow`].
macro_rules! ack_columns {
    () => {
        "id, workspace_id, tenant_id, operation_run_id, check_key, ack_reason, expires_at, acknowledged_at, \
         acknowledged_by_user_id, created_at, updated_at"
    };
}
pub(crate) use ack_columns;

/// The columns of [`ConnectionRow`].
macro_rules! connection_columns {
    () => {
        "id, workspace_id, tenant_id, display_name, entra_tenant_id, client_id, client_secret_ciphertext, \
         secret_updated_at, created_at, updated_at, disabled_at, client_secret_expires_at"
    };
}
pub(crate) use connection_columns;

/// The columns of [`AuditRow`].
macro_rules! audit_columns {
    () => {
        "id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action, subject_type, subject_id, \
         metadata, prev_hash, hash"
    };
}
pub(crate) use audit_columns;

/// The one stored form of an instant (see `verdict_core::domain::format_timestamp`): fixed width,
/// so text order is time order, which keyset pages and the queue rely on.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    format_timestamp(at)
}

/// The stored form of an optional instant.
pub(crate) fn optional_timestamp(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(format_timestamp)
}

/// A row of `operation_runs`, with the report extracted from `context`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RunRow {
    id: Hyphenated,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<Hyphenated>,
    flow: String,
    run_identity_hash: String,
    status: String,
    outcome: String,
    initiator_user_id: Option<String>,
    summary_counts: Option<String>,
    failure_summary: Option<String>,
    report: Option<String>,
    attempt: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// The domain run.
    pub(crate) fn into_run(self) -> Result<Run, StoreError> {
        Ok(Run::from_stored(StoredRun {
            id: self.id.into_uuid(),
            workspace_id: self.workspace_id,
            tenant_id: self.tenant_id,
            provider_connection_id: self.provider_connection_id.map(Hyphenated::into_uuid),
            flow: self.flow,
            run_identity_hash: self.run_identity_hash,
            status: self.status,
            outcome: self.outcome,
            initiator_user_id: self.initiator_user_id,
            summary_counts: self.summary_counts,
            failure_summary: self.failure_summary,
            report: self.report,
            attempt: self.attempt,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
        })?)
    }
}

/// A row of `verification_check_acknowledgements`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AckRow {
    id: Hyphenated,
    workspace_id: i64,
    tenant_id: i64,
    operation_run_id: Hyphenated,
    check_key: String,
    ack_reason: String,
    expires_at: Option<DateTime<Utc>>,
    acknowledged_at: DateTime<Utc>,
    acknowledged_by_user_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AckRow {
    /// The domain acknowledgement.
    pub(crate) fn into_acknowledgement(self) -> Result<Acknowledgement, StoreError> {
        Ok(Acknowledgement::from_stored(StoredAcknowledgement {
            id: self.id.into_uuid(),
            workspace_id: self.workspace_id,
            tenant_id: self.tenant_id,
            operation_run_id: self.operation_run_id.into_uuid(),
            check_key: self.check_key,
            ack_reason: self.ack_reason,
            expires_at: self.expires_at,
            acknowledged_at: self.acknowledged_at,
            acknowledged_by_user_id: self.acknowledged_by_user_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })?)
    }
}

/// A row of `provider_connections`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    id: Hyphenated,
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

impl ConnectionRow {
    /// The domain connection.
    pub(crate) fn into_connection(self) -> Result<ProviderConnection, StoreError> {
        Ok(ProviderConnection::from_stored(StoredConnection {
            id: self.id.into_uuid(),
            workspace_id: self.workspace_id,
            tenant_id: self.tenant_id,
            display_name: self.display_name,
            entra_tenant_id: self.entra_tenant_id,
            client_id: self.client_id,
            client_secret_ciphertext: self.client_secret_ciphertext,
            client_secret_expires_at: self.client_secret_expires_at,
            secret_updated_at: self.secret_updated_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            disabled_at: self.disabled_at,
        })?)
    }
}

/// A row of `audit_logs`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: Hyphenated,
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

impl AuditRow {
    /// The domain event.
    pub(crate) fn into_event(self) -> Result<AuditEvent, StoreError> {
        Ok(AuditEvent::from_stored(StoredAuditEvent {
            id: self.id.into_uuid(),
            seq: self.seq,
            occurred_at: self.occurred_at,
            workspace_id: self.workspace_id,
            tenant_id: self.tenant_id,
            actor_type: self.actor_type,
            actor_id: self.actor_id,
            action: self.action,
            subject_type: self.subject_type,
            subject_id: self.subject_id,
            metadata: self.metadata,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_stored_at_microsecond_precision_in_fixed_width() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(timestamp(at), "2026-03-04T05:06:07.123456Z");
        assert_eq!(timestamp(Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()), "2026-03-04T05:06:07.000000Z");
    }
}

/// One row of the fleet-status query.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FleetRowRecord {
    tenant_id: i64,
    provider_connection_id: Hyphenated,
    display_name: String,
    client_secret_expires_at: Option<DateTime<Utc>>,
    run_id: Option<Hyphenated>,
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

impl FleetRowRecord {
    /// The domain row.
    pub(crate) fn into_row(self) -> Result<FleetRow, StoreError> {
        Ok(FleetRow::from_stored(StoredFleetRow {
            tenant_id: self.tenant_id,
            provider_connection_id: self.provider_connection_id.into_uuid(),
            display_name: self.display_name,
            client_secret_expires_at: self.client_secret_expires_at,
            run_id: self.run_id.map(Hyphenated::into_uuid),
            flow: self.flow,
            status: self.status,
            overall: self.overall,
            outcome: self.outcome,
            completed_at: self.completed_at,
            change_state: self.change_state,
            run_credential_expires_at: self.run_credential_expires_at,
            schedule_interval: self.schedule_interval,
            interval_seconds: self.interval_seconds,
            next_run_at: self.next_run_at,
        })?)
    }
}
