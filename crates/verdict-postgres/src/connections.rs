//! The [`ProviderConnectionStore`] port, expanded from the template of `verdict_sql::ports` with
//! PostgreSQL's stored forms. Every read and change is scoped by workspace and tenant in the SQL
//! itself, and a change is one conditional `UPDATE`, which PostgreSQL re-checks on the row it
//! locks: a rotation and a disable of one connection cannot interleave.
//!
//! [`ProviderConnectionStore`]: verdict_core::ports::ProviderConnectionStore

use verdict_sql::{Postgres, connection_store};

use crate::PgStore;
use crate::audit::append;
use crate::error::store_error;
use crate::rows::{stored_at, stored_id, stored_optional_at};

connection_store!(PgStore, Postgres, sqlx::Postgres);
