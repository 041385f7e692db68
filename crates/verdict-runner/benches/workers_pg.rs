//! One number, one line (not a test; `cargo bench -p verdict-runner --bench workers_pg`): how many
//! runs per second 4 workers complete on PostgreSQL against the simulated provider without
//! latency. The database is a throwaway one of `verdict-pg-harness`: on the server of
//! `DATABASE_URL` when it is set, otherwise on a private local server (or a container).
//!
//! Every run is queued before the workers start, each for a connection of its own (runs of one
//! identity would be deduplicated while active), so the number measures claiming, the live-report
//! writes as checks finish, and completion — the store's share of a run — plus three provider
//! requests on localhost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{
    Capability, ClientId, ClientSecret, DirectoryId, DisplayName, FlowId, Membership, Principal, ProviderConnectionId,
    RunId, RunStatus, TenantId, TenantScope, UserId, WorkspaceId,
};
use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};
use verdict_core::ports::SystemClock;
use verdict_core::services::{ConnectionService, CreateConnection, Ports, StartVerification, VerificationService};
use verdict_postgres::{PgConfig, PgStore};
use verdict_runner::fake::{FakeProvider, FakeTenant};
use verdict_runner::{
    DEFAULT_CHECK_TIMEOUT, EntraClient, EntraConfig, FlowEngine, LocalWake, WorkerConfig, WorkerPool, builtin_registry,
};

const WORKERS: usize = 4;
const WARM_UP_RUNS: i64 = 20;
const THROUGHPUT_RUNS: i64 = 400;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(throughput_of_four_workers_on_postgres())
}

/// The ports over one PostgreSQL store, and an operator allowed everything in workspace 1.
struct Bench {
    ports: Ports,
    wake: Arc<LocalWake>,
    engine: Arc<FlowEngine>,
    operator: Principal,
    provider: FakeProvider,
}

fn workspace() -> anyhow::Result<WorkspaceId> {
    Ok(WorkspaceId::new(1)?)
}

impl Bench {
    fn new(store: &PgStore, provider: FakeProvider) -> anyhow::Result<Self> {
        let wake = Arc::new(LocalWake::new());
        let ports = Ports {
            runs: Arc::new(store.clone()),
            acknowledgements: Arc::new(store.clone()),
            connections: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            cipher: Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key())?),
            clock: Arc::new(SystemClock),
            flows: Arc::new(FlowCatalog::builtin()?),
            queue: wake.clone(),
        };
        let entra = EntraClient::new(EntraConfig {
            authority: provider.url(),
            graph: provider.url(),
            ..EntraConfig::default()
        })?;
        let engine = Arc::new(FlowEngine::new(builtin_registry(&ports.flows, Arc::new(entra))?, DEFAULT_CHECK_TIMEOUT));
        let operator = Principal {
            user_id: UserId::parse("bench-operator")?,
            memberships: vec![Membership {
                workspace_id: workspace()?,
                tenant_ids: TenantScope::Only((1..=1000).map(TenantId::new).collect::<Result<_, _>>()?),
                capabilities: Capability::ALL.into_iter().collect(),
            }],
        };
        Ok(Self { ports, wake, engine, operator, provider })
    }

    fn pool(&self, workers: usize) -> WorkerPool {
        let config = WorkerConfig { workers, ..WorkerConfig::default() };
        WorkerPool::start(self.ports.clone(), Arc::clone(&self.engine), self.wake.clone(), config)
    }

    async fn connect(&self, tenant: i64) -> anyhow::Result<ProviderConnectionId> {
        let fake = self.provider.tenant();
        let connection = ConnectionService::new(self.ports.clone())
            .create(
                &self.operator,
                workspace()?,
                TenantId::new(tenant)?,
                CreateConnection {
                    display_name: DisplayName::parse("Simulated Contoso")?,
                    entra_tenant_id: DirectoryId::parse(&fake.directory_id)?,
                    client_id: ClientId::parse(&fake.client_id)?,
                    client_secret: ClientSecret::parse(fake.client_secret.clone())?,
                },
            )
            .await?;
        Ok(connection.id)
    }

    /// Queues one run for each of `count` new connections (tenants `first`, `first + 1`, …).
    async fn queue(&self, first: i64, count: i64) -> anyhow::Result<Vec<RunId>> {
        let mut ids = Vec::new();
        for n in first..first + count {
            let tenant = 1 + n % 1000;
            let connection = self.connect(tenant).await?;
            let request = StartVerification {
                workspace_id: workspace()?,
                tenant_id: TenantId::new(tenant)?,
                flow: FlowId::parse(PROVIDER_CONNECTION_CHECK)?,
                provider_connection_id: Some(connection),
            };
            ids.push(VerificationService::new(self.ports.clone()).start(&self.operator, request).await?.run().id);
        }
        Ok(ids)
    }

    /// Waits until every run has completed with ten passing checks.
    async fn all_completed(&self, ids: &[RunId], within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        for id in ids {
            loop {
                let run = self.ports.runs.get(*id).await?.context("the run exists")?;
                if run.status == RunStatus::Completed {
                    let passed = run.report.is_some_and(|r| r.summary().counts.pass == 10);
                    anyhow::ensure!(passed, "every check of run {id} should pass");
                    break;
                }
                anyhow::ensure!(started.elapsed() < within, "run {id} did not complete within {within:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(())
    }
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
    let bench = Bench::new(&store, provider)?;

    // Warm up the connection pool, the HTTP client and the server's caches.
    let warm_up = bench.queue(0, WARM_UP_RUNS).await?;
    let pool = bench.pool(WORKERS);
    bench.all_completed(&warm_up, Duration::from_secs(30)).await?;
    pool.shutdown().await;

    let ids = bench.queue(WARM_UP_RUNS, THROUGHPUT_RUNS).await?;
    let requests_before = bench.provider.requests();
    let started = Instant::now();
    let pool = bench.pool(WORKERS);
    bench.all_completed(&ids, Duration::from_secs(60)).await?;
    let elapsed = started.elapsed();
    pool.shutdown().await;
    let requests = (bench.provider.requests() - requests_before) as f64 / THROUGHPUT_RUNS as f64;
    println!(
        "workers_pg.throughput: {WORKERS} workers completed {THROUGHPUT_RUNS} runs in {:.2} s = {:.0} runs/s \
         (PostgreSQL on {server}, simulated provider on localhost without latency, {requests:.0} provider \
         requests per run)",
        elapsed.as_secs_f64(),
        THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64(),
    );
    drop(bench);
    drop(store);
    drop(database);
    Ok(())
}
