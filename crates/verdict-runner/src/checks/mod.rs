//! The `provider.connection.check` flow (docs/contract.md#provider-flow). Core declares it — keys, titles, severities,
//! blocking, what each check waits for, the permission catalog, the Intune plans — and this
//! module only implements it: one implementation per [`ProviderCheckKind`], chosen by an
//! exhaustive `match`, so a declared check without an implementation does not compile.

mod expiry;
mod failures;
mod graph;
mod license;
mod permissions;
mod registration;
mod token;

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{CheckKey, ProviderConnection};
use verdict_core::flows::{PROVIDER_CONNECTION_CHECKS, ProviderCheck, ProviderCheckKind, keys};

use crate::engine::{Check, CheckContext, CheckOutcome, Dependency, FlowRegistry};
use crate::entra::{AccessToken, EntraClient};

/// What one built-in check does; its key and dependencies come from core's declaration.
#[async_trait]
trait Probe: Send + Sync {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome>;
}

/// A check of core's declaration bound to its implementation.
struct Declared {
    key: CheckKey,
    waits_for: Vec<Dependency>,
    probe: Box<dyn Probe>,
}

#[async_trait]
impl Check for Declared {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn waits_for(&self) -> &[Dependency] {
        &self.waits_for
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        self.probe.run(ctx).await
    }
}

fn probe(kind: &'static ProviderCheckKind, entra: &Arc<EntraClient>) -> Box<dyn Probe> {
    let entra = Arc::clone(entra);
    match kind {
        ProviderCheckKind::Configured => Box::new(token::Configured),
        ProviderCheckKind::TokenAcquisition => Box::new(token::TokenAcquisition { entra }),
        ProviderCheckKind::CredentialExpiry => Box::new(expiry::CredentialExpiry { entra }),
        ProviderCheckKind::AdminConsent => Box::new(permissions::AdminConsent { entra }),
        ProviderCheckKind::Permission(required) => Box::new(permissions::Permission { required, entra }),
        ProviderCheckKind::Organization => Box::new(graph::Organization { entra }),
        ProviderCheckKind::IntuneLicense => Box::new(license::IntuneLicense { entra }),
        ProviderCheckKind::IntuneReachable => Box::new(graph::IntuneReachable { entra }),
    }
}

fn declared(check: &'static ProviderCheck, entra: &Arc<EntraClient>) -> Arc<dyn Check> {
    let waits_for = check
        .waits_for
        .iter()
        .map(|wait| Dependency { key: CheckKey::from_static(wait.key), gate: wait.gate })
        .collect();
    Arc::new(Declared { key: CheckKey::from_static(check.key), waits_for, probe: probe(&check.kind, entra) })
}

/// The registry of every built-in flow, talking to Entra through `entra`.
///
/// Infallible by construction: the implementations are made from core's declaration itself,
/// and core's tests prove that declaration well formed (valid keys and titles, each check
/// waiting only for earlier ones). The panic below is therefore unreachable in a build whose
/// tests pass, like [`CheckKey::from_static`]'s.
#[must_use]
pub fn builtin_registry(entra: Arc<EntraClient>) -> FlowRegistry {
    let flow = verdict_core::flows::provider_connection_check()
        .unwrap_or_else(|error| panic!("core's declaration of the provider-connection flow is invalid: {error}"));
    let checks = PROVIDER_CONNECTION_CHECKS.iter().map(|check| declared(check, &entra)).collect();
    FlowRegistry::new()
        .register(&flow, checks)
        .unwrap_or_else(|error| panic!("core's declaration of the provider-connection flow is inconsistent: {error}"))
}

/// The token the token check acquired, when it did.
fn acquired_token(ctx: &CheckContext) -> Option<Arc<AccessToken>> {
    ctx.artifact::<AccessToken>(&CheckKey::from_static(keys::TOKEN_ACQUISITION))
}

/// The token and the connection, for checks that run only after the token check passed.
fn token_and_connection(ctx: &CheckContext) -> anyhow::Result<(Arc<AccessToken>, &ProviderConnection)> {
    let token = acquired_token(ctx).ok_or_else(|| anyhow::anyhow!("no token from {}", keys::TOKEN_ACQUISITION))?;
    let connection = ctx.connection().ok_or_else(|| anyhow::anyhow!("no provider connection"))?;
    Ok((token, connection))
}

#[cfg(test)]
mod tests {
    use verdict_core::domain::FlowId;
    use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};

    use super::*;
    use crate::entra::EntraConfig;

    #[test]
    fn the_builtin_registry_implements_core_s_declaration() {
        let entra = Arc::new(EntraClient::new(EntraConfig::default()).unwrap());
        let registry = builtin_registry(entra);
        assert_eq!(registry.flows().map(FlowId::as_str).collect::<Vec<_>>(), [PROVIDER_CONNECTION_CHECK]);
        let catalog = FlowCatalog::builtin().unwrap();
        let declared = catalog.get(&FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap()).unwrap();
        assert!(registry.implements(&declared), "the engine runs exactly what core declares");
    }
}
