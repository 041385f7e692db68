//! A simulated Microsoft Entra / Graph tenant on localhost, to try Verdict without Microsoft.
//!
//! ```text
//! cargo run -p verdict-runner --example fake_provider                 # serve until Ctrl-C
//! cargo run -p verdict-runner --example fake_provider -- --expire-secret
//! cargo run -p verdict-runner --example fake_provider -- --secret-expires-in-days 12 --verify-once
//! ```
//!
//! Options (environment twins in brackets):
//! - `--port N` [`FAKE_PROVIDER_PORT`, default 8099, 0 for any free port];
//! - `--latency-ms N` [`FAKE_PROVIDER_LATENCY_MS`] delays every answer;
//! - `--missing ROLE[,ROLE…]` [`FAKE_PROVIDER_MISSING`] withholds application roles (requested,
//!   not consented); `--missing all` simulates a registration without admin consent;
//! - `--drop-from-manifest ROLE[,ROLE…]` removes permissions from the app registration (not
//!   requested, so not consented either);
//! - `--secret-expires-in-days N` sets the client secret's end date in the registration;
//! - `--expire-secret` makes the secret expired three days ago (AADSTS7000222);
//! - `--disable-app` (AADSTS7000112), `--block-by-conditional-access` (AADSTS53003);
//! - `--no-intune-plan` leaves the tenant with Office 365 (`INTUNE_O365` only) and Exchange;
//! - `--throttle-once` answers the first organization read with 429 and `Retry-After: 1`;
//! - `--verify-once` runs one `provider.connection.check` against the simulated tenant on
//!   in-memory stores, prints the final report as JSON and exits; with
//!   `--connection-expires-in-days N` the connection records `client_secret_expires_at`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use verdict_runner::WorkerConfig;
use verdict_runner::fake::{Behaviour, FakeProvider, FakeSku, FakeTenant, Reply, Sandbox, TokenError, granted_roles};

#[derive(Default)]
struct Options {
    port: u16,
    latency: Duration,
    missing: Vec<String>,
    dropped: Vec<String>,
    secret_expires_in_days: Option<i64>,
    expire_secret: bool,
    token_error: Option<TokenError>,
    no_intune_plan: bool,
    throttle_once: bool,
    verify_once: bool,
    connection_expires_in_days: Option<i64>,
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect()
}

fn options() -> anyhow::Result<Options> {
    let env = |name: &str| std::env::var(name).ok();
    let mut port = env("FAKE_PROVIDER_PORT").unwrap_or_else(|| "8099".to_owned());
    let mut missing = env("FAKE_PROVIDER_MISSING").unwrap_or_default();
    let mut latency = env("FAKE_PROVIDER_LATENCY_MS").unwrap_or_else(|| "0".to_owned());
    let mut options = Options::default();
    let days = |text: String| text.parse::<i64>().context("a number of days");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?,
            "--missing" => missing = value()?,
            "--latency-ms" => latency = value()?,
            "--drop-from-manifest" => options.dropped = list(&value()?),
            "--secret-expires-in-days" => options.secret_expires_in_days = Some(days(value()?)?),
            "--connection-expires-in-days" => options.connection_expires_in_days = Some(days(value()?)?),
            "--expire-secret" => options.expire_secret = true,
            "--disable-app" => options.token_error = Some(TokenError::AppDisabled),
            "--block-by-conditional-access" => options.token_error = Some(TokenError::BlockedByConditionalAccess),
            "--no-intune-plan" => options.no_intune_plan = true,
            "--throttle-once" => options.throttle_once = true,
            "--verify-once" => options.verify_once = true,
            other => anyhow::bail!("unknown option {other}; see the comment at the top of examples/fake_provider.rs"),
        }
    }
    options.missing = match missing.trim() {
        "all" => granted_roles(),
        text => list(text),
    };
    options.port = port.parse().context("the port must be a number")?;
    options.latency = Duration::from_millis(latency.parse().context("the latency must be a number of milliseconds")?);
    Ok(options)
}

/// `days` whole days from now (an hour further out, so the whole days left are exactly `days`).
fn in_days(days: i64) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(days.signum())
}

/// The simulated tenant's behaviour the options describe.
fn behaviour(options: &Options) -> Behaviour {
    let mut behaviour =
        Behaviour { latency: options.latency, token_error: options.token_error, ..Behaviour::default() };
    behaviour.roles.retain(|role| !options.missing.contains(role));
    for permission in &options.dropped {
        behaviour.drop_from_manifest(permission);
    }
    if let Some(days) = options.secret_expires_in_days {
        behaviour.secret_expires_at = in_days(days);
    }
    if options.expire_secret {
        behaviour.expire_secret();
    }
    if options.no_intune_plan {
        behaviour.skus = vec![FakeSku::office_365_e3(), FakeSku::exchange_online()];
    }
    if options.throttle_once {
        behaviour.organization = Reply::ThrottleOnce { retry_after_seconds: 1 };
    }
    behaviour
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let tenant = FakeTenant::contoso();
    let provider = FakeProvider::start_on(SocketAddr::from(([127, 0, 0, 1], options.port)), tenant.clone()).await?;
    let simulated = behaviour(&options);
    provider.update(|b| *b = simulated.clone());
    if options.verify_once {
        return verify_once(&provider, &options).await;
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
    println!("  the secret expires {}", simulated.secret_expires_at.format("%Y-%m-%d"));
    println!();
    let roles = &simulated.roles;
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
async fn verify_once(provider: &FakeProvider, options: &Options) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(provider, verdict_runner::DEFAULT_CHECK_TIMEOUT)?;
    let pool = sandbox.pool(WorkerConfig::default());
    let expires_at = options.connection_expires_in_days.map(in_days);
    let connection = sandbox.connect_with_expiry(provider, 1, expires_at).await?;
    let id = sandbox.start(1, connection).await?;
    let run = sandbox.completed(id, Duration::from_secs(60)).await?;
    pool.shutdown().await;
    let report = run.report.context("a completed run has a report")?;
    println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    Ok(())
}
