//! The column lists both databases select the same way, as macros so that each adapter can
//! `concat!` them into its statements at compile time. Lists whose SQL differs (a `jsonb` column
//! PostgreSQL turns into text, the run's report taken out of its context) stay in the adapter.

/// The columns of [`crate::rows::RunSummaryRow`], in the order it decodes them: only what a page
/// of runs shows (see `RunStore::list`). Turning fifty `jsonb` reports into text, sending and
/// parsing them was most of a page's cost on both sides, the summaries' JSON a tenth of the rest,
/// and decoding columns a page does not show a tenth again (docs/benchmarks.md, "The page of
/// runs").
#[macro_export]
macro_rules! run_summary_columns {
    () => {
        "id, workspace_id, tenant_id, provider_connection_id, type AS flow, status, outcome, \
         initiator_user_id, attempt, created_at, started_at, completed_at"
    };
}

/// The columns of [`crate::rows::AckRow`].
#[macro_export]
macro_rules! ack_columns {
    () => {
        "id, workspace_id, tenant_id, operation_run_id, check_key, ack_reason, expires_at, acknowledged_at, \
         acknowledged_by_user_id, created_at, updated_at"
    };
}

/// The columns of [`crate::rows::ConnectionRow`].
#[macro_export]
macro_rules! connection_columns {
    () => {
        "id, workspace_id, tenant_id, display_name, entra_tenant_id, client_id, client_secret_ciphertext, \
         secret_updated_at, created_at, updated_at, disabled_at, client_secret_expires_at"
    };
}

/// The columns of [`crate::rows::ScheduleRow`].
#[macro_export]
macro_rules! schedule_columns {
    () => {
        "provider_connection_id, workspace_id, tenant_id, flow, schedule_interval, interval_seconds, next_run_at, \
         created_at, updated_at"
    };
}

/// The columns of [`crate::rows::DeliveryRow`].
#[macro_export]
macro_rules! delivery_columns {
    () => {
        "webhook_id, event_id, event_type, run_id, attempts, state, next_attempt_at, last_status_code, last_error, \
         created_at, last_attempt_at"
    };
}

/// The columns of [`crate::rows::WebhookRow`]. `events` is `jsonb` on PostgreSQL and JSON text on
/// SQLite; the cast reads it as text on both.
#[macro_export]
macro_rules! webhook_columns {
    () => {
        "id, workspace_id, url, CAST(events AS TEXT) AS events, description, secret_ciphertext, created_at, \
         updated_at, secret_rotated_at"
    };
}
