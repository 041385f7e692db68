//! The outcome rules of SPEC §10 for failed provider calls, in one place: credentials and
//! directories are configuration failures; throttling, outages and network trouble are warnings,
//! never blockers; refusals by Graph are permission findings.

use verdict_core::domain::{ProviderConnection, ReasonCode, RunIdentity};

use crate::engine::CheckOutcome;
use crate::entra::{EntraClient, PERMISSIONS_REFERENCE, ProviderError, ProviderInfo};

/// The outcome of a failed token request.
pub(super) fn token_failure(error: &ProviderError, identity: &RunIdentity) -> CheckOutcome {
    let outcome = match error {
        ProviderError::Refused { status: 400 | 401, info } if info.directory_not_found => CheckOutcome::fail(
            ReasonCode::MISSING_CONFIGURATION,
            "Microsoft Entra does not know the connection's directory (tenant) id.",
        )
        .with_next_step("Correct the provider connection", connection_path(identity)),
        ProviderError::Refused { status: 400 | 401, info } => {
            let what = info.oauth_error.as_deref().unwrap_or("the request was rejected");
            CheckOutcome::fail(
                ReasonCode::AUTHENTICATION_FAILED,
                format!("Microsoft Entra rejected the app registration's credentials ({what})."),
            )
            .with_optional_evidence("oauth_error", info.oauth_error.clone())
            .with_next_step("Check the client id and rotate the client secret", connection_path(identity))
        }
        ProviderError::Refused { status, .. } => CheckOutcome::fail(
            ReasonCode::INVALID_STATE,
            format!("The Microsoft Entra token endpoint refused the request (HTTP {status})."),
        ),
        ProviderError::Throttled { .. } => CheckOutcome::warn(
            ReasonCode::THROTTLED,
            "Microsoft Entra is throttling token requests; verify again later.",
        ),
        ProviderError::Unavailable { status, .. } => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("Microsoft Entra answered with a server error (HTTP {status}); verify again later."),
        ),
        ProviderError::Network(failure) => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("Microsoft Entra could not be reached ({failure}); verify again later."),
        )
        .with_evidence("network_failure", failure.to_string()),
        ProviderError::InvalidResponse { what, .. } => {
            CheckOutcome::fail(ReasonCode::INVALID_STATE, format!("Microsoft Entra answered, but {what}."))
        }
    };
    let outcome = outcome.with_optional_evidence("http_status", error.status());
    match error.info() {
        Some(info) => outcome
            .with_optional_evidence("aadsts_code", info.aadsts_code.clone())
            .with_optional_evidence(
                "correlation_id",
                info.correlation_id.clone().or_else(|| info.client_request_id.clone()),
            )
            .with_optional_evidence("entra_request_id", info.request_id.clone()),
        None => outcome,
    }
}

/// The outcome of a failed Graph read of `what` (e.g. "the organization").
pub(super) fn graph_failure(
    error: &ProviderError,
    what: &str,
    entra: &EntraClient,
    connection: &ProviderConnection,
) -> CheckOutcome {
    let outcome = match error {
        ProviderError::Refused { status: status @ (401 | 403), .. } => with_consent_steps(
            CheckOutcome::fail(
                ReasonCode::PERMISSION_DENIED,
                format!("Microsoft Graph refused to read {what} (HTTP {status})."),
            )
            .with_evidence("permission_type", "application"),
            entra,
            connection,
        ),
        ProviderError::Refused { status, .. } => CheckOutcome::fail(
            ReasonCode::INVALID_STATE,
            format!("Microsoft Graph did not return {what} (HTTP {status})."),
        ),
        ProviderError::Throttled { .. } => {
            CheckOutcome::warn(ReasonCode::THROTTLED, "Microsoft Graph is throttling requests; verify again later.")
        }
        ProviderError::Unavailable { status, .. } => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("Microsoft Graph answered with a server error (HTTP {status}); verify again later."),
        ),
        ProviderError::Network(failure) => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("Microsoft Graph could not be reached ({failure}); verify again later."),
        )
        .with_evidence("network_failure", failure.to_string()),
        ProviderError::InvalidResponse { what: problem, .. } => {
            CheckOutcome::fail(ReasonCode::INVALID_STATE, format!("Microsoft Graph answered, but {problem}."))
        }
    };
    let outcome = outcome.with_optional_evidence("http_status", error.status());
    match error.info() {
        Some(info) => with_graph_request_id(outcome, info),
        None => outcome,
    }
}

/// Adds `graph_request_id`: the `request-id` header, or else the `client-request-id` we sent.
pub(super) fn with_graph_request_id(outcome: CheckOutcome, info: &ProviderInfo) -> CheckOutcome {
    outcome
        .with_optional_evidence("graph_request_id", info.request_id.clone().or_else(|| info.client_request_id.clone()))
}

/// The admin-consent link and the permissions reference.
pub(super) fn with_consent_steps(
    outcome: CheckOutcome,
    entra: &EntraClient,
    connection: &ProviderConnection,
) -> CheckOutcome {
    outcome
        .with_next_step(
            "Grant admin consent to the app registration",
            entra.admin_consent_url(&connection.entra_tenant_id, &connection.client_id),
        )
        .with_next_step("Microsoft Graph permissions reference", PERMISSIONS_REFERENCE)
}

/// Where an operator fixes a provider connection (the API path of SPEC §5.3's stub).
fn connection_path(identity: &RunIdentity) -> String {
    match identity.provider_connection_id {
        Some(id) => {
            format!("/v1/workspaces/{}/tenants/{}/provider-connections/{id}", identity.workspace_id, identity.tenant_id)
        }
        None => format!("/v1/workspaces/{}/tenants/{}/provider-connections", identity.workspace_id, identity.tenant_id),
    }
}
