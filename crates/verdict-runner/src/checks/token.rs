//! Checks 0 and 1: the connection is configured (core only hands out runs with a usable one),
//! and an app-only token can be acquired for the connection's own directory.

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{CheckKey, DirectoryId, ReasonCode};

use super::failures::token_failure;
use crate::engine::{Check, CheckContext, CheckOutcome};
use crate::entra::EntraClient;

/// `provider_connection.configured`: a claimed run of this flow always has an enabled
/// connection with a decryptable secret, because core completes the others as blocked.
pub(super) struct ConfiguredCheck {
    pub key: CheckKey,
}

#[async_trait]
impl Check for ConfiguredCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &[]
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        Ok(match (ctx.connection(), ctx.secret()) {
            (Some(connection), Some(_)) => {
                CheckOutcome::pass("The provider connection exists, is enabled and has a client secret.")
                    .with_evidence("provider_connection_id", connection.id.to_string())
                    .with_evidence("entra_tenant_id", connection.entra_tenant_id.to_string())
            }
            _ => CheckOutcome::fail(ReasonCode::MISSING_CONFIGURATION, "The run has no usable provider connection."),
        })
    }
}

/// `provider_connection.token_acquisition`: client-credentials token for `{graph}/.default`,
/// issued for the connection's directory. The token is this check's artifact.
pub(super) struct TokenCheck {
    pub key: CheckKey,
    pub depends_on: Vec<CheckKey>,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Check for TokenCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (Some(connection), Some(secret)) = (ctx.connection(), ctx.secret()) else {
            anyhow::bail!("token acquisition ran without a connection and secret");
        };
        let token = match self.entra.acquire_token(&connection.entra_tenant_id, &connection.client_id, secret).await {
            Ok(token) => token,
            Err(error) => {
                tracing::info!(error = %error, "token request failed");
                return Ok(token_failure(&error, &ctx.input().identity));
            }
        };
        let issued_for = token.claims().tenant_id.as_deref().map(DirectoryId::parse);
        Ok(match issued_for {
            Some(Ok(tenant)) if tenant == connection.entra_tenant_id => {
                CheckOutcome::pass("Microsoft Entra issued an app-only token for the connection's directory.")
                    .with_evidence("entra_tenant_id", connection.entra_tenant_id.to_string())
                    .with_artifact(token)
            }
            _ => CheckOutcome::fail(
                ReasonCode::INVALID_STATE,
                "Microsoft Entra issued a token for a different directory than the connection's.",
            )
            .with_evidence("entra_tenant_id", connection.entra_tenant_id.to_string()),
        })
    }
}
