//! A simulated Microsoft Entra / Graph tenant on localhost, to try Verdict without Microsoft.
//!
//! ```text
//! cargo run -p verdict-runner --example fake_provider                 # serve until Ctrl-C
//! cargo run -p verdict-runner --example fake_provider -- --missing DeviceManagementApps.Read.All
//! cargo run -p verdict-runner --example fake_provider -- --verify-once   # one verification, print the report
//! ```
//!
//! Options (environment twins in brackets): `--port N` [`FAKE_PROVIDER_PORT`, default 8099, 0 for
//! any free port]; `--missing ROLE[,ROLE…]` [`FAKE_PROVIDER_MISSING`] withholds application roles,
//! `--missing all` simulates a registration without admin consent; `--latency-ms N`
//! [`FAKE_PROVIDER_LATENCY_MS`] delays every answer; `--verify-once` runs one
//! `provider.connection.check` against the simulated tenant on in-memory stores, prints the final
//! report as JSON and exits.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use verdict_runner::WorkerConfig;
use verdict_runner::fake::{FakeProvider, FakeTenant, Sandbox, granted_roles};

struct Options {
    port: u16,
    missing: Vec<String>,
    latency: Duration,
    verify_once: bool,
}

fn options() -> anyhow::Result<Options> {
    let env = |name: &str| std::env::var(name).ok();
    let mut port = env("FAKE_PROVIDER_PORT").unwrap_or_else(|| "8099".to_owned());
    let mut missing = env("FAKE_PROVIDER_MISSING").unwrap_or_default();
    let mut latency = env("FAKE_PROVIDER_LATENCY_MS").unwrap_or_else(|| "0".to_owned());
    let mut verify_once = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?,
            "--missing" => missing = value()?,
            "--latency-ms" => latency = value()?,
            "--verify-once" => verify_once = true,
            other => anyhow::bail!("unknown option {other}; see the comment at the top of examples/fake_provider.rs"),
        }
    }
    let missing = match missing.trim() {
        "all" => granted_roles(),
        list => list.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect(),
    };
    Ok(Options {
        port: port.parse().context("the port must be a number")?,
        missing,
        latency: Duration::from_millis(latency.parse().context("the latency must be a number of milliseconds")?),
        verify_once,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let tenant = FakeTenant::contoso();
    let provider = FakeProvider::start_on(SocketAddr::from(([127, 0, 0, 1], options.port)), tenant.clone()).await?;
    let roles: Vec<String> = granted_roles().into_iter().filter(|r| !options.missing.contains(r)).collect();
    provider.update(|b| {
        b.roles = roles.clone();
        b.latency = options.latency;
    });
    if options.verify_once {
        return verify_once(&provider).await;
    }
    let url = provider.url();
    println!("Simulated Microsoft Entra / Graph tenant on {url}");
    println!();
    println!("Point Verdict at it:");
    println!("  VERDICT_ENTRA_AUTHORITY={}", url.as_str().trim_end_matches('/'));
    println!("  VERDICT_GRAPH_BASE_URL={}", url.as_str().trim_end_matches('/'));
    println!();
    println!("Create a provider connection with:");
    println!("  entra_tenant_id: {}", tenant.directory_id);
    println!("  client_id:       {}", tenant.client_id);
    println!("  client_secret:   {}   (a simulated secret)", tenant.client_secret);
    println!();
    println!(
        "Granted application roles: {}",
        if roles.is_empty() { "none (no admin consent)".to_owned() } else { roles.join(", ") }
    );
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    println!("{} requests served.", provider.requests());
    Ok(())
}

/// One verification on in-memory stores, printed as the report JSON.
async fn verify_once(provider: &FakeProvider) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(provider, verdict_runner::DEFAULT_CHECK_TIMEOUT)?;
    let pool = sandbox.pool(WorkerConfig::default());
    let connection = sandbox.connect(provider, 1).await?;
    let id = sandbox.start(1, connection).await?;
    let run = sandbox.completed(id, Duration::from_secs(60)).await?;
    pool.shutdown().await;
    let report = run.report.context("a completed run has a report")?;
    println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    Ok(())
}
