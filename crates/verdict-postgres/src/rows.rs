//! PostgreSQL's rows: the shared row types of `verdict-sql` over PostgreSQL's column types
//! (`uuid` ids, `integer` counters). JSON columns are selected as text.

use verdict_sql::Postgres;

/// `operation_runs`, as selected by `queries::run_columns!`.
pub(crate) type RunRow = verdict_sql::rows::RunRow<Postgres>;
/// `verification_check_acknowledgements`.
pub(crate) type AckRow = verdict_sql::rows::AckRow<Postgres>;
/// `provider_connections`.
pub(crate) type ConnectionRow = verdict_sql::rows::ConnectionRow<Postgres>;
/// `audit_logs`, with `metadata` as text.
pub(crate) type AuditRow = verdict_sql::rows::AuditRow<Postgres>;
/// One row of `queries::fleet_status`.
pub(crate) type FleetRowRecord = verdict_sql::rows::FleetRowRecord<Postgres>;
/// `verification_schedules`.
pub(crate) type ScheduleRow = verdict_sql::rows::ScheduleRow<Postgres>;
/// `webhooks`, with `events` as text.
pub(crate) type WebhookRow = verdict_sql::rows::WebhookRow<Postgres>;
/// `webhook_deliveries`.
pub(crate) type DeliveryRow = verdict_sql::rows::DeliveryRow<Postgres>;
