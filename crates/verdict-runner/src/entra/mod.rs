//! The Microsoft Entra / Graph client the provider-connection flow talks through: configured base
//! URLs (never request input), every call bounded by the deadline of the check that makes it,
//! bounded retries where they are safe (throttling waited out within that deadline), and errors
//! that carry safe pointers only — never a secret, a token or a response body.

mod directory;
mod graph;
mod http;
mod token;

use std::fmt;
use std::time::Duration;

use url::Url;

pub use directory::{Application, GraphAppRoles, SubscribedSkus};
pub use graph::GraphResponse;
pub use http::{MAX_BODY_BYTES, MAX_THROTTLE_RETRIES, MAX_WAITED_RETRY_AFTER};
pub use token::{AccessToken, TokenClaims};

/// Microsoft's public Entra authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Microsoft Graph's public endpoint.
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// The Microsoft Graph permissions reference, linked from permission findings.
pub const PERMISSIONS_REFERENCE: &str = "https://learn.microsoft.com/graph/permissions-reference";

/// Where the client sends requests. How long a call may take is not configured here: every call
/// carries the deadline of the check that makes it (`VERDICT_CHECK_TIMEOUT_MS`), so there is no
/// second, hidden limit below the check timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraConfig {
    /// The Entra authority (`VERDICT_ENTRA_AUTHORITY`).
    pub authority: Url,
    /// The Microsoft Graph base URL (`VERDICT_GRAPH_BASE_URL`).
    pub graph: Url,
    /// The authority as an administrator's browser reaches it, for admin-consent links; `None`
    /// means `authority`. Differs only when the service reaches Entra through a proxy.
    pub consent_authority: Option<Url>,
    /// How long establishing a connection may take before the attempt counts as a connect
    /// failure (which is retried once); `None` leaves it to the call's deadline alone.
    pub connect_timeout: Option<Duration>,
    /// The pause before the single retry of a request that is safe to repeat.
    pub retry_delay: Duration,
}

impl Default for EntraConfig {
    fn default() -> Self {
        Self {
            authority: constant_url(DEFAULT_AUTHORITY),
            graph: constant_url(DEFAULT_GRAPH),
            consent_authority: None,
            connect_timeout: None,
            retry_delay: Duration::from_millis(200),
        }
    }
}

fn constant_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|e| unreachable!("constant URL {text}: {e}"))
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EntraConfigError {
    /// A base URL is not an absolute `http(s)` URL without query or fragment.
    #[error("{0} must be an absolute http(s) URL without query or fragment")]
    InvalidBaseUrl(&'static str),
    /// The HTTP client could not be initialised (TLS roots, …).
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}

/// How a provider call failed, in the terms of the outcome rules (docs/contract.md#provider-flow).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request with a 4xx other than 429.
    #[error("the provider refused the request (HTTP {status})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Safe pointers from the answer.
        info: Box<ProviderInfo>,
    },
    /// HTTP 429, or a 503 with `Retry-After`, that was not (or no longer) worth waiting out.
    #[error("the provider throttled the request (HTTP {status})")]
    Throttled {
        /// The HTTP status (429 or 503).
        status: u16,
        /// The last `Retry-After`, in whole seconds, when the provider sent one.
        retry_after_seconds: Option<u64>,
        /// Safe pointers from the answer.
        info: Box<ProviderInfo>,
    },
    /// HTTP 5xx.
    #[error("the provider is unavailable (HTTP {status})")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// Safe pointers from the answer.
        info: Box<ProviderInfo>,
    },
    /// No HTTP answer at all, or none before the deadline.
    #[error("the provider could not be reached ({0})")]
    Network(NetworkFailure),
    /// A success status with a body that cannot be read as the answer (malformed, HTML,
    /// oversized, cut off): an outage, never a finding about the configuration (docs/contract.md#provider-flow).
    #[error("the provider's answer is unusable: {what}")]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// Safe pointers from the answer.
        info: Box<ProviderInfo>,
        /// What was wrong, in our words.
        what: &'static str,
    },
}

impl ProviderError {
    /// The HTTP status, when there was an answer.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. }
            | Self::Throttled { status, .. }
            | Self::Unavailable { status, .. }
            | Self::InvalidResponse { status, .. } => Some(*status),
            Self::Network(_) => None,
        }
    }

    /// The safe pointers of the answer, when there was one.
    #[must_use]
    pub fn info(&self) -> Option<&ProviderInfo> {
        match self {
            Self::Refused { info, .. }
            | Self::Throttled { info, .. }
            | Self::Unavailable { info, .. }
            | Self::InvalidResponse { info, .. } => Some(info.as_ref()),
            Self::Network(_) => None,
        }
    }
}

