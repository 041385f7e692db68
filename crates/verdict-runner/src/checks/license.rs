//! `tenant.intune_license`: the tenant has a subscription in use with an Intune service plan of
//! core's catalog provisioned (`GET /v1.0/subscribedSkus`). Without one, Intune cannot answer,
//! so `graph.intune_reachable` is skipped (core declares that dependency).

use std::sync::Arc;

use async_trait::async_trait;
use verdict_core::domain::ReasonCode;
use verdict_core::flows::{INTUNE_SERVICE_PLANS, LICENSE_READ_PERMISSION};

use super::failures::{graph_failure, with_consent_steps, with_graph_evidence, with_graph_request_id};
use super::{Probe, token_and_connection};
use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::{EntraClient, ProviderError};

/// Intune licensing, for a tenant without a licence.
const INTUNE_LICENSING_DOCS: &str = "https://learn.microsoft.com/mem/intune/fundamentals/licenses";

pub(super) struct IntuneLicense {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for IntuneLicense {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (token, connection) = token_and_connection(ctx)?;
        let response = match self.entra.subscribed_skus(&token, ctx.call_deadline()).await {
            Ok(response) => response,
            Err(error @ ProviderError::Refused { status: 401 | 403, .. }) => {
                tracing::info!(error = %error, "graph refused to list the subscriptions");
                // Not being allowed to look says nothing about the licence itself.
                let outcome = CheckOutcome::skip(
                    ReasonCode::PERMISSION_DENIED,
                    format!(
                        "Microsoft Graph refused to list the tenant's subscriptions; reading the Intune licence needs \
                         the application permission {LICENSE_READ_PERMISSION}."
                    ),
                )
                .with_evidence("missing_permission", LICENSE_READ_PERMISSION)
                .with_evidence("permission_type", "application");
                return Ok(with_consent_steps(with_graph_evidence(outcome, &error), &self.entra, connection));
            }
            Err(error) => {
                tracing::info!(error = %error, "graph read of the subscriptions failed");
                return Ok(graph_failure(&error, "the tenant's subscriptions", &self.entra, connection));
            }
        };
        let sku_count = i64::try_from(response.body.len()).unwrap_or(i64::MAX);
        let outcome = match response.body.active_plan(INTUNE_SERVICE_PLANS) {
            Some(plan) => CheckOutcome::pass(format!("The tenant has an active Intune service plan ({plan})."))
                .with_evidence("intune_service_plan", plan),
            None => CheckOutcome::fail(
                ReasonCode::INTUNE_NOT_LICENSED,
                "None of the tenant's subscriptions in use has an active Intune service plan.",
            )
            .with_next_step("Intune licensing", INTUNE_LICENSING_DOCS),
        };
        let outcome = outcome.with_evidence("sku_count", sku_count).with_evidence("http_status", response.status);
        Ok(with_graph_request_id(outcome, &response.info))
    }
}
