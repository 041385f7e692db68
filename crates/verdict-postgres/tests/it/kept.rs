//! The connections the store keeps between calls (`verdict_sql::kept`): a write cancelled inside
//! its transaction is rolled back before its connection serves another call.

use std::time::Duration;

use verdict_core::conformance::{identity, new_run, now, started};
use verdict_core::domain::{ProviderConnectionId, RunIdentity};
use verdict_core::ports::{RunStore, StartOutcome};
use verdict_postgres::PgStore;

use crate::support::{hold_chain_head, store, until_waiting};

/// How long the rollback of a cancelled write may take before the test gives up (not a timing
/// assertion: it only bounds a wait that succeeds as soon as the rollback ran).
const PATIENCE: Duration = Duration::from_secs(30);

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A start with a connection: a write transaction of the caller's own, cancelled with it
/// (blocked starts run in a task of the store's, `group.rs`, which a caller cannot cancel).
async fn start(store: &PgStore, identity: &RunIdentity) -> StartOutcome {
    let new = new_run(identity, now());
    let event = started(&new);
    store.start_or_deduplicate(new, event).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_inside_its_transaction_leaves_no_transaction_open() {
    let (store, _db) = store().await;
    let id = identity(1, 10, Some(ProviderConnectionId::generate()));
    // A transaction of our own holds the workspace's chain head, so the start waits inside its
    // own transaction, on the insert that locks the head too.
    let holder = hold_chain_head(&store, 1).await;
    let cancelled = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move { start(&store, &id).await })
    };
    until_waiting(&store, 1, "the start never waited for the lock").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    cancelled.abort();
    assert!(cancelled.await.unwrap_err().is_cancelled());
    holder.rollback().await.unwrap();

    // The cancelled start's transaction ends: no session of the database stays in a transaction.
    let open = "SELECT count(*) FROM pg_stat_activity \
                WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
    while count(store.pool(), open).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "a cancelled write left its transaction open");
        tokio::task::yield_now().await;
    }
    // Every later call runs outside it, whichever connection it gets: with the cancelled
    // transaction still open on a kept connection, a start on that connection would write into
    // it and never commit, and the others would wait for its lock of the head forever.
    for attempt in 0..20 {
        let outcome = tokio::time::timeout(PATIENCE, start(&store, &id)).await.expect("no lock is left held");
        match outcome {
            StartOutcome::Created(_) => assert_eq!(attempt, 0, "only the first start queues a run"),
            StartOutcome::Deduplicated(_) => assert!(attempt > 0),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_while_it_begins_leaves_no_transaction_open() {
    let (store, db) = store().await;
    // Counted from a pool of its own: a connection left inside a transaction cannot count itself.
    let observer = sqlx::PgPool::connect(db.url()).await.unwrap();
    // A first start leaves a kept connection idle, so the next one takes it at once.
    start(&store, &identity(1, 10, Some(ProviderConnectionId::generate()))).await;
    // Polled once, a start takes the kept connection and sends `BEGIN`; the answer has usually
    // not arrived yet, so dropping the start cancels it there. A busy machine may let every
    // answer arrive within that one poll and the start finish: then another tenant's is tried.
    let mut cancelled = false;
    for tenant in 11..111 {
        let id = identity(1, tenant, Some(ProviderConnectionId::generate()));
        let mut pending = Box::pin(start(&store, &id));
        let first = std::future::poll_fn(|context| std::task::Poll::Ready(pending.as_mut().poll(context))).await;
        if first.is_pending() {
            drop(pending);
            cancelled = true;
            break;
        }
    }
    assert!(cancelled, "a hundred starts each finished in one poll: none was cancelled");
    // Left inside the transaction `BEGIN` opened, the connection would serve the next calls
    // there: a single-statement write would never commit.
    let open = "SELECT count(*) FROM pg_stat_activity \
                WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while count(&observer, open).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "a start cancelled in its BEGIN left a transaction open");
        tokio::task::yield_now().await;
    }
}
