//! The harness's own contract: each test database is a migrated clone of its own, and it is gone
//! once its guard is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::{Connection as _, PgConnection};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

async fn exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&verdict_pg_harness::server_url().await).await.unwrap();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_test_gets_a_migrated_database_of_its_own_that_is_dropped_with_its_guard() {
    let first = verdict_pg_harness::test_database(&MIGRATOR).await;
    let second = verdict_pg_harness::test_database(&MIGRATOR).await;
    assert_ne!(first.name(), second.name());
    assert!(first.name().starts_with("verdict_test_") && first.url().ends_with(first.name()));

    let mut a = PgConnection::connect(first.url()).await.unwrap();
    sqlx::query("INSERT INTO probe (id) VALUES (1)").execute(&mut a).await.expect("the clone is migrated");
    let mut b = PgConnection::connect(second.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM probe").fetch_one(&mut b).await.unwrap();
    assert_eq!(rows, 0, "clones share nothing");
    b.close().await.unwrap();

    // Dropping the guard drops the database, even with a connection still open to it.
    let name = first.name().to_owned();
    assert!(exists(&name).await);
    drop(first);
    assert!(!exists(&name).await);
    drop(a);
}
