//! One run: its view, its report exactly as stored, and its acknowledgements.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use verdict_core::services::Acknowledge;
use verdict_export::{ExportFormat, ExportInput, NegotiationError, negotiate, render};

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AcknowledgeRequest, AcknowledgementDto, RunViewDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryParams, RunPath};
use crate::params::{ReportParams, RunParams};

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

/// The stored report, exactly (schema `verification-report.v1_5`), or its SARIF 2.1.0 or JUnit
/// XML export (docs/contract.md, "Exports"). `format` wins over `Accept`; without either, JSON.
#[utoipa::path(get, path = "/v1/runs/{id}/report", tag = "runs", operation_id = "get_run_report",
    params(RunParams, ReportParams),
    responses(
        (status = 200, description = "the report as JSON, SARIF 2.1.0 or JUnit XML; exports carry \
            `Content-Disposition: attachment` with a file name",
            content((Object = "application/json"), (Object = "application/sarif+json"),
                (String = "application/xml")),
            headers(("Vary" = String, description = "`Accept`: the representation depends on it"))),
        (status = 406, body = ErrorBody, description = "`Accept` admits none of the three media types"),
        (status = 422, body = ErrorBody, description = "`format` is none of json, sarif, junit"),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RunPath(id): RunPath,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chosen = QueryParams::parse(query.as_deref(), &["format"]).and_then(|q| {
        let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        negotiate(q.raw("format"), Some(&accept.join(", "))).map_err(|e| match e {
            NegotiationError::UnknownFormat => ApiError::invalid(e.field(), "must be one of json, sarif, junit"),
            NegotiationError::NotAcceptable => ApiError::NotAcceptable,
        })
    });
    let format = match chosen {
        Ok(format) => format,
        Err(error) => {
            // A caller who may not see the run learns nothing, not even that its request is bad.
            state.verifications.report(&principal, id).await?;
            return Err(error);
        }
    };
    let vary = [(header::VARY, HeaderValue::from_static("accept"))];
    if format == ExportFormat::Json {
        let report = state.verifications.report(&principal, id).await?;
        // The typed report serializes directly, without a `serde_json::Value` in between.
        return Ok((vary, Json(report)).into_response());
    }
    let export = state.verifications.export(&principal, id).await?;
    let input = ExportInput::new(&export.run, &export.report, export.previous.as_ref(), &export.acknowledgements)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let rendered = render(format, &input).map_err(|e| ApiError::Internal(e.into()))?;
    let disposition = HeaderValue::try_from(format!("attachment; filename=\"{}\"", rendered.file_name))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(rendered.media_type)),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((vary, headers, rendered.body).into_response())
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
