//! The flows Verdict knows, as data: id, whether a provider connection is required, and the
//! checks in report order. The runner implements the checks; core uses the declarations to
//! validate starts, write live reports and record abandoned runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::{CheckDescriptor, CheckKey, CheckTitle, FlowDescriptor, FlowId, ParseError, Severity};

/// The id of the provider-connection flow (SPEC §10).
pub const PROVIDER_CONNECTION_CHECK: &str = "provider.connection.check";

/// The `provider.connection.check` flow's declaration, in SPEC §10's order.
///
/// # Errors
/// Never in practice: built from constants (a test proves it).
pub fn provider_connection_check() -> Result<FlowDescriptor, ParseError> {
    const CHECKS: &[(&str, &str, Severity, bool)] = &[
        ("provider_connection.configured", "Provider connection is configured", Severity::Critical, true),
        ("provider_connection.token_acquisition", "App-only token can be acquired", Severity::Critical, true),
        ("permissions.admin_consent", "Admin consent is granted", Severity::Critical, true),
        ("permissions.directory_groups", "Directory groups can be read", Severity::High, false),
        ("permissions.intune_configuration", "Intune configuration can be read", Severity::High, true),
        ("permissions.intune_apps", "Intune apps can be read", Severity::Medium, false),
        ("permissions.intune_rbac_assignments", "Intune RBAC assignments can be read", Severity::Medium, false),
        ("permissions.scripts_remediations", "Scripts and remediations can be read", Severity::Low, false),
        ("graph.organization", "Organization matches the directory", Severity::High, true),
        ("graph.intune_reachable", "Intune is reachable through Graph", Severity::Medium, false),
    ];
    Ok(FlowDescriptor {
        id: FlowId::parse(PROVIDER_CONNECTION_CHECK)?,
        requires_provider_connection: true,
        checks: CHECKS
            .iter()
            .map(|(key, title, severity, blocking)| {
                Ok(CheckDescriptor {
                    key: CheckKey::parse(*key)?,
                    title: CheckTitle::parse(*title)?,
                    severity: *severity,
                    blocking: *blocking,
                })
            })
            .collect::<Result<_, ParseError>>()?,
    })
}

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
    fn provider_connection_flow_declares_the_ten_checks_of_the_spec() {
        let flow = provider_connection_check().unwrap();
        assert_eq!(flow.checks.len(), 10);
        assert_eq!(flow.checks[0].key.as_str(), crate::rules::CONFIGURED_CHECK_KEY);
        let blocking: Vec<&str> = flow.checks.iter().filter(|c| c.blocking).map(|c| c.key.as_str()).collect();
        assert_eq!(
            blocking,
            [
                "provider_connection.configured",
                "provider_connection.token_acquisition",
                "permissions.admin_consent",
                "permissions.intune_configuration",
                "graph.organization"
            ]
        );
        let catalog = FlowCatalog::builtin().unwrap();
        assert!(catalog.get(&FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap()).is_some());
        assert!(catalog.get(&FlowId::parse("unknown.flow").unwrap()).is_none());
    }
}
