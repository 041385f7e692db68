//! A simulated Microsoft Entra / Graph tenant on localhost, for tests, the benchmark and the
//! `fake_provider` example: the token endpoint with its AADSTS refusals, `/v1.0/organization`,
//! Intune's device configurations, the app registration, Graph's application roles and the
//! tenant's subscriptions — with per-endpoint failures (status codes, throttling, hangs, slow or
//! garbled answers), latency, an expiring secret, a manifest and licences set at run time, and a
//! count of every request it received. Never for production (feature `fake-provider`).

mod directory;
mod routes;
mod sandbox;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;
use verdict_core::flows::{APPLICATION_READ_PERMISSION, LICENSE_READ_PERMISSION, required_permissions};

pub use sandbox::Sandbox;

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
    /// This HTTP status with a provider-shaped error body (a 429 carries `Retry-After` of
    /// [`Behaviour::retry_after_seconds`]).
    Status(u16),
    /// HTTP 429 with this `Retry-After` once, then [`Reply::Normal`].
    ThrottleOnce {
        /// The `Retry-After` value, in seconds.
        retry_after_seconds: u32,
    },
    /// Never answers.
    Hang,
    /// Answers normally after this extra delay.
    Slow(Duration),
    /// HTTP 200 with a body that is not what the endpoint returns.
    Garbled(Garbage),
}

/// What a [`Reply::Garbled`] answer carries under its HTTP 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// JSON cut off in the middle.
    MalformedJson,
    /// An HTML error page (a proxy or gateway in the way).
    Html,
    /// 10 MiB of JSON.
    Huge,
    /// A body that never ends, sent as fast as it is read.
    Endless,
    /// A body that never ends, one byte at a time.
    Trickle,
}

/// Why the token endpoint refuses the right credentials (an expired secret needs no flag: set
/// [`Behaviour::secret_expires_at`] in the past, or call [`Behaviour::expire_secret`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// AADSTS700016: the application is not in the directory.
    AppNotInDirectory,
    /// AADSTS65001: admin consent is required.
    ConsentRequired,
    /// AADSTS7000112: the application is disabled.
    AppDisabled,
    /// AADSTS53003: Conditional Access blocked the sign-in.
    BlockedByConditionalAccess,
    /// An AADSTS code Verdict has no precise cause for (AADSTS50058), without `error_codes`:
    /// only the `AADSTS<n>:` prefix of the description carries it.
    Unlisted,
}

/// One subscription (`subscribedSkus` entry) of the simulated tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSku {
    /// E.g. `SPE_E3`.
    pub sku_part_number: String,
    /// `Enabled`, `Warning`, `Suspended`, …
    pub capability_status: String,
    /// Service plan names and provisioning statuses.
    pub service_plans: Vec<(String, String)>,
}

impl FakeSku {
    fn new(part: &str, status: &str, plans: &[&str]) -> Self {
        Self {
            sku_part_number: part.to_owned(),
            capability_status: status.to_owned(),
            service_plans: plans.iter().map(|p| ((*p).to_owned(), "Success".to_owned())).collect(),
        }
    }

    /// Microsoft 365 E3: Intune included (`INTUNE_A`).
    #[must_use]
    pub fn microsoft_365_e3() -> Self {
        Self::new("SPE_E3", "Enabled", &["EXCHANGE_S_ENTERPRISE", "INTUNE_A", "AAD_PREMIUM"])
    }

    /// Office 365 E3: only `INTUNE_O365`, which does not license device management.
    #[must_use]
    pub fn office_365_e3() -> Self {
        Self::new("ENTERPRISEPACK", "Enabled", &["EXCHANGE_S_ENTERPRISE", "INTUNE_O365", "SHAREPOINTENTERPRISE"])
    }

    /// Exchange Online only.
    #[must_use]
    pub fn exchange_online() -> Self {
        Self::new("EXCHANGESTANDARD", "Enabled", &["EXCHANGE_S_STANDARD"])
    }
}

