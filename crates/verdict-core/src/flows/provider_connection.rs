//! The `provider.connection.check` flow (docs/contract.md#provider-flow) declared once, as data: its twelve checks in
//! report order with title, severity and blocking, what each waits for, the application
//! permission each permission check requires, and the Intune service plans that count as a
//! licence. The runner supplies one implementation per [`ProviderCheckKind`] and takes
//! everything else from here.

use crate::domain::{CheckDescriptor, CheckKey, CheckTitle, FlowDescriptor, FlowId, ParseError, Severity};

/// The id of the provider-connection flow.
pub const PROVIDER_CONNECTION_CHECK: &str = "provider.connection.check";

/// The check keys of the flow.
pub mod keys {
    /// The connection exists, is enabled and has a secret (docs/contract.md#blocked-runs's stub holds only this one).
    pub const CONFIGURED: &str = crate::rules::CONFIGURED_CHECK_KEY;
    /// An app-only token can be acquired.
    pub const TOKEN_ACQUISITION: &str = "provider_connection.token_acquisition";
    /// The client secret in use is not expired and not about to expire.
    pub const CREDENTIAL_EXPIRY: &str = crate::domain::CREDENTIAL_EXPIRY_CHECK;
    /// The token carries application roles at all.
    pub const ADMIN_CONSENT: &str = "permissions.admin_consent";
    /// Directory groups can be read.
    pub const DIRECTORY_GROUPS: &str = "permissions.directory_groups";
    /// Intune configuration can be read.
    pub const INTUNE_CONFIGURATION: &str = "permissions.intune_configuration";
    /// Intune apps can be read.
    pub const INTUNE_APPS: &str = "permissions.intune_apps";
    /// Intune RBAC assignments can be read.
    pub const INTUNE_RBAC_ASSIGNMENTS: &str = "permissions.intune_rbac_assignments";
    /// Scripts and remediations can be read.
    pub const SCRIPTS_REMEDIATIONS: &str = "permissions.scripts_remediations";
    /// Graph returns the connection's organization.
    pub const GRAPH_ORGANIZATION: &str = "graph.organization";
    /// The tenant has an active Intune service plan.
    pub const INTUNE_LICENSE: &str = "tenant.intune_license";
    /// Intune answers through Graph.
    pub const GRAPH_INTUNE_REACHABLE: &str = "graph.intune_reachable";
}

/// When a check may start, relative to a check it waits for. A check whose condition does not
/// hold is skipped with `ext.provider_connection.prerequisite_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Runs only when that check passed.
    Passed,
    /// Runs unless that check failed: its warning or skip (e.g. "cannot tell") does not stop
    /// this one.
    NotFailed,
    /// Runs once that check finished, whatever it found (it only lends its artifact).
    Finished,
}

/// One check a check waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The key of the check waited for; always an earlier check of the same flow.
    pub key: &'static str,
    /// What it must have found.
    pub gate: Gate,
}

const fn passed(key: &'static str) -> Wait {
    Wait { key, gate: Gate::Passed }
}

/// What a missing permission makes of its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingIs {
    /// `fail`, `permission_denied`.
    Fail,
    /// `warn`, `permission_denied` (optional capabilities).
    Warn,
}

/// An application permission a permission check requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredPermission {
    /// The canonical (least-privileged) role, reported when missing.
    pub permission: &'static str,
    /// Every role that satisfies it.
    pub accepted: &'static [&'static str],
    /// What a missing role makes of the check.
    pub missing_is: MissingIs,
}

/// What a check of the flow does; the runner has exactly one implementation per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderCheckKind {
    /// The connection is usable.
    Configured,
    /// Client-credentials token for Graph, with the precise AADSTS causes.
    TokenAcquisition,
    /// The client secret's expiry, from the connection or from Graph.
    CredentialExpiry,
    /// The token carries application roles at all.
    AdminConsent,
    /// The token carries one of the accepted roles.
    Permission(RequiredPermission),
    /// `GET /v1.0/organization` returns the connection's directory.
    Organization,
    /// `GET /v1.0/subscribedSkus` shows an active Intune service plan.
    IntuneLicense,
    /// `GET /v1.0/deviceManagement/deviceConfigurations?$top=1` answers.
    IntuneReachable,
}

/// One check of the flow as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderCheck {
    /// The key.
    pub key: &'static str,
    /// The title.
    pub title: &'static str,
    /// Severity of a failure.
    pub severity: Severity,
    /// Whether a failure blocks.
    pub blocking: bool,
    /// The earlier checks this one waits for, and what they must have found.
    pub waits_for: &'static [Wait],
    /// What it does.
    pub kind: ProviderCheckKind,
}

const AFTER_TOKEN: &[Wait] = &[passed(keys::TOKEN_ACQUISITION)];

