//! `graph.organization` and `graph.intune_reachable`: Microsoft Graph answers with the token —
//! the organization is the connection's directory, and Intune's device configurations can be
//! listed.

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::{DirectoryId, ReasonCode};

use super::failures::{graph_failure, with_graph_request_id};
use super::{Probe, token_and_connection};
use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::EntraClient;

/// `GET /v1.0/organization` answers with the connection's directory.
pub(super) struct Organization {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for Organization {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let response = match self.entra.graph_get(&token, "/v1.0/organization", ctx.call_deadline()).await {
            Ok(response) => response,
            Err(error) => {
                tracing::info!(error = %error, "graph read of the organization failed");
                return Ok(graph_failure(&error, "the organization", &self.entra, connection));
            }
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
            // An answer without a usable organization id says nothing about the configuration.
            _ => CheckOutcome::warn(
                ReasonCode::DEPENDENCY_UNREACHABLE,
                "Microsoft Graph answered without a usable organization id; verify again later.",
            ),
        };
        Ok(with_graph_request_id(outcome.with_evidence("http_status", response.status), &response.info))
    }
}

/// `GET /v1.0/deviceManagement/deviceConfigurations?$top=1` answers.
pub(super) struct IntuneReachable {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for IntuneReachable {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let path = "/v1.0/deviceManagement/deviceConfigurations?$top=1";
        let response = match self.entra.graph_get(&token, path, ctx.call_deadline()).await {
            Ok(response) => response,
            Err(error) => {
                tracing::info!(error = %error, "graph read of Intune device configurations failed");
                return Ok(graph_failure(&error, "Intune device configurations", &self.entra, connection));
            }
        };
        let outcome = CheckOutcome::pass("Microsoft Graph lists Intune device configurations.")
            .with_evidence("http_status", response.status);
        Ok(with_graph_request_id(outcome, &response.info))
    }
}
