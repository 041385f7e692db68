//! A simulated Microsoft Entra / Graph tenant on localhost, for tests, the benchmark and the
//! `fake_provider` example: the token endpoint, `/v1.0/organization` and Intune's device
//! configurations, with per-endpoint status codes, latency and hangs set at run time, and a
//! count of every request it received. Never for production (feature `fake-provider`).

mod routes;
mod sandbox;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

pub use sandbox::Sandbox;

use crate::checks::REQUIRED_PERMISSIONS;

/// A phrase every simulated error description contains, so tests can prove no provider body
/// text reaches a report, an audit event or a log line.
pub const ERROR_DETAIL_MARKER: &str = "simulated-provider-detail";

/// The JOSE header of every simulated access token (the tokens are unsigned look-alikes).
pub const SIMULATED_TOKEN_HEADER: &str = r#"{"typ":"JWT","alg":"RS256","kid":"simulated"}"#;

/// The app registration the simulated tenant knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTenant {
    /// The directory (tenant) id.
    pub directory_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret it accepts.
    pub client_secret: String,
}

impl FakeTenant {
    /// A fixed demo tenant.
    #[must_use]
    pub fn contoso() -> Self {
        Self {
            directory_id: "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f".to_owned(),
            client_id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".to_owned(),
            client_secret: "Zq8~simulated-client-secret.0123456789".to_owned(),
        }
    }
}

/// How one endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reply {
    /// Like the real service would for the simulated tenant.
    #[default]
    Normal,
    /// This HTTP status with a provider-shaped error body.
    Status(u16),
    /// Never answers.
    Hang,
}

/// How the simulated tenant behaves; change it at any time with [`FakeProvider::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// The application roles issued tokens carry (admin-consented permissions).
    pub roles: Vec<String>,
    /// Delay before every answer.
    pub latency: Duration,
    /// The token endpoint.
    pub token: Reply,
    /// `GET /v1.0/organization`.
    pub organization: Reply,
    /// `GET /v1.0/deviceManagement/deviceConfigurations`.
    pub device_configurations: Reply,
    /// Issue tokens for this `tid` instead of the tenant's directory id.
    pub token_tenant_id: Option<String>,
    /// Answer `/organization` with this id instead of the tenant's directory id.
    pub organization_id: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            roles: granted_roles(),
            latency: Duration::ZERO,
            token: Reply::Normal,
            organization: Reply::Normal,
            device_configurations: Reply::Normal,
            token_tenant_id: None,
            organization_id: None,
        }
    }
}

/// Every role the provider-connection flow asks for (the canonical one of each catalog entry).
#[must_use]
pub fn granted_roles() -> Vec<String> {
    REQUIRED_PERMISSIONS.iter().map(|r| r.permission.to_owned()).collect()
}

struct Shared {
    tenant: FakeTenant,
    behaviour: Mutex<Behaviour>,
    requests: AtomicUsize,
    /// Issued access tokens and the roles each carries.
    issued: Mutex<Vec<(String, Vec<String>)>>,
}

impl Shared {
    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn issued(&self) -> MutexGuard<'_, Vec<(String, Vec<String>)>> {
        self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running simulated tenant. Serves both the authority and Graph on one address; stops when
/// dropped.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeProvider {
    /// Serves `tenant` on `127.0.0.1` on a free port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(tenant: FakeTenant) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), tenant).await
    }

    /// Serves `tenant` on `addr`.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn start_on(addr: SocketAddr, tenant: FakeTenant) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            tenant,
            behaviour: Mutex::new(Behaviour::default()),
            requests: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
        });
        let router = routes::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the fake provider stopped");
            }
        });
        Ok(Self { addr, shared, server })
    }

    /// The base URL: use it as both the Entra authority and the Graph base URL.
    #[must_use]
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).unwrap_or_else(|e| unreachable!("socket address URL: {e}"))
    }

    /// The socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app registration it knows.
    #[must_use]
    pub fn tenant(&self) -> &FakeTenant {
        &self.shared.tenant
    }

    /// Changes how it behaves from the next request on.
    pub fn update(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.behaviour());
    }

    /// How many requests it received, of any kind.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Every access token it issued (for tests that prove tokens never leak).
    #[must_use]
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.issued().iter().map(|(token, _)| token.clone()).collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider").field("addr", &self.addr).finish_non_exhaustive()
    }
}
