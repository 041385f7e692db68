//! A server in a Docker container via `testcontainers`, when no local binaries are installed but a
//! Docker engine is reachable.

use std::path::Path;

use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::ImageExt as _;
use testcontainers_modules::testcontainers::runners::AsyncRunner as _;

use crate::server::Server;
use crate::watchdog::Watchdog;
use crate::{HarnessError, admin};

/// Whether a Docker engine looks reachable.
pub(crate) fn docker_reachable() -> bool {
    std::env::var_os("DOCKER_HOST").is_some_and(|host| !host.is_empty()) || Path::new("/var/run/docker.sock").exists()
}

/// Starts `postgres:16-alpine` with test settings; the watchdog removes the container when this
/// process ends.
pub(crate) async fn start() -> Result<Server, HarnessError> {
    let failed = |err: &dyn std::fmt::Display| {
        HarnessError::new(format!(
            "a Docker engine seems reachable but the PostgreSQL container failed ({err}); install the server \
             binaries (`apt-get install postgresql`) or set DATABASE_URL instead"
        ))
    };
    let container = Postgres::default()
        .with_host_auth()
        .with_tag("16-alpine")
        .with_cmd(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=400"])
        .with_label("verdict-pg-harness", std::process::id().to_string())
        .start()
        .await
        .map_err(|err| failed(&err))?;
    let watchdog = Watchdog::remove_container(container.id())?;
    let host = container.get_host().await.map_err(|err| failed(&err))?;
    let port = container.get_host_port_ipv4(5432).await.map_err(|err| failed(&err))?;
    // The watchdog, not this handle, ends the container: the handle lives in a static that is
    // never dropped, and its runtime (the first test's) is gone by then anyway.
    std::mem::forget(container);
    let admin_url = format!("postgres://postgres@{host}:{port}/postgres");
    admin::check_server(&admin_url).await.map_err(|err| failed(&err))?;
    Ok(Server::new(admin_url, watchdog))
}