/// The flow's checks in report order (docs/contract.md#provider-flow).
pub static PROVIDER_CONNECTION_CHECKS: &[ProviderCheck] = &[
    ProviderCheck {
        key: keys::CONFIGURED,
        title: "Provider connection is configured",
        severity: Severity::Critical,
        blocking: true,
        waits_for: &[],
        kind: ProviderCheckKind::Configured,
    },
    ProviderCheck {
        key: keys::TOKEN_ACQUISITION,
        title: "App-only token can be acquired",
        severity: Severity::Critical,
        blocking: true,
        waits_for: &[passed(keys::CONFIGURED)],
        kind: ProviderCheckKind::TokenAcquisition,
    },
    ProviderCheck {
        key: keys::CREDENTIAL_EXPIRY,
        title: "Client secret is not expired or about to expire",
        severity: Severity::High,
        // The token check already blocks on an expired secret.
        blocking: false,
        // Runs whether or not a token came: the connection may know the date by itself, and an
        // expired secret should show the date it expired beside the token failure.
        waits_for: &[passed(keys::CONFIGURED), Wait { key: keys::TOKEN_ACQUISITION, gate: Gate::Finished }],
        kind: ProviderCheckKind::CredentialExpiry,
    },
    ProviderCheck {
        key: keys::ADMIN_CONSENT,
        title: "Admin consent is granted",
        severity: Severity::Critical,
        blocking: true,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::AdminConsent,
    },
    ProviderCheck {
        key: keys::DIRECTORY_GROUPS,
        title: "Directory groups can be read",
        severity: Severity::High,
        blocking: false,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Permission(RequiredPermission {
            permission: "Group.Read.All",
            accepted: &["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All"],
            missing_is: MissingIs::Fail,
        }),
    },
    ProviderCheck {
        key: keys::INTUNE_CONFIGURATION,
        title: "Intune configuration can be read",
        severity: Severity::High,
        blocking: true,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Permission(RequiredPermission {
            permission: "DeviceManagementConfiguration.Read.All",
            accepted: &["DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"],
            missing_is: MissingIs::Fail,
        }),
    },
    ProviderCheck {
        key: keys::INTUNE_APPS,
        title: "Intune apps can be read",
        severity: Severity::Medium,
        blocking: false,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Permission(RequiredPermission {
            permission: "DeviceManagementApps.Read.All",
            accepted: &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"],
            missing_is: MissingIs::Fail,
        }),
    },
    ProviderCheck {
        key: keys::INTUNE_RBAC_ASSIGNMENTS,
        title: "Intune RBAC assignments can be read",
        severity: Severity::Medium,
        blocking: false,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Permission(RequiredPermission {
            permission: "DeviceManagementRBAC.Read.All",
            accepted: &["DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"],
            missing_is: MissingIs::Fail,
        }),
    },
    ProviderCheck {
        key: keys::SCRIPTS_REMEDIATIONS,
        title: "Scripts and remediations can be read",
        severity: Severity::Low,
        blocking: false,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Permission(RequiredPermission {
            permission: "DeviceManagementScripts.Read.All",
            accepted: &["DeviceManagementScripts.Read.All", "DeviceManagementScripts.ReadWrite.All"],
            missing_is: MissingIs::Warn,
        }),
    },
    ProviderCheck {
        key: keys::GRAPH_ORGANIZATION,
        title: "Organization matches the directory",
        severity: Severity::High,
        blocking: true,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::Organization,
    },
    ProviderCheck {
        key: keys::INTUNE_LICENSE,
        title: "Tenant has an active Intune licence",
        severity: Severity::High,
        blocking: true,
        waits_for: AFTER_TOKEN,
        kind: ProviderCheckKind::IntuneLicense,
    },
    ProviderCheck {
        key: keys::GRAPH_INTUNE_REACHABLE,
        title: "Intune is reachable through Graph",
        severity: Severity::Medium,
        blocking: false,
        // Without a licence Intune cannot answer; when the licence could not be read, try anyway.
        waits_for: &[passed(keys::TOKEN_ACQUISITION), Wait { key: keys::INTUNE_LICENSE, gate: Gate::NotFailed }],
        kind: ProviderCheckKind::IntuneReachable,
    },
];

/// The service plans whose active provisioning makes a tenant Intune-licensed (docs/contract.md#provider-flow).
/// `INTUNE_O365` (the Intune for Office 365 plan of many suites) is deliberately absent: it
/// does not license device management.
pub static INTUNE_SERVICE_PLANS: &[&str] =
    &["INTUNE_A", "INTUNE_A_D", "INTUNE_A_VL", "INTUNE_EDU", "INTUNE_SMBIZ", "INTUNE_P2"];

/// The permission that lets the app read its own registration: the secret's expiry and the
/// permissions it requests.
pub const APPLICATION_READ_PERMISSION: &str = "Application.Read.All";

/// The least-privileged permission that reads `subscribedSkus`.
pub const LICENSE_READ_PERMISSION: &str = "Organization.Read.All";

/// Microsoft Graph's application id: the `resourceAppId` of Graph permissions in an app's
/// `requiredResourceAccess`, and the `appId` of Graph's service principal.
pub const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A secret with this many days left, or fewer, is reported as expiring.
pub const CREDENTIAL_EXPIRY_WARNING_DAYS: i64 = 30;

