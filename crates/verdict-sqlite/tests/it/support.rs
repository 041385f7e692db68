//! A fresh database file per test, in a temporary folder that is removed afterwards.

use std::path::PathBuf;

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tempfile::TempDir;
use verdict_sqlite::SqliteStore;

/// A temporary folder holding one database file.
pub struct TestDb {
    /// Removed when dropped.
    pub dir: TempDir,
    /// The database file.
    pub path: PathBuf,
}

impl TestDb {
    /// A new folder; the file does not exist yet.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("data").join("verdict.db");
        Self { dir, path }
    }

    /// The `sqlite://` URL of the file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// Opens and migrates the store.
    pub async fn open(&self) -> SqliteStore {
        let store = SqliteStore::connect(&self.url()).await.expect("open the database");
        store.migrate().await.expect("migrate the database");
        store
    }

    /// A raw connection to the file, bypassing the adapter, with foreign keys on.
    pub async fn raw(&self) -> SqliteConnection {
        let options = SqliteConnectOptions::new().filename(&self.path).foreign_keys(true);
        SqliteConnection::connect_with(&options).await.expect("raw connection")
    }
}
