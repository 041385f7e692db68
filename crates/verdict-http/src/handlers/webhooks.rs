//! A workspace's webhook subscriptions and their deliveries. Every endpoint needs
//! `webhook.manage` over every tenant of the workspace; writes authorize before they read the
//! body, and only create and rotate ever answer with the signing secret.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use verdict_core::domain::DeliveryCursor;
use verdict_core::services::{CreateWebhook, WebhookError};

use crate::AppState;
use crate::auth::Caller;
use crate::continuous::{CreateWebhookRequest, DeliveryPageDto, WebhookDto, WebhookWithSecretDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryParams, WebhookPath, WorkspacePath, page_limit};
use crate::params::{DeliveryListParams, WebhookParams, WorkspaceParams};

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound => Self::NotFound,
            WebhookError::Forbidden => Self::Forbidden,
            WebhookError::InvalidUrl(problem) => Self::invalid("url", problem.problem),
            WebhookError::Encryption(e) => Self::Internal(e.into()),
            WebhookError::Store(e) => e.into(),
        }
    }
}

/// Creates a subscription; the answer shows its signing secret, once.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks", tag = "webhooks", operation_id = "create_webhook",
    params(WorkspaceParams), request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecretDto, description = "`Location: /v1/workspaces/{ws}/webhooks/{id}`"),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let permit = state.webhooks.authorize_manage(&principal, workspace)?;
    let body: CreateWebhookRequest = body.parse().await?;
    let request = CreateWebhook { url: body.url, events: body.events, description: body.description };
    let created = state.webhooks.create(permit, request).await?;
    let location = format!("/v1/workspaces/{workspace}/webhooks/{}", created.webhook.id);
    let mut response = (StatusCode::CREATED, Json(WebhookWithSecretDto::from(created))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The workspace's subscriptions (never their secrets).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(WorkspaceParams),
    responses((status = 200, body = Vec<WebhookDto>), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
) -> Result<Json<Vec<WebhookDto>>, ApiError> {
    let permit = state.webhooks.authorize_manage(&principal, workspace)?;
    Ok(Json(state.webhooks.list(&permit).await?.into_iter().map(WebhookDto::from).collect()))
}

/// One subscription (never its secret).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(WebhookParams),
    responses((status = 200, body = WebhookDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: WebhookPath,
) -> Result<Json<WebhookDto>, ApiError> {
    let permit = state.webhooks.authorize_webhook(&principal, path.workspace, path.id).await?;
    Ok(Json(permit.webhook().clone().into()))
}

/// Deletes a subscription and its deliveries.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(WebhookParams),
    responses((status = 204, description = "deleted"), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: WebhookPath,
) -> Result<StatusCode, ApiError> {
    let permit = state.webhooks.authorize_webhook(&principal, path.workspace, path.id).await?;
    state.webhooks.delete(permit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret; later deliveries, retries included, are signed with the new one
/// only. The answer shows it, once.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotate_webhook_secret", params(WebhookParams),
    responses((status = 200, body = WebhookWithSecretDto), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: WebhookPath,
) -> Result<Json<WebhookWithSecretDto>, ApiError> {
    let permit = state.webhooks.authorize_webhook(&principal, path.workspace, path.id).await?;
    Ok(Json(state.webhooks.rotate_secret(permit).await?.into()))
}

/// A page of the subscription's deliveries, newest event first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "list_webhook_deliveries", params(WebhookParams, DeliveryListParams),
    responses((status = 200, body = DeliveryPageDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: WebhookPath,
    RawQuery(query): RawQuery,
) -> Result<Json<DeliveryPageDto>, ApiError> {
    let permit = state.webhooks.authorize_webhook(&principal, path.workspace, path.id).await?;
    let q = QueryParams::parse(query.as_deref(), &["limit", "cursor"])?;
    let limit = q.optional("limit", page_limit)?.unwrap_or_default();
    let cursor = q.optional("cursor", DeliveryCursor::decode)?;
    Ok(Json(state.webhooks.deliveries(&permit, cursor, limit).await?.into()))
}
