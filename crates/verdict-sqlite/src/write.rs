//! Write transactions on the single writer connection, in `BEGIN IMMEDIATE` so each holds
//! SQLite's write lock from its first statement.
//!
//! A transaction that does not end in a successful `COMMIT` or `ROLLBACK` closes its connection
//! instead of returning it to the pool: a write that failed half-way (a full disk, an I/O error)
//! can leave the connection inside a transaction, and a fresh connection is the only state known
//! to be good. The pool opens the replacement on the next write, so the store heals by itself as
//! soon as the cause is gone (docs/architecture.md, "Faults").

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use verdict_core::ports::StoreError;

use crate::errors::store_error;

/// An open write transaction.
pub(crate) struct WriteTx {
    conn: PoolConnection<Sqlite>,
    open: bool,
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").field("open", &self.open).finish()
    }
}

impl WriteTx {
    /// Begins a write transaction on the writer pool's connection.
    pub(crate) async fn begin(writer: &SqlitePool) -> Result<Self, StoreError> {
        let mut conn = writer.acquire().await.map_err(store_error)?;
        if let Err(error) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
            conn.close_on_drop();
            return Err(store_error(error));
        }
        Ok(Self { conn, open: true })
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    /// Commits; on failure the connection is discarded (the transaction may still be open).
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        self.finish("COMMIT").await
    }

    /// Rolls back a transaction that refused its change on purpose (a business outcome).
    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        self.finish("ROLLBACK").await
    }

    async fn finish(&mut self, statement: &'static str) -> Result<(), StoreError> {
        let result = sqlx::query(statement).execute(&mut *self.conn).await;
        match result {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(error) => Err(store_error(error)),
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            // Closing a SQLite connection rolls back whatever it still has open.
            self.conn.close_on_drop();
        }
    }
}
