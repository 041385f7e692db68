//! Verdict's embedded storage adapter: every storage port of `verdict-core` on one SQLite file,
//! via sqlx. The zero-setup default: `sqlite://verdict-data/verdict.db` is created on first start.
//!
//! Concurrency design: the database runs in WAL mode, so readers never block the writer nor the
//! writer readers. Reads use a pool of several connections; every write runs on one dedicated
//! connection inside `BEGIN IMMEDIATE`, so it holds SQLite's write lock from its first
//! statement. Writes of this process queue fairly for that connection instead of spinning in
//! SQLite's busy handler, and commit in groups, one flush of the log for all the writes that
//! queued meanwhile, each in a savepoint of its own (`write.rs`). Writers of other processes
//! sharing the file wait for the lock within the busy timeout. No write transaction ever has to
//! upgrade a read lock, so no write fails with `SQLITE_BUSY` (unless another process holds the
//! lock past the busy timeout, which surfaces as `StoreError::Unavailable`), and every audit
//! chain stays linear.

mod acks;
mod audit;
mod connections;
mod continuous;
mod errors;
mod fleet;
mod queue;
mod rows;
mod runs;
mod write;

use std::path::Path;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use verdict_core::ports::StoreError;
use verdict_sql::kept::Kept;

pub use errors::SetupError;
/// The fleet status statement, public so that tests can read its query plan.
pub use fleet::FLEET_STATUS;

use errors::store_error;

/// The schema, embedded at build time from `migrations/sqlite`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The free space below which the store reports itself not ready: room for a few typical writes
/// (a connection with its indexes and audit event appends about eight 4 KiB pages to the log).
pub const MIN_FREE_BYTES: u64 = 64 * 1024;

/// The bytes an unprivileged process may still write on the file system holding `folder`.
fn free_bytes(folder: &Path) -> Result<u64, StoreError> {
    let stats = rustix::fs::statvfs(folder).map_err(|e| {
        StoreError::Unavailable(anyhow::anyhow!("cannot read the free space of the database's disk: {e}"))
    })?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// How hard a commit tries to survive a power loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is flushed to disk before it returns (`synchronous = FULL`): an
    /// acknowledged write and its audit event survive a power loss.
    #[default]
    Full,
    /// Commits are flushed at checkpoints only (`synchronous = NORMAL`): they survive a crash of
    /// the process, but a power loss may undo the last ones. The database never corrupts.
    Normal,
}

/// How long a reader connection a finished read released is kept out of the pool for the next
/// read. Past it the connection goes back to the pool, whose idle timeout closes it when reads
/// stop.
const KEEP_READERS_FOR: Duration = Duration::from_secs(1);

/// Settings of the SQLite store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// `sqlite://path/to/file.db` (relative paths are relative to the working directory).
    pub url: String,
    /// Connections used for reads.
    pub max_readers: u32,
    /// How long a write waits for another process holding the write lock.
    pub busy_timeout: Duration,
    /// How long a call waits for a connection before it fails as unavailable.
    pub acquire_timeout: Duration,
    /// Commit durability.
    pub durability: Durability,
    /// A cap on the file's size, in pages (SQLite's `max_page_count`): writes that would grow it
    /// further fail exactly as on a full disk, and heal the same way. `None` leaves SQLite's own
    /// limit.
    pub max_pages: Option<u32>,
}

impl SqliteConfig {
    /// Defaults for `url`: 4 readers, 5 s busy timeout, 5 s acquire timeout, full durability, no
    /// size cap.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_readers: 4,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            durability: Durability::Full,
            max_pages: None,
        }
    }
}

