//! A full disk heals by itself: writes fail as unavailable while there is no room, readiness says
//! so, and the first write after room is made commits — on the same store, without a restart.
//! The database is size-limited with `max_page_count` (a full disk as SQLite sees it).

use sqlx::Connection as _;
use verdict_core::conformance::{connection, connection_event};
use verdict_core::domain::AuditAction;
use verdict_core::ports::{ProviderConnectionStore, StoreError};
use verdict_sqlite::{SqliteConfig, SqliteStore};

use crate::support::TestDb;

/// Pages of 4 KiB a filler table takes, so that deleting it makes room for many writes.
const FILLER_PAGES: i64 = 64;

#[tokio::test]
async fn a_full_disk_answers_unavailable_and_the_next_write_after_room_is_made_commits() {
    let db = TestDb::new();
    db.open().await.close().await;
    let mut raw = db.raw().await;
    sqlx::query("CREATE TABLE filler (data BLOB NOT NULL)").execute(&mut raw).await.unwrap();
    for _ in 0..FILLER_PAGES {
        sqlx::query("INSERT INTO filler (data) VALUES (zeroblob(4000))").execute(&mut raw).await.unwrap();
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut raw).await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut raw).await.unwrap();
    // Room for the probe and a few writes only, in the file as it is now.
    let config = SqliteConfig { max_pages: Some(u32::try_from(pages + 16).unwrap()), ..SqliteConfig::new(db.url()) };
    let store = SqliteStore::connect_with(&config).await.unwrap();
    store.ping().await.expect("ready while there is room");

    let mut failures = 0;
    let mut written = 0;
    for _ in 0..200 {
        let conn = connection(1, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        match store.create(conn, event).await {
            Ok(_) => written += 1,
            Err(StoreError::Unavailable(_)) => {
                failures += 1;
                break;
            }
            Err(other) => panic!("a full disk is unavailability, not {other:?}"),
        }
    }
    assert_eq!(failures, 1, "the disk filled up after {written} writes");
    let conn = connection(1, 10);
    let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
    assert!(matches!(store.create(conn, event).await, Err(StoreError::Unavailable(_))), "still full");
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))), "not ready while writes cannot commit");

    // Room is made (here by another connection, as an operator would free disk space).
    sqlx::query("DELETE FROM filler").execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();

    store.ping().await.expect("ready again, without a restart");
    for _ in 0..3 {
        let conn = connection(1, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        store.create(conn, event).await.expect("writes commit again on the same store");
    }
    let chain = verdict_core::services::verify_chain(&store, verdict_core::conformance::ws(1)).await.unwrap();
    assert!(chain.valid, "{chain:?}");
    assert_eq!(chain.events_checked, u64::try_from(written + 3).unwrap(), "no failed write left an event behind");
}
