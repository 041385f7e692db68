//! The statements both databases run with the same text. Parameters are written `$n`, which
//! PostgreSQL numbers natively and SQLite takes as a named parameter that sqlx binds by its
//! number, so one text serves both. Statements whose SQL differs (a `jsonb` cast, `FOR UPDATE SKIP
//! LOCKED`, a `uuid` literal) stay in each adapter under the name the port templates use
//! ([`crate::ports`]).

use crate::{ack_columns, connection_columns, schedule_columns, webhook_columns};

/// Creates or replaces a connection's schedule, releasing any claim on it. `$1`…`$9` are the
/// columns of `schedule_columns!`, in order.
pub const SET_SCHEDULE: &str = concat!(
    "INSERT INTO verification_schedules (",
    schedule_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (provider_connection_id) DO UPDATE SET flow = excluded.flow, \
     schedule_interval = excluded.schedule_interval, interval_seconds = excluded.interval_seconds, \
     next_run_at = excluded.next_run_at, updated_at = excluded.updated_at, \
     claimed_by = NULL, claim_expires_at = NULL RETURNING ",
    schedule_columns!()
);

/// A connection's schedule, within its workspace (`$2`) and tenant (`$3`).
pub const GET_SCHEDULE: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM verification_schedules WHERE provider_connection_id = $1 AND workspace_id = $2 AND tenant_id = $3"
);

/// Deletes a connection's schedule, within its workspace (`$2`) and tenant (`$3`).
pub const REMOVE_SCHEDULE: &str =
    "DELETE FROM verification_schedules WHERE provider_connection_id = $1 AND workspace_id = $2 AND tenant_id = $3";

/// Moves a claimed schedule's next run to `$1` and releases the claim, if `$3` still holds it.
pub const REARM_SCHEDULE: &str = "UPDATE verification_schedules \
     SET next_run_at = $1, claimed_by = NULL, claim_expires_at = NULL \
     WHERE provider_connection_id = $2 AND claimed_by = $3";

/// Deletes a subscription of a workspace; its deliveries go with it (`ON DELETE CASCADE`).
pub const DELETE_WEBHOOK: &str = "DELETE FROM webhooks WHERE id = $1 AND workspace_id = $2";

/// Records a delivery attempt, if the claimer (`$8`) still holds the delivery at that attempt
/// (`$9`) and it is still pending.
pub const RECORD_ATTEMPT: &str = "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, \
     last_status_code = $3, last_error = $4, last_attempt_at = $5, claimed_by = NULL \
     WHERE webhook_id = $6 AND event_id = $7 AND state = 'pending' AND claimed_by = $8 AND attempts = $9";

/// How many deliveries are pending. `state = 'pending'` is the due index's predicate, so the count
/// walks pending rows only.
pub const COUNT_PENDING_DELIVERIES: &str = "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'";

/// When the earliest pending delivery is due.
pub const NEXT_DELIVERY_DUE: &str =
    "SELECT next_attempt_at FROM webhook_deliveries WHERE state = 'pending' ORDER BY next_attempt_at LIMIT 1";

/// Creates a connection; `$1`…`$12` are the columns of `connection_columns!`, in order.
pub const INSERT_CONNECTION: &str = concat!(
    "INSERT INTO provider_connections (",
    connection_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    connection_columns!()
);

/// A connection (`$1`), within its workspace (`$2`) and tenant (`$3`).
pub const SCOPED_CONNECTION: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE id = $1 AND workspace_id = $2 AND tenant_id = $3"
);

/// A tenant's connections, oldest first.
pub const LIST_CONNECTIONS: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE workspace_id = $1 AND tenant_id = $2 ORDER BY created_at, id"
);

/// Replaces the secret of a connection (`$1`, in workspace `$2` and tenant `$3`) if it is enabled;
/// no row when it is disabled or not there. The condition is in the `UPDATE`, so a concurrent
/// disable either lands first (no row) or waits for this one.
pub const ROTATE_CONNECTION_SECRET: &str = concat!(
    "UPDATE provider_connections SET client_secret_ciphertext = $4, secret_updated_at = $5, updated_at = $5, \
     client_secret_expires_at = $6 \
     WHERE id = $1 AND workspace_id = $2 AND tenant_id = $3 AND disabled_at IS NULL RETURNING ",
    connection_columns!()
);

/// Disables a connection (`$1`, in workspace `$2` and tenant `$3`) if it is enabled; no row when it
/// already is or is not there.
pub const DISABLE_CONNECTION: &str = concat!(
    "UPDATE provider_connections SET disabled_at = $4, updated_at = $4 \
     WHERE id = $1 AND workspace_id = $2 AND tenant_id = $3 AND disabled_at IS NULL RETURNING ",
    connection_columns!()
);

/// Records an acknowledgement unless its (run, check) already has one (no row then). Rows are
/// immutable, so `created_at` and `updated_at` are the acknowledgement time (`$8`).
pub const INSERT_ACKNOWLEDGEMENT: &str = concat!(
    "INSERT INTO verification_check_acknowledgements (",
    ack_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) \
     ON CONFLICT (operation_run_id, check_key) DO NOTHING RETURNING ",
    ack_columns!()
);

/// The acknowledgement of a run's check.
pub const ACKNOWLEDGEMENT_OF_CHECK: &str = concat!(
    "SELECT ",
    ack_columns!(),
    " FROM verification_check_acknowledgements WHERE operation_run_id = $1 AND check_key = $2"
);

/// A run's acknowledgements, oldest first.
pub const ACKNOWLEDGEMENTS_OF_RUN: &str = concat!(
    "SELECT ",
    ack_columns!(),
    " FROM verification_check_acknowledgements WHERE operation_run_id = $1 ORDER BY acknowledged_at, id"
);

/// Creates a subscription; `$1`…`$9` are its columns in order, `$4` the subscribed event types as
/// JSON (bound as `sqlx::types::Json`, which PostgreSQL receives as `jsonb` and SQLite as text).
pub const CREATE_WEBHOOK: &str = concat!(
    "INSERT INTO webhooks (id, workspace_id, url, events, description, secret_ciphertext, created_at, updated_at, \
     secret_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
    webhook_columns!()
);

/// A subscription of a workspace.
pub const GET_WEBHOOK: &str =
    concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE id = $1 AND workspace_id = $2");

/// A workspace's subscriptions, oldest first.
pub const LIST_WEBHOOKS: &str =
    concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE workspace_id = $1 ORDER BY created_at, id");

/// Replaces a subscription's secret.
pub const ROTATE_WEBHOOK_SECRET: &str = concat!(
    "UPDATE webhooks SET secret_ciphertext = $1, secret_rotated_at = $2, updated_at = $2 \
     WHERE id = $3 AND workspace_id = $4 RETURNING ",
    webhook_columns!()
);

/// The stored status of a run, to explain why a fenced change matched nothing.
pub const RUN_STATUS: &str = "SELECT status FROM operation_runs WHERE id = $1";
