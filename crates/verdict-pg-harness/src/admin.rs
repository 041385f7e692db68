//! Database administration on the harness's server: the migrated template (one per process and
//! migrator), per-test clones, and dropping them. Every call opens a short-lived connection of its
//! own, because each test runs on a runtime of its own and a pool cannot outlive its runtime.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use tokio::sync::Mutex;

use crate::HarnessError;

/// How long connecting to the server may take before the harness gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The template of each migrator used in this process, keyed by the migrator's address.
static TEMPLATES: Mutex<Vec<(usize, String)>> = Mutex::const_new(Vec::new());

/// `<prefix>_<pid>_<random>`: unique, a valid unquoted identifier, and attributable to this
/// process (the watchdog and stale-database cleanup match on the pid).
pub(crate) fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), uuid::Uuid::now_v7().simple())
}

/// The URL of database `name` on the server of `admin_url`.
pub(crate) fn database_url(admin_url: &str, name: &str) -> Result<String, HarnessError> {
    let mut url =
        url::Url::parse(admin_url).map_err(|err| HarnessError::new(format!("the server URL is not a URL ({err})")))?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
    }
}

async fn execute(conn: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await.map(|_| ())
}

/// Whether the server answers and lets this user create databases.
pub(crate) async fn check_server(admin_url: &str) -> Result<(), String> {
    let mut conn = connect(admin_url).await?;
    let allowed: bool = sqlx::query_scalar("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut conn)
        .await
        .map_err(|err| err.to_string())?;
    let _ = conn.close().await;
    if allowed { Ok(()) } else { Err("its user may not CREATE DATABASE".to_owned()) }
}

/// The migrated template of `migrator`, created on first use.
pub(crate) async fn template_for(admin_url: &str, migrator: &'static Migrator) -> Result<String, HarnessError> {
    let key = std::ptr::from_ref(migrator).addr();
    let mut templates = TEMPLATES.lock().await;
    if let Some((_, name)) = templates.iter().find(|(k, _)| *k == key) {
        return Ok(name.clone());
    }
    let name = unique_name("verdict_tpl");
    let failed = |what: &str, err: &dyn std::fmt::Display| HarnessError::new(format!("{what} {name}: {err}"));
    let mut admin = connect(admin_url).await.map_err(|err| failed("cannot connect to create", &err))?;
    execute(&mut admin, format!("CREATE DATABASE \"{name}\"")).await.map_err(|err| failed("cannot create", &err))?;
    let migrated = migrate(&database_url(admin_url, &name)?, migrator).await;
    if let Err(err) = migrated {
        let _ = execute(&mut admin, format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        return Err(failed("the migrations failed on the template", &err));
    }
    let _ = admin.close().await;
    templates.push((key, name.clone()));
    Ok(name)
}

async fn migrate(url: &str, migrator: &Migrator) -> Result<(), String> {
    let mut conn = connect(url).await?;
    migrator.run(&mut conn).await.map_err(|err| err.to_string())?;
    // The template must have no connections left when it is cloned.
    conn.close().await.map_err(|err| err.to_string())
}

/// `CREATE DATABASE name TEMPLATE template`, retried while another session still holds the
/// template (PostgreSQL refuses to copy a database in use).
pub(crate) async fn create_from_template(admin_url: &str, name: &str, template: &str) -> Result<(), HarnessError> {
    let failed = |err: &dyn std::fmt::Display| HarnessError::new(format!("cannot create test database {name}: {err}"));
    let mut admin = connect(admin_url).await.map_err(|err| failed(&err))?;
    let mut attempts = 0;
    loop {
        match execute(&mut admin, format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")).await {
            Ok(()) => break,
            Err(err) if attempts < 100 && is_object_in_use(&err) => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => return Err(failed(&err)),
        }
    }
    let _ = admin.close().await;
    Ok(())
}

fn is_object_in_use(err: &sqlx::Error) -> bool {
    err.as_database_error().and_then(|db| db.code()).is_some_and(|code| code == "55006")
}

/// Drops database `name` from a synchronous context (a `Drop`), on a runtime of its own.
pub(crate) fn drop_database_blocking(admin_url: &str, name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|err| err.to_string())?;
    runtime.block_on(async {
        let mut admin = connect(admin_url).await?;
        execute(&mut admin, format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .map_err(|err| err.to_string())?;
        let _ = admin.close().await;
        Ok(())
    })
}

/// Drops the templates and clones of harness processes that no longer run — left behind when a
/// process was killed and `psql` was not there for its watchdog. Only on a server of this
/// machine, where the pid in a name can be checked; best effort.
pub(crate) async fn drop_stale_databases(admin_url: &str) {
    let local = url::Url::parse(admin_url).ok().is_some_and(|url| match url.host_str() {
        None | Some("") | Some("localhost") | Some("127.0.0.1") | Some("[::1]") => true,
        Some(host) => host.starts_with("%2F") || host.starts_with('/'),
    });
    if !local {
        return;
    }
    let Ok(mut admin) = connect(admin_url).await else { return };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname ~ '^verdict_(tpl|test)_[0-9]+_[0-9a-f]+$'")
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).unwrap_or_default();
        if std::path::Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Err(err) = execute(&mut admin, format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await {
            eprintln!("verdict-pg-harness: could not drop stale database {name}: {err}");
        }
    }
    let _ = admin.close().await;
}
