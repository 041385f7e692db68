//! `verdict`: parse the command line, set up logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use verdict_app::cli::{self, AuditCommand, Cli, Command, TokenCommand};
use verdict_app::{app, commands, config, store, telemetry};

/// mimalloc instead of the system allocator (docs/benchmarks.md, "The allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "verdict stopped");
            eprintln!("verdict: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = cli.settings;
    match cli.command {
        None => app::App::build(&settings, &cli.serve, true).await?.run_until_stopped().await?,
        Some(Command::Serve(serve)) => app::App::build(&settings, &serve, true).await?.run_until_stopped().await?,
        Some(Command::Worker(workers)) => {
            let serve = cli::ServeArgs { workers, ..cli.serve };
            app::App::build(&settings, &serve, false).await?.run_until_stopped().await?;
        }
        Some(Command::Migrate) => {
            let database = config::Database::from_url(&settings.database_url)?;
            let timeout = std::time::Duration::from_millis(settings.db_acquire_timeout_ms);
            store::Store::open(&database, timeout).await?.migrate().await?;
            tracing::info!("migrations applied");
        }
        Some(Command::Token(TokenCommand::Issue(args))) => {
            let database = config::Database::from_url(&settings.database_url)?;
            let keys = config::resolve_keys(&settings, &database)?;
            let token = commands::token_issue(&keys, &settings.jwt_audience, settings.jwt_issuer.as_deref(), &args)?;
            println!("{token}");
        }
        Some(Command::Audit(command)) => {
            // Read-only: the schema is whatever the service migrated it to, never changed here.
            let database = config::Database::from_url(&settings.database_url)?;
            let timeout = std::time::Duration::from_millis(settings.db_acquire_timeout_ms);
            let store = store::Store::open(&database, timeout).await?;
            let mut out = std::io::stdout().lock();
            match command {
                AuditCommand::Verify { workspace } => {
                    if !commands::audit_verify(&store, workspace, &mut out).await? {
                        return Ok(ExitCode::from(1));
                    }
                }
                AuditCommand::Export { workspace } => {
                    commands::audit_export(&store, workspace, &mut out).await?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
