//! Waking idle workers without busy polling: the schema announces every queued run on the
//! [`RUNS_CHANNEL`] channel (and a released lease too), and a [`RunListener`] waits for those
//! notifications on a connection of its own.

use std::str::FromStr;

use sqlx::postgres::{PgListener, PgPoolOptions};
use verdict_core::domain::RunId;
use verdict_core::ports::StoreError;

use crate::PgStore;
use crate::error::{store_error, unexpected};

/// The `LISTEN` channel of runs that became claimable; the payload is the run id.
pub const RUNS_CHANNEL: &str = "verdict_runs";

/// Why a listener woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSignal {
    /// This run became claimable (it was queued, or its lease was handed back).
    Claimable(RunId),
    /// The connection was lost and re-established: notifications sent meanwhile are gone, so the
    /// caller should look at the queue.
    MaybeMissed,
}

/// A subscription to [`RUNS_CHANNEL`] on a dedicated connection (it does not take one from the
/// store's pool). Notifications are delivered when the inserting transaction commits.
#[derive(Debug)]
pub struct RunListener {
    listener: PgListener,
}

impl RunListener {
    /// Waits for the next signal. A lost connection is re-established (and listened on again)
    /// before [`RunSignal::MaybeMissed`] is returned, so no notification after it is lost.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the connection cannot be re-established within the
    /// store's acquire timeout; calling `recv` again tries again.
    pub async fn recv(&mut self) -> Result<RunSignal, StoreError> {
        // A session the server ends (restart, termination) may first report why, as an error;
        // the next read then finds the socket closed and reconnects.
        for _ in 0..3 {
            match self.listener.try_recv().await {
                Ok(Some(notification)) => {
                    return RunId::from_str(notification.payload()).map(RunSignal::Claimable).map_err(|err| {
                        unexpected(std::io::Error::other(format!("bad {RUNS_CHANNEL} payload: {err}")))
                    });
                }
                Ok(None) => return Ok(RunSignal::MaybeMissed),
                Err(sqlx::Error::Database(db)) if db.code().is_some_and(|code| code.starts_with("57P")) => {}
                Err(err) => return Err(store_error(err)),
            }
        }
        Ok(RunSignal::MaybeMissed)
    }
}

impl PgStore {
    /// Subscribes to runs becoming claimable. Workers wait on [`RunListener::recv`] between claims
    /// and still poll slowly, for expired leases of crashed workers and for missed signals.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    pub async fn listen_for_new_runs(&self) -> Result<RunListener, StoreError> {
        // A one-connection pool of its own, with the store's connect options and acquire timeout,
        // so the listener neither starves the store's pool nor waits forever to reconnect.
        let options = self.pool().options();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.get_acquire_timeout())
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(self.pool().connect_options().as_ref().clone());
        let mut listener = PgListener::connect_with(&pool).await.map_err(store_error)?;
        listener.ignore_pool_close_event(true);
        listener.listen(RUNS_CHANNEL).await.map_err(store_error)?;
        Ok(RunListener { listener })
    }
}
