//! The outcome rules for failed provider calls (docs/contract.md#provider-flow), in one place: each known
//! token refusal is named by its AADSTS code with its own next step; other credential refusals
//! stay `authentication_failed`; throttling, outages, timeouts and unusable answers are warnings,
//! never blockers; refusals by Graph are permission findings.

use verdict_core::domain::{ProviderConnection, ReasonCode, RunIdentity};

use crate::engine::CheckOutcome;
use crate::entra::{EntraClient, PERMISSIONS_REFERENCE, ProviderError, ProviderInfo};

/// How to create a client secret and replace an expired one.
pub(super) const CREATE_SECRET_DOCS: &str =
    "https://learn.microsoft.com/entra/identity-platform/how-to-add-credentials";
/// How to enable or disable an enterprise application's sign-in.
const ENABLE_APP_DOCS: &str = "https://learn.microsoft.com/entra/identity/enterprise-apps/disable-user-sign-in-portal";
/// Conditional Access for workload identities, and its sign-in log.
const CONDITIONAL_ACCESS_DOCS: &str = "https://learn.microsoft.com/entra/identity/conditional-access/workload-identity";

/// Where a cause's next step leads.
#[derive(Clone, Copy)]
enum Step {
    /// The connection in Verdict (its API path).
    Connection,
    /// The connection's secret rotation in Verdict.
    RotateSecret,
    /// The admin-consent URL of the app registration.
    AdminConsent,
    /// A page of Microsoft's documentation.
    Docs(&'static str),
}

/// A precise cause of a token refusal (docs/contract.md#provider-flow's table).
struct TokenCause {
    aadsts: u32,
    reason: ReasonCode,
    message: &'static str,
    step_label: &'static str,
    step: Step,
}

/// The AADSTS codes named precisely; any other 400/401 is `authentication_failed`, because
/// Microsoft adds codes.
static TOKEN_CAUSES: &[TokenCause] = &[
    TokenCause {
        aadsts: 7_000_215,
        reason: ReasonCode::ENTRA_CLIENT_SECRET_INVALID,
        message: "Microsoft Entra rejected the client secret Verdict holds: it is not a valid secret of this app registration.",
        step_label: "Rotate the client secret in Verdict (the one stored is wrong)",
        step: Step::RotateSecret,
    },
    TokenCause {
        aadsts: 7_000_222,
        reason: ReasonCode::ENTRA_CLIENT_SECRET_EXPIRED,
        message: "The client secret Verdict holds has expired.",
        step_label: "Create a new client secret in Microsoft Entra, then rotate it in Verdict",
        step: Step::Docs(CREATE_SECRET_DOCS),
    },
    TokenCause {
        aadsts: 700_016,
        reason: ReasonCode::ENTRA_APP_NOT_IN_DIRECTORY,
        message: "Microsoft Entra does not know the application in the connection's directory: it was never consented there, or the client id is wrong.",
        step_label: "Grant admin consent to the app registration in this directory",
        step: Step::AdminConsent,
    },
    TokenCause {
        aadsts: 65_001,
        reason: ReasonCode::ENTRA_CONSENT_REQUIRED,
        message: "The application has not been granted admin consent in the connection's directory.",
        step_label: "Grant admin consent to the app registration",
        step: Step::AdminConsent,
    },
    TokenCause {
        aadsts: 7_000_112,
        reason: ReasonCode::ENTRA_APP_DISABLED,
        message: "The application is disabled in the connection's directory.",
        step_label: "Enable the enterprise application in the tenant",
        step: Step::Docs(ENABLE_APP_DOCS),
    },
    TokenCause {
        aadsts: 53_003,
        reason: ReasonCode::ENTRA_BLOCKED_BY_CONDITIONAL_ACCESS,
        message: "A Conditional Access policy blocked the application's sign-in.",
        step_label: "Review Conditional Access for workload identities and the service principal sign-in log",
        step: Step::Docs(CONDITIONAL_ACCESS_DOCS),
    },
    TokenCause {
        aadsts: 90_002,
        reason: ReasonCode::MISSING_CONFIGURATION,
        message: "Microsoft Entra does not know the connection's directory (tenant) id.",
        step_label: "Correct the directory id of the provider connection",
        step: Step::Connection,
    },
];

/// The outcome of a failed token request.
pub(super) fn token_failure(
    error: &ProviderError,
    identity: &RunIdentity,
    entra: &EntraClient,
    connection: &ProviderConnection,
) -> CheckOutcome {
    let outcome = match error {
        ProviderError::Refused { status: 400 | 401, info } => {
            let cause = info.aadsts.and_then(|code| TOKEN_CAUSES.iter().find(|cause| cause.aadsts == code));
            let outcome = match cause {
                Some(cause) => {
                    let url = match cause.step {
                        Step::Connection => connection_path(identity),
                        Step::RotateSecret => format!("{}/secret", connection_path(identity)),
                        Step::AdminConsent => {
                            entra.admin_consent_url(&connection.entra_tenant_id, &connection.client_id)
                        }
                        Step::Docs(url) => url.to_owned(),
                    };
                    CheckOutcome::fail(cause.reason, cause.message).with_next_step(cause.step_label, url)
                }
                None => {
                    let what = info.oauth_error.as_deref().unwrap_or("the request was rejected");
                    CheckOutcome::fail(
                        ReasonCode::AUTHENTICATION_FAILED,
                        format!("Microsoft Entra rejected the app registration's credentials ({what})."),
                    )
                    .with_next_step(
                        "Check the client id and client secret of the connection",
                        connection_path(identity),
                    )
                }
            };
            outcome.with_optional_evidence("oauth_error", info.oauth_error.clone())
        }
        ProviderError::Refused { status, .. } => CheckOutcome::fail(
            ReasonCode::INVALID_STATE,
            format!("The Microsoft Entra token endpoint refused the request (HTTP {status})."),
        ),
        other => provider_condition(other, "Microsoft Entra", "token requests"),
    };
    let outcome = outcome.with_optional_evidence("http_status", error.status());
    match error.info() {
        Some(info) => outcome
            .with_optional_evidence("aadsts_code", info.aadsts_code())
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
        other => provider_condition(other, "Microsoft Graph", "requests"),
    };
    with_graph_evidence(outcome, error)
}

/// The provider's own condition — throttling, an outage, no answer in time, an unusable
/// answer: a warning, never a finding about the configuration.
pub(super) fn provider_condition(error: &ProviderError, provider: &str, requests: &str) -> CheckOutcome {
    match error {
        ProviderError::Throttled { retry_after_seconds, .. } => {
            let retry = retry_after_seconds.and_then(|s| i64::try_from(s).ok());
            CheckOutcome::warn(
                ReasonCode::THROTTLED,
                format!("{provider} is throttling {requests}; verify again later."),
            )
            .with_optional_evidence("retry_after_seconds", retry)
        }
        ProviderError::Unavailable { status, .. } => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("{provider} answered with a server error (HTTP {status}); verify again later."),
        ),
        ProviderError::Network(failure) => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("{provider} could not be reached ({failure}); verify again later."),
        )
        .with_evidence("network_failure", failure.to_string()),
        ProviderError::InvalidResponse { what, .. } => CheckOutcome::warn(
            ReasonCode::DEPENDENCY_UNREACHABLE,
            format!("{provider} answered with something unusable ({what}); verify again later."),
        ),
        ProviderError::Refused { status, .. } => {
            CheckOutcome::fail(ReasonCode::INVALID_STATE, format!("{provider} refused the request (HTTP {status})."))
        }
    }
}

