//! The test world: the stores of a [`Backend`] (core's in-memory stores, a SQLite file in a
//! temporary folder, or a throwaway PostgreSQL database), a simulated Entra/Graph tenant on port
//! 0, a provider connection to it, and helpers to start runs, run workers and read reports.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tempfile::TempDir;
use url::Url;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{
    Capability, CheckResult, ClientId, ClientSecret, DirectoryId, DisplayName, FlowId, Membership,
    ProviderConnectionId, Report, Run, RunId, RunStatus, TenantId, TenantScope, UserId, WorkspaceId,
};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};
use verdict_core::ports::{AuditQuery, Clock, ManualClock, QueueNotifier, RunQueue, SecretCipher, SystemClock};
use verdict_core::services::{ConnectionService, CreateConnection, Ports, Store, VerificationService};
use verdict_pg_harness::TestDatabase;
use verdict_postgres::{PgConfig, PgStore};
use verdict_runner::fake::{FakeProvider, FakeTenant};
use verdict_runner::{
    EntraClient, EntraConfig, FlowEngine, FlowRegistry, LocalWake, WorkerConfig, WorkerPool, builtin_registry,
};
use verdict_sqlite::SqliteStore;

pub const CONSENT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Where a world keeps its runs, connections, acknowledgements and audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Core's in-memory stores.
    Memory,
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A database of its own on the PostgreSQL server of `verdict-pg-harness`.
    Postgres,
}

/// Turns `async fn name(backend: Backend)` scenarios into one test per backend, in the modules
/// `memory`, `sqlite` and `postgres` of the calling module.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {
        on_every_backend!(@backend memory, Memory, $($scenario),+);
        on_every_backend!(@backend sqlite, Sqlite, $($scenario),+);
        on_every_backend!(@backend postgres, Postgres, $($scenario),+);
    };
    (@backend $module:ident, $backend:ident, $($scenario:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::support::Backend::$backend).await;
                }
            )+
        }
    };
}
pub(crate) use on_every_backend;

/// The stores of a world, and what must outlive them (the SQLite file's folder, the PostgreSQL
/// database, which is dropped with its guard).
enum Storage {
    Memory(InMemoryStore),
    Sqlite { _store: SqliteStore, _folder: TempDir },
    Postgres { _store: PgStore, _database: TestDatabase },
}

/// The storage ports over one store that implements them all.
/// Assembles the ports on the opened store, the one way core offers ([`Ports::over`]).
type AssemblePorts = Box<dyn FnOnce(Arc<dyn SecretCipher>, Arc<FlowCatalog>, Arc<dyn QueueNotifier>) -> Ports>;

fn assemble<S: Store>(store: &S) -> AssemblePorts {
    let store = store.clone();
    Box::new(move |cipher, flows, notifier| Ports::over(&store, cipher, flows, notifier))
}

impl Storage {
    async fn open(backend: Backend) -> (Self, AssemblePorts) {
        match backend {
            Backend::Memory => {
                let store = InMemoryStore::new();
                let ports = assemble(&store);
                (Self::Memory(store), ports)
            }
            Backend::Sqlite => {
                let folder = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", folder.path().join("verdict.db").display());
                let store = SqliteStore::connect(&url).await.unwrap();
                store.migrate().await.unwrap();
                let ports = assemble(&store);
                (Self::Sqlite { _store: store, _folder: folder }, ports)
            }
            Backend::Postgres => {
                let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
                let store = PgStore::connect(database.url(), PgConfig::default()).await.unwrap();
                let ports = assemble(&store);
                (Self::Postgres { _store: store, _database: database }, ports)
            }
        }
    }
}

/// Builds the run store from the in-memory one (e.g. a flaky wrapper). In-memory worlds only.
pub type WrapQueue = Box<dyn FnOnce(InMemoryStore) -> Arc<dyn RunQueue>>;

/// A test-only flow and its implementation.
pub type ExtraFlow = (verdict_core::domain::FlowDescriptor, Vec<Arc<dyn verdict_runner::Check>>);

