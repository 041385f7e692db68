//! The schema is applied once, an older database is migrated forward, and a database from a
//! newer Verdict is refused rather than silently used.

use std::path::Path;

use sqlx::Connection as _;
use verdict_core::ports::RunStore;
use verdict_sqlite::{SetupError, SqliteStore};

use crate::support::TestDb;

fn migrations_folder() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite"))
}

async fn applied_versions(db: &TestDb) -> Vec<i64> {
    let mut raw = db.raw().await;
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    versions
}

fn all_versions() -> Vec<i64> {
    let mut versions: Vec<i64> = std::fs::read_dir(migrations_folder())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().split('_').next().unwrap().parse().unwrap())
        .collect();
    versions.sort_unstable();
    versions
}

#[tokio::test]
async fn migrating_twice_is_a_no_op_and_a_current_database_reopens() {
    let db = TestDb::new();
    let store = db.open().await;
    let versions = applied_versions(&db).await;
    assert_eq!(versions, all_versions());
    store.migrate().await.expect("second migrate");
    assert_eq!(applied_versions(&db).await, versions);
    store.close().await;

    let reopened = db.open().await;
    assert_eq!(applied_versions(&db).await, versions);
    assert!(reopened.get(verdict_core::domain::RunId::generate()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_older_database_is_migrated_forward() {
    let db = TestDb::new();
    let first_two = tempfile::tempdir().unwrap();
    for version in &all_versions()[..2] {
        let entry = std::fs::read_dir(migrations_folder())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name().to_string_lossy().starts_with(&format!("{version:04}_")))
            .unwrap();
        std::fs::copy(entry.path(), first_two.path().join(entry.file_name())).unwrap();
    }
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let mut raw = db.raw().await;
    sqlx::migrate::Migrator::new(first_two.path()).await.unwrap().run(&mut raw).await.unwrap();
    raw.close().await.unwrap();
    assert_eq!(applied_versions(&db).await, all_versions()[..2]);

    store.migrate().await.expect("migrate forward");
    assert_eq!(applied_versions(&db).await, all_versions());
}

#[tokio::test]
async fn a_database_from_a_newer_verdict_is_refused() {
    let db = TestDb::new();
    let store = db.open().await;
    let mut raw = db.raw().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    assert!(matches!(store.migrate().await, Err(SetupError::Migrate(_))));
}

#[tokio::test]
async fn urls_that_name_no_file_are_refused() {
    for url in ["sqlite::memory:", "postgres://localhost/verdict", "sqlite://x.db?mode=rwc"] {
        assert!(matches!(SqliteStore::connect(url).await, Err(SetupError::InvalidUrl { .. })), "{url}");
    }
}
