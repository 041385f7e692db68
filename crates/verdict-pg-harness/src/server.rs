//! The one server of this test process, chosen and started on first use (see the crate docs).

use tokio::sync::OnceCell;

use crate::watchdog::Watchdog;
use crate::{HarnessError, admin, container, local};

const NO_SERVER: &str = "no PostgreSQL server is available for the tests, and tests are never skipped. \
     Do one of: (a) install the PostgreSQL server binaries — on Debian/Ubuntu `apt-get install postgresql` \
     (the harness finds `initdb` on PATH or under /usr/lib/postgresql/*/bin and starts a private server); \
     (b) set DATABASE_URL to a server URL whose user may CREATE DATABASE, e.g. \
     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres; (c) start a Docker engine (testcontainers).";

/// A running server; the watchdog cleans up when the process ends.
#[derive(Debug)]
pub(crate) struct Server {
    /// URL of the `postgres` database as a superuser (or a user allowed to create databases).
    pub(crate) admin_url: String,
    _watchdog: Watchdog,
}

impl Server {
    pub(crate) fn new(admin_url: String, watchdog: Watchdog) -> Self {
        Self { admin_url, _watchdog: watchdog }
    }
}

static SERVER: OnceCell<Result<Server, HarnessError>> = OnceCell::const_new();

/// The server, started by the first caller. A failure is remembered, so that every test of the
/// process reports it instead of trying again.
pub(crate) async fn server() -> Result<&'static Server, HarnessError> {
    SERVER.get_or_init(start).await.as_ref().map_err(Clone::clone)
}

async fn start() -> Result<Server, HarnessError> {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|url| !url.trim().is_empty()) {
        return external(url).await;
    }
    if let Some(bin_dir) = local::find_bin_dir() {
        return local::start(&bin_dir).await;
    }
    if container::docker_reachable() {
        return container::start().await;
    }
    Err(HarnessError::new(NO_SERVER))
}

/// A server someone else runs: check that it answers, clear what killed runs of this harness
/// left there, and have the watchdog drop this process's databases when it ends.
async fn external(url: String) -> Result<Server, HarnessError> {
    admin::check_server(&url).await.map_err(|err| {
        HarnessError::new(format!("DATABASE_URL is set but its server cannot be used ({err}); unset it to let the harness start its own server"))
    })?;
    admin::drop_stale_databases(&url).await;
    let watchdog = Watchdog::drop_process_databases(&url, local::find_pg_binary("psql"))?;
    Ok(Server::new(url, watchdog))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_failure_says_what_to_install_or_set() {
        for needed in ["apt-get install postgresql", "DATABASE_URL=postgres://", "never skipped"] {
            assert!(super::NO_SERVER.contains(needed), "{needed}");
        }
    }
}