/// How a world differs from the everything-granted default.
pub struct Options {
    /// Where the world keeps its data (default: in memory).
    pub backend: Backend,
    pub check_timeout: Duration,
    /// The secret the connection holds (default: the one the tenant accepts).
    pub client_secret: Option<String>,
    /// The directory the connection points at (default: the tenant's).
    pub directory_id: Option<String>,
    /// Send token requests here instead of to the fake provider.
    pub authority: Option<Url>,
    /// A clock the test moves by hand instead of the system clock. In-memory worlds only: the
    /// database stores may compare with their own clock.
    pub manual_clock: bool,
    /// Extra flows and their implementations.
    pub extra_flows: Vec<ExtraFlow>,
    /// Flows the catalog declares but the engine does not implement.
    pub unimplemented_flows: Vec<verdict_core::domain::FlowDescriptor>,
    /// Replaces the run queue (e.g. with a flaky wrapper around the in-memory store). In-memory
    /// worlds only.
    pub queue: Option<WrapQueue>,
    /// Build the Entra client as `verdict serve` does: the provider URLs and nothing else set,
    /// every other setting at its default.
    pub entra_defaults: bool,
    /// The connection's `client_secret_expires_at` (default: unknown).
    pub secret_expires_at: Option<DateTime<Utc>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: Backend::Memory,
            check_timeout: Duration::from_secs(10),
            client_secret: None,
            directory_id: None,
            authority: None,
            manual_clock: false,
            extra_flows: Vec::new(),
            unimplemented_flows: Vec::new(),
            queue: None,
            entra_defaults: false,
            secret_expires_at: None,
        }
    }
}

pub struct World {
    pub ports: Ports,
    pub provider: FakeProvider,
    pub wake: Arc<LocalWake>,
    pub engine: Arc<FlowEngine>,
    pub connection: ProviderConnectionId,
    pub manual_clock: Option<Arc<ManualClock>>,
    /// Declared last: dropped after every port that uses it.
    _storage: Storage,
}

pub fn ws() -> WorkspaceId {
    WorkspaceId::new(1).unwrap()
}

pub fn tenant() -> TenantId {
    TenantId::new(10).unwrap()
}

pub fn admin() -> verdict_core::domain::Principal {
    verdict_core::domain::Principal {
        user_id: UserId::parse("operator-1").unwrap(),
        memberships: vec![Membership {
            workspace_id: ws(),
            tenant_ids: TenantScope::Only(BTreeSet::from([tenant()])),
            capabilities: Capability::ALL.iter().copied().collect(),
        }],
    }
}

/// Worker settings for tests: one worker, quick polls and back-offs.
pub fn quick_workers() -> WorkerConfig {
    WorkerConfig {
        workers: 1,
        lease: Duration::from_secs(30),
        fallback_poll: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(2),
        max_store_backoff: Duration::from_millis(100),
    }
}

pub async fn world(backend: Backend) -> World {
    world_with(Options { backend, ..Options::default() }).await
}

/// Everything every test logged, at TRACE level. The subscriber is global and installed before
/// the first world exists, so no event of any thread can miss it (a thread-local default would
/// race with other threads over tracing's per-callsite interest cache).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        captured
    })
}

pub async fn world_with(options: Options) -> World {
    logs();
    let provider = FakeProvider::start(FakeTenant::contoso()).await.unwrap();
    let (storage, stores) = Storage::open(options.backend).await;
    let wake = Arc::new(LocalWake::new());
    let manual_clock = options.manual_clock.then(|| Arc::new(ManualClock::new(Utc::now())));
    let clock: Arc<dyn Clock> = match &manual_clock {
        Some(clock) => clock.clone(),
        None => Arc::new(SystemClock),
    };
    let mut catalog = FlowCatalog::builtin().unwrap();
    for (flow, _) in &options.extra_flows {
        catalog = catalog.with(flow.clone());
    }
    for flow in &options.unimplemented_flows {
        catalog = catalog.with(flow.clone());
    }
    assert!(
        options.backend == Backend::Memory || (options.queue.is_none() && manual_clock.is_none()),
        "run-queue wrappers and manual clocks need the in-memory backend"
    );
    let cipher = Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap());
    let mut ports = stores(cipher, Arc::new(catalog), wake.clone()).with_clock(clock);
    if let (Some(make), Storage::Memory(store)) = (options.queue, &storage) {
        ports.queue = make(store.clone());
    }
    let authority = options.authority.unwrap_or_else(|| provider.url());
    let entra = if options.entra_defaults {
        EntraClient::new(EntraConfig { authority, graph: provider.url(), ..EntraConfig::default() })
    } else {
        EntraClient::new(EntraConfig {
            authority,
            graph: provider.url(),
            consent_authority: Some(Url::parse(CONSENT_AUTHORITY).unwrap()),
            connect_timeout: Some(Duration::from_secs(2)),
            retry_delay: Duration::from_millis(20),
        })
    }
    .unwrap();
    let mut registry: FlowRegistry = builtin_registry(Arc::new(entra));
    for (flow, checks) in options.extra_flows {
        registry = registry.register(&flow, checks).unwrap();
    }
    let engine = Arc::new(FlowEngine::new(registry, options.check_timeout));
    let fake = provider.tenant().clone();
    let connections = ConnectionService::new(ports.clone());
    let permit = connections.authorize_create(&admin(), ws(), tenant()).unwrap();
    let connection = connections
        .create(
            permit,
            CreateConnection {
                display_name: DisplayName::parse("Contoso").unwrap(),
                entra_tenant_id: DirectoryId::parse(options.directory_id.as_deref().unwrap_or(&fake.directory_id))
                    .unwrap(),
                client_id: ClientId::parse(&fake.client_id).unwrap(),
                client_secret: ClientSecret::parse(options.client_secret.unwrap_or(fake.client_secret)).unwrap(),
                client_secret_expires_at: options.secret_expires_at,
            },
        )
        .await
        .unwrap()
        .id;
    World { ports, provider, wake, engine, connection, manual_clock, _storage: storage }
}

