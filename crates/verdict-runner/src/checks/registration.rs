//! The two registration reads several checks share — the app registration and Graph's own
//! application roles — made at most once per run: the first check that needs one starts it and
//! the others wait for the same answer, so they run concurrently with every other check instead
//! of once per permission check. And what they tell: why a permission is missing.

use std::sync::Arc;

use tokio::sync::OnceCell;
use verdict_core::domain::ProviderConnection;

use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::{AccessToken, Application, EntraClient, GraphAppRoles, GraphResponse, ProviderError};

/// The run's shared registration reads (see [`CheckContext::run_shared`]).
#[derive(Default)]
pub(super) struct RegistrationReads {
    application: OnceCell<Result<Arc<GraphResponse<Application>>, ProviderError>>,
    graph_roles: OnceCell<Result<Arc<GraphAppRoles>, ProviderError>>,
}

/// The connection's app registration, read once per run.
pub(super) async fn application(
    ctx: &CheckContext,
    entra: &EntraClient,
    token: &AccessToken,
    connection: &ProviderConnection,
) -> Result<Arc<GraphResponse<Application>>, ProviderError> {
    let reads = ctx.run_shared::<RegistrationReads>();
    let read = reads
        .application
        .get_or_init(|| async {
            let read = entra.application(token, &connection.client_id, ctx.call_deadline()).await;
            read.map(Arc::new)
        })
        .await;
    read.clone()
}

/// Graph's application roles (permission id → name), read once per run.
async fn graph_roles(
    ctx: &CheckContext,
    entra: &EntraClient,
    token: &AccessToken,
) -> Result<Arc<GraphAppRoles>, ProviderError> {
    let reads = ctx.run_shared::<RegistrationReads>();
    let read = reads
        .graph_roles
        .get_or_init(|| async { entra.graph_app_roles(token, ctx.call_deadline()).await.map(|r| Arc::new(r.body)) })
        .await;
    read.clone()
}

/// Why an application permission the token lacks is missing (docs/contract.md#provider-flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PermissionState {
    /// The registration asks for it; an administrator has not consented.
    RequestedNotConsented,
    /// The registration does not ask for it.
    NotRequested,
}

impl PermissionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::RequestedNotConsented => "requested_not_consented",
            Self::NotRequested => "not_requested",
        }
    }
}

/// Which missing permission is asked about.
pub(super) enum Wanted<'a> {
    /// Any Graph application permission at all (admin consent).
    Any,
    /// One of these.
    OneOf(&'a [&'a str]),
}

/// Why the token lacks `wanted`, from the app's `requiredResourceAccess` named through Graph's
/// `appRoles`; `None` when either read fails — nothing is invented then.
pub(super) async fn permission_state(
    ctx: &CheckContext,
    entra: &EntraClient,
    token: &AccessToken,
    connection: &ProviderConnection,
    wanted: Wanted<'_>,
) -> Option<PermissionState> {
    let (app, roles) = tokio::join!(application(ctx, entra, token, connection), graph_roles(ctx, entra, token));
    let (app, roles) = match (app, roles) {
        (Ok(app), Ok(roles)) => (app, roles),
        (Err(error), _) | (_, Err(error)) => {
            tracing::info!(error = %error, "the app registration could not be read; the permission state stays unknown");
            return None;
        }
    };
    let requested = match wanted {
        Wanted::Any => app.body.requested_graph_role_count() > 0,
        Wanted::OneOf(names) => app.body.requests_graph_role(&roles, names),
    };
    Some(if requested { PermissionState::RequestedNotConsented } else { PermissionState::NotRequested })
}

/// How to add a permission to an app registration.
const ADD_PERMISSION_DOCS: &str =
    "https://learn.microsoft.com/entra/identity-platform/quickstart-configure-app-access-web-apis";

/// Adds `permission_state` and, for a permission never requested, the step that comes before
/// consent (the consent steps themselves are added by the caller).
pub(super) fn with_permission_state(outcome: CheckOutcome, state: Option<PermissionState>) -> CheckOutcome {
    match state {
        None => outcome,
        Some(state @ PermissionState::RequestedNotConsented) => {
            outcome.with_evidence("permission_state", state.as_str())
        }
        Some(state @ PermissionState::NotRequested) => {
            outcome.with_evidence("permission_state", state.as_str()).with_next_step(
                "Add the permission to the app registration's API permissions, then consent",
                ADD_PERMISSION_DOCS,
            )
        }
    }
}