/// Adds `http_status` and `graph_request_id` of a failed Graph read.
pub(super) fn with_graph_evidence(outcome: CheckOutcome, error: &ProviderError) -> CheckOutcome {
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

/// Where an operator fixes a provider connection (the API path of docs/contract.md#blocked-runs's stub).
pub(super) fn connection_path(identity: &RunIdentity) -> String {
    match identity.provider_connection_id {
        Some(id) => {
            format!("/v1/workspaces/{}/tenants/{}/provider-connections/{id}", identity.workspace_id, identity.tenant_id)
        }
        None => format!("/v1/workspaces/{}/tenants/{}/provider-connections", identity.workspace_id, identity.tenant_id),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_cause_of_the_spec_has_its_own_code_and_step() {
        let codes: BTreeSet<u32> = TOKEN_CAUSES.iter().map(|c| c.aadsts).collect();
        assert_eq!(codes, BTreeSet::from([7_000_215, 7_000_222, 700_016, 65_001, 7_000_112, 53_003, 90_002]));
        let reasons: BTreeSet<&str> = TOKEN_CAUSES.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(reasons.len(), TOKEN_CAUSES.len(), "one reason per cause");
        for cause in TOKEN_CAUSES {
            assert!(!cause.message.contains("AADSTS"), "the code is evidence, not message text");
        }
    }
}
