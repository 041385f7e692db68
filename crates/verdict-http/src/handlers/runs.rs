//! One run: its view, its report exactly as stored, and its acknowledgements.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use verdict_core::services::Acknowledge;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AcknowledgeRequest, AcknowledgementDto, RunViewDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RunPath};
use crate::params::RunParams;

/// The run view: run, report, acknowledgements, change — from stored rows only.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", operation_id = "get_run", params(RunParams),
    responses((status = 200, body = RunViewDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn view(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RunPath(id): RunPath,
) -> Result<Json<RunViewDto>, ApiError> {
    Ok(Json(state.verifications.view(&principal, id).await?.into()))
}

/// The stored report, exactly (schema `verification-report.v1_5`).
#[utoipa::path(get, path = "/v1/runs/{id}/report", tag = "runs", operation_id = "get_run_report", params(RunParams),
    responses((status = 200, description = "the report", body = Object), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RunPath(id): RunPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.verifications.report(&principal, id).await?.to_json()))
}

/// Acknowledges a failing or warning check of a completed run.
#[utoipa::path(post, path = "/v1/runs/{id}/acknowledgements", tag = "acknowledgements",
    operation_id = "acknowledge_check", params(RunParams), request_body = AcknowledgeRequest,
    responses((status = 201, body = AcknowledgementDto), (status = 409, body = ErrorBody,
        description = "already acknowledged; `error.acknowledgement` is the existing one"),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RunPath(id): RunPath,
    body: JsonBody,
) -> Result<(StatusCode, Json<AcknowledgementDto>), ApiError> {
    let permit = state.acknowledgements.authorize(&principal, id).await?;
    let body: AcknowledgeRequest = body.parse().await?;
    let request = Acknowledge {
        report_id: body.report_id,
        check_key: body.check_key,
        reason: body.ack_reason,
        expires_at: body.expires_at,
    };
    let view = state.acknowledgements.acknowledge(permit, request).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The run's acknowledgements.
#[utoipa::path(get, path = "/v1/runs/{id}/acknowledgements", tag = "acknowledgements",
    operation_id = "list_acknowledgements", params(RunParams),
    responses((status = 200, body = Vec<AcknowledgementDto>), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn acknowledgements(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RunPath(id): RunPath,
) -> Result<Json<Vec<AcknowledgementDto>>, ApiError> {
    let list = state.acknowledgements.list(&principal, id).await?;
    Ok(Json(list.into_iter().map(AcknowledgementDto::from).collect()))
}
