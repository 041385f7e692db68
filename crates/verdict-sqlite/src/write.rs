//! Write transactions on the single writer connection, committed in groups: one `COMMIT` (one
//! flush of the write-ahead log) for every write that queued while the previous ones ran.
//!
//! A write commit on SQLite in `synchronous = FULL` costs a flush of the log to disk — about a
//! millisecond on the machine in docs/benchmarks.md — and SQLite has one writer, so one flush per
//! write capped concurrent writes near the disk's flush rate. The group writer (an actor task,
//! [`Writer`]) instead opens `BEGIN IMMEDIATE`, and lends the connection to each queued write in
//! turn inside a `SAVEPOINT` of its own:
//!
//! - a write that commits has its savepoint released and waits for the group's `COMMIT`;
//! - a write that rolls back on purpose (a business outcome) is rolled back to its savepoint,
//!   which undoes exactly its own statements. When an earlier member of its group kept a write,
//!   what it read may be that uncommitted write, so it waits for the group's `COMMIT` too and
//!   answers only once that write is durable; otherwise it read only committed rows and answers
//!   at once (a deduplicated start among deduplicated starts does not wait for the others);
//! - a write that fails or is dropped half-way (its request cancelled) is rolled back to its
//!   savepoint and leaves the group; the other members are unaffected.
//!
//! When no write is waiting (or [`MAX_GROUP`] joined), the writer commits and answers every
//! member with the outcome: `commit` returns `Ok` only once its write is on disk, and when the
//! `COMMIT` fails nothing of the group was written and every member gets the error. A savepoint
//! that cannot be released or rolled back (SQLite rolled the whole transaction back after an I/O
//! error or a full disk) fails the group the same way. A failed group's connection is closed
//! instead of returned to the pool: a fresh connection is the only state known to be good, and the
//! pool opens the replacement for the next write, so the store heals by itself as soon as the
//! cause is gone (docs/architecture.md, "Faults").
//!
//! Settling one write's savepoint and opening the next one's (or committing) is one execution of
//! several statements, so a write costs one crossing to sqlx's connection thread besides its own
//! statements. The members of a group run one after the other on one connection, so the
//! single-writer guarantees are unchanged: each write sees every earlier write, audit chains stay
//! linear.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use verdict_core::ports::StoreError;

use crate::errors::store_error;

/// The most writes one `COMMIT` makes durable. A group's first member waits for all the others
/// to run, so the bound keeps its latency near that of 32 small transactions.
const MAX_GROUP: usize = 32;

/// How long the writer keeps its connection out of the pool without a write. Between groups it
/// keeps it instead of returning it: sqlx checks every connection returned to a pool, a crossing
/// to the connection's thread per group.
const KEEP_FOR: Duration = Duration::from_secs(1);

/// What a member's outcome channel carries: `Ok` once the group committed.
type Outcome = oneshot::Sender<Result<(), StoreError>>;

/// A queued write: where its lease goes, or why there is none.
type Request = oneshot::Sender<Result<Lease, StoreError>>;

/// The handle writes queue on; clones share one writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    requests: mpsc::UnboundedSender<Request>,
    acquire_timeout: Duration,
}

impl Writer {
    /// Starts the writer task over the single-connection `pool`. The task ends when the last
    /// handle is dropped.
    pub(crate) fn spawn(pool: SqlitePool, acquire_timeout: Duration) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
        Self { requests, acquire_timeout }
    }
}

/// The connection lent to one write, and where it goes back. Dropped anywhere before its
/// write ends — in a queue whose request was cancelled, in a request that timed out as the
/// connection arrived, in a write that failed or was cancelled half-way — it goes back as
/// abandoned, so the writer rolls its savepoint back and the group goes on.
struct Lease {
    conn: Option<PoolConnection<Sqlite>>,
    back: Option<oneshot::Sender<Returned>>,
}

impl Lease {
    /// Sends the connection back; `false` when it was already sent or the writer is gone.
    fn end(&mut self, end: End) -> bool {
        match (self.conn.take(), self.back.take()) {
            (Some(conn), Some(back)) => back.send(Returned { conn, end }).is_ok(),
            _ => false,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // When the writer is gone, the connection is dropped with the lease: nothing left to do.
        self.end(End::Abandon);
    }
}

/// A lent connection coming back, and how its write ended.
struct Returned {
    conn: PoolConnection<Sqlite>,
    end: End,
}

enum End {
    Commit(Outcome),
    Rollback(Outcome),
    /// Dropped without commit or rollback: a failed statement, or a cancelled request.
    Abandon,
}

/// An open write: the writer's connection inside this write's savepoint.
pub(crate) struct WriteTx(Lease);

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").field("open", &self.0.conn.is_some()).finish()
    }
}

impl WriteTx {
    /// Queues for the writer and waits, at most the store's acquire timeout, for its turn.
    pub(crate) async fn begin(writer: &Writer) -> Result<Self, StoreError> {
        let (lease, lent) = oneshot::channel();
        writer.requests.send(lease).map_err(|_| closed())?;
        match tokio::time::timeout(writer.acquire_timeout, lent).await {
            Ok(Ok(lease)) => lease.map(Self),
            // The writer answers every request it takes: it stopped (its runtime ended).
            Ok(Err(_)) => Err(closed()),
            Err(_) => Err(StoreError::Unavailable(anyhow::anyhow!(
                "no write turn within {:?}: the writer is busy",
                writer.acquire_timeout
            ))),
        }
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        self
    }

