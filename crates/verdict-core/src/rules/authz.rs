//! Access decisions (docs/contract.md#authorization): capability-first, deny-as-not-found. A caller who is not a
//! member of the workspace, or not entitled to the tenant, cannot tell the resource exists.

use crate::domain::{Capability, Principal, TenantId, WorkspaceId};

/// Why access is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// Not a member, not entitled, or the resource does not exist: indistinguishable.
    #[error("not found")]
    NotFound,
    /// Member and entitled, but lacking the capability.
    #[error("forbidden")]
    Forbidden,
}

/// Decides access to a resource of `workspace` (and `tenant`, when the resource has one).
/// `capability` is `None` for viewing, which needs membership and entitlement only.
///
/// # Errors
/// [`AccessDenied::NotFound`] without membership or entitlement, [`AccessDenied::Forbidden`]
/// without the capability.
pub fn authorize(
    principal: &Principal,
    workspace: WorkspaceId,
    tenant: Option<TenantId>,
    capability: Option<Capability>,
) -> Result<(), AccessDenied> {
    let membership = principal.membership(workspace).ok_or(AccessDenied::NotFound)?;
    if let Some(tenant) = tenant
        && !membership.tenant_ids.covers(tenant)
    {
        return Err(AccessDenied::NotFound);
    }
    match capability {
        Some(capability) if !membership.capabilities.contains(&capability) => Err(AccessDenied::Forbidden),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::{Membership, TenantScope, UserId};

    fn ws(n: i64) -> WorkspaceId {
        WorkspaceId::new(n).unwrap()
    }
    fn t(n: i64) -> TenantId {
        TenantId::new(n).unwrap()
    }

    fn principal() -> Principal {
        Principal {
            user_id: UserId::parse("user-42").unwrap(),
            memberships: vec![
                Membership {
                    workspace_id: ws(1),
                    tenant_ids: TenantScope::Only(BTreeSet::from([t(10), t(11)])),
                    capabilities: BTreeSet::from([Capability::VerificationStart]),
                },
                Membership { workspace_id: ws(2), tenant_ids: TenantScope::All, capabilities: BTreeSet::new() },
            ],
        }
    }

    #[test]
    fn access_decision_table() {
        let p = principal();
        let start = Some(Capability::VerificationStart);
        let ack = Some(Capability::VerificationAcknowledge);
        let table = [
            (ws(1), Some(t(10)), None, Ok(()), "member views entitled tenant"),
            (ws(1), Some(t(10)), start, Ok(()), "member with capability"),
            (ws(1), Some(t(10)), ack, Err(AccessDenied::Forbidden), "capability gap is 403"),
            (ws(1), Some(t(12)), None, Err(AccessDenied::NotFound), "foreign tenant is 404"),
            (ws(1), Some(t(12)), ack, Err(AccessDenied::NotFound), "foreign tenant beats capability gap"),
            (ws(3), Some(t(10)), None, Err(AccessDenied::NotFound), "foreign workspace is 404"),
            (ws(3), None, start, Err(AccessDenied::NotFound), "foreign workspace without tenant is 404"),
            (ws(2), Some(t(999)), None, Ok(()), "star covers every tenant"),
            (ws(2), Some(t(999)), start, Err(AccessDenied::Forbidden), "star grants no capability"),
            (ws(2), None, Some(Capability::AuditRead), Err(AccessDenied::Forbidden), "workspace-level capability"),
        ];
        for (w, tenant, cap, expected, rule) in table {
            assert_eq!(authorize(&p, w, tenant, cap), expected, "{rule}");
        }
    }
}
