//! The `provider.connection.check` flow (SPEC §10): ten checks against Microsoft Entra and
//! Graph. The configured check and token acquisition run first; the permission and Graph checks
//! then run in parallel with the token.

mod failures;
mod graph;
mod permissions;
mod token;

use std::sync::Arc;

use verdict_core::domain::{CheckKey, FlowDescriptor, FlowId};
use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};

pub use permissions::{MissingIs, REQUIRED_PERMISSIONS, RequiredPermission};

use crate::engine::{Check, FlowRegistry, RegistryError};
use crate::entra::EntraClient;

/// `provider_connection.configured`.
pub const CONFIGURED: &str = "provider_connection.configured";
/// `provider_connection.token_acquisition`.
pub const TOKEN_ACQUISITION: &str = "provider_connection.token_acquisition";
/// `permissions.admin_consent`.
pub const ADMIN_CONSENT: &str = "permissions.admin_consent";
/// `graph.organization`.
pub const GRAPH_ORGANIZATION: &str = "graph.organization";
/// `graph.intune_reachable`.
pub const GRAPH_INTUNE_REACHABLE: &str = "graph.intune_reachable";

/// The registry of every built-in flow of `catalog`, talking to Entra through `entra`.
///
/// # Errors
/// [`RegistryError`] when the catalog lacks a built-in flow or declares it differently from what
/// the runner implements (including the permission catalog's severities and blocking).
pub fn builtin_registry(catalog: &FlowCatalog, entra: Arc<EntraClient>) -> Result<FlowRegistry, RegistryError> {
    let id = FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap_or_else(|e| unreachable!("constant flow id: {e}"));
    let declared = catalog.get(&id).ok_or(RegistryError::UndeclaredFlow(id))?;
    FlowRegistry::new().register(&declared, provider_connection_checks(&declared, entra)?)
}

/// The ten checks of `provider.connection.check`, after checking the permission catalog
/// against the flow's declaration.
///
/// # Errors
/// [`RegistryError::Inconsistent`] when a permission check's severity or blocking differs from
/// the declaration, or a key is malformed.
pub fn provider_connection_checks(
    declared: &FlowDescriptor,
    entra: Arc<EntraClient>,
) -> Result<Vec<Arc<dyn Check>>, RegistryError> {
    let key = |text: &str| {
        CheckKey::parse(text)
            .map_err(|e| RegistryError::Inconsistent { flow: declared.id.clone(), detail: format!("{text}: {e}") })
    };
    permissions::check_against(declared)?;
    let token_dependency = vec![key(TOKEN_ACQUISITION)?];
    let mut checks: Vec<Arc<dyn Check>> = vec![
        Arc::new(token::ConfiguredCheck { key: key(CONFIGURED)? }),
        Arc::new(token::TokenCheck {
            key: key(TOKEN_ACQUISITION)?,
            depends_on: vec![key(CONFIGURED)?],
            entra: Arc::clone(&entra),
        }),
        Arc::new(permissions::AdminConsentCheck {
            key: key(ADMIN_CONSENT)?,
            depends_on: token_dependency.clone(),
            entra: Arc::clone(&entra),
        }),
        Arc::new(graph::OrganizationCheck {
            key: key(GRAPH_ORGANIZATION)?,
            depends_on: token_dependency.clone(),
            entra: Arc::clone(&entra),
        }),
        Arc::new(graph::IntuneReachableCheck {
            key: key(GRAPH_INTUNE_REACHABLE)?,
            depends_on: token_dependency.clone(),
            entra: Arc::clone(&entra),
        }),
    ];
    for required in REQUIRED_PERMISSIONS {
        checks.push(Arc::new(permissions::PermissionCheck {
            key: key(required.check)?,
            depends_on: token_dependency.clone(),
            required,
            entra: Arc::clone(&entra),
        }));
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::EntraConfig;

    #[test]
    fn the_builtin_flow_matches_core_s_declaration() {
        let entra = Arc::new(EntraClient::new(EntraConfig::default()).unwrap());
        let registry = builtin_registry(&FlowCatalog::builtin().unwrap(), entra).unwrap();
        assert_eq!(registry.flows().map(FlowId::as_str).collect::<Vec<_>>(), [PROVIDER_CONNECTION_CHECK]);
    }

    #[test]
    fn a_catalog_without_the_flow_is_refused() {
        let entra = Arc::new(EntraClient::new(EntraConfig::default()).unwrap());
        assert!(matches!(builtin_registry(&FlowCatalog::default(), entra), Err(RegistryError::UndeclaredFlow(_))));
    }
}
