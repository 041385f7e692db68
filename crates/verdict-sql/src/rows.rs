//! The rows both adapters decode, one type per table or query, and their conversion to core's
//! `Stored*` forms (docs/architecture.md, "Storage and schema"). JSON columns arrive as text:
//! core parses them straight into typed values.

use chrono::{DateTime, Utc};
use verdict_core::domain::{
    Acknowledgement, AuditEvent, Delivery, FleetRow, ProviderConnection, Run, RunSummary, Schedule,
    StoredAcknowledgement, StoredAuditEvent, StoredConnection, StoredDelivery, StoredFleetRow, StoredRun,
    StoredRunSummary, StoredSchedule, StoredWebhook, Webhook,
};
use verdict_core::ports::StoreError;

use crate::{Dialect, IdColumn};

/// `operation_runs`, with the report taken out of `context` (or null, in a page of runs).
#[derive(Debug, sqlx::FromRow)]
pub struct RunRow<D: Dialect> {
    id: D::Id,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<D::Id>,
    flow: String,
    run_identity_hash: String,
    status: String,
    outcome: String,
    initiator_user_id: Option<String>,
    summary_counts: Option<String>,
    failure_summary: Option<String>,
    report: Option<String>,
    attempt: D::Int4,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl<D: Dialect> TryFrom<RunRow<D>> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredRun {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            provider_connection_id: row.provider_connection_id.map(IdColumn::into_uuid),
            flow: row.flow,
            run_identity_hash: row.run_identity_hash,
            status: row.status,
            outcome: row.outcome,
            initiator_user_id: row.initiator_user_id,
            summary_counts: row.summary_counts,
            failure_summary: row.failure_summary,
            report: row.report,
            attempt: row.attempt.into(),
            lease_owner: row.lease_owner,
            lease_expires_at: row.lease_expires_at,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })?)
    }
}

/// `operation_runs` as a page of runs lists it: the columns of the run list statements, decoded
/// by position in the order [`crate::run_summary_columns`] lists them (looking each column
/// of fifty rows up by name cost 7 % of a page's CPU; docs/benchmarks.md, "The page of runs").
#[derive(Debug)]
pub struct RunSummaryRow<D: Dialect> {
    id: D::Id,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<D::Id>,
    flow: String,
    status: String,
    outcome: String,
    initiator_user_id: Option<String>,
    attempt: D::Int4,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl<'r, R, D> sqlx::FromRow<'r, R> for RunSummaryRow<D>
where
    R: sqlx::Row,
    D: Dialect,
    usize: sqlx::ColumnIndex<R>,
    D::Id: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    D::Int4: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            workspace_id: row.try_get(1)?,
            tenant_id: row.try_get(2)?,
            provider_connection_id: row.try_get(3)?,
            flow: row.try_get(4)?,
            status: row.try_get(5)?,
            outcome: row.try_get(6)?,
            initiator_user_id: row.try_get(7)?,
            attempt: row.try_get(8)?,
            created_at: row.try_get(9)?,
            started_at: row.try_get(10)?,
            completed_at: row.try_get(11)?,
        })
    }
}

impl<D: Dialect> TryFrom<RunSummaryRow<D>> for RunSummary {
    type Error = StoreError;

    fn try_from(row: RunSummaryRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredRunSummary {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            provider_connection_id: row.provider_connection_id.map(IdColumn::into_uuid),
            flow: row.flow,
            status: row.status,
            outcome: row.outcome,
            initiator_user_id: row.initiator_user_id,
            attempt: row.attempt.into(),
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })?)
    }
}

