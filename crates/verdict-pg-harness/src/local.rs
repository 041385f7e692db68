//! A private server from the local PostgreSQL binaries, in a temporary folder on a free port of
//! 127.0.0.1, run as an unprivileged user when the tests run as root.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::Server;
use crate::watchdog::Watchdog;
use crate::{HarnessError, admin};

/// How long a fresh server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Server settings for tests: durability off (the data is thrown away), room for many pools.
const SETTINGS: [&str; 6] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=400",
    "listen_addresses=127.0.0.1",
    "log_min_messages=warning",
];

/// The folder holding `initdb` and `postgres`: the one of `initdb` on `PATH` (symlinks
/// resolved), else the newest `/usr/lib/postgresql/<version>/bin`.
pub(crate) fn find_bin_dir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(initdb) = on_path("initdb") {
        let dir = std::fs::canonicalize(&initdb).ok().and_then(|p| p.parent().map(Path::to_path_buf));
        if let Some(dir) = dir.filter(|d| has_server(d)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version =
                entry.file_name().to_string_lossy().split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL program (`pgbench`, `psql`, …): next to the server binaries, else on `PATH`.
#[must_use]
pub fn find_pg_binary(name: &str) -> Option<PathBuf> {
    find_bin_dir().map(|dir| dir.join(name)).filter(|p| p.is_file()).or_else(|| on_path(name))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The unprivileged account the server runs as when this process is root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>, HarnessError> {
    // /proc/self belongs to the effective user of this process.
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let account = |wanted: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [name, _, uid, gid, ..] if *name == wanted => {
                    Some(RunAs { uid: uid.parse().ok()?, gid: gid.parse().ok()? })
                }
                _ => None,
            }
        })
    };
    account("postgres").or_else(|| account("nobody")).map(Some).ok_or_else(|| {
        HarnessError::new(
            "the tests run as root, PostgreSQL refuses to, and there is no `postgres` or `nobody` user to run it as",
        )
    })
}

fn command(program: PathBuf, dir: &Path, user: Option<RunAs>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir).stdin(Stdio::null());
    if let Some(user) = user {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

/// Initialises and starts a server; the returned [`Server`]'s watchdog stops it and deletes its
/// folder when this process ends.
pub(crate) async fn start(bin: &Path) -> Result<Server, HarnessError> {
    let user = run_as()?;
    let dir = tempfile::Builder::new()
        .prefix("verdict-pg-")
        .tempdir()
        .map_err(|err| HarnessError::new(format!("cannot create a temporary folder: {err}")))?
        .keep();
    // From here on the watchdog owns the folder: whatever happens next, it is removed at exit.
    let watchdog = Watchdog::stop_server(&dir)?;
    if let Some(user) = user {
        std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))
            .map_err(|err| HarnessError::new(format!("cannot hand {} to the server user: {err}", dir.display())))?;
    }
    initdb(bin, &dir, user).await?;
    let mut last_error = HarnessError::new("the server did not start");
    // A free port can be taken between choosing and binding it: try a few.
    for _ in 0..3 {
        let port = free_port()?;
        let mut child = spawn_postgres(bin, &dir, port, user)?;
        let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        match wait_until_ready(&admin_url, &mut child, &dir).await {
            Ok(()) => return Ok(Server::new(admin_url, watchdog)),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                last_error = err;
            }
        }
    }
    Err(last_error)
}

async fn initdb(bin: &Path, dir: &Path, user: Option<RunAs>) -> Result<(), HarnessError> {
    let mut initdb = command(bin.join("initdb"), dir, user);
    initdb.arg("--pgdata").arg(dir.join("data")).args([
        "--username=postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    let output = tokio::task::spawn_blocking(move || initdb.output())
        .await
        .map_err(|err| HarnessError::new(format!("initdb did not finish: {err}")))?
        .map_err(|err| HarnessError::new(format!("cannot run {}/initdb: {err}", bin.display())))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(HarnessError::new(format!(
            "initdb failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| HarnessError::new(format!("cannot find a free port: {err}")))
}

fn spawn_postgres(bin: &Path, dir: &Path, port: u16, user: Option<RunAs>) -> Result<Child, HarnessError> {
    let log = std::fs::File::create(dir.join("postgres.log"))
        .and_then(|file| Ok((file.try_clone()?, file)))
        .map_err(|err| HarnessError::new(format!("cannot create the server log: {err}")))?;
    let mut postgres = command(bin.join("postgres"), dir, user);
    postgres.arg("-D").arg(dir.join("data")).arg("-p").arg(port.to_string()).arg("-k").arg(dir);
    for setting in SETTINGS {
        postgres.arg("-c").arg(setting);
    }
    postgres
        .stdout(log.0)
        .stderr(log.1)
        // Not in the terminal's process group: a Ctrl-C goes to the tests, the watchdog stops it.
        .process_group(0)
        .spawn()
        .map_err(|err| HarnessError::new(format!("cannot start {}/postgres: {err}", bin.display())))
}

async fn wait_until_ready(admin_url: &str, child: &mut Child, dir: &Path) -> Result<(), HarnessError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
            return Err(HarnessError::new(format!("the server exited during startup ({status}): {log}")));
        }
        match admin::check_server(admin_url).await {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() >= deadline => {
                return Err(HarnessError::new(format!("the server did not accept connections in time: {err}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
