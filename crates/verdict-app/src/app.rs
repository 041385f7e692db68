//! The running service: binds the listener first (so tests can pass port 0), wires the store,
//! the HTTP router and the workers, and stops gracefully on SIGTERM or Ctrl-C — draining
//! requests and handing worker leases back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::{NoQueueNotifier, QueueNotifier};
use verdict_http::auth::Authenticator;
use verdict_http::server::ServerLimits;
use verdict_http::telemetry::Metrics;
use verdict_http::{AppState, HttpLimits, router};

use crate::cli::{ServeArgs, Settings};
use crate::config::{Database, Keys, resolve_keys};
use crate::continuous::{Continuous, DispatchWake};
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::workers::Workers;

/// A built service, ready to run.
pub struct App {
    forwarder: Option<verdict_audit::Forwarder>,
    listener: Option<TcpListener>,
    address: Option<SocketAddr>,
    router: Option<axum::Router>,
    server_limits: ServerLimits,
    workers: Option<Workers>,
    continuous: Continuous,
    store: Store,
    shutdown: Shutdown,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("address", &self.address).finish_non_exhaustive()
    }
}

/// Opens the store named by the settings and migrates it unless told not to.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open_store(settings: &Settings) -> Result<(Database, Store)> {
    let database = Database::from_url(&settings.database_url)?;
    let store = Store::open(&database, Duration::from_millis(settings.db_acquire_timeout_ms)).await?;
    if !settings.no_migrate {
        store.migrate().await?;
    }
    Ok((database, store))
}

impl App {
    /// Builds the service: API (unless `api` is false) and workers (unless `workers` is zero).
    ///
    /// # Errors
    /// Configuration errors, an unusable database, a listener that cannot be bound.
    pub async fn build(settings: &Settings, serve: &ServeArgs, api: bool) -> Result<Self> {
        // Keys first: a production-looking setup without keys is refused before anything connects.
        let keys = resolve_keys(settings, &Database::from_url(&settings.database_url)?)?;
        let (database, store) = open_store(settings).await?;
        if keys.development {
            tracing::warn!(
                "DEVELOPMENT MODE: no JWT or encryption key configured; using generated keys from the data folder. \
                 Issue tokens with `verdict token issue`. Never run like this in production."
            );
        }
        let flows = Arc::new(FlowCatalog::builtin().context("flow catalog")?);
        let cipher = Arc::new(keys.cipher()?);
        let run_workers = !serve.no_workers && serve.workers.count > 0;
        // Completions in this process (worker runs, blocked starts) wake its webhook dispatcher.
        let dispatch_wake = Arc::new(DispatchWake::default());
        let outbound = settings.webhooks.policy();
        let metrics = Arc::new(Metrics::default());
        let workers = if run_workers {
            Some(
                Workers::new(&serve.workers, &store, cipher.clone(), flows.clone())?
                    .with_delivery_notifier(dispatch_wake.clone()),
            )
        } else {
            None
        };
        let queue: Arc<dyn QueueNotifier> = match &workers {
            Some(w) => w.notifier(),
            None => Arc::new(NoQueueNotifier),
        };
        let shutdown = Shutdown::default();
        let continuous_ports = store
            .ports(cipher.clone(), queue.clone(), flows.clone())
            .with_delivery_notifier(dispatch_wake.clone())
            .with_outbound(outbound)
            .with_observer(metrics.clone());
        let continuous = Continuous::new(continuous_ports.clone(), dispatch_wake, &settings.webhooks);
        let (listener, address, router) = if api {
            let limits =
                HttpLimits { body_timeout: Duration::from_millis(serve.body_timeout_ms), ..HttpLimits::default() };
            let router = build_router(continuous_ports, &keys, settings, Arc::new(store.clone()), metrics, limits)?;
            let listener =
                TcpListener::bind(serve.listen).await.with_context(|| format!("cannot listen on {}", serve.listen))?;
            let address = listener.local_addr()?;
            (Some(listener), Some(address), Some(router))
        } else {
            (None, None, None)
        };
        let forwarder = audit_forwarder(settings, &database, &store)?;
        let server_limits = ServerLimits {
            header_read_timeout: Duration::from_millis(serve.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(serve.idle_timeout_ms),
            max_connections: usize::try_from(serve.max_connections).unwrap_or(usize::MAX),
            ..ServerLimits::default()
        };
        Ok(Self { forwarder, listener, address, router, server_limits, workers, continuous, store, shutdown })
    }

    /// The bound address, when serving the API.
    #[must_use]
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// Runs until SIGTERM or Ctrl-C, then drains requests and stops workers.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> Result<()> {
        self.run_until(async {
            wait_for_signal().await;
            tracing::info!("shutting down");
        })
        .await
    }

    /// Runs until `stop` resolves (the end-to-end tests stop the service this way).
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let shutdown = self.shutdown.clone();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            stop.await;
            trigger.trigger();
        });
        let workers = self.workers.map(|w| w.start(shutdown.clone()));
        let continuous = self.continuous.start(shutdown.clone());
        let forwarder = self.forwarder.map(|forwarder| {
            let stop = shutdown.clone();
            tokio::spawn(forwarder.run(async move { stop.wait().await }))
        });
        if let (Some(listener), Some(router), Some(address)) = (self.listener, self.router, self.address) {
            tracing::info!(%address, "serving the Verdict API");
            let graceful = shutdown.clone();
            verdict_http::server::serve(listener, router, self.server_limits, async move { graceful.wait().await })
                .await
                .context("HTTP server")?;
        } else {
            shutdown.wait().await;
        }
        if let Some(workers) = workers {
            workers.stopped().await;
        }
        continuous.stopped().await;
        if let Some(forwarder) = forwarder
            && forwarder.await.is_err()
        {
            tracing::error!("the audit forwarder task failed");
        }
        self.store.close().await;
        Ok(())
    }
}

/// The audit forwarder, when `VERDICT_AUDIT_JSONL` names a sink. Its cursor sits beside a file
/// sink, or in the data folder for stdout.
fn audit_forwarder(
    settings: &Settings,
    database: &Database,
    store: &Store,
) -> Result<Option<verdict_audit::Forwarder>> {
    let Some(target) = settings.audit_jsonl.as_deref() else { return Ok(None) };
    let sink: verdict_audit::Sink = target.parse().unwrap_or(verdict_audit::Sink::Stdout);
    let cursor_file = match &sink {
        verdict_audit::Sink::File(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".cursor");
            std::path::PathBuf::from(name)
        }
        verdict_audit::Sink::Stdout => crate::config::data_dir(settings, database).join("audit-forwarder.cursor"),
    };
    let config =
        verdict_audit::ForwarderConfig { sink, cursor_file, poll: std::time::Duration::from_secs(1), page: 500 };
    let forwarder = verdict_audit::Forwarder::new(store.audit_log(), config).context("audit forwarder cursor")?;
    tracing::info!(sink = target, "forwarding audit events as JSON lines");
    Ok(Some(forwarder))
}

fn build_router(
    ports: verdict_core::services::Ports,
    keys: &Keys,
    settings: &Settings,
    readiness: Arc<dyn verdict_http::Readiness>,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
) -> Result<axum::Router> {
    let authenticator = Authenticator::new(&keys.jwt, settings.jwt_issuer.as_deref(), Some(&settings.jwt_audience))
        .context("JWT configuration")?;
    let state = AppState::new(ports, authenticator, readiness, metrics, limits);
    Ok(router(state))
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
