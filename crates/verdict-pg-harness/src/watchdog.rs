//! Cleanup that survives the process: a detached `sh` blocks reading a pipe whose write end only
//! this process holds. The kernel closes it when the process ends — normally, by panic or by
//! `SIGKILL` — and the shell then does the cleanup it was started with.

use std::io;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::HarnessError;

/// A started watchdog. Never dropped in practice (it lives in a static); dropping it early would
/// close the pipe and trigger the cleanup at once.
#[derive(Debug)]
pub(crate) struct Watchdog {
    _pipe: ChildStdin,
    _shell: Child,
}

/// Stops a private server (immediate shutdown, by the pid in its `postmaster.pid`), waits for it
/// to go (at most 10 s) and deletes its folder.
const STOP_SERVER: &str = r#"read _ignored
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    i=0
    while [ -e "$1/data/postmaster.pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$1""#;

/// Drops the template and any clone of process `$3` on the server `$2` with `psql` (`$1`); a
/// second time a little later, for a `CREATE DATABASE` the server was still finishing when the
/// process died.
const DROP_DATABASES: &str = r#"read _ignored
drop_all() {
    printf '%s\n' "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname) FROM pg_database WHERE datname ~ '^verdict_(tpl|test)_$3_[0-9a-f]+\$' \gexec" \
        | "$1" -X -q "$2" >/dev/null 2>&1
}
drop_all "$@"
sleep 2
drop_all "$@""#;

/// Removes container `$1`, with the docker CLI or through the engine's socket.
const REMOVE_CONTAINER: &str = r#"read _ignored
docker rm -f -v "$1" >/dev/null 2>&1 \
    || curl -s --unix-socket /var/run/docker.sock -X DELETE "http://localhost/containers/$1?force=true&v=true" >/dev/null 2>&1"#;

impl Watchdog {
    /// Stops the server whose folder is `dir` and deletes the folder when this process ends.
    pub(crate) fn stop_server(dir: &Path) -> Result<Self, HarnessError> {
        spawn(STOP_SERVER, &[dir.as_os_str()])
    }

    /// Drops this process's databases on the server at `admin_url` when it ends. Without `psql`
    /// that is not possible; the next run of the harness drops them instead (see
    /// `admin::drop_stale_databases`).
    pub(crate) fn drop_process_databases(
        admin_url: &str,
        psql: Option<std::path::PathBuf>,
    ) -> Result<Self, HarnessError> {
        let psql = psql.unwrap_or_else(|| "psql".into());
        let pid = std::process::id().to_string();
        spawn(DROP_DATABASES, &[psql.as_os_str(), admin_url.as_ref(), pid.as_ref()])
    }

    /// Removes the container `id` when this process ends.
    pub(crate) fn remove_container(id: &str) -> Result<Self, HarnessError> {
        spawn(REMOVE_CONTAINER, &[id.as_ref()])
    }
}

fn spawn(script: &str, args: &[&std::ffi::OsStr]) -> Result<Watchdog, HarnessError> {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .arg("verdict-pg-watchdog")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C in the terminal must not kill the cleanup with the tests.
        .process_group(0);
    let mut shell = command.spawn().map_err(|err| cannot_start(&err))?;
    let pipe = shell.stdin.take().ok_or_else(|| HarnessError::new("the watchdog has no stdin pipe"))?;
    Ok(Watchdog { _pipe: pipe, _shell: shell })
}

fn cannot_start(err: &io::Error) -> HarnessError {
    HarnessError::new(format!("cannot start the cleanup watchdog (`sh`): {err}"))
}