/// Why no HTTP answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkFailure {
    /// The call's deadline (or the connect timeout) passed.
    Timeout,
    /// The connection could not be established (refused, DNS, TLS).
    Connect,
    /// The connection broke while the request was under way.
    Other,
}

impl fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out",
            Self::Connect => "connection failed",
            Self::Other => "connection broken",
        })
    }
}

/// Safe pointers taken from a provider answer. Every value is checked to be a GUID, a number or
/// a short code before it is kept, so no free text of a provider body can travel further.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The `request-id` response header (Graph), or the token endpoint's `x-ms-request-id`.
    pub request_id: Option<String>,
    /// The `client-request-id` the provider echoed (we send one with every request).
    pub client_request_id: Option<String>,
    /// The OAuth error code of a token error (`invalid_client`, …).
    pub oauth_error: Option<String>,
    /// The number of the `AADSTS<n>` code of a token error.
    pub aadsts: Option<u32>,
    /// The token endpoint's `correlation_id`.
    pub correlation_id: Option<String>,
}

impl ProviderInfo {
    /// The token error's code as Entra writes it, e.g. `AADSTS7000215`.
    #[must_use]
    pub fn aadsts_code(&self) -> Option<String> {
        self.aadsts.map(|code| format!("AADSTS{code}"))
    }
}

/// The Entra/Graph client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct EntraClient {
    http: reqwest::Client,
    config: EntraConfig,
}

impl EntraClient {
    /// Builds the client.
    ///
    /// # Errors
    /// [`EntraConfigError`] when a base URL is unusable or the HTTP client cannot be built.
    pub fn new(config: EntraConfig) -> Result<Self, EntraConfigError> {
        check_base_url(&config.authority, "the Entra authority")?;
        check_base_url(&config.graph, "the Graph base URL")?;
        if let Some(consent) = &config.consent_authority {
            check_base_url(consent, "the consent authority")?;
        }
        let mut http = reqwest::Client::builder();
        if let Some(connect_timeout) = config.connect_timeout {
            http = http.connect_timeout(connect_timeout);
        }
        // No overall timeout here: each call ends at its check's deadline (see `http::send`).
        let http = http
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("verdict-runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(EntraConfigError::Client)?;
        Ok(Self { http, config })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EntraConfig {
        &self.config
    }

    /// The admin-consent URL of an app registration:
    /// `{authority}/{directory id}/adminconsent?client_id={client id}`.
    #[must_use]
    pub fn admin_consent_url(
        &self,
        directory: &verdict_core::domain::DirectoryId,
        client: &verdict_core::domain::ClientId,
    ) -> String {
        let authority = self.config.consent_authority.as_ref().unwrap_or(&self.config.authority);
        format!("{}/{directory}/adminconsent?client_id={client}", trimmed(authority))
    }
}

fn check_base_url(url: &Url, what: &'static str) -> Result<(), EntraConfigError> {
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if usable { Ok(()) } else { Err(EntraConfigError::InvalidBaseUrl(what)) }
}

/// A base URL as text without its trailing slash, ready for `{base}/{path}`.
fn trimmed(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_microsoft_and_build_a_client() {
        let config = EntraConfig::default();
        assert_eq!(trimmed(&config.authority), DEFAULT_AUTHORITY);
        assert_eq!(trimmed(&config.graph), DEFAULT_GRAPH);
        assert!(EntraClient::new(config).is_ok());
    }

    #[test]
    fn base_urls_with_query_or_credentials_are_refused() {
        for bad in ["https://login.example/?x=1", "https://user:pw@login.example", "ftp://login.example"] {
            let config = EntraConfig { authority: Url::parse(bad).unwrap(), ..EntraConfig::default() };
            assert!(EntraClient::new(config).is_err(), "{bad}");
        }
    }

    #[test]
    fn admin_consent_url_follows_the_spec_and_prefers_the_consent_authority() {
        let directory = verdict_core::domain::DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").unwrap();
        let client = verdict_core::domain::ClientId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap();
        let entra = EntraClient::new(EntraConfig::default()).unwrap();
        assert_eq!(
            entra.admin_consent_url(&directory, &client),
            "https://login.microsoftonline.com/6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f/adminconsent?client_id=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        );
        let proxied = EntraClient::new(EntraConfig {
            authority: Url::parse("http://127.0.0.1:9/").unwrap(),
            consent_authority: Some(Url::parse("https://login.example/").unwrap()),
            ..EntraConfig::default()
        })
        .unwrap();
        assert!(proxied.admin_consent_url(&directory, &client).starts_with("https://login.example/6f1c9b6e"));
    }
}