/// How the simulated tenant behaves; change it at any time with [`FakeProvider::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// The application roles issued tokens carry (admin-consented permissions).
    pub roles: Vec<String>,
    /// The Graph application permissions the app registration requests (its manifest).
    pub requested_permissions: Vec<String>,
    /// When the client secret the tenant accepts expires; from then on the token endpoint
    /// answers AADSTS7000222 (unless `enforce_secret_expiry` is off).
    pub secret_expires_at: DateTime<Utc>,
    /// Whether the token endpoint refuses the secret once it expired, as Entra does. Turning it
    /// off is a simulation lever only: it lets a test see Graph report an expired secret's date
    /// while tokens are still issued.
    pub enforce_secret_expiry: bool,
    /// Refuse the right credentials anyway, for this reason.
    pub token_error: Option<TokenError>,
    /// The tenant's subscriptions.
    pub skus: Vec<FakeSku>,
    /// Delay before every answer.
    pub latency: Duration,
    /// The `Retry-After` of a [`Reply::Status`]`(429)`.
    pub retry_after_seconds: u32,
    /// The token endpoint.
    pub token: Reply,
    /// `GET /v1.0/organization`.
    pub organization: Reply,
    /// `GET /v1.0/deviceManagement/deviceConfigurations`.
    pub device_configurations: Reply,
    /// `GET /v1.0/applications(appId='…')`.
    pub application: Reply,
    /// `GET /v1.0/servicePrincipals(appId='…')`.
    pub service_principal: Reply,
    /// `GET /v1.0/subscribedSkus`.
    pub subscribed_skus: Reply,
    /// Issue tokens for this `tid` instead of the tenant's directory id.
    pub token_tenant_id: Option<String>,
    /// Answer `/organization` with this id instead of the tenant's directory id.
    pub organization_id: Option<String>,
    /// Use this text as every `request-id` header and error-body `correlation_id` instead of a
    /// fresh GUID (a provider, or something in between, sending ids of an unexpected shape).
    pub request_id: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            roles: granted_roles(),
            requested_permissions: granted_roles(),
            secret_expires_at: Utc::now() + chrono::Duration::days(365),
            enforce_secret_expiry: true,
            token_error: None,
            skus: vec![FakeSku::microsoft_365_e3(), FakeSku::exchange_online()],
            latency: Duration::ZERO,
            retry_after_seconds: 60,
            token: Reply::Normal,
            organization: Reply::Normal,
            device_configurations: Reply::Normal,
            application: Reply::Normal,
            service_principal: Reply::Normal,
            subscribed_skus: Reply::Normal,
            token_tenant_id: None,
            organization_id: None,
            request_id: None,
        }
    }
}

impl Behaviour {
    /// The client secret expired three days ago: the token endpoint answers AADSTS7000222 and
    /// the registration shows the date.
    pub fn expire_secret(&mut self) {
        self.secret_expires_at = Utc::now() - chrono::Duration::days(3);
    }

    /// The registration no longer requests `permission`, so no token carries it either.
    pub fn drop_from_manifest(&mut self, permission: &str) {
        self.requested_permissions.retain(|p| p != permission);
        self.roles.retain(|p| p != permission);
    }
}

/// Every role the provider-connection flow asks for (the canonical one of each catalog entry),
/// and the two that let it read the registration and the subscriptions.
#[must_use]
pub fn granted_roles() -> Vec<String> {
    required_permissions()
        .map(|(_, r)| r.permission)
        .chain([APPLICATION_READ_PERMISSION, LICENSE_READ_PERMISSION])
        .map(str::to_owned)
        .collect()
}

struct Shared {
    tenant: FakeTenant,
    behaviour: Mutex<Behaviour>,
    requests: AtomicUsize,
    /// Requests per endpoint name.
    requests_to: Mutex<BTreeMap<&'static str, usize>>,
    /// Graph's application roles: every permission name the simulation knows and an id drawn
    /// at start, so nothing can rely on a fixed table of ids.
    app_roles: Vec<(String, String)>,
    /// Issued access tokens and the roles each carries.
    issued: Mutex<Vec<(String, Vec<String>)>>,
}

impl Shared {
    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, endpoint: &'static str) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mut counts = self.requests_to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(endpoint).or_default() += 1;
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
            requests_to: Mutex::new(BTreeMap::new()),
            app_roles: known_permissions().map(|name| (uuid::Uuid::now_v7().to_string(), name)).collect(),
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

    /// How many requests reached `endpoint`: `token`, `organization`, `device_configurations`,
    /// `applications`, `service_principals`, `subscribed_skus`.
    #[must_use]
    pub fn requests_to(&self, endpoint: &str) -> usize {
        let counts = self.shared.requests_to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(endpoint).copied().unwrap_or_default()
    }

    /// Every access token it issued (for tests that prove tokens never leak).
    #[must_use]
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.issued().iter().map(|(token, _)| token.clone()).collect()
    }
}

/// Every Graph application permission the simulated Graph knows by name.
fn known_permissions() -> impl Iterator<Item = String> {
    let mut names: Vec<String> = required_permissions()
        .flat_map(|(_, r)| r.accepted.iter().copied())
        .chain([APPLICATION_READ_PERMISSION, LICENSE_READ_PERMISSION, "User.Read.All", "Mail.Read"])
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names.into_iter()
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
