//! The storage adapter chosen by the database URL, and the core ports built on it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::{QueueNotifier, SecretCipher};
use verdict_core::services::Ports;
use verdict_http::Readiness;
use verdict_postgres::{PgConfig, PgStore};
use verdict_sqlite::{SqliteConfig, SqliteStore};

use crate::config::Database;

/// The store in use.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl Store {
    /// Opens the database (creating a SQLite file and its folder on first start).
    ///
    /// # Errors
    /// When the database cannot be opened or reached.
    pub async fn open(database: &Database, acquire_timeout: Duration) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(url) => {
                let config = SqliteConfig { acquire_timeout, ..SqliteConfig::new(url.as_str()) };
                Self::Sqlite(SqliteStore::connect_with(&config).await.context("opening the SQLite database")?)
            }
            Database::Postgres(url) => {
                // Lazy: the service starts (and answers 503) while PostgreSQL is still down.
                let config = PgConfig { acquire_timeout, ..PgConfig::default() };
                Self::Postgres(PgStore::connect_lazy(url.expose(), config).context("configuring PostgreSQL")?)
            }
        })
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sqlite(store) => store.migrate().await.context("migrating the SQLite database"),
            Self::Postgres(store) => store.migrate().await.context("migrating the PostgreSQL database"),
        }
    }

    /// Core's ports on this store.
    pub fn ports(
        &self,
        cipher: Arc<dyn SecretCipher>,
        notifier: Arc<dyn QueueNotifier>,
        flows: Arc<FlowCatalog>,
    ) -> Ports {
        match self {
            Self::Sqlite(store) => Ports::over(store, cipher, flows, notifier),
            Self::Postgres(store) => Ports::over(store, cipher, flows, notifier),
        }
    }

    /// The audit trail, read side.
    #[must_use]
    pub fn audit_log(&self) -> Arc<dyn verdict_core::ports::AuditLog> {
        match self {
            Self::Sqlite(store) => Arc::new(store.clone()),
            Self::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Closes the pools.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(store) => store.close().await,
            Self::Postgres(store) => store.close().await,
        }
    }
}

#[async_trait]
impl Readiness for Store {
    async fn check(&self) -> Result<(), String> {
        let result = match self {
            Self::Sqlite(store) => store.ping().await,
            Self::Postgres(store) => store.ping().await,
        };
        result.map_err(|e| format!("{e:#}"))
    }
}
