//! Checks 8 and 9: Microsoft Graph answers with the token — the organization is the connection's
//! directory, and Intune's device configurations can be listed.

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{CheckKey, DirectoryId, ProviderConnection, ReasonCode};

use super::TOKEN_ACQUISITION;
use super::failures::{graph_failure, with_graph_request_id};
use crate::engine::{Check, CheckContext, CheckOutcome};
use crate::entra::{AccessToken, EntraClient, GraphResponse};

/// `GET {path}` with the token of the token check; `Err(outcome)` when the read failed.
async fn read(
    entra: &EntraClient,
    ctx: &CheckContext,
    path: &str,
    what: &str,
) -> anyhow::Result<Result<(GraphResponse, ProviderConnection), CheckOutcome>> {
    let key = CheckKey::parse(TOKEN_ACQUISITION)?;
    let token = ctx.artifact::<AccessToken>(&key).ok_or_else(|| anyhow::anyhow!("no token from {key}"))?;
    let connection = ctx.connection().ok_or_else(|| anyhow::anyhow!("no provider connection"))?.clone();
    Ok(match entra.graph_get(&token, path).await {
        Ok(response) => Ok((response, connection)),
        Err(error) => {
            tracing::info!(error = %error, path, "graph read failed");
            Err(graph_failure(&error, what, entra, &connection))
        }
    })
}

/// `graph.organization`: `GET /v1.0/organization` answers with the connection's directory.
pub(super) struct OrganizationCheck {
    pub key: CheckKey,
    pub depends_on: Vec<CheckKey>,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Check for OrganizationCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (response, connection) = match read(&self.entra, ctx, "/v1.0/organization", "the organization").await? {
            Ok(read) => read,
            Err(outcome) => return Ok(outcome),
        };
        let id = response.body.pointer("/value/0/id").and_then(|v| v.as_str()).map(DirectoryId::parse);
        let outcome = match id {
            Some(Ok(id)) if id == connection.entra_tenant_id => {
                CheckOutcome::pass("Microsoft Graph returns the organization of the connection's directory.")
                    .with_evidence("organization_id", id.to_string())
            }
            Some(Ok(id)) => CheckOutcome::fail(
                ReasonCode::INVALID_STATE,
                "Microsoft Graph returns an organization other than the connection's directory.",
            )
            .with_evidence("organization_id", id.to_string())
            .with_evidence("entra_tenant_id", connection.entra_tenant_id.to_string()),
            _ => CheckOutcome::fail(
                ReasonCode::INVALID_STATE,
                "Microsoft Graph answered, but without an organization id.",
            ),
        };
        Ok(with_graph_request_id(outcome.with_evidence("http_status", response.status), &response.info))
    }
}

/// `graph.intune_reachable`: `GET /v1.0/deviceManagement/deviceConfigurations?$top=1` answers.
pub(super) struct IntuneReachableCheck {
    pub key: CheckKey,
    pub depends_on: Vec<CheckKey>,
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Check for IntuneReachableCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let path = "/v1.0/deviceManagement/deviceConfigurations?$top=1";
        let response = match read(&self.entra, ctx, path, "Intune device configurations").await? {
            Ok((response, _)) => response,
            Err(outcome) => return Ok(outcome),
        };
        let outcome = CheckOutcome::pass("Microsoft Graph lists Intune device configurations.")
            .with_evidence("http_status", response.status);
        Ok(with_graph_request_id(outcome, &response.info))
    }
}
