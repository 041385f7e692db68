//! One number, one line (not a test; `cargo bench -p verdict-runner --bench workers_pg`): how many
//! runs per second 4 workers complete on PostgreSQL against the simulated provider without
//! latency. The database is a throwaway one of `verdict-pg-harness`: on the server of
//! `DATABASE_URL` when it is set, otherwise on a private local server (or a container).
//!
//! Every run is queued before the workers start, each for a connection of its own (runs of one
//! identity would be deduplicated while active), so the number measures claiming, the live-report
//! writes as checks finish, and completion — the store's share of a run — plus five provider
//! requests on localhost.

use std::time::{Duration, Instant};

use verdict_core::domain::{RunId, RunStatus};
use verdict_postgres::{PgConfig, PgStore};
use verdict_runner::fake::{FakeProvider, FakeTenant, Sandbox};
use verdict_runner::{DEFAULT_CHECK_TIMEOUT, WorkerConfig};

const WORKERS: usize = 4;
const WARM_UP_RUNS: i64 = 20;
const THROUGHPUT_RUNS: i64 = 400;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(throughput_of_four_workers_on_postgres())
}

fn worker_config() -> WorkerConfig {
    WorkerConfig { workers: WORKERS, ..WorkerConfig::default() }
}

/// Queues one run for each of `count` new connections (tenants `first`, `first + 1`, …), so no
/// start is deduplicated.
async fn queue(sandbox: &Sandbox, provider: &FakeProvider, first: i64, count: i64) -> anyhow::Result<Vec<RunId>> {
    let mut ids = Vec::new();
    for n in first..first + count {
        let tenant = 1 + n % 1000;
        let connection = sandbox.connect(provider, tenant).await?;
        ids.push(sandbox.start(tenant, connection).await?);
    }
    Ok(ids)
}

/// Waits until every run has completed with ten passing checks.
async fn all_completed(sandbox: &Sandbox, ids: &[RunId], within: Duration) -> anyhow::Result<()> {
    for id in ids {
        let run = sandbox.completed(*id, within).await?;
        anyhow::ensure!(run.status == RunStatus::Completed, "run {id} completed");
        anyhow::ensure!(
            run.report.is_some_and(|r| r.summary().counts.pass == 12),
            "every check of run {id} should pass"
        );
    }
    Ok(())
}

async fn throughput_of_four_workers_on_postgres() -> anyhow::Result<()> {
    let server = if std::env::var_os("DATABASE_URL").is_some() {
        "the DATABASE_URL server"
    } else {
        "verdict-pg-harness's private server"
    };
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    let store = PgStore::connect(database.url(), PgConfig::default()).await?;
    let provider = FakeProvider::start(FakeTenant::contoso()).await?;
    let sandbox = Sandbox::over(store.clone(), &provider, DEFAULT_CHECK_TIMEOUT)?;

    // Warm up the connection pool, the HTTP client and the server's caches.
    let warm_up = queue(&sandbox, &provider, 0, WARM_UP_RUNS).await?;
    let pool = sandbox.pool(worker_config());
    all_completed(&sandbox, &warm_up, Duration::from_secs(30)).await?;
    pool.shutdown().await;

    let ids = queue(&sandbox, &provider, WARM_UP_RUNS, THROUGHPUT_RUNS).await?;
    let requests_before = provider.requests();
    let started = Instant::now();
    let pool = sandbox.pool(worker_config());
    all_completed(&sandbox, &ids, Duration::from_secs(60)).await?;
    let elapsed = started.elapsed();
    pool.shutdown().await;
    let requests = (provider.requests() - requests_before) as f64 / THROUGHPUT_RUNS as f64;
    println!(
        "workers_pg.throughput: {WORKERS} workers completed {THROUGHPUT_RUNS} runs in {:.2} s = {:.0} runs/s \
         (PostgreSQL on {server}, simulated provider on localhost without latency, {requests:.0} provider \
         requests per run)",
        elapsed.as_secs_f64(),
        THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64(),
    );
    drop(sandbox);
    drop(store);
    drop(database);
    Ok(())
}