/// The permission checks' keys and requirements, in report order.
pub fn required_permissions() -> impl Iterator<Item = (&'static str, &'static RequiredPermission)> {
    PROVIDER_CONNECTION_CHECKS.iter().filter_map(|check| match &check.kind {
        ProviderCheckKind::Permission(required) => Some((check.key, required)),
        _ => None,
    })
}

/// The flow's declaration as core's services use it.
///
/// # Errors
/// Never in practice: built from constants (a test proves it).
pub fn provider_connection_check() -> Result<FlowDescriptor, ParseError> {
    Ok(FlowDescriptor {
        id: FlowId::parse(PROVIDER_CONNECTION_CHECK)?,
        requires_provider_connection: true,
        checks: PROVIDER_CONNECTION_CHECKS
            .iter()
            .map(|check| {
                Ok(CheckDescriptor {
                    key: CheckKey::from_static(check.key),
                    title: CheckTitle::parse(check.title)?,
                    severity: check.severity,
                    blocking: check.blocking,
                })
            })
            .collect::<Result<_, ParseError>>()?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_flow_declares_the_twelve_checks_of_spec_13_in_order() {
        let flow = provider_connection_check().unwrap();
        let keys: Vec<&str> = flow.checks.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                keys::CONFIGURED,
                keys::TOKEN_ACQUISITION,
                keys::CREDENTIAL_EXPIRY,
                keys::ADMIN_CONSENT,
                keys::DIRECTORY_GROUPS,
                keys::INTUNE_CONFIGURATION,
                keys::INTUNE_APPS,
                keys::INTUNE_RBAC_ASSIGNMENTS,
                keys::SCRIPTS_REMEDIATIONS,
                keys::GRAPH_ORGANIZATION,
                keys::INTUNE_LICENSE,
                keys::GRAPH_INTUNE_REACHABLE,
            ]
        );
        let blocking: Vec<&str> = flow.checks.iter().filter(|c| c.blocking).map(|c| c.key.as_str()).collect();
        assert_eq!(
            blocking,
            [
                keys::CONFIGURED,
                keys::TOKEN_ACQUISITION,
                keys::ADMIN_CONSENT,
                keys::INTUNE_CONFIGURATION,
                keys::GRAPH_ORGANIZATION,
                keys::INTUNE_LICENSE,
            ]
        );
        let expiry = &flow.checks[2];
        assert_eq!((expiry.severity, expiry.blocking), (Severity::High, false));
    }

    #[test]
    fn every_constant_key_is_valid_and_unique() {
        let all = [
            keys::CONFIGURED,
            keys::TOKEN_ACQUISITION,
            keys::CREDENTIAL_EXPIRY,
            keys::ADMIN_CONSENT,
            keys::DIRECTORY_GROUPS,
            keys::INTUNE_CONFIGURATION,
            keys::INTUNE_APPS,
            keys::INTUNE_RBAC_ASSIGNMENTS,
            keys::SCRIPTS_REMEDIATIONS,
            keys::GRAPH_ORGANIZATION,
            keys::INTUNE_LICENSE,
            keys::GRAPH_INTUNE_REACHABLE,
        ];
        for key in all {
            assert!(CheckKey::parse(key).is_ok(), "{key}");
        }
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
        assert_eq!(PROVIDER_CONNECTION_CHECKS.len(), all.len());
    }

    /// Waiting only for earlier checks makes the graph acyclic by construction, so the runner's
    /// registration of the built-in flow cannot fail.
    #[test]
    fn every_check_waits_only_for_earlier_checks() {
        for (index, check) in PROVIDER_CONNECTION_CHECKS.iter().enumerate() {
            for wait in check.waits_for {
                let earlier = PROVIDER_CONNECTION_CHECKS[..index].iter().any(|c| c.key == wait.key);
                assert!(earlier, "{} waits for {}, which is not an earlier check", check.key, wait.key);
            }
        }
        let reachable = PROVIDER_CONNECTION_CHECKS.iter().find(|c| c.key == keys::GRAPH_INTUNE_REACHABLE).unwrap();
        assert!(reachable.waits_for.contains(&Wait { key: keys::INTUNE_LICENSE, gate: Gate::NotFailed }));
    }

    #[test]
    fn the_permission_catalog_asks_for_read_only_roles_and_only_scripts_warn() {
        let mut checks = Vec::new();
        for (key, required) in required_permissions() {
            assert!(required.accepted.contains(&required.permission), "{key}");
            assert!(required.permission.ends_with(".Read.All"), "{key}");
            checks.push(key);
        }
        assert_eq!(checks.len(), 5);
        let warns: Vec<&str> =
            required_permissions().filter(|(_, r)| r.missing_is == MissingIs::Warn).map(|(k, _)| k).collect();
        assert_eq!(warns, [keys::SCRIPTS_REMEDIATIONS]);
    }

    #[test]
    fn the_intune_plans_are_the_spec_s_and_exclude_office_365() {
        assert_eq!(INTUNE_SERVICE_PLANS.len(), 6);
        assert!(!INTUNE_SERVICE_PLANS.contains(&"INTUNE_O365"));
    }
}
