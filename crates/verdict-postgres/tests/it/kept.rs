//! The connections the store keeps between calls (`verdict_sql::kept`): a write cancelled inside
//! its transaction is rolled back before its connection serves another call.

use std::time::Duration;

use verdict_core::conformance::{blocked_start, identity};
use verdict_core::ports::{RunStore, StartOutcome};

use crate::support::store;

/// How long the rollback of a cancelled write may take before the test gives up (not a timing
/// assertion: it only bounds a wait that succeeds as soon as the rollback ran).
const PATIENCE: Duration = Duration::from_secs(30);

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_inside_its_transaction_leaves_no_transaction_open() {
    let (store, _db) = store().await;
    let id = identity(1, 10, None);
    // A transaction of our own holds the identity's lock, so the start waits inside its own
    // transaction, on its first statement.
    let mut holder = store.pool().begin().await.unwrap();
    sqlx::query(verdict_postgres::queries::LOCK_IDENTITY).bind(id.hash().as_str()).execute(&mut *holder).await.unwrap();
    let start = {
        let store = store.clone();
        let blocked = blocked_start(&id, "No connection.", None);
        tokio::spawn(async move { store.start_blocked(blocked).await })
    };
    let waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while count(store.pool(), waiting).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the start never waited for the lock");
        tokio::task::yield_now().await;
    }
    start.abort();
    assert!(start.await.unwrap_err().is_cancelled());
    holder.rollback().await.unwrap();

    // The cancelled start's transaction ends: no session of the database stays in a transaction.
    let open = "SELECT count(*) FROM pg_stat_activity \
                WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
    while count(store.pool(), open).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "a cancelled write left its transaction open");
        tokio::task::yield_now().await;
    }
    // Every later call runs outside it, whichever connection it gets: with the cancelled
    // transaction still open on a kept connection, a start on that connection would see its own
    // lock and the others would wait for it forever.
    for attempt in 0..20 {
        let blocked = blocked_start(&id, "No connection.", None);
        let outcome = tokio::time::timeout(PATIENCE, store.start_blocked(blocked)).await.expect("no lock is left held");
        match outcome.unwrap() {
            StartOutcome::Created(_) => assert_eq!(attempt, 0, "only the first start writes a stub"),
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
    store.start_blocked(blocked_start(&identity(1, 10, None), "No connection.", None)).await.unwrap();
    // Polled once, a start takes the kept connection and sends `BEGIN`; the answer has usually
    // not arrived yet, so dropping the start cancels it there. A busy machine may let every
    // answer arrive within that one poll and the start finish: then another tenant's is tried.
    let mut cancelled = false;
    for tenant in 11..111 {
        let mut start =
            Box::pin(store.start_blocked(blocked_start(&identity(1, tenant, None), "No connection.", None)));
        let first = std::future::poll_fn(|context| std::task::Poll::Ready(start.as_mut().poll(context))).await;
        if first.is_pending() {
            drop(start);
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
