//! The storage conformance suite of verdict-core against a file-backed SQLite database.

use verdict_core::conformance::Stores;

use crate::support::TestDb;

/// A fresh, migrated database file; its folder lives as long as the stores.
async fn fresh() -> Stores {
    let db = TestDb::new();
    let store = db.open().await;
    Stores::from_single(store, Some(Box::new(db.dir)))
}

verdict_core::conformance_tests!(fresh);
