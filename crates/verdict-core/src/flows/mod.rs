//! The flows Verdict knows, as data: id, whether a provider connection is required, and the
//! checks in report order. The runner implements the checks; core uses the declarations to
//! validate starts, write live reports and record abandoned runs.

mod provider_connection;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use provider_connection::{
    APPLICATION_READ_PERMISSION, CREDENTIAL_EXPIRY_WARNING_DAYS, Gate, INTUNE_SERVICE_PLANS, LICENSE_READ_PERMISSION,
    MICROSOFT_GRAPH_APP_ID, MissingIs, PROVIDER_CONNECTION_CHECK, PROVIDER_CONNECTION_CHECKS, ProviderCheck,
    ProviderCheckKind, RequiredPermission, Wait, keys, provider_connection_check, required_permissions,
};

use crate::domain::{FlowDescriptor, FlowId, ParseError};

/// The flows a deployment can run, by id.
#[derive(Debug, Clone, Default)]
pub struct FlowCatalog {
    flows: BTreeMap<FlowId, Arc<FlowDescriptor>>,
}

impl FlowCatalog {
    /// The catalog of every built-in flow.
    ///
    /// # Errors
    /// Never in practice: built from constants.
    pub fn builtin() -> Result<Self, ParseError> {
        Ok(Self::default().with(provider_connection_check()?))
    }

    /// Adds (or replaces) a flow.
    #[must_use]
    pub fn with(mut self, flow: FlowDescriptor) -> Self {
        self.flows.insert(flow.id.clone(), Arc::new(flow));
        self
    }

    /// Every flow, by id.
    pub fn iter(&self) -> impl Iterator<Item = &FlowDescriptor> {
        self.flows.values().map(AsRef::as_ref)
    }

    /// The flow with this id.
    #[must_use]
    pub fn get(&self, id: &FlowId) -> Option<Arc<FlowDescriptor>> {
        self.flows.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_holds_the_provider_connection_flow() {
        let catalog = FlowCatalog::builtin().unwrap();
        assert!(catalog.get(&FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap()).is_some());
        assert!(catalog.get(&FlowId::parse("unknown.flow").unwrap()).is_none());
    }
}
