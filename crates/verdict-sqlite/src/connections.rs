//! The [`ProviderConnectionStore`] port, expanded from the template of `verdict_sql::ports` with
//! SQLite's stored forms. Every lookup and change is scoped to the connection's workspace and
//! tenant in SQL, so a connection of another tenant is simply not found; changes run on the single
//! writer, so a rotation and a disable of one connection cannot interleave.
//!
//! [`ProviderConnectionStore`]: verdict_core::ports::ProviderConnectionStore

use verdict_sql::connection_store;

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::store_error;
use crate::rows::{stored_at, stored_id, stored_optional_at};

connection_store!(SqliteStore, verdict_sql::Sqlite, sqlx::Sqlite);