impl World {
    pub fn verifications(&self) -> VerificationService {
        VerificationService::new(self.ports.clone())
    }

    /// Starts a verification of the provider connection.
    pub async fn start(&self) -> RunId {
        self.start_flow(PROVIDER_CONNECTION_CHECK, Some(self.connection)).await
    }

    pub async fn start_flow(&self, flow: &str, connection: Option<ProviderConnectionId>) -> RunId {
        let verifications = self.verifications();
        let permit = verifications.authorize_start(&admin(), ws(), tenant()).unwrap();
        verifications.start(permit, FlowId::parse(flow).unwrap(), connection).await.unwrap().run().id
    }

    pub fn pool(&self, config: WorkerConfig) -> WorkerPool {
        WorkerPool::start(self.ports.clone(), self.engine.clone(), self.wake.clone(), config)
    }

    /// A single worker, spawned as its own task so a test can abort it.
    pub fn spawn_worker(&self, config: WorkerConfig) -> tokio::task::JoinHandle<()> {
        let (trigger, signal) = verdict_runner::stop_channel();
        let worker = verdict_runner::Worker::new(self.ports.clone(), self.engine.clone(), self.wake.clone(), config);
        tokio::spawn(async move {
            let _keep_running = trigger;
            worker.run(signal).await;
        })
    }

    /// Starts a run, lets one quick worker complete it, and returns it.
    pub async fn run_once(&self) -> Run {
        let pool = self.pool(quick_workers());
        let id = self.start().await;
        let run = self.wait_completed(id, Duration::from_secs(20)).await;
        pool.shutdown().await;
        run
    }

    pub async fn get(&self, id: RunId) -> Run {
        self.ports.runs.get(id).await.unwrap().unwrap()
    }

    /// Waits until the run is completed; fails the test after `within`, or when its report
    /// does not validate against the contract schema (so every scenario checks every report).
    pub async fn wait_completed(&self, id: RunId, within: Duration) -> Run {
        let run = self.wait_for(id, within, "completion", |run| run.status == RunStatus::Completed).await;
        assert_valid_report(&run);
        run
    }

    /// Waits until `condition` holds for the stored run; fails the test after `within`.
    pub async fn wait_for(&self, id: RunId, within: Duration, what: &str, condition: impl Fn(&Run) -> bool) -> Run {
        let started = Instant::now();
        loop {
            let run = self.get(id).await;
            if condition(&run) {
                return run;
            }
            assert!(started.elapsed() < within, "no {what} of run {id} within {within:?}: {run:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn audit_json(&self) -> Vec<String> {
        let query = AuditQuery::whole_chain(ws(), None, 1000);
        self.ports
            .audit
            .events(query)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::to_string(&e.to_json()).unwrap())
            .collect()
    }
}

/// Fails the test unless the run's report validates against
/// `contracts/verification-report.v1_5.schema.json`.
pub fn assert_valid_report(run: &Run) {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = SCHEMA.get_or_init(|| {
        let path = format!("{}/../../contracts/verification-report.v1_5.schema.json", env!("CARGO_MANIFEST_DIR"));
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
    });
    let report = report(run).to_json();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the report of run {} breaks the contract: {errors:#?}", run.id);
}

/// The check with `key` in the report.
pub fn check<'a>(report: &'a Report, key: &str) -> &'a CheckResult {
    report.checks().iter().find(|c| c.key.as_str() == key).unwrap_or_else(|| panic!("no check {key}"))
}

/// The evidence value of `kind`, as JSON.
pub fn evidence(check: &CheckResult, kind: &str) -> Option<serde_json::Value> {
    check.evidence.iter().find(|e| e.kind.as_str() == kind).map(|e| serde_json::to_value(&e.value).unwrap())
}

pub fn report(run: &Run) -> &Report {
    run.report.as_ref().expect("a completed run has a report")
}

/// A port nothing listens on: connecting to it is refused.
pub async fn closed_port_url() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    Url::parse(&format!("http://{addr}")).unwrap()
}
