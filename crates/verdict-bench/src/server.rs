//! A real `verdict serve` process, its tokens, its log and its CPU time: the benchmarks run it
//! with workers off, and `verdict-app`'s process tests run several on one database and kill
//! them with SIGKILL (docs/architecture.md, "Faults").

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result, bail};

const SECRET: &str = "benchmark-secret-benchmark-secret-0001";
const ENCRYPTION_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A running server, killed on drop (its own pid only).
#[derive(Debug)]
pub struct Server {
    child: Child,
    binary: PathBuf,
    database: String,
    /// `http://address`.
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// How to run `verdict serve`, beyond its database.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Run workers (the benchmarks run without).
    pub workers: bool,
    /// Keep the webhook dispatcher off: deliveries wait in the outbox for another process.
    pub no_dispatcher: bool,
    /// Environment variables for the process (the provider's URLs, webhook policy).
    pub env: Vec<(String, String)>,
}

impl Server {
    /// Starts `binary serve` on `database`, workers off, on an ephemeral port.
    ///
    /// # Errors
    /// When the process cannot start or exits before listening.
    pub fn start(binary: &Path, database: &str) -> Result<Self> {
        Self::launch(binary, database, &Launch::default())
    }

    /// Starts `binary serve` on `database` as `launch` says, on an ephemeral port.
    ///
    /// # Errors
    /// When the process cannot start or exits before listening.
    pub fn launch(binary: &Path, database: &str, launch: &Launch) -> Result<Self> {
        let mut serve = vec!["--log-format", "json", "serve", "--listen", "127.0.0.1:0"];
        if !launch.workers {
            serve.push("--no-workers");
        }
        if launch.no_dispatcher {
            serve.push("--no-dispatcher");
        }
        let mut child = Command::new(binary)
            .args(global(database))
            .args(serve)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn,verdict=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("could not start verdict serve")?;
        let mut lines = BufReader::new(child.stderr.take().context("server stderr")?).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut address: Option<SocketAddr> = None;
        for line in lines.by_ref() {
            let line = line?;
            let parsed: Option<serde_json::Value> = serde_json::from_str(&line).ok();
            address = parsed.as_ref().and_then(|v| v.get("address")?.as_str()?.parse().ok());
            log.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            if address.is_some() {
                break;
            }
        }
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "verdict serve exited before listening:\n{}",
                log.lock().unwrap_or_else(PoisonError::into_inner).join("\n")
            );
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                if log.len() < 10_000 {
                    log.push(line);
                }
            }
        });
        Ok(Self {
            child,
            binary: binary.to_owned(),
            database: database.to_owned(),
            base: format!("http://{address}"),
            log,
        })
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A token of `workspace` with every capability on every tenant.
    ///
    /// # Errors
    /// When `verdict token issue` fails.
    pub fn token(&self, workspace: i64) -> Result<Arc<str>> {
        let output = Command::new(&self.binary)
            .args(global(&self.database))
            .args(["token", "issue", "--workspace", &workspace.to_string(), "--ttl", "2h"])
            .output()
            .context("could not run `verdict token issue`")?;
        if !output.status.success() {
            bail!("verdict token issue failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8(output.stdout)?.trim().into())
    }

    /// CPU seconds (user + system) the process has used so far, from `/proc`.
    #[must_use]
    pub fn cpu_seconds(&self) -> Option<f64> {
        crate::load::cpu_seconds(&self.pid().to_string())
    }

    /// Ends the process with SIGKILL, as a crash or the OOM killer would: no shutdown path runs.
    ///
    /// # Errors
    /// When the signal cannot be sent or the process not reaped.
    pub fn kill(mut self) -> Result<std::process::ExitStatus> {
        self.child.kill().context("SIGKILL")?;
        Ok(self.child.wait()?)
    }

    /// Whether any log line so far contains `text`.
    #[must_use]
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).iter().any(|l| l.contains(text))
    }

    /// The server's warnings and errors so far.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\"")).cloned().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn global(database: &str) -> Vec<String> {
    ["--database-url", database, "--jwt-hs256-secret", SECRET, "--encryption-key", ENCRYPTION_KEY]
        .map(str::to_owned)
        .to_vec()
}
