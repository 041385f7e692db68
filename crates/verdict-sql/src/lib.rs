//! What Verdict's two storage adapters share, written once: the rows they decode and the column
//! lists they select, the statements whose text is the same on both, and the port
//! implementations both expand (docs/architecture.md, "Storage and schema").
//!
//! A row only decodes columns. Core's `from_stored` constructors give the values their meaning
//! and re-validate them, so a row type holds no rule of its own. The rows are generic over
//! [`Dialect`]: the two databases store the same columns with two differences, the type of an id
//! (PostgreSQL `uuid`, SQLite hyphenated text) and the width of small counters (PostgreSQL
//! `integer`, SQLite's one `INTEGER`). Everything else decodes to the same Rust type on both.
//! Where a port's implementation is the same on both databases but for a few names (the SQL of a
//! statement, the bound form of an id, how a write transaction begins), it is a template in
//! [`ports`] that each adapter expands with its own names; everything else stays in the adapter.

pub mod columns;
pub mod kept;
pub mod ports;
pub mod rows;
pub mod statements;

use std::fmt::Debug;

use sqlx::types::Uuid;
use sqlx::types::uuid::fmt::Hyphenated;
use verdict_core::ports::StoreError;

/// A broken invariant or undecodable stored data.
pub fn unexpected(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unexpected(err.into())
}

/// The column types in which a database's rows differ.
pub trait Dialect: Debug {
    /// How an id column decodes.
    type Id: IdColumn;
    /// How a small counter (`attempt`, `attempts`, an HTTP status code) decodes.
    type Int4: Into<i64> + Debug;
}

/// A decoded id column.
pub trait IdColumn: Debug {
    /// The id.
    fn into_uuid(self) -> Uuid;
}

impl IdColumn for Uuid {
    fn into_uuid(self) -> Uuid {
        self
    }
}

impl IdColumn for Hyphenated {
    fn into_uuid(self) -> Uuid {
        Self::into_uuid(self)
    }
}

/// PostgreSQL's column types: `uuid` ids and `integer` counters.
#[derive(Debug)]
pub enum Postgres {}

impl Dialect for Postgres {
    type Id = Uuid;
    type Int4 = i32;
}

/// SQLite's column types: ids as hyphenated text and every integer 64 bits wide.
#[derive(Debug)]
pub enum Sqlite {}

impl Dialect for Sqlite {
    type Id = Hyphenated;
    type Int4 = i64;
}
