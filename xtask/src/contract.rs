//! The served contract, checked by the tools its consumers use (docs/contract.md, "Validated by
//! real tools"): a real `verdict` process on a throwaway SQLite database, its OpenAPI document
//! through `openapi-spec-validator`, every operation through a bounded, seeded Schemathesis run
//! (then its stateful phase again inside the token's workspace, following the document's links),
//! and its `/metrics` scrape through `promtool check metrics`.
//!
//! The binary is the one `cargo test` already built for the CLI tests, so this step compiles
//! nothing. The tools come from `.ci/run` (a Python virtual environment in the tools cache, and
//! Debian's `prometheus` package for `promtool`); a missing tool fails the step and names what to
//! install, it never skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::run;

/// Examples per operation and phase: a few thousand requests over every operation, a minute or two
/// on two cores; the seed makes a failure reproducible with the same command.
const SCHEMATHESIS_EXAMPLES: &str = "100";
const SCHEMATHESIS_SEED: &str = "20261201";
/// Every check but one. `positive_data_acceptance` expects each schema-valid request to succeed,
/// but some rules depend on stored state and cannot be written in JSON Schema: an
/// acknowledgement's `report_id` must be the run's current report and name one of its checks, and
/// a connection's tenant must exist in the workspace. Those answer 404/409/422 by design, in the
/// error shape, which the other checks still verify.
const SCHEMATHESIS_EXCLUDED: &str = "positive_data_acceptance";

const SECRET: &str = "contract-check-secret-contract-check-0001";
const ENCRYPTION_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Runs the three tools against a fresh server.
pub fn check(target_dir: &Path) -> Result<()> {
    let binary = target_dir.join("debug").join("verdict");
    if !binary.is_file() {
        bail!("{} is missing: run `cargo test --workspace` first (it builds the binary)", binary.display());
    }
    let validator = tool("openapi-spec-validator")?;
    let schemathesis = tool("schemathesis")?;
    let promtool = tool("promtool")?;

    let scratch = Scratch::new()?;
    let database = format!("sqlite://{}", scratch.0.join("verdict.db").display());
    let global = ["--database-url", &database, "--jwt-hs256-secret", SECRET, "--encryption-key", ENCRYPTION_KEY];
    let server = Server::start(&binary, &global)?;
    let token = issue_token(&binary, &global)?;

    let spec = get(server.address, "/v1/openapi.json", "application/json")?;
    let spec_file = scratch.0.join("openapi.json");
    std::fs::write(&spec_file, spec)?;
    run("openapi-spec-validator", Command::new(&validator).arg(&spec_file))?;

    let url = format!("http://{}/v1/openapi.json", server.address);
    // Every phase over every operation, path parameters as generated (foreign workspaces
    // included); then the stateful phase again inside the token's workspace, so the sequences
    // that follow the document's links (create a connection, then read, rotate, schedule and
    // disable it; start a verification, then read and acknowledge its run) reach the stored
    // resources instead of stopping at the first 404.
    let stateful_config = scratch.0.join("stateful.toml");
    std::fs::write(&stateful_config, "[parameters]\n\"path.ws\" = 1\n")?;
    for (label, config, phases) in [
        ("all phases", None, "examples,coverage,fuzzing,stateful"),
        ("stateful, workspace 1", Some(&stateful_config), "stateful"),
    ] {
        // The bearer token stays out of the log: the command is shown with it redacted.
        eprintln!(
            "\n==> schemathesis ({label}): run {url} --header 'Authorization: Bearer [redacted]' --checks all \
             --exclude-checks {SCHEMATHESIS_EXCLUDED} --max-examples {SCHEMATHESIS_EXAMPLES} --seed {SCHEMATHESIS_SEED} \
             --phases {phases}"
        );
        let mut command = Command::new(&schemathesis);
        if let Some(config) = config {
            command.arg("--config-file").arg(config);
        }
        let outcome = run_quietly(
            "schemathesis",
            command
                .args(["run", &url, "--header"])
                .arg(format!("Authorization: Bearer {token}"))
                .args(["--checks", "all", "--exclude-checks", SCHEMATHESIS_EXCLUDED])
                .args(["--max-examples", SCHEMATHESIS_EXAMPLES, "--seed", SCHEMATHESIS_SEED, "--phases", phases])
                .args(["--generation-database", "none", "--request-timeout", "10"])
                .current_dir(&scratch.0),
        );
        if let Err(error) = outcome {
            server.print_log();
            return Err(error);
        }
    }

    // After Schemathesis every request counter and histogram has samples to lint.
    let metrics = get(server.address, "/metrics", "text/plain")?;
    let mut promtool = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .spawn()
        .context("could not start promtool")?;
    promtool.stdin.take().context("promtool stdin")?.write_all(&metrics)?;
    let status = promtool.wait()?;
    if !status.success() {
        bail!("promtool check metrics failed ({status})");
    }
    eprintln!("promtool check metrics: ok");
    Ok(())
}

/// Runs `command` without echoing it (its arguments hold a credential).
fn run_quietly(step: &str, command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("could not start {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

/// The tool from the tools cache's virtual environment, else from `PATH`.
fn tool(name: &str) -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("HOME") {
        let cached = Path::new(&home).join(".cache/verdict-tools/venv/bin").join(name);
        if cached.is_file() {
            return Ok(cached);
        }
    }
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    on_path.with_context(|| {
        format!(
            "{name} is not installed: .ci/run installs it (pip: schemathesis, openapi-spec-validator; apt: prometheus)"
        )
    })
}

fn issue_token(binary: &Path, global: &[&str]) -> Result<String> {
    let output = Command::new(binary)
        .args(global)
        .args(["token", "issue", "--workspace", "1", "--ttl", "1h"])
        .output()
        .context("could not run `verdict token issue`")?;
    if !output.status.success() {
        bail!("verdict token issue failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// One HTTP/1.0 GET: the server closes the connection after the response and sends no chunked
/// encoding, so reading to the end gives the whole body without an HTTP client dependency.
fn get(address: SocketAddr, path: &str, accept: &str) -> Result<Vec<u8>> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: {accept}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(response[split + 4..].to_vec())
}

/// A running `verdict serve`, killed on drop (its own pid only, never a process group).
struct Server {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(binary: &Path, global: &[&str]) -> Result<Self> {
        let mut child = Command::new(binary)
            .args(global)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--no-workers"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("could not start verdict serve")?;
        let mut lines = BufReader::new(child.stderr.take().context("server stderr")?).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut address = None;
        for line in lines.by_ref() {
            let line = line?;
            let parsed: Option<serde_json::Value> = serde_json::from_str(&line).ok();
            let found = parsed.as_ref().and_then(|v| v.get("address")?.as_str()?.parse().ok());
            log.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            if found.is_some() {
                address = found;
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
        // Keep draining so the server never blocks on a full pipe; keep the lines for failures.
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            }
        });
        Ok(Self { child, address, log })
    }

    fn print_log(&self) {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let warnings = log.iter().filter(|line| !line.contains("\"level\":\"INFO\"")).take(50);
        for line in warnings {
            eprintln!("server: {line}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("verdict-contract-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