/// Every storage port of Verdict on one SQLite database file. Clones share the same pools.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The pool of the one write connection: migrations run on it, and the group writer lends
    /// it to each write transaction in turn.
    write_pool: SqlitePool,
    /// Where write transactions queue (`write.rs`).
    writer: write::Writer,
    /// Several connections for reads, which WAL lets run beside the writer; a read that finished
    /// keeps its connection at hand for the next (`verdict_sql::kept`).
    reader: Kept<Sqlite>,
    /// The folder holding the database and its write-ahead log, whose free space the readiness
    /// probe checks.
    folder: std::sync::Arc<std::path::PathBuf>,
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) the database at a `sqlite://path` URL with
    /// default settings. Does not migrate: call [`SqliteStore::migrate`].
    ///
    /// # Errors
    /// [`SetupError`] when the URL is not a file URL, the folder cannot be created or the file
    /// cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        Self::connect_with(&SqliteConfig::new(url)).await
    }

    /// Opens the database with explicit settings. See [`SqliteStore::connect`].
    ///
    /// # Errors
    /// See [`SqliteStore::connect`].
    pub async fn connect_with(config: &SqliteConfig) -> Result<Self, SetupError> {
        let options = connect_options(config)?;
        create_parent_folder(options.get_filename())?;
        let folder = options.get_filename().parent().map_or_else(|| ".".into(), Path::to_path_buf);
        // The writer opens its connection eagerly: that creates the file and switches it to WAL
        // before any reader looks at it.
        // It stays open for the store's lifetime, so the WAL files stay in place as well.
        let write_pool = pool_options(1, config.acquire_timeout)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(SetupError::Open)?;
        // Readers open the file read-only: a read path can never write, by construction.
        let reader = pool_options(config.max_readers.max(1), config.acquire_timeout)
            .connect_lazy_with(options.read_only(true).create_if_missing(false));
        let reader = Kept::new(reader, KEEP_READERS_FOR);
        let writer = write::Writer::spawn(write_pool.clone(), config.acquire_timeout);
        Ok(Self { write_pool, writer, reader, folder: std::sync::Arc::new(folder) })
    }

    /// Applies the migrations the database does not have yet. Idempotent: on a database at the
    /// current schema it does nothing.
    ///
    /// # Errors
    /// [`SetupError::Migrate`] when a migration fails or the database was migrated by a newer
    /// Verdict (an applied migration this build does not know).
    pub async fn migrate(&self) -> Result<(), SetupError> {
        MIGRATOR.run(&self.write_pool).await.map_err(SetupError::Migrate)
    }

    /// Answers when a write of a typical size can commit (readiness probes), from two signals.
    /// In one write transaction the probe rewrites the one row of `readiness_probe` with a few
    /// pages of padding and drops the padding again: allocating those pages fails at the size
    /// cap, and the commit fails on a read-only or full disk. And the folder of the database must
    /// keep at least [`MIN_FREE_BYTES`] free: SQLite reuses the space of its write-ahead log, so
    /// the probe can still commit where a user's write needs fresh space and fails. Both answer
    /// [`StoreError::Unavailable`] before users' writes fail, and heal when they pass.
    ///
    /// # Errors
    /// [`StoreError`] when the write does not commit or the disk is nearly full.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO readiness_probe (id, checked_at, pad) VALUES (1, ?, zeroblob(16384)) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, pad = excluded.pad",
        )
        .bind(rows::stored_at(chrono::Utc::now()))
        .execute(tx.conn())
        .await
        .map_err(store_error)?;
        sqlx::query("UPDATE readiness_probe SET pad = NULL WHERE id = 1")
            .execute(tx.conn())
            .await
            .map_err(store_error)?;
        tx.commit().await?;
        let free = free_bytes(&self.folder)?;
        if free < MIN_FREE_BYTES {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "the disk holding the database has {free} bytes free, below {MIN_FREE_BYTES}"
            )));
        }
        Ok(())
    }

    /// Closes every connection, waiting for running calls to finish. Later calls fail as
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.reader.close();
        self.reader.pool().close().await;
        self.write_pool.close().await;
    }

    /// Runs `reads` on a reader connection, kept for the next read when they succeed.
    async fn reading<T>(
        &self,
        reads: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.reader.reading(store_error, reads).await
    }

    /// Starts a write transaction holding the database's write lock from the start: a turn of
    /// the group writer (`write.rs`).
    async fn begin_write(&self) -> Result<write::WriteTx, StoreError> {
        write::WriteTx::begin(&self.writer).await
    }

    /// Begins a write of one statement: the single writer's transaction like any other write, so
    /// a failure discards the connection (see [`write::WriteTx`]).
    async fn begin_one_statement(&self) -> Result<write::WriteTx, StoreError> {
        self.begin_write().await
    }
}

fn connect_options(config: &SqliteConfig) -> Result<SqliteConnectOptions, SetupError> {
    let path = database_path(&config.url)?;
    let synchronous = match config.durability {
        Durability::Full => SqliteSynchronous::Full,
        Durability::Normal => SqliteSynchronous::Normal,
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true)
        .busy_timeout(config.busy_timeout);
    Ok(match config.max_pages {
        Some(pages) => options.pragma("max_page_count", pages.to_string()),
        None => options,
    })
}

/// The file path of a `sqlite://path` (or `sqlite:path`) URL. In-memory databases and query
/// parameters are refused: each pool would see its own in-memory database, and the store
/// sets every connection option itself.
fn database_path(url: &str) -> Result<&Path, SetupError> {
    let invalid = |reason: &str| SetupError::InvalidUrl { reason: reason.to_owned() };
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| invalid("it must look like sqlite://path/to/verdict.db"))?;
    if path.is_empty() || path.ends_with('/') {
        return Err(invalid("it must name a database file"));
    }
    if path.contains('?') || path.contains('#') {
        return Err(invalid("query parameters are not supported; the file is created when it is missing"));
    }
    if path == ":memory:" {
        return Err(invalid("in-memory databases are not supported; use a file (tests use the in-memory fakes)"));
    }
    Ok(Path::new(path))
}

fn create_parent_folder(file: &Path) -> Result<(), SetupError> {
    match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => std::fs::create_dir_all(folder)
            .map_err(|source| SetupError::CreateFolder { path: folder.to_path_buf(), source }),
        _ => Ok(()),
    }
}

fn pool_options(max_connections: u32, acquire_timeout: Duration) -> SqlitePoolOptions {
    // An embedded database's connections do not go stale: skip the ping before each acquire.
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_accepted_and_everything_else_refused() {
        assert_eq!(database_path("sqlite://verdict-data/verdict.db").unwrap(), Path::new("verdict-data/verdict.db"));
        assert_eq!(database_path("sqlite:///var/lib/verdict.db").unwrap(), Path::new("/var/lib/verdict.db"));
        assert_eq!(database_path("sqlite:verdict.db").unwrap(), Path::new("verdict.db"));
        for bad in ["postgres://x/y", "sqlite://", "sqlite::memory:", "sqlite://a.db?mode=rwc", "sqlite://dir/", "x.db"]
        {
            assert!(matches!(database_path(bad), Err(SetupError::InvalidUrl { .. })), "{bad}");
        }
    }
}
