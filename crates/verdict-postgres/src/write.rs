//! Writes with the shape the port templates of `verdict-sql` expect: each derefs to the connection
//! its statements run on, and ends with `commit` or `rollback` translated to [`StoreError`].
//! [`WriteTx`] is a transaction; [`OneStatement`] is a write of a single statement, which
//! PostgreSQL runs as its own transaction, so it sends no `BEGIN` and `COMMIT` around it.
//!
//! Both run on a connection lent by the store's [`Kept`] and release it when they end cleanly, so
//! the next call reuses it without sqlx's check on return to the pool (`verdict_sql::kept`).

use std::ops::{Deref, DerefMut};

use sqlx::{PgConnection, Postgres};
use verdict_core::ports::StoreError;
use verdict_sql::kept::{Kept, Lent};

use crate::error::store_error;

/// An open write transaction. Dropped unfinished (a statement failed, or the call was
/// cancelled), it is rolled back from a task before its connection is kept again; without a
/// runtime to run that task on, the connection is closed instead.
#[derive(Debug)]
pub(crate) struct WriteTx(Option<Lent<Postgres>>);

impl WriteTx {
    /// Begins a transaction on a connection of `kept`.
    pub(crate) async fn begin(kept: &Kept<Postgres>) -> Result<Self, StoreError> {
        // The transaction owns the connection before `BEGIN` is sent: a call cancelled while
        // `BEGIN` is in flight is rolled back by the drop handler like any other. Otherwise the
        // connection would go back to the pool inside a transaction, and the single-statement
        // writes that get it next would never commit.
        let mut tx = Self(Some(kept.acquire().await.map_err(store_error)?));
        if let Err(error) = sqlx::raw_sql("BEGIN").execute(&mut *tx).await {
            // A failed `BEGIN` opened nothing: the connection goes back to sqlx's pool, which checks it.
            drop(tx.0.take());
            return Err(store_error(error));
        }
        Ok(tx)
    }

    /// Commits.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        self.end("COMMIT").await
    }

    /// Rolls back a transaction that refused its change on purpose (a business outcome).
    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        self.end("ROLLBACK").await
    }

    /// Ends the transaction with `statement`. Whether or not it succeeds, the transaction is
    /// over (a failed `COMMIT` or `ROLLBACK` means the server ended it or the connection broke),
    /// so the drop handler must not roll back again.
    async fn end(&mut self, statement: &'static str) -> Result<(), StoreError> {
        let Some(mut conn) = self.0.take() else { return Ok(()) };
        sqlx::raw_sql(statement).execute(&mut *conn).await.map_err(store_error)?;
        conn.release();
        Ok(())
    }

    #[expect(
        clippy::expect_used,
        reason = "only `end` and `drop` take the connection, and both consume the transaction"
    )]
    fn conn(&self) -> &Lent<Postgres> {
        self.0.as_ref().expect("an open transaction holds its connection")
    }

    #[expect(
        clippy::expect_used,
        reason = "only `end` and `drop` take the connection, and both consume the transaction"
    )]
    fn conn_mut(&mut self) -> &mut Lent<Postgres> {
        self.0.as_mut().expect("an open transaction holds its connection")
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.0.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // `ROLLBACK` first waits for whatever a cancelled statement left unread.
                runtime.spawn(async move {
                    if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_ok() {
                        conn.release();
                    } else {
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl Deref for WriteTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn()
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn_mut()
    }
}

/// A write of one statement on a lent connection: the statement is its own transaction.
#[derive(Debug)]
pub(crate) struct OneStatement(Lent<Postgres>);

impl OneStatement {
    /// Takes a connection of `kept`.
    pub(crate) async fn begin(kept: &Kept<Postgres>) -> Result<Self, StoreError> {
        kept.acquire().await.map(Self).map_err(store_error)
    }

    /// Releases the connection: the statement committed when it ran. `async` like
    /// [`WriteTx::commit`], which the templates call the same way.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.0.release();
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
