//! A complete runner on any store (core's in-memory one by default), pointed at a
//! [`FakeProvider`]: for the example's `--verify-once` and the benchmarks, so none re-assembles
//! the ports by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{
    Capability, ClientId, ClientSecret, DirectoryId, DisplayName, FlowId, Membership, Principal, ProviderConnectionId,
    Run, RunId, RunStatus, TenantId, TenantScope, UserId, WorkspaceId,
};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};
use verdict_core::services::{ConnectionService, CreateConnection, Ports, Store, VerificationService};

use super::FakeProvider;
use crate::{EntraClient, EntraConfig, FlowEngine, LocalWake, WorkerConfig, WorkerPool, builtin_registry};

/// Stores, the built-in flows and an operator allowed everything in workspace 1.
#[derive(Debug)]
pub struct Sandbox {
    /// The ports over them; the notifier wakes the sandbox's workers.
    pub ports: Ports,
    /// The wake source of the workers.
    pub wake: Arc<LocalWake>,
    /// The engine, talking to the fake provider.
    pub engine: Arc<FlowEngine>,
    /// An operator with every capability in workspace 1, for tenants 1 to 1000.
    pub operator: Principal,
}

impl Sandbox {
    /// A sandbox on fresh in-memory stores whose Entra authority and Graph are `provider`.
    ///
    /// # Errors
    /// When the cipher, the catalog or the Entra client cannot be built.
    pub fn new(provider: &FakeProvider, check_timeout: Duration) -> anyhow::Result<Self> {
        Self::over(InMemoryStore::new(), provider, check_timeout)
    }

    /// A sandbox on `store` (e.g. a SQLite or PostgreSQL store) whose Entra authority and Graph
    /// are `provider`.
    ///
    /// # Errors
    /// When the cipher, the catalog or the Entra client cannot be built.
    pub fn over<S: Store>(store: S, provider: &FakeProvider, check_timeout: Duration) -> anyhow::Result<Self> {
        let wake = Arc::new(LocalWake::new());
        let cipher = Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key())?);
        let ports = Ports::over(&store, cipher, Arc::new(FlowCatalog::builtin()?), wake.clone());
        let entra = EntraClient::new(EntraConfig {
            authority: provider.url(),
            graph: provider.url(),
            // Consent links as an administrator would follow them (a plain-http link to the
            // simulation would be dropped from reports, which keep `https://` links only).
            consent_authority: Some(url::Url::parse(crate::entra::DEFAULT_AUTHORITY)?),
            ..EntraConfig::default()
        })?;
        let engine = Arc::new(FlowEngine::new(builtin_registry(Arc::new(entra)), check_timeout));
        let tenants = (1..=1000).map(TenantId::new).collect::<Result<_, _>>()?;
        let operator = Principal {
            user_id: UserId::parse("sandbox-operator")?,
            memberships: vec![Membership {
                workspace_id: Self::workspace(),
                tenant_ids: TenantScope::Only(tenants),
                capabilities: Capability::ALL.into_iter().collect(),
            }],
        };
        Ok(Self { ports, wake, engine, operator })
    }

    fn workspace() -> WorkspaceId {
        WorkspaceId::new(1).unwrap_or_else(|e| unreachable!("constant workspace id: {e}"))
    }

    /// Workers over the sandbox's stores.
    #[must_use]
    pub fn pool(&self, config: WorkerConfig) -> WorkerPool {
        WorkerPool::start(self.ports.clone(), Arc::clone(&self.engine), self.wake.clone(), config)
    }

    /// A provider connection of `tenant` (1–1000) to the fake provider's app registration.
    ///
    /// # Errors
    /// When the tenant is out of range or the connection cannot be stored.
    pub async fn connect(&self, provider: &FakeProvider, tenant: i64) -> anyhow::Result<ProviderConnectionId> {
        self.connect_with_expiry(provider, tenant, None).await
    }

    /// A provider connection of `tenant` (1–1000) that records when its secret expires.
    ///
    /// # Errors
    /// When the tenant is out of range or the connection cannot be stored.
    pub async fn connect_with_expiry(
        &self,
        provider: &FakeProvider,
        tenant: i64,
        client_secret_expires_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<ProviderConnectionId> {
        let fake = provider.tenant();
        let connections = ConnectionService::new(self.ports.clone());
        let permit = connections.authorize_create(&self.operator, Self::workspace(), TenantId::new(tenant)?)?;
        let connection = connections
            .create(
                permit,
                CreateConnection {
                    display_name: DisplayName::parse("Simulated Contoso")?,
                    entra_tenant_id: DirectoryId::parse(&fake.directory_id)?,
                    client_id: ClientId::parse(&fake.client_id)?,
                    client_secret: ClientSecret::parse(fake.client_secret.clone())?,
                    client_secret_expires_at,
                },
            )
            .await?;
        Ok(connection.id)
    }

    /// Starts `provider.connection.check` for a connection of `tenant`.
    ///
    /// # Errors
    /// When the start is refused or cannot be stored.
    pub async fn start(&self, tenant: i64, connection: ProviderConnectionId) -> anyhow::Result<RunId> {
        let verifications = VerificationService::new(self.ports.clone());
        let permit = verifications.authorize_start(&self.operator, Self::workspace(), TenantId::new(tenant)?)?;
        let flow = FlowId::parse(PROVIDER_CONNECTION_CHECK)?;
        Ok(verifications.start(permit, flow, Some(connection)).await?.run().id)
    }

    /// Waits until the run has completed.
    ///
    /// # Errors
    /// When it has not completed `within`, or the store fails.
    pub async fn completed(&self, id: RunId, within: Duration) -> anyhow::Result<Run> {
        let started = Instant::now();
        loop {
            let run = self.ports.runs.get(id).await?.context("the run exists")?;
            if run.status == RunStatus::Completed {
                return Ok(run);
            }
            anyhow::ensure!(started.elapsed() < within, "run {id} did not complete within {within:?}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
