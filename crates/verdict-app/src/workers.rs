//! The worker pool inside `verdict serve` and alone in `verdict worker`: the runner's pool on
//! this process's store, woken by starts in this process and, on PostgreSQL, by `LISTEN/NOTIFY`
//! from every other process sharing the database.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::{DeliveryNotifier, NoDeliveryNotifier, NoQueueNotifier, QueueNotifier, SecretCipher};
use verdict_runner::{EntraClient, EntraConfig, FlowEngine, LocalWake, WorkerConfig, WorkerPool, builtin_registry};

use crate::cli::WorkerArgs;
use crate::config::provider_base_url;
use crate::shutdown::Shutdown;
use crate::store::Store;

/// Configured, not yet running.
pub struct Workers {
    store: Store,
    engine: Arc<FlowEngine>,
    wake: Arc<LocalWake>,
    config: WorkerConfig,
    cipher: Arc<dyn SecretCipher>,
    flows: Arc<FlowCatalog>,
    delivery_notifier: Arc<dyn DeliveryNotifier>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Workers {
    /// Builds the engine (every catalog flow must have an implementation) and the pool settings.
    ///
    /// # Errors
    /// Invalid provider URLs or worker settings.
    pub fn new(
        args: &WorkerArgs,
        store: &Store,
        cipher: Arc<dyn SecretCipher>,
        flows: Arc<FlowCatalog>,
    ) -> Result<Self> {
        if args.count == 0 || args.count > 256 {
            bail!("VERDICT_WORKERS must be between 1 and 256");
        }
        if args.lease_seconds < 3 {
            bail!("VERDICT_LEASE_SECONDS must be at least 3");
        }
        if args.check_timeout_ms == 0 {
            bail!("VERDICT_CHECK_TIMEOUT_MS must be positive");
        }
        // No request timeout of its own: every provider call ends by the deadline of its check,
        // so VERDICT_CHECK_TIMEOUT_MS is the one limit (docs/contract.md#provider-flow).
        let entra = EntraConfig {
            authority: provider_base_url("VERDICT_ENTRA_AUTHORITY", &args.entra_authority)?,
            graph: provider_base_url("VERDICT_GRAPH_BASE_URL", &args.graph_base_url)?,
            ..EntraConfig::default()
        };
        let client = Arc::new(EntraClient::new(entra).context("Entra client")?);
        let registry = builtin_registry(client);
        if let Some(missing) = flows.iter().find(|f| !registry.implements(f)) {
            bail!("flow {} has no implementation in this build", missing.id);
        }
        let engine = Arc::new(FlowEngine::new(registry, Duration::from_millis(args.check_timeout_ms)));
        let config = WorkerConfig {
            workers: args.count,
            lease: Duration::from_secs(u64::from(args.lease_seconds)),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
            ..WorkerConfig::default()
        };
        Ok(Self {
            store: store.clone(),
            engine,
            wake: Arc::new(LocalWake::new()),
            config,
            cipher,
            flows,
            delivery_notifier: Arc::new(NoDeliveryNotifier),
        })
    }

    /// Completions of these workers wake `notifier` (this process's webhook dispatcher).
    #[must_use]
    pub fn with_delivery_notifier(mut self, notifier: Arc<dyn DeliveryNotifier>) -> Self {
        self.delivery_notifier = notifier;
        self
    }

    /// What the start service tells when a run is queued in this process.
    #[must_use]
    pub fn notifier(&self) -> Arc<dyn QueueNotifier> {
        self.wake.clone()
    }

    /// Starts the pool; it stops when `shutdown` fires.
    #[must_use]
    pub fn start(self, shutdown: Shutdown) -> RunningWorkers {
        // Workers never start runs themselves, so their own ports need no notifier.
        let ports = self
            .store
            .ports(self.cipher.clone(), Arc::new(NoQueueNotifier), self.flows.clone())
            .with_delivery_notifier(self.delivery_notifier.clone());
        if let Store::Postgres(pg) = &self.store {
            tokio::spawn(forward_notifications(pg.clone(), self.wake.clone(), shutdown.clone()));
        }
        tracing::info!(workers = self.config.workers, "starting workers");
        let pool = WorkerPool::start(ports, self.engine, self.wake, self.config);
        let handle = tokio::spawn(async move {
            shutdown.wait().await;
            pool.shutdown().await;
            tracing::info!("workers stopped");
        });
        RunningWorkers { handle }
    }
}

/// A running pool.
#[derive(Debug)]
pub struct RunningWorkers {
    handle: tokio::task::JoinHandle<()>,
}

impl RunningWorkers {
    /// Waits until the pool has stopped (after the shutdown signal).
    pub async fn stopped(self) {
        if self.handle.await.is_err() {
            tracing::error!("the worker pool task failed");
        }
    }
}

/// Turns PostgreSQL notifications of claimable runs into wake-ups, reconnecting after outages.
async fn forward_notifications(store: verdict_postgres::PgStore, wake: Arc<LocalWake>, shutdown: Shutdown) {
    loop {
        let listener = tokio::select! {
            listener = store.listen_for_new_runs() => listener,
            () = shutdown.wait() => return,
        };
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot listen for new runs; workers poll meanwhile");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    () = shutdown.wait() => return,
                }
            }
        };
        loop {
            tokio::select! {
                signal = listener.recv() => match signal {
                    Ok(_) => wake.wake_one(),
                    Err(error) => {
                        tracing::warn!(error = %format!("{error:#}"), "lost the run notification channel; reconnecting");
                        break;
                    }
                },
                () = shutdown.wait() => return,
            }
        }
    }
}
