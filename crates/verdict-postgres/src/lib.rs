//! Verdict's production store: every storage port of `verdict-core` — [`RunStore`],
//! [`AcknowledgementStore`], [`ProviderConnectionStore`] and [`AuditLog`] — on PostgreSQL.
//!
//! The schema lives in `migrations/postgres/` and is embedded as [`MIGRATOR`]. The database, not
//! this code, enforces the invariants: one active run per identity (a partial unique index), one
//! acknowledgement per (run, check), one gap-free audit chain per workspace (a locked chain head
//! row and a unique `(workspace_id, seq)`). Every state change commits in one transaction with its
//! audit event; driver errors are translated at the boundary by constraint name.
//!
//! Workers wake up on `LISTEN verdict_runs` ([`PgStore::listen_for_new_runs`]) instead of
//! busy polling.
//!
//! [`RunStore`]: verdict_core::ports::RunStore
//! [`AcknowledgementStore`]: verdict_core::ports::AcknowledgementStore
//! [`ProviderConnectionStore`]: verdict_core::ports::ProviderConnectionStore
//! [`AuditLog`]: verdict_core::ports::AuditLog

mod acks;
mod audit;
mod connections;
mod continuous;
mod error;
mod fleet;
mod group;
mod listener;
pub mod queries;
mod queue;
mod rows;
mod runs;
mod store;
mod write;

pub use listener::{RUNS_CHANNEL, RunListener, RunSignal};
pub use store::{PgConfig, PgStore};

/// The embedded migrations of `migrations/postgres/`, applied by [`PgStore::migrate`] (and by
/// the test harness to its template database).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
