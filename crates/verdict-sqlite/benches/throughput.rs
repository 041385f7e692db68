//! Start-or-deduplicate throughput of the SQLite store on a database file in a temporary
//! folder, for each durability setting: N starts that each create a run (insert plus audit
//! append), N starts that are deduplicated against those runs, and a mixed load of 8
//! concurrent tasks. Prints one result line per measurement, and the ratio of creating starts to
//! the database's own limit on the same disk: bare write transactions of the same shape (one
//! guarded insert of a run, one insert of an event, `BEGIN IMMEDIATE … COMMIT`) issued straight
//! through one SQLite connection with the same journal and sync settings. Run with
//! `cargo bench -p verdict-sqlite --bench throughput`.

use std::time::{Duration, Instant};

use chrono::Utc;
use verdict_core::domain::{
    Actor, AuditAction, FlowId, NewRun, PendingAuditEvent, RunId, RunIdentity, Subject, SubjectType, TenantId, UserId,
    WorkspaceId,
};
use verdict_core::ports::{RunStore, StartOutcome};
use verdict_sqlite::{Durability, SqliteConfig, SqliteStore};

/// Starts per sequential measurement.
const N: i64 = 2_000;
/// Concurrent tasks of the mixed load.
const TASKS: i64 = 8;
/// Starts per task of the mixed load.
const STARTS_PER_TASK: i64 = 500;
/// Identities the mixed load's tasks share (deduplicated after their first start).
const SHARED_IDENTITIES: i64 = 50;

fn new_start(tenant: i64) -> anyhow::Result<(NewRun, PendingAuditEvent)> {
    let identity = RunIdentity {
        flow: FlowId::parse("provider.connection.check")?,
        workspace_id: WorkspaceId::new(1)?,
        tenant_id: TenantId::new(tenant)?,
        provider_connection_id: None,
    };
    let run = NewRun {
        id: RunId::generate(),
        identity,
        initiator_user_id: Some(UserId::parse("bench")?),
        created_at: Utc::now(),
    };
    let event = PendingAuditEvent::new(
        run.created_at,
        run.identity.workspace_id,
        Some(run.identity.tenant_id),
        Actor::User(UserId::parse("bench")?),
        AuditAction::VerificationStarted,
        Subject { kind: SubjectType::OperationRun, id: run.id.to_string() },
        serde_json::Map::new(),
    );
    Ok((run, event))
}

/// Starts one run per tenant in `tenants`, one after another; returns how many were created.
async fn start_each(store: &SqliteStore, tenants: impl Iterator<Item = i64>) -> anyhow::Result<u64> {
    let mut created = 0;
    for tenant in tenants {
        let (run, event) = new_start(tenant)?;
        created += u64::from(matches!(store.start_or_deduplicate(run, event).await?, StartOutcome::Created(_)));
    }
    Ok(created)
}

fn report(label: &str, durability: Durability, starts: i64, created: u64, elapsed: Duration) {
    let rate = starts as f64 / elapsed.as_secs_f64();
    println!(
        "sqlite start_or_deduplicate {label:<26} durability={durability:<6} {starts:>5} starts \
         ({created:>5} created) in {:>7.3} s = {rate:>8.0} starts/s",
        elapsed.as_secs_f64(),
        durability = format!("{durability:?}").to_lowercase(),
    );
}

async fn mixed_load(store: &SqliteStore) -> anyhow::Result<u64> {
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            // Every 10th start is a fresh identity; the rest hit identities all tasks share.
            let tenants = (0..STARTS_PER_TASK).map(move |i| {
                if i % 10 == 0 { 1_000_000 + task * STARTS_PER_TASK + i } else { 500_000 + i % SHARED_IDENTITIES }
            });
            start_each(&store, tenants).await
        });
    }
    let mut created = 0;
    while let Some(result) = tasks.join_next().await {
        created += result??;
    }
    Ok(created)
}

async fn measure(durability: Durability) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = SqliteConfig::new(format!("sqlite://{}", dir.path().join("bench.db").display()));
    config.durability = durability;
    let store = SqliteStore::connect_with(&config).await?;
    store.migrate().await?;

    let started = Instant::now();
    let created = start_each(&store, 1..=N).await?;
    let adapter_elapsed = started.elapsed();
    report("created (sequential)", durability, N, created, adapter_elapsed);
    let limit = sqlite_limit(&dir.path().join("limit.db"), durability).await?;
    let adapter_rate = N as f64 / adapter_elapsed.as_secs_f64();
    println!(
        "sqlite own limit (bare transactions)     durability={:<6} {:>8.0} tx/s; adapter/limit = {:.2}",
        format!("{durability:?}").to_lowercase(),
        limit,
        adapter_rate / limit,
    );

    let started = Instant::now();
    let created = start_each(&store, 1..=N).await?;
    report("deduplicated (sequential)", durability, N, created, started.elapsed());

    let started = Instant::now();
    let created = mixed_load(&store).await?;
    report("mixed (8 tasks)", durability, TASKS * STARTS_PER_TASK, created, started.elapsed());
    store.close().await;
    Ok(())
}

/// Transactions per second SQLite itself sustains on this disk for the same write shape.
async fn sqlite_limit(path: &std::path::Path, durability: Durability) -> anyhow::Result<f64> {
    use sqlx::ConnectOptions as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        })
        .connect()
        .await?;
    for ddl in [
        "CREATE TABLE runs (id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, hash TEXT NOT NULL, status TEXT NOT NULL, doc TEXT)",
        "CREATE UNIQUE INDEX runs_active ON runs (tenant, hash) WHERE status IN ('queued', 'running')",
        "CREATE TABLE events (workspace INTEGER NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (workspace, seq))",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut conn).await?;
    }
    let started = Instant::now();
    for i in 0..N {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await?;
        sqlx::query("INSERT INTO runs VALUES (?, ?, ?, 'queued', '{}') ON CONFLICT DO NOTHING")
            .bind(RunId::generate().to_string())
            .bind(i)
            .bind(format!("{i:064}"))
            .execute(&mut conn)
            .await?;
        sqlx::query("INSERT INTO events VALUES (1, ?, '{}')").bind(i).execute(&mut conn).await?;
        sqlx::query("COMMIT").execute(&mut conn).await?;
    }
    Ok(N as f64 / started.elapsed().as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        for durability in [Durability::Full, Durability::Normal] {
            measure(durability).await?;
        }
        Ok(())
    })
}
