//! The required-permission catalog — check key → accepted application roles, severity,
//! blocking, and whether a missing role fails or warns — as data in one place, and the checks
//! that read the token's `roles` claim against it (checks 2–7).

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{CheckKey, FlowDescriptor, ProviderConnection, ReasonCode, Severity};

use super::TOKEN_ACQUISITION;
use super::failures::with_consent_steps;
use crate::engine::{Check, CheckContext, CheckOutcome, RegistryError};
use crate::entra::{AccessToken, EntraClient};

/// What a missing permission makes of its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingIs {
    /// `fail`, `permission_denied`.
    Fail,
    /// `warn`, `permission_denied` (optional capabilities).
    Warn,
}

/// One required application permission of the provider-connection flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredPermission {
    /// The check that verifies it.
    pub check: &'static str,
    /// The canonical (least-privileged) role, reported when missing.
    pub permission: &'static str,
    /// Every role that satisfies it.
    pub accepted: &'static [&'static str],
    /// Severity of the check (must equal the flow's declaration).
    pub severity: Severity,
    /// Whether a failure blocks (must equal the flow's declaration).
    pub blocking: bool,
    /// What a missing role makes of the check.
    pub missing_is: MissingIs,
}

/// The permission catalog (SPEC §10, checks 3–7).
pub static REQUIRED_PERMISSIONS: &[RequiredPermission] = &[
    RequiredPermission {
        check: "permissions.directory_groups",
        permission: "Group.Read.All",
        accepted: &["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All"],
        severity: Severity::High,
        blocking: false,
        missing_is: MissingIs::Fail,
    },
    RequiredPermission {
        check: "permissions.intune_configuration",
        permission: "DeviceManagementConfiguration.Read.All",
        accepted: &["DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"],
        severity: Severity::High,
        blocking: true,
        missing_is: MissingIs::Fail,
    },
    RequiredPermission {
        check: "permissions.intune_apps",
        permission: "DeviceManagementApps.Read.All",
        accepted: &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"],
        severity: Severity::Medium,
        blocking: false,
        missing_is: MissingIs::Fail,
    },
    RequiredPermission {
        check: "permissions.intune_rbac_assignments",
        permission: "DeviceManagementRBAC.Read.All",
        accepted: &["DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"],
        severity: Severity::Medium,
        blocking: false,
        missing_is: MissingIs::Fail,
    },
    RequiredPermission {
        check: "permissions.scripts_remediations",
        permission: "DeviceManagementScripts.Read.All",
        accepted: &["DeviceManagementScripts.Read.All", "DeviceManagementScripts.ReadWrite.All"],
        severity: Severity::Low,
        blocking: false,
        missing_is: MissingIs::Warn,
    },
];

/// Fails unless every catalog entry is declared by the flow with the same severity and blocking.
pub(super) fn check_against(declared: &FlowDescriptor) -> Result<(), RegistryError> {
    for required in REQUIRED_PERMISSIONS {
        let found = declared.checks.iter().find(|c| c.key.as_str() == required.check);
        let agrees = found.is_some_and(|c| c.severity == required.severity && c.blocking == required.blocking);
        if !agrees {
            return Err(RegistryError::Inconsistent {
                flow: declared.id.clone(),
                detail: format!("the permission catalog's entry for {} disagrees with the declaration", required.check),
            });
        }
    }
    Ok(())
}

fn token_and_connection(ctx: &CheckContext) -> anyhow::Result<(Arc<AccessToken>, &ProviderConnection)> {
    let key = CheckKey::parse(TOKEN_ACQUISITION)?;
    let token = ctx.artifact::<AccessToken>(&key).ok_or_else(|| anyhow::anyhow!("no token from {key}"))?;
    let connection = ctx.connection().ok_or_else(|| anyhow::anyhow!("no provider connection"))?;
    Ok((token, connection))
}

/// `permissions.admin_consent`: the token carries application roles at all.
pub(super) struct AdminConsentCheck {
    pub key: CheckKey,
    pub depends_on: Vec<CheckKey>,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Check for AdminConsentCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let roles = i64::try_from(token.claims().roles.len()).unwrap_or(i64::MAX);
        if roles > 0 {
            return Ok(CheckOutcome::pass(
                "The app-only token carries application permissions: admin consent is granted.",
            )
            .with_evidence("application_role_count", roles));
        }
        Ok(with_consent_steps(
            CheckOutcome::fail(
                ReasonCode::PERMISSION_DENIED,
                "The app-only token carries no application permissions: admin consent has not been granted.",
            )
            .with_evidence("application_role_count", 0_i64)
            .with_evidence("permission_type", "application"),
            &self.entra,
            connection,
        ))
    }
}

/// One catalog entry's check: any accepted role in the token's `roles` claim.
pub(super) struct PermissionCheck {
    pub key: CheckKey,
    pub depends_on: Vec<CheckKey>,
    pub required: &'static RequiredPermission,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Check for PermissionCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let granted = self
            .required
            .accepted
            .iter()
            .find(|accepted| token.claims().roles.iter().any(|role| role.eq_ignore_ascii_case(accepted)));
        if let Some(granted) = granted {
            return Ok(CheckOutcome::pass(format!("The application permission {granted} is granted."))
                .with_evidence("granted_permission", *granted)
                .with_evidence("permission_type", "application"));
        }
        let message = format!(
            "The application permission {} (or one that includes it) is not granted.",
            self.required.permission
        );
        let outcome = match self.required.missing_is {
            MissingIs::Fail => CheckOutcome::fail(ReasonCode::PERMISSION_DENIED, message),
            MissingIs::Warn => CheckOutcome::warn(ReasonCode::PERMISSION_DENIED, message),
        };
        Ok(with_consent_steps(
            outcome
                .with_evidence("missing_permission", self.required.permission)
                .with_evidence("permission_type", "application"),
            &self.entra,
            connection,
        ))
    }
}

#[cfg(test)]
mod tests {
    use verdict_core::flows::provider_connection_check;

    use super::*;

    #[test]
    fn the_catalog_agrees_with_the_flow_declaration() {
        let mut declared = provider_connection_check().unwrap();
        check_against(&declared).unwrap();
        declared.checks.iter_mut().find(|c| c.key.as_str() == "permissions.intune_apps").unwrap().blocking = true;
        assert!(check_against(&declared).is_err());
    }

    #[test]
    fn the_canonical_permission_is_accepted_and_read_only() {
        for required in REQUIRED_PERMISSIONS {
            assert!(required.accepted.contains(&required.permission), "{}", required.check);
            assert!(required.permission.ends_with(".Read.All"), "{}", required.check);
        }
        let warns: Vec<&str> =
            REQUIRED_PERMISSIONS.iter().filter(|r| r.missing_is == MissingIs::Warn).map(|r| r.check).collect();
        assert_eq!(warns, ["permissions.scripts_remediations"]);
    }
}
