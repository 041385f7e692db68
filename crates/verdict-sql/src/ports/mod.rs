//! Port implementations written once for both storage adapters, as templates each adapter expands
//! for its store (docs/architecture.md, "Storage and schema").
//!
//! A template is the whole body of a port's implementation: the order of its statements, what it
//! binds, which transaction it runs in and how it maps the rows back. What differs between the
//! databases is supplied by the adapter, by name, in the module that expands the template:
//!
//! - `self.begin_write()`: a write transaction; it derefs to the driver's connection, and its
//!   `commit()` and `rollback()` return `StoreError`;
//! - `self.begin_one_statement()`: the same shape for a write of one statement, which PostgreSQL
//!   runs without `BEGIN` and `COMMIT` (it is its own transaction) and SQLite in the single
//!   writer's transaction;
//! - `self.reading(async |conn| ...)`: runs reads on a connection of the store's
//!   [`crate::kept::Kept`], kept for the next call when they succeed;
//! - `append(&mut conn, event)`: appends an audit event to its workspace's chain inside the
//!   transaction;
//! - `store_error(sqlx::Error)`: the adapter's translation of a driver error;
//! - `stored_id(&Uuid)`, `stored_at(DateTime<Utc>)`, `stored_optional_at(Option<DateTime<Utc>>)`:
//!   the bound forms of an id and an instant;
//! - a `const` for each statement a template names in capitals that [`crate::statements`] does not
//!   hold: the adapter's SQL.
//!
//! The templates are macros rather than functions generic over `sqlx::Database` because each
//! expansion is checked against one concrete driver: a generic function would have to restate
//! sqlx's encode, decode and executor bounds for every type it binds. A name missing at the
//! expansion site is a compile error there.

mod acks;
mod connections;
mod continuous;
mod queue;
