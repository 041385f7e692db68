//! SQLite's rows: the shared row types of `verdict-sql` over SQLite's column types (text ids,
//! text instants, JSON text), the column lists only SQLite writes this way, and the stored forms
//! of an id and an instant.

use chrono::{DateTime, Utc};
use sqlx::types::Uuid;
use sqlx::types::uuid::fmt::Hyphenated;
use verdict_core::domain::format_timestamp;
use verdict_sql::Sqlite;

/// The columns of [`RunRow`], for `SELECT` and `RETURNING` clauses.
macro_rules! run_columns {
    () => {
        "id, workspace_id, tenant_id, provider_connection_id, type AS flow, run_identity_hash, status, outcome, \
         initiator_user_id, summary_counts, failure_summary, context -> '$.verification_report' AS report, \
         attempt, lease_owner, lease_expires_at, created_at, started_at, completed_at"
    };
}
pub(crate) use run_columns;

/// The columns of [`AuditRow`].
macro_rules! audit_columns {
    () => {
        "id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action, subject_type, subject_id, \
         metadata, prev_hash, hash"
    };
}
pub(crate) use audit_columns;

/// The stored form of an id: hyphenated lower-case text.
pub(crate) fn stored_id(id: &Uuid) -> Hyphenated {
    id.hyphenated()
}

/// The one stored form of an instant (see `verdict_core::domain::format_timestamp`): fixed width,
/// so text order is time order, which keyset pages and the queue rely on.
pub(crate) fn stored_at(at: DateTime<Utc>) -> String {
    format_timestamp(at)
}

/// The stored form of an optional instant.
pub(crate) fn stored_optional_at(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(format_timestamp)
}

/// A row of `operation_runs`, with the report extracted from `context`.
pub(crate) type RunRow = verdict_sql::rows::RunRow<Sqlite>;
/// A row of `operation_runs` as a page of runs lists it.
pub(crate) type RunSummaryRow = verdict_sql::rows::RunSummaryRow<Sqlite>;
/// A row of `audit_logs`.
pub(crate) type AuditRow = verdict_sql::rows::AuditRow<Sqlite>;
/// One row of the fleet-status query.
pub(crate) type FleetRowRecord = verdict_sql::rows::FleetRowRecord<Sqlite>;
/// A row of `webhook_deliveries`.
pub(crate) type DeliveryRow = verdict_sql::rows::DeliveryRow<Sqlite>;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_stored_at_microsecond_precision_in_fixed_width() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(stored_at(at), "2026-03-04T05:06:07.123456Z");
        assert_eq!(stored_at(Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()), "2026-03-04T05:06:07.000000Z");
    }
}