    /// Keeps this write and waits until its group is committed.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.finish(End::Commit).await
    }

    /// Undoes this write (a business outcome). When an earlier member of its group kept a write,
    /// waits until the group is committed, since what this one read may be that write.
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        self.finish(End::Rollback).await
    }

    async fn finish(mut self, end: fn(Outcome) -> End) -> Result<(), StoreError> {
        let (outcome, answer) = oneshot::channel();
        if !self.0.end(end(outcome)) {
            return Err(closed());
        }
        answer.await.map_err(|_| closed())?
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    #[expect(clippy::expect_used, reason = "the connection is lent from begin until commit or rollback consume self")]
    fn deref(&self) -> &SqliteConnection {
        self.0.conn.as_ref().expect("an open write holds its connection")
    }
}

impl DerefMut for WriteTx {
    #[expect(clippy::expect_used, reason = "the connection is lent from begin until commit or rollback consume self")]
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.0.conn.as_mut().expect("an open write holds its connection")
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the store is closed"))
}

/// The same failure for every member of a failed group.
fn for_each_member(error: &StoreError) -> StoreError {
    let message = anyhow::anyhow!("the group commit of this write failed: {error:#}");
    match error {
        StoreError::Unavailable(_) => StoreError::Unavailable(message),
        StoreError::Unexpected(_) => StoreError::Unexpected(message),
    }
}

async fn execute(conn: &mut SqliteConnection, statements: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(statements).execute(conn).await.map(drop).map_err(store_error)
}

/// The writer task: one group per iteration, for as long as a handle exists.
async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Request>) {
    // A write taken from the queue for a group that then failed opens the next group.
    let mut carried = None;
    // The connection of the last group that committed, kept for the next group.
    let mut kept: Option<PoolConnection<Sqlite>> = None;
    'groups: loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match next_group(&pool, &mut queue, &mut kept).await {
                Some(first) => first,
                None => return,
            },
        };
        if first.is_closed() {
            continue;
        }
        let taken = match kept.take() {
            Some(conn) => Ok(conn),
            None => pool.acquire().await,
        };
        let mut conn = match taken {
            Ok(conn) => conn,
            Err(error) => {
                let _ = first.send(Err(store_error(error)));
                continue;
            }
        };
        if let Err(error) = execute(&mut conn, "BEGIN IMMEDIATE; SAVEPOINT member").await {
            conn.close_on_drop();
            let _ = first.send(Err(error));
            continue;
        }
        let (mut request, mut lent, mut members) = (first, 0, Vec::new());
        // Whether a member of this group kept a write that is not committed yet.
        let mut uncommitted = false;
        loop {
            let Some(Returned { conn: back, end }) = lend(conn, request).await else {
                // Only an aborting process drops a lease without sending it back; the pool
                // discards the connection, whose transaction is still open, at its next `BEGIN`.
                let lost = StoreError::Unexpected(anyhow::anyhow!("a write lost the writer's connection"));
                answer(members, &Err(lost));
                continue 'groups;
            };
            conn = back;
            lent += 1;
            let undo = match end {
                End::Commit(outcome) => {
                    uncommitted = true;
                    members.push(outcome);
                    false
                }
                // It read uncommitted writes of earlier members: it answers with the group.
                End::Rollback(outcome) if uncommitted => {
                    members.push(outcome);
                    true
                }
                // Every earlier member was rolled back, so it read only committed rows and
                // wrote nothing that stays: it answers now instead of waiting for the group.
                End::Rollback(outcome) => {
                    let _ = outcome.send(Ok(()));
                    true
                }
                End::Abandon => true,
            };
            let next = if lent < MAX_GROUP { queue.try_recv().ok() } else { None };
            // Settling this write's savepoint and opening the next one's, or committing, is one
            // execution: one crossing to the connection's thread per write.
            let statements = match (undo, next.is_some()) {
                (false, true) => "RELEASE member; SAVEPOINT member",
                (false, false) => "COMMIT",
                (true, true) => "ROLLBACK TO member; RELEASE member; SAVEPOINT member",
                (true, false) => "ROLLBACK TO member; RELEASE member; COMMIT",
            };
            let settled = execute(&mut conn, statements).await;
            match (settled, next) {
                (Ok(()), Some(next)) => request = next,
                (settled, next) => {
                    if let Err(error) = &settled {
                        tracing::warn!(error = %error, "a write group failed and was rolled back");
                        conn.close_on_drop();
                    } else {
                        kept = Some(conn);
                    }
                    answer(members, &settled);
                    carried = next;
                    continue 'groups;
                }
            }
        }
    }
}

/// Waits for the first write of the next group; `None` once every handle is gone. A kept
/// connection goes back to the pool when the pool closes (its close waits for it) or after
/// [`KEEP_FOR`] without a write (so that migrations, which take it from the pool, get it).
async fn next_group(
    pool: &SqlitePool,
    queue: &mut mpsc::UnboundedReceiver<Request>,
    kept: &mut Option<PoolConnection<Sqlite>>,
) -> Option<Request> {
    if let Some(conn) = kept.take() {
        tokio::select! {
            next = tokio::time::timeout(KEEP_FOR, queue.recv()) => {
                if let Ok(next) = next {
                    *kept = Some(conn);
                    return next;
                }
            }
            () = pool.close_event() => {}
        }
    }
    queue.recv().await
}

fn answer(members: Vec<Outcome>, result: &Result<(), StoreError>) {
    for member in members {
        let _ = member.send(result.as_ref().copied().map_err(for_each_member));
    }
}

/// Lends the connection, inside its savepoint, to one queued write, and takes it back with how
/// the write ended; `None` when the connection was lost.
async fn lend(conn: PoolConnection<Sqlite>, request: Request) -> Option<Returned> {
    let (back, returned) = oneshot::channel();
    // A request cancelled while it queued drops the lease, which comes back abandoned.
    let _ = request.send(Ok(Lease { conn: Some(conn), back: Some(back) }));
    returned.await.ok()
}
