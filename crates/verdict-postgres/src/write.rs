//! A write transaction with the shape the port templates of `verdict-sql` expect: it derefs to the
//! connection its statements run on, and ends with `commit` or `rollback` translated to
//! [`StoreError`]. Dropped unfinished, sqlx rolls it back when the connection returns to the pool.

use std::ops::{Deref, DerefMut};

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
