//! Starting verifications and finding a tenant's runs.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use verdict_core::domain::{FlowId, ProviderConnectionId, RunCursor, RunIdentity, RunStatus};
use verdict_core::ports::StartOutcome;
use verdict_core::services::ListRuns;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{RunDto, RunPageDto, RunViewDto, StartResponse, StartVerificationRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryParams, TenantPath, page_limit};
use crate::params::{LatestParams, RunListParams, TenantParams};

/// Starts a verification, idempotently.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/tenants/{t}/verifications", tag = "verifications",
    operation_id = "start_verification", params(TenantParams), request_body = StartVerificationRequest,
    responses(
        (status = 201, body = StartResponse, description = "a new run; `Location: /v1/runs/{id}`"),
        (status = 200, body = StartResponse,
            description = "an existing run of the same identity: active, or the same blocked stub (`deduplicated: true`)"),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: TenantPath,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let permit = state.verifications.authorize_start(&principal, path.workspace, path.tenant)?;
    let body: StartVerificationRequest = body.parse().await?;
    let outcome = state.verifications.start(permit, body.flow, body.provider_connection_id).await?;
    let (status, deduplicated) = match &outcome {
        StartOutcome::Created(_) => (StatusCode::CREATED, false),
        StartOutcome::Deduplicated(_) => (StatusCode::OK, true),
    };
    state.metrics.run_started(if deduplicated { "deduplicated" } else { outcome.run().outcome.as_str() });
    let location = format!("/v1/runs/{}", outcome.run().id);
    let mut response = (status, Json(StartResponse { run: RunDto::from(outcome.run()), deduplicated })).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A page of the tenant's runs, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/tenants/{t}/runs", tag = "runs", operation_id = "list_runs",
    params(TenantParams, RunListParams),
    responses((status = 200, body = RunPageDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: TenantPath,
    RawQuery(query): RawQuery,
) -> Result<Json<RunPageDto>, ApiError> {
    state.verifications.authorize_view(&principal, path.workspace, path.tenant)?;
    let q = QueryParams::parse(query.as_deref(), &["flow", "status", "provider_connection_id", "limit", "cursor"])?;
    let request = ListRuns {
        workspace_id: path.workspace,
        tenant_id: path.tenant,
        flow: q.optional("flow", |s| FlowId::parse(s))?,
        status: q.optional("status", RunStatus::parse)?,
        provider_connection_id: q.optional("provider_connection_id", str::parse::<ProviderConnectionId>)?,
        limit: q.optional("limit", page_limit)?.unwrap_or_default(),
        cursor: q.optional("cursor", RunCursor::decode)?,
    };
    let page = state.verifications.list(&principal, request).await?;
    Ok(Json(RunPageDto {
        runs: page.runs.into_iter().map(RunDto::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// The latest run of an identity, even if still active.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/tenants/{t}/verifications/latest", tag = "verifications",
    operation_id = "latest_verification", params(TenantParams, LatestParams),
    responses((status = 200, body = RunViewDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn latest(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: TenantPath,
    RawQuery(query): RawQuery,
) -> Result<Json<RunViewDto>, ApiError> {
    state.verifications.authorize_view(&principal, path.workspace, path.tenant)?;
    let q = QueryParams::parse(query.as_deref(), &["flow", "provider_connection_id"])?;
    let flow = q.optional("flow", |s| FlowId::parse(s))?.ok_or_else(|| ApiError::invalid("flow", "is required"))?;
    let identity = RunIdentity {
        flow,
        workspace_id: path.workspace,
        tenant_id: path.tenant,
        provider_connection_id: q.optional("provider_connection_id", str::parse::<ProviderConnectionId>)?,
    };
    Ok(Json(state.verifications.latest(&principal, &identity).await?.into()))
}
