//! The [`AcknowledgementStore`] port, expanded from the template of `verdict_sql::ports` with
//! SQLite's stored forms: one immutable row per (run, check), decided by the unique constraint
//! `verification_check_acknowledgements_run_check_key` and by the foreign key
//! `verification_check_acknowledgements_run_fkey` to the run in the same workspace and tenant.
//!
//! [`AcknowledgementStore`]: verdict_core::ports::AcknowledgementStore

use verdict_sql::acknowledgement_store;

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::{is_foreign_key_violation, store_error};
use crate::rows::{stored_at, stored_id, stored_optional_at};

/// Whether an insert failed because the acknowledgement's run does not exist in its workspace and
/// tenant: the table's only foreign key (SQLite names no constraint in its errors, so the kind
/// identifies it).
fn is_missing_run(error: &sqlx::Error) -> bool {
    is_foreign_key_violation(error)
}

acknowledgement_store!(SqliteStore, verdict_sql::Sqlite, sqlx::Sqlite);
