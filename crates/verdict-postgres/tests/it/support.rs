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
