//! The command line: subcommands and every setting, each with its `VERDICT_…` environment
//! variable twin (docs/architecture.md#configuration-and-processes).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secret::{DatabaseUrl, SecretSetting};

/// Verdict verifies tenants for multi-tenant governance products.
#[derive(Debug, Parser)]
#[command(name = "verdict", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s options, for when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub settings: Settings,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and run workers (the default).
    Serve(ServeArgs),
    /// Run workers only.
    Worker(WorkerArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Development tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `verdict serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VERDICT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the API only; run workers elsewhere with `verdict worker`.
    #[arg(long)]
    pub no_workers: bool,
    /// How long a client may take to send a request head, in milliseconds; a kept-alive
    /// connection waiting for its next request is closed after it too.
    #[arg(long, env = "VERDICT_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub header_read_timeout_ms: u64,
    /// How long a connection may see no traffic at all, in milliseconds (longer than a request
    /// may take).
    #[arg(long, env = "VERDICT_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(16_000..=3_600_000))]
    pub idle_timeout_ms: u64,
    /// How many connections may be open at once; more wait in the listen backlog.
    #[arg(long, env = "VERDICT_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,
    /// How long a request body may take to arrive, in milliseconds, before the answer is 408.
    #[arg(long, env = "VERDICT_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=14_000))]
    pub body_timeout_ms: u64,
    /// Worker settings.
    #[command(flatten)]
    pub workers: WorkerArgs,
}

/// Worker settings.
#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// Concurrent runs per process.
    #[arg(long = "workers", env = "VERDICT_WORKERS", default_value_t = 4)]
    pub count: usize,
    /// Per-check timeout in milliseconds.
    #[arg(long, env = "VERDICT_CHECK_TIMEOUT_MS", default_value_t = 10_000)]
    pub check_timeout_ms: u64,
    /// Lease length in seconds; workers renew it while they work.
    #[arg(long, env = "VERDICT_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u32,
    /// How long running checks may go on after a stop signal before their runs are handed back
    /// (without spending an attempt), in seconds.
    #[arg(long, env = "VERDICT_SHUTDOWN_GRACE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
    /// Microsoft Entra authority base URL.
    #[arg(long, env = "VERDICT_ENTRA_AUTHORITY", default_value = "https://login.microsoftonline.com")]
    pub entra_authority: String,
    /// Microsoft Graph base URL.
    #[arg(long, env = "VERDICT_GRAPH_BASE_URL", default_value = "https://graph.microsoft.com")]
    pub graph_base_url: String,
}

impl Default for WorkerArgs {
    fn default() -> Self {
        Self {
            count: 4,
            check_timeout_ms: 10_000,
            lease_seconds: 30,
            shutdown_grace_seconds: 10,
            entra_authority: "https://login.microsoftonline.com".to_owned(),
            graph_base_url: "https://graph.microsoft.com".to_owned(),
        }
    }
}

/// `verdict token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a token with the configured HS256 secret (development and scripts).
    Issue(TokenIssueArgs),
}

/// `verdict token issue`.
#[derive(Debug, Args)]
pub struct TokenIssueArgs {
    /// The user id (`sub`).
    #[arg(long, default_value = "dev-user")]
    pub sub: String,
    /// The workspace.
    #[arg(long)]
    pub workspace: i64,
    /// Comma-separated tenant ids, or `*` for every tenant.
    #[arg(long, default_value = "*")]
    pub tenants: String,
    /// Comma-separated capabilities; `all` for every one.
    #[arg(long, default_value = "all")]
    pub capabilities: String,
    /// Lifetime, e.g. `30m`, `12h`, `7d`, `1h 30m` (at most 365 days).
    #[arg(long, default_value = "12h")]
    pub ttl: String,
}

/// `verdict audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute a workspace's hash chain; exit status 0 when valid, 1 when broken.
    Verify {
        /// The workspace.
        #[arg(long)]
        workspace: i64,
    },
    /// Print a workspace's events as JSON lines, in `seq` order.
    Export {
        /// The workspace.
        #[arg(long)]
        workspace: i64,
    },
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Settings every subcommand shares.
#[derive(Debug, Args)]
pub struct Settings {
    /// `sqlite://path` (created on first start) or `postgres://…`.
    #[arg(
        long,
        env = "VERDICT_DATABASE_URL",
        default_value = "sqlite://verdict-data/verdict.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: DatabaseUrl,
    /// How long a database call waits for a connection before it answers 503, in milliseconds:
    /// short, so that an unreachable database fails requests fast instead of piling them up.
    #[arg(long, env = "VERDICT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 1000, global = true, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub db_acquire_timeout_ms: u64,
    /// Where development-mode keys are kept (default: the SQLite file's folder, else `verdict-data`).
    #[arg(long, env = "VERDICT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// HS256 secret for bearer tokens (at least 32 bytes).
    #[arg(long, env = "VERDICT_JWT_HS256_SECRET", global = true, hide_env_values = true)]
    pub jwt_hs256_secret: Option<SecretSetting>,
    /// PEM public key (RS256 or ES256) for bearer tokens.
    #[arg(long, env = "VERDICT_JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Required `iss` of bearer tokens.
    #[arg(long, env = "VERDICT_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of bearer tokens.
    #[arg(long, env = "VERDICT_JWT_AUDIENCE", default_value = "verdict", global = true)]
    pub jwt_audience: String,
    /// AES-256-GCM key for client secrets at rest: 32 bytes as base64 or 64 hex digits.
    #[arg(long, env = "VERDICT_ENCRYPTION_KEY", global = true, hide_env_values = true)]
    pub encryption_key: Option<SecretSetting>,
    /// Log format (default: pretty on a terminal, else json).
    #[arg(long, env = "VERDICT_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Copy committed audit events as JSON lines to `stdout` or a file.
    #[arg(long, env = "VERDICT_AUDIT_JSONL", global = true)]
    pub audit_jsonl: Option<String>,
    /// Do not apply migrations at start.
    #[arg(long, global = true)]
    pub no_migrate: bool,
    /// Webhook settings.
    #[command(flatten)]
    pub webhooks: crate::continuous::WebhookArgs,
}
