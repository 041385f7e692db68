//! Connections kept out of sqlx's pool between calls (docs/architecture.md, "Storage and schema").
//!
//! sqlx checks every connection it takes back into a pool: it pings it (a round trip to
//! PostgreSQL, a hand-off to the connection's thread on SQLite) from a task it spawns for the
//! return. The check is there for connections a call abandoned half-way, and it cannot be turned
//! off. [`Kept`] lends connections of a pool and takes back only those whose call finished
//! cleanly ([`Lent::release`]): those skip the check, because nothing of theirs is left
//! half-done. A connection dropped without `release` — its call failed, returned early or was
//! cancelled — goes back to sqlx's pool, which checks it as before.
//!
//! The kept connections stay checked out of the pool, so its limits still bound them:
//!
//! - Calls queue for a connection on a fair semaphore with one permit per connection the pool may
//!   open, not in the pool itself: a call waiting in the pool would never see a connection
//!   released to the cache.
//! - The cache never holds every connection of the pool: the last one released while all the
//!   others are kept goes back to the pool, so callers of the pool itself (migrations, tools,
//!   tests) still get connections.
//! - A kept connection idle for `fresh_for` goes back to the pool too, where idle connections are
//!   pinged before use and closed when idle long: a connection that died while idle (a database
//!   restart) is replaced exactly as without this cache.
//! - Before the pool closes, its owner calls [`Kept::close`]: sqlx's close waits for every
//!   checked-out connection.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool with the connections its finished calls released kept at hand. Clones share them.
#[derive(Debug)]
pub struct Kept<DB: Database> {
    pool: Pool<DB>,
    idle: Arc<Idle<DB>>,
    /// One permit per connection the pool may open: a lease holds one.
    permits: Arc<Semaphore>,
    /// The most connections kept at once: one fewer than the pool may open.
    most_kept: usize,
    fresh_for: Duration,
}

impl<DB: Database> Clone for Kept<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            idle: Arc::clone(&self.idle),
            permits: Arc::clone(&self.permits),
            most_kept: self.most_kept,
            fresh_for: self.fresh_for,
        }
    }
}

/// Released connections, the most recently released last, each with the instant of its release.
#[derive(Debug)]
struct Idle<DB: Database>(Mutex<VecDeque<(PoolConnection<DB>, Instant)>>);

impl<DB: Database> Idle<DB> {
    fn lock(&self) -> MutexGuard<'_, VecDeque<(PoolConnection<DB>, Instant)>> {
        // The lock guards a plain queue no code panics while holding: a poisoned lock still holds
        // a consistent queue.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<DB: Database> Drop for Idle<DB> {
    fn drop(&mut self) {
        let idle = std::mem::take(self.0.get_mut().unwrap_or_else(PoisonError::into_inner));
        give_back(idle.into_iter().map(|(conn, _)| conn).collect());
    }
}

/// Hands connections back to their pool. sqlx returns a dropped connection from a task it
/// spawns; where there is no runtime to spawn on (a store dropped after its runtime), the
/// connections are closed directly instead.
fn give_back<DB: Database>(connections: Vec<PoolConnection<DB>>) {
    if tokio::runtime::Handle::try_current().is_ok() {
        drop(connections);
    } else {
        for conn in connections {
            drop(conn.leak());
        }
    }
}

impl<DB: Database> Kept<DB> {
    /// Keeps the connections of `pool` that were released less than `fresh_for` ago.
    #[must_use]
    pub fn new(pool: Pool<DB>, fresh_for: Duration) -> Self {
        let max = usize::try_from(pool.options().get_max_connections()).unwrap_or(Semaphore::MAX_PERMITS);
        let max = max.min(Semaphore::MAX_PERMITS);
        let idle = Arc::new(Idle(Mutex::new(VecDeque::new())));
        Self { pool, idle, permits: Arc::new(Semaphore::new(max)), most_kept: max.saturating_sub(1), fresh_for }
    }

