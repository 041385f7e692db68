//! Writes with the shape the port templates of `verdict-sql` expect: each derefs to the connection
//! its statements run on, and ends with `commit` or `rollback` translated to [`StoreError`].
//! [`WriteTx`] is a transaction (dropped unfinished, sqlx rolls it back when the connection returns
//! to the pool); [`OneStatement`] is a write of a single statement, which PostgreSQL runs as its
//! own transaction, so it sends no `BEGIN` and `COMMIT` around it.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use verdict_core::ports::StoreError;

use crate::error::store_error;

/// An open write transaction.
#[derive(Debug)]
pub(crate) struct WriteTx(Transaction<'static, Postgres>);

impl WriteTx {
    /// Begins a transaction on a connection of `pool`.
    pub(crate) async fn begin(pool: &PgPool) -> Result<Self, StoreError> {
        pool.begin().await.map(Self).map_err(store_error)
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.map_err(store_error)
    }

    /// Rolls back a transaction that refused its change on purpose (a business outcome).
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        self.0.rollback().await.map_err(store_error)
    }
}

impl Deref for WriteTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// A write of one statement on a pooled connection: the statement is its own transaction.
#[derive(Debug)]
pub(crate) struct OneStatement(PoolConnection<Postgres>);

impl OneStatement {
    /// Takes a connection of `pool`.
    pub(crate) async fn begin(pool: &PgPool) -> Result<Self, StoreError> {
        pool.acquire().await.map(Self).map_err(store_error)
    }

    /// Returns the connection: the statement committed when it ran. `async` like
    /// [`WriteTx::commit`], which the templates call the same way.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Deref for OneStatement {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for OneStatement {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}
