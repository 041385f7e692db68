//! Translating sqlx and SQLite errors into the outcomes of core's ports, at the boundary: by
//! error kind and SQLite result code, never by message text.

use std::path::PathBuf;

use sqlx::error::ErrorKind;
use verdict_core::ports::StoreError;

/// Why the store could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL is not a `sqlite://path` URL of a database file.
    #[error("invalid SQLite database URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The folder that holds the database file could not be created.
    #[error("could not create the database folder {}", path.display())]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be opened or configured.
    #[error("could not open the SQLite database")]
    Open(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("could not migrate the SQLite database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

// Primary SQLite result codes (the low byte of an extended code) that mean "the database is
// busy or its storage is in trouble": worth retrying later, not a bug.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// Maps any driver error to a [`StoreError`]: pool time-outs, a closed pool, I/O failures and a
/// busy or unreachable database file are [`StoreError::Unavailable`]; everything else (a
/// violated constraint, undecodable data, a bug) is [`StoreError::Unexpected`].
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    if is_unavailable(&error) { StoreError::Unavailable(error.into()) } else { StoreError::Unexpected(error.into()) }
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => primary_code(db.as_ref()).is_some_and(|code| {
            matches!(code, SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN)
        }),
        _ => false,
    }
}

fn primary_code(error: &dyn sqlx::error::DatabaseError) -> Option<i32> {
    let extended: i32 = error.code()?.parse().ok()?;
    Some(extended & 0xff)
}

/// Whether `error` is a foreign-key violation (SQLite reports no constraint name for these; a
/// statement that can violate only one foreign key is identified by the statement itself).
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation)
}

/// A broken invariant detected by the adapter itself.
pub(crate) fn invariant(message: &'static str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_are_unavailable_and_others_unexpected() {
        assert!(matches!(store_error(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(store_error(sqlx::Error::PoolClosed), StoreError::Unavailable(_)));
        let io = std::io::Error::other("disk on fire");
        assert!(matches!(store_error(sqlx::Error::Io(io)), StoreError::Unavailable(_)));
        assert!(matches!(store_error(sqlx::Error::RowNotFound), StoreError::Unexpected(_)));
        assert!(matches!(store_error(sqlx::Error::Protocol("bad".into())), StoreError::Unexpected(_)));
    }
}