/// `verification_check_acknowledgements`, as selected by [`crate::ack_columns`].
#[derive(Debug, sqlx::FromRow)]
pub struct AckRow<D: Dialect> {
    id: D::Id,
    workspace_id: i64,
    tenant_id: i64,
    operation_run_id: D::Id,
    check_key: String,
    ack_reason: String,
    expires_at: Option<DateTime<Utc>>,
    acknowledged_at: DateTime<Utc>,
    acknowledged_by_user_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<D: Dialect> TryFrom<AckRow<D>> for Acknowledgement {
    type Error = StoreError;

    fn try_from(row: AckRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredAcknowledgement {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            operation_run_id: row.operation_run_id.into_uuid(),
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

/// `provider_connections`, as selected by [`crate::connection_columns`].
#[derive(Debug, sqlx::FromRow)]
pub struct ConnectionRow<D: Dialect> {
    id: D::Id,
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

impl<D: Dialect> TryFrom<ConnectionRow<D>> for ProviderConnection {
    type Error = StoreError;

    fn try_from(row: ConnectionRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredConnection {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            display_name: row.display_name,
            entra_tenant_id: row.entra_tenant_id,
            client_id: row.client_id,
            client_secret_ciphertext: row.client_secret_ciphertext,
            client_secret_expires_at: row.client_secret_expires_at,
            secret_updated_at: row.secret_updated_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            disabled_at: row.disabled_at,
        })?)
    }
}

/// `audit_logs`, with `metadata` as text.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow<D: Dialect> {
    id: D::Id,
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

impl<D: Dialect> TryFrom<AuditRow<D>> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: AuditRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredAuditEvent {
            id: row.id.into_uuid(),
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

/// One row of the fleet-status query: a connection, its latest run and its schedule.
#[derive(Debug, sqlx::FromRow)]
pub struct FleetRowRecord<D: Dialect> {
    tenant_id: i64,
    provider_connection_id: D::Id,
    display_name: String,
    client_secret_expires_at: Option<DateTime<Utc>>,
    run_id: Option<D::Id>,
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

impl<D: Dialect> TryFrom<FleetRowRecord<D>> for FleetRow {
    type Error = StoreError;

    fn try_from(row: FleetRowRecord<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredFleetRow {
            tenant_id: row.tenant_id,
            provider_connection_id: row.provider_connection_id.into_uuid(),
            display_name: row.display_name,
            client_secret_expires_at: row.client_secret_expires_at,
            run_id: row.run_id.map(IdColumn::into_uuid),
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

/// `verification_schedules`, as selected by [`crate::schedule_columns`].
#[derive(Debug, sqlx::FromRow)]
pub struct ScheduleRow<D: Dialect> {
    provider_connection_id: D::Id,
    workspace_id: i64,
    tenant_id: i64,
    flow: String,
    schedule_interval: String,
    interval_seconds: i64,
    next_run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<D: Dialect> TryFrom<ScheduleRow<D>> for Schedule {
    type Error = StoreError;

    fn try_from(row: ScheduleRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredSchedule {
            provider_connection_id: row.provider_connection_id.into_uuid(),
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            flow: row.flow,
            interval: row.schedule_interval,
            interval_seconds: row.interval_seconds,
            next_run_at: row.next_run_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })?)
    }
}

/// `webhooks`, with the subscribed event types as JSON text.
#[derive(Debug, sqlx::FromRow)]
pub struct WebhookRow<D: Dialect> {
    id: D::Id,
    workspace_id: i64,
    url: String,
    events: String,
    description: String,
    secret_ciphertext: Vec<u8>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    secret_rotated_at: DateTime<Utc>,
}

impl<D: Dialect> TryFrom<WebhookRow<D>> for Webhook {
    type Error = StoreError;

    fn try_from(row: WebhookRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredWebhook {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id,
            url: row.url,
            events: row.events,
            description: row.description,
            secret_ciphertext: row.secret_ciphertext,
            created_at: row.created_at,
            updated_at: row.updated_at,
            secret_rotated_at: row.secret_rotated_at,
        })?)
    }
}

/// `webhook_deliveries`, as selected by [`crate::delivery_columns`].
#[derive(Debug, sqlx::FromRow)]
pub struct DeliveryRow<D: Dialect> {
    webhook_id: D::Id,
    event_id: D::Id,
    event_type: String,
    run_id: D::Id,
    attempts: D::Int4,
    state: String,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<D::Int4>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    last_attempt_at: Option<DateTime<Utc>>,
}

impl<D: Dialect> TryFrom<DeliveryRow<D>> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow<D>) -> Result<Self, StoreError> {
        Ok(Self::from_stored(StoredDelivery {
            webhook_id: row.webhook_id.into_uuid(),
            event_id: row.event_id.into_uuid(),
            event_type: row.event_type,
            run_id: row.run_id.into_uuid(),
            attempts: row.attempts.into(),
            state: row.state,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code.map(Into::into),
            last_error: row.last_error,
            created_at: row.created_at,
            last_attempt_at: row.last_attempt_at,
        })?)
    }
}
