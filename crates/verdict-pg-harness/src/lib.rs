//! Throwaway PostgreSQL databases for tests: every test gets a database of its own, cloned from a
//! migrated template, and nothing is left behind when the test process ends.
//!
//! # How the server is chosen
//! Once per test process, the first of these that applies:
//! 1. **`DATABASE_URL` is set**: that server is used. It is a *server* URL (e.g.
//!    `postgres://postgres@127.0.0.1:5432/postgres`); its user must be allowed to
//!    `CREATE DATABASE`. The harness creates and drops its own databases there, named
//!    `verdict_tpl_<pid>_<random>` and `verdict_test_<pid>_<random>`.
//! 2. **Local server binaries** (`initdb` and `postgres`, found on `PATH` or under
//!    `/usr/lib/postgresql/<version>/bin`, newest version first): a private server is initialised
//!    in a temporary folder and started on a free port of 127.0.0.1 (its unix socket stays in the
//!    folder), tuned for tests (`fsync=off`, `max_connections=400`). When the tests run as root,
//!    the server runs as the `postgres` system user (or `nobody`), since PostgreSQL refuses root.
//! 3. **A Docker engine is reachable** (`/var/run/docker.sock` exists or `DOCKER_HOST` is set):
//!    a `postgres:16-alpine` container is started with `testcontainers`.
//! 4. Otherwise the harness panics with a message saying what to install. It never skips a test.
//!
//! # Lifecycle
//! The template database is created and migrated once per process and migrator; each
//! [`test_database`] call clones it with `CREATE DATABASE … TEMPLATE …`, and dropping the returned
//! [`TestDatabase`] drops the clone (`WITH (FORCE)`, PostgreSQL 13 or newer). Because Rust never
//! drops statics, process-wide resources are released by a small watchdog shell started with the
//! server: it blocks reading a pipe that only this process holds open, and when the process ends
//! — normally, by panic or killed — it stops the private server and deletes its folder, removes
//! the container, or drops the template (and any clone a killed process left) on a `DATABASE_URL`
//! server, using `psql`.

mod admin;
mod container;
mod local;
mod server;
mod watchdog;

use std::path::PathBuf;

use sqlx::migrate::Migrator;

pub use local::find_pg_binary;

/// A database of one test, cloned from the migrated template. Dropping it drops the database.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// The connection URL of this database.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot block on a future: a thread with a
        // runtime of its own does the round trip, and the drop waits for it.
        let (name, admin_url) = (self.name.clone(), self.admin_url.clone());
        let dropped = std::thread::spawn(move || admin::drop_database_blocking(&admin_url, &name)).join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("verdict-pg-harness: could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!("verdict-pg-harness: dropping test database {} panicked", self.name),
        }
    }
}

/// A fresh database migrated by `migrator`, for one test.
///
/// # Panics
/// When no PostgreSQL server is available (the message says what to install), or when the
/// server refuses to create the database or the migrations fail.
pub async fn test_database(migrator: &'static Migrator) -> TestDatabase {
    match try_test_database(migrator).await {
        Ok(database) => database,
        Err(err) => panic!("{err}"),
    }
}

/// The admin URL of the harness's server (the `postgres` database), e.g. for benchmarks that
/// create their own databases.
///
/// # Panics
/// When no PostgreSQL server is available (the message says what to install).
pub async fn server_url() -> String {
    match server::server().await {
        Ok(server) => server.admin_url.clone(),
        Err(err) => panic!("{err}"),
    }
}

/// The folder of the server binaries the harness would use (`initdb`, `postgres`, `pgbench`, …),
/// if any are installed.
#[must_use]
pub fn pg_bin_dir() -> Option<PathBuf> {
    local::find_bin_dir()
}

async fn try_test_database(migrator: &'static Migrator) -> Result<TestDatabase, HarnessError> {
    let server = server::server().await?;
    let template = admin::template_for(&server.admin_url, migrator).await?;
    let name = admin::unique_name("verdict_test");
    admin::create_from_template(&server.admin_url, &name, &template).await?;
    let url = admin::database_url(&server.admin_url, &name)?;
    Ok(TestDatabase { name, url, admin_url: server.admin_url.clone() })
}

/// Why the harness could not provide a database; the text says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HarnessError(String);

impl HarnessError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(format!("verdict-pg-harness: {}", message.into()))
    }
}

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}
