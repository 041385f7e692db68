//! Provider connections: create, list, read, rotate the secret, disable. Writes authorize before
//! they read the body.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use verdict_core::services::{CreateConnection, RotateSecret};

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{ConnectionDto, CreateConnectionRequest, RotateSecretRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ConnectionPath, JsonBody, TenantPath};
use crate::params::{ConnectionParams, TenantParams};

/// Creates a provider connection; the secret is encrypted and never returned.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections", tag = "provider connections",
    operation_id = "create_provider_connection", params(TenantParams), request_body = CreateConnectionRequest,
    responses((status = 201, body = ConnectionDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: TenantPath,
    body: JsonBody,
) -> Result<(StatusCode, Json<ConnectionDto>), ApiError> {
    let permit = state.connections.authorize_create(&principal, path.workspace, path.tenant)?;
    let body: CreateConnectionRequest = body.parse().await?;
    let request = CreateConnection {
        display_name: body.display_name,
        entra_tenant_id: body.entra_tenant_id,
        client_id: body.client_id,
        client_secret: body.client_secret,
        client_secret_expires_at: body.client_secret_expires_at,
    };
    let connection = state.connections.create(permit, request).await?;
    Ok((StatusCode::CREATED, Json(connection.into())))
}

/// A tenant's provider connections.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections", tag = "provider connections",
    operation_id = "list_provider_connections", params(TenantParams),
    responses((status = 200, body = Vec<ConnectionDto>), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: TenantPath,
) -> Result<Json<Vec<ConnectionDto>>, ApiError> {
    let connections = state.connections.list(&principal, path.workspace, path.tenant).await?;
    Ok(Json(connections.into_iter().map(ConnectionDto::from).collect()))
}

/// One provider connection.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}", tag = "provider connections",
    operation_id = "get_provider_connection", params(ConnectionParams),
    responses((status = 200, body = ConnectionDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
) -> Result<Json<ConnectionDto>, ApiError> {
    let connection = state.connections.get(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    Ok(Json(connection.into()))
}

/// Replaces the client secret.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}/secret",
    tag = "provider connections", operation_id = "rotate_provider_connection_secret", params(ConnectionParams),
    request_body = RotateSecretRequest,
    responses((status = 204, description = "rotated"), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
    body: JsonBody,
) -> Result<StatusCode, ApiError> {
    let permit =
        state.connections.authorize_change(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    let body: RotateSecretRequest = body.parse().await?;
    let rotation =
        RotateSecret { client_secret: body.client_secret, client_secret_expires_at: body.client_secret_expires_at };
    state.connections.rotate_secret(permit, rotation).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables the connection (idempotent).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}/disable",
    tag = "provider connections", operation_id = "disable_provider_connection", params(ConnectionParams),
    responses((status = 200, body = ConnectionDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn disable(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
) -> Result<Json<ConnectionDto>, ApiError> {
    let permit =
        state.connections.authorize_change(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    Ok(Json(state.connections.disable(permit).await?.into()))
}
