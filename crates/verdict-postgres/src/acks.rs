//! The [`AcknowledgementStore`] port, expanded from the template of `verdict_sql::ports` with
//! PostgreSQL's stored forms. Uniqueness per (run, check) and the existence of the run are the
//! schema's constraints; a missing run is recognised by the foreign key's name.
//!
//! [`AcknowledgementStore`]: verdict_core::ports::AcknowledgementStore

use verdict_sql::{Postgres, acknowledgement_store};

use crate::PgStore;
use crate::audit::append;
use crate::error::{ACK_RUN_FKEY, store_error, violated_constraint};
use crate::rows::{stored_at, stored_id, stored_optional_at};

/// Whether an insert failed because the acknowledgement's run does not exist in its workspace and
/// tenant.
fn is_missing_run(error: &sqlx::Error) -> bool {
    violated_constraint(error) == Some(ACK_RUN_FKEY)
}

/// The port's `acknowledge`: committed with the workspace's other writes of the moment
/// (`crate::group`).
async fn acknowledge_in_group(
    store: &PgStore,
    ack: verdict_core::domain::NewAcknowledgement,
    event: verdict_core::domain::PendingAuditEvent,
) -> Result<verdict_core::domain::Acknowledgement, verdict_core::ports::AckInsertError> {
    store.acknowledge_in_group(ack, event).await
}

acknowledgement_store!(PgStore, Postgres, sqlx::Postgres, acknowledge_in_group);
