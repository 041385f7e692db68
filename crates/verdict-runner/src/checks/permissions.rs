//! `permissions.*`: the token's `roles` claim against core's permission catalog, and — when a
//! role is missing and the app registration is readable — whether it was requested and not
//! consented, or never requested.

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::ReasonCode;
use verdict_core::flows::{MissingIs, RequiredPermission};

use super::failures::with_consent_steps;
use super::registration::{Wanted, permission_state, with_permission_state};
use super::{Probe, token_and_connection};
use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::EntraClient;

/// `permissions.admin_consent`: the token carries application roles at all.
pub(super) struct AdminConsent {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for AdminConsent {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let roles = i64::try_from(token.claims().roles.len()).unwrap_or(i64::MAX);
        if roles > 0 {
            return Ok(CheckOutcome::pass(
                "The app-only token carries application permissions: admin consent is granted.",
            )
            .with_evidence("application_role_count", roles));
        }
        let state = permission_state(ctx, &self.entra, &token, connection, Wanted::Any).await;
        let outcome = CheckOutcome::fail(
            ReasonCode::PERMISSION_DENIED,
            "The app-only token carries no application permissions: admin consent has not been granted.",
        )
        .with_evidence("application_role_count", 0_i64)
        .with_evidence("permission_type", "application");
        Ok(with_consent_steps(with_permission_state(outcome, state), &self.entra, connection))
    }
}

/// One catalog entry: any accepted role in the token's `roles` claim.
pub(super) struct Permission {
    pub required: &'static RequiredPermission,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for Permission {
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
        let state = permission_state(ctx, &self.entra, &token, connection, Wanted::OneOf(self.required.accepted)).await;
        let message = format!(
            "The application permission {} (or one that includes it) is not granted.",
            self.required.permission
        );
        let outcome = match self.required.missing_is {
            MissingIs::Fail => CheckOutcome::fail(ReasonCode::PERMISSION_DENIED, message),
            MissingIs::Warn => CheckOutcome::warn(ReasonCode::PERMISSION_DENIED, message),
        }
        .with_evidence("missing_permission", self.required.permission)
        .with_evidence("permission_type", "application");
        Ok(with_consent_steps(with_permission_state(outcome, state), &self.entra, connection))
    }
}
