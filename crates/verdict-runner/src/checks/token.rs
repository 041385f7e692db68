//! `provider_connection.configured` and `provider_connection.token_acquisition`: the connection
//! is usable (core only hands out runs with one), and an app-only token can be acquired for the
//! connection's own directory — or else precisely why not.

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{DirectoryId, ReasonCode};

use super::Probe;
use super::failures::token_failure;
use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::EntraClient;

/// A claimed run of this flow always has an enabled connection with a decryptable secret,
/// because core completes the others as blocked (docs/contract.md#blocked-runs).
pub(super) struct Configured;

#[async_trait]
impl Probe for Configured {
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

/// Client-credentials token for `{graph}/.default`, issued for the connection's directory; the
/// token is this check's artifact. A fresh one every run: none is cached.
pub(super) struct TokenAcquisition {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for TokenAcquisition {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (Some(connection), Some(secret)) = (ctx.connection(), ctx.secret()) else {
            anyhow::bail!("token acquisition ran without a connection and secret");
        };
        let acquired = self
            .entra
            .acquire_token(&connection.entra_tenant_id, &connection.client_id, secret, ctx.call_deadline())
            .await;
        let token = match acquired {
            Ok(token) => token,
            Err(error) => {
                tracing::info!(error = %error, "token request failed");
                return Ok(token_failure(&error, &ctx.input().identity, &self.entra, connection));
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
