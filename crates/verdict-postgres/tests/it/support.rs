//! Per-test stores on a database of their own.

use std::time::Duration;

use verdict_core::conformance::Stores;
use verdict_pg_harness::TestDatabase;
use verdict_postgres::{MIGRATOR, PgConfig, PgStore};

/// The pool every test uses: at least 20 connections, so that 200 concurrent starts really
/// contend inside the database rather than in the pool.
pub fn config() -> PgConfig {
    PgConfig { max_connections: 20, acquire_timeout: Duration::from_secs(30), ..PgConfig::default() }
}

/// A migrated database of this test and a store on it.
pub async fn store() -> (PgStore, TestDatabase) {
    let database = verdict_pg_harness::test_database(&MIGRATOR).await;
    let store = PgStore::connect(database.url(), config()).await.expect("connect to the test database");
    (store, database)
}

/// Fresh, empty stores for one conformance test; the database is dropped with them.
pub async fn fresh() -> Stores {
    let (store, database) = store().await;
    Stores::from_single(store, Some(Box::new(database)))
}

/// A transaction of the test's own that holds `workspace`'s audit chain head (as
/// `LOCK_CHAIN_HEAD` does), so every write of the workspace waits at the head's lock until it
/// ends.
pub async fn hold_chain_head(store: &PgStore, workspace: i64) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut holder = store.pool().begin().await.unwrap();
    sqlx::query(verdict_postgres::queries::LOCK_CHAIN_HEAD)
        .bind(workspace)
        .bind(verdict_core::domain::GENESIS_HASH)
        .execute(&mut *holder)
        .await
        .unwrap();
    holder
}

/// Waits until `count` sessions of this test's database wait for a lock (other tests' databases
/// on the same server have waits of their own); fails with `what` after 30 s (not a timing
/// assertion: the wait ends as soon as the database shows the state).
pub async fn until_waiting(store: &PgStore, count: i64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting >= count {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {waiting} sessions wait for a lock, not {count}");
        tokio::task::yield_now().await;
    }
}
