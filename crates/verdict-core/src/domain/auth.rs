//! The authenticated caller: a user id plus workspace memberships, tenant entitlements and
//! capabilities (docs/contract.md#authentication). Adapters build it from a verified token; core decides access.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer};

use super::{ParseError, TenantId, UserId, WorkspaceId};

/// A permission beyond viewing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Start verifications.
    VerificationStart,
    /// Acknowledge checks.
    VerificationAcknowledge,
    /// Create, rotate and disable provider connections.
    ProviderConnectionManage,
    /// Read and verify the audit trail.
    AuditRead,
    /// Create, read, rotate and delete the workspace's webhook subscriptions.
    WebhookManage,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Self; 5] = [
        Self::VerificationStart,
        Self::VerificationAcknowledge,
        Self::ProviderConnectionManage,
        Self::AuditRead,
        Self::WebhookManage,
    ];

    /// The claim value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerificationStart => "verification.start",
            Self::VerificationAcknowledge => "verification.acknowledge",
            Self::ProviderConnectionManage => "provider_connection.manage",
            Self::AuditRead => "audit.read",
            Self::WebhookManage => "webhook.manage",
        }
    }

    /// Parses a claim value.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown capability.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == value)
            .ok_or_else(|| ParseError::new("capabilities", "unknown capability"))
    }
}

/// Which tenants of a workspace a member is entitled to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope {
    /// Every tenant (`"*"`).
    All,
    /// Only these.
    Only(BTreeSet<TenantId>),
}

impl TenantScope {
    /// Whether `tenant` is covered.
    #[must_use]
    pub fn covers(&self, tenant: TenantId) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(&tenant),
        }
    }
}

impl<'de> Deserialize<'de> for TenantScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Star(String),
            List(BTreeSet<TenantId>),
        }
        match Raw::deserialize(d)? {
            Raw::Star(s) if s == "*" => Ok(Self::All),
            Raw::Star(_) => Err(serde::de::Error::custom("tenant_ids must be \"*\" or a list of tenant ids")),
            Raw::List(set) => Ok(Self::Only(set)),
        }
    }
}

/// Membership in one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Entitled tenants.
    pub tenant_ids: TenantScope,
    /// Granted capabilities. Names Verdict does not know are ignored: the host may issue
    /// capabilities for other services in the same token.
    #[serde(deserialize_with = "known_capabilities")]
    pub capabilities: BTreeSet<Capability>,
}

fn known_capabilities<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<Capability>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    Ok(names.iter().filter_map(|n| Capability::parse(n).ok()).collect())
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user (`sub`).
    pub user_id: UserId,
    /// Workspace memberships.
    pub memberships: Vec<Membership>,
}

impl Principal {
    /// The membership for `workspace`, if any.
    #[must_use]
    pub fn membership(&self, workspace: WorkspaceId) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.workspace_id == workspace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_parse_from_the_token_claims_shape() {
        let claims = r#"[{"workspace_id":1,"tenant_ids":[10,11],"capabilities":["verification.start","other.service"]},
                         {"workspace_id":2,"tenant_ids":"*","capabilities":[]}]"#;
        let ms: Vec<Membership> = serde_json::from_str(claims).unwrap();
        assert!(ms[0].tenant_ids.covers(TenantId::new(10).unwrap()));
        assert!(!ms[0].tenant_ids.covers(TenantId::new(12).unwrap()));
        assert_eq!(ms[0].capabilities, BTreeSet::from([Capability::VerificationStart]));
        assert!(ms[1].tenant_ids.covers(TenantId::new(999).unwrap()));
        assert!(serde_json::from_str::<TenantScope>(r#""all""#).is_err());
        assert!(serde_json::from_str::<TenantScope>("[0]").is_err());
    }
}
