//! The store handle: a bounded connection pool with a bounded acquire timeout, so that a database
//! outage turns into [`StoreError::Unavailable`] quickly instead of a hang.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use verdict_core::ports::StoreError;
use verdict_sql::kept::Kept;

use crate::error::{store_error, unexpected};

/// How to connect. Each field bounds a resource so that an overloaded or unreachable database
/// degrades into fast errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a call waits for a connection (including connecting) before it fails with
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// The server-side limit of one statement (`statement_timeout`); `None` keeps the server's.
    pub statement_timeout: Option<Duration>,
    /// Idle connections are closed after this long.
    pub idle_timeout: Option<Duration>,
    /// A pooled connection idle at least this long is pinged before reuse, so one that died
    /// meanwhile (a database restart) is replaced transparently. Busier connections are trusted:
    /// a connection whose call finished cleanly is kept for the next call this long
    /// (`verdict_sql::kept`), and any other goes back to the pool, which checks it on return;
    /// pinging again on every acquire would add a round trip to every call. `Duration::ZERO`
    /// pings on every acquire.
    pub check_idle_after: Duration,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PgConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(300)),
            check_idle_after: Duration::from_secs(1),
            application_name: "verdict".to_owned(),
        }
    }
}

/// Every storage port of `verdict-core` on one PostgreSQL connection pool. Clones share the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// The pool's connections, each kept for the next call when its call finished cleanly.
    kept: Kept<Postgres>,
    /// The blocked starts and acknowledgements queued per workspace (`crate::group`).
    groups: std::sync::Arc<crate::group::Groups>,
}

/// How long [`PgStore::from_pool`] keeps a released connection: [`PgConfig`]'s default.
const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(1);

impl PgStore {
    /// Connects to `url` and checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection could be made within
    /// `config.acquire_timeout`; [`StoreError::Unexpected`] for a malformed URL or a refused
    /// login.
    pub async fn connect(url: &str, config: PgConfig) -> Result<Self, StoreError> {
        let (options, connect) = pool_parts(url, &config)?;
        let pool = options.connect_with(connect).await.map_err(store_error)?;
        Ok(Self::with(Kept::new(pool, config.check_idle_after)))
    }

    /// Builds the pool without connecting; the first call that needs a connection connects.
    /// Useful when the service must start while the database is still down.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] for a malformed URL.
    pub fn connect_lazy(url: &str, config: PgConfig) -> Result<Self, StoreError> {
        let (options, connect) = pool_parts(url, &config)?;
        Ok(Self::with(Kept::new(options.connect_lazy_with(connect), config.check_idle_after)))
    }

    /// Wraps an existing pool (its limits are the caller's).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self::with(Kept::new(pool, DEFAULT_KEEP_FOR))
    }

    fn with(kept: Kept<Postgres>) -> Self {
        Self { kept, groups: std::sync::Arc::default() }
    }

    /// The queues of blocked starts and acknowledgements per workspace.
    pub(crate) fn groups(&self) -> &crate::group::Groups {
        &self.groups
    }

    /// The pool, for health checks and tools that need plain SQL.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        self.kept.pool()
    }

    /// Runs `reads` on a lent connection (any: PostgreSQL serves reads and writes on each), kept
    /// for the next call when they succeed.
    pub(crate) async fn reading<T>(
        &self,
        reads: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.kept.reading(store_error, reads).await
    }

    /// Begins a write transaction.
    pub(crate) async fn begin_write(&self) -> Result<crate::write::WriteTx, StoreError> {
        crate::write::WriteTx::begin(&self.kept).await
    }

    /// Begins a write of one statement, which needs no transaction of its own.
    pub(crate) async fn begin_one_statement(&self) -> Result<crate::write::OneStatement, StoreError> {
        crate::write::OneStatement::begin(&self.kept).await
    }

    /// Applies the pending migrations of [`crate::MIGRATOR`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached,
    /// [`StoreError::Unexpected`] when a migration fails or an applied one was edited.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::MIGRATOR.run(self.pool()).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(inner) => store_error(inner),
            other => unexpected(other),
        })
    }

    /// Whether the database answers a trivial query (for readiness probes).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not within the acquire timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        // On a lent connection: waiting in the pool itself, the probe would queue behind calls
        // that reuse kept connections and never see one freed.
        self.reading(async |conn| sqlx::query("SELECT 1").execute(conn).await.map(drop).map_err(store_error)).await
    }

    /// Closes every connection; calls made afterwards fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        // The pool's close waits for every checked-out connection, the kept ones included.
        self.kept.close();
        self.pool().close().await;
    }
}

fn pool_parts(url: &str, config: &PgConfig) -> Result<(PgPoolOptions, PgConnectOptions), StoreError> {
    // The URL may carry a password: never echo it in the error.
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("the PostgreSQL URL is malformed")))?
        .application_name(&config.application_name);
    if let Some(timeout) = config.statement_timeout {
        connect = connect.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    let check_idle_after = config.check_idle_after;
    let options = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= check_idle_after {
                    conn.ping().await?;
                }
                Ok(true)
            })
        });
    Ok((options, connect))
}
