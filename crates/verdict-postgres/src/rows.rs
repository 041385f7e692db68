//! PostgreSQL's rows: the shared row types of `verdict-sql` over PostgreSQL's column types
//! (`uuid` ids, `integer` counters), and the stored forms of an id and an instant. JSON columns are
//! selected as text.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use verdict_core::domain::to_micros;
use verdict_sql::Postgres;

/// The stored form of an id: `uuid`.
pub(crate) fn stored_id(id: &Uuid) -> Uuid {
    *id
}

/// The stored form of an instant: `timestamptz`, at the microsecond PostgreSQL keeps.
pub(crate) fn stored_at(at: DateTime<Utc>) -> DateTime<Utc> {
    to_micros(at)
}

/// The stored form of an optional instant.
pub(crate) fn stored_optional_at(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.map(to_micros)
}

/// `operation_runs`, as selected by `queries::run_columns!`.
pub(crate) type RunRow = verdict_sql::rows::RunRow<Postgres>;
/// `operation_runs`, as selected by `verdict_sql::run_summary_columns!`.
pub(crate) type RunSummaryRow = verdict_sql::rows::RunSummaryRow<Postgres>;
/// `audit_logs`, with `metadata` as text.
pub(crate) type AuditRow = verdict_sql::rows::AuditRow<Postgres>;
/// One row of `queries::fleet_status`.
pub(crate) type FleetRowRecord = verdict_sql::rows::FleetRowRecord<Postgres>;
/// `webhook_deliveries`.
pub(crate) type DeliveryRow = verdict_sql::rows::DeliveryRow<Postgres>;