    /// The pool the connections come from.
    #[must_use]
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The most recently released connection when it is fresh, else one of the pool's.
    ///
    /// # Errors
    /// [`sqlx::Error::PoolTimedOut`] when no connection is free within the pool's acquire
    /// timeout, [`sqlx::Error::PoolClosed`] once it is closed, and the pool's own errors (a
    /// connection that cannot be opened).
    pub async fn acquire(&self) -> Result<Lent<DB>, sqlx::Error> {
        let timeout = self.pool.options().get_acquire_timeout();
        let permit = match tokio::time::timeout(timeout, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let popped = self.idle.lock().pop_back();
        match popped {
            Some((conn, released)) if released.elapsed() < self.fresh_for && !self.pool.is_closed() => {
                return Ok(self.lent(conn, permit));
            }
            // The most recent release is stale, so every other one is: all go back.
            Some((conn, _)) => {
                let mut stale: Vec<_> = self.idle.lock().drain(..).map(|(conn, _)| conn).collect();
                stale.push(conn);
                give_back(stale);
            }
            None => {}
        }
        self.pool.acquire().await.map(|conn| self.lent(conn, permit))
    }

    /// Runs `reads` on a lent connection and releases it when they succeed; on an error the
    /// connection goes back to the pool, which checks it. `acquire_error` translates the pool's
    /// error when no connection can be lent.
    ///
    /// # Errors
    /// `reads`' error, or the translated error of [`Kept::acquire`].
    pub async fn reading<T, E>(
        &self,
        acquire_error: impl FnOnce(sqlx::Error) -> E,
        reads: impl AsyncFnOnce(&mut DB::Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.acquire().await.map_err(acquire_error)?;
        let read = reads(&mut conn).await;
        if read.is_ok() {
            conn.release();
        }
        read
    }

    fn lent(&self, conn: PoolConnection<DB>, permit: OwnedSemaphorePermit) -> Lent<DB> {
        Lent { conn: Some(conn), home: self.clone(), _permit: permit }
    }

    /// Gives every kept connection back to the pool. Call it before closing the pool: the pool's
    /// close waits for them. Connections lent out and released afterwards go back to the pool too
    /// once it is closed.
    pub fn close(&self) {
        self.permits.close();
        let kept: Vec<_> = self.idle.lock().drain(..).map(|(conn, _)| conn).collect();
        give_back(kept);
    }

    fn keep(&self, conn: PoolConnection<DB>) {
        if self.pool.is_closed() {
            give_back(vec![conn]);
            return;
        }
        let now = Instant::now();
        let stale = {
            let mut idle = self.idle.lock();
            if idle.len() >= self.most_kept {
                drop(idle);
                give_back(vec![conn]);
                return;
            }
            idle.push_back((conn, now));
            let fresh = idle.iter().position(|(_, released)| now.duration_since(*released) < self.fresh_for);
            idle.drain(..fresh.unwrap_or(0)).map(|(conn, _)| conn).collect::<Vec<_>>()
        };
        give_back(stale);
    }
}

/// A connection lent by [`Kept`]. It derefs to the driver's connection.
#[derive(Debug)]
pub struct Lent<DB: Database> {
    conn: Option<PoolConnection<DB>>,
    home: Kept<DB>,
    /// Dropped after the connection is kept or given back, so that the next caller finds it.
    _permit: OwnedSemaphorePermit,
}

impl<DB: Database> Lent<DB> {
    /// Gives the connection back to be kept: call it only when every statement run on it has
    /// finished (its rows read, any transaction ended). A connection dropped instead goes back
    /// to sqlx's pool, which checks it.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.keep(conn);
        }
    }

    /// Closes the connection instead of reusing it when it is dropped: for a connection left in
    /// a state a check would not undo (an open transaction).
    pub fn close_on_drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }

    #[expect(clippy::expect_used, reason = "only `release` and `drop` take the connection, and both consume the lease")]
    fn conn(&self) -> &PoolConnection<DB> {
        self.conn.as_ref().expect("a lease holds its connection until it ends")
    }

    #[expect(clippy::expect_used, reason = "only `release` and `drop` take the connection, and both consume the lease")]
    fn conn_mut(&mut self) -> &mut PoolConnection<DB> {
        self.conn.as_mut().expect("a lease holds its connection until it ends")
    }
}

impl<DB: Database> Deref for Lent<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.conn()
    }
}

impl<DB: Database> DerefMut for Lent<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn_mut()
    }
}

impl<DB: Database> Drop for Lent<DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            give_back(vec![conn]);
        }
    }
}
