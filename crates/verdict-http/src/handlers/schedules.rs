//! A provider connection's schedule: set, read, remove. Changes authorize before they read the
//! body.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use verdict_core::services::{ScheduleError, SetSchedule};

use crate::AppState;
use crate::auth::Caller;
use crate::continuous::{ScheduleDto, SetScheduleRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ConnectionPath, JsonBody};
use crate::params::ConnectionParams;

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::NotFound => Self::NotFound,
            ScheduleError::Forbidden => Self::Forbidden,
            ScheduleError::Disabled => Self::ConnectionDisabled,
            ScheduleError::FirstRunTooLate => Self::invalid("first_run_at", "must be at most one interval from now"),
            ScheduleError::Store(e) => e.into(),
        }
    }
}

/// Sets or replaces the connection's schedule.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}/schedule", tag = "schedules",
    operation_id = "set_schedule", params(ConnectionParams), request_body = SetScheduleRequest,
    responses((status = 200, body = ScheduleDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
    body: JsonBody,
) -> Result<Json<ScheduleDto>, ApiError> {
    let permit = state.schedules.authorize_change(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    let body: SetScheduleRequest = body.parse().await?;
    let request = SetSchedule { interval: body.interval, first_run_at: body.first_run_at };
    Ok(Json(state.schedules.set(permit, request).await?.into()))
}

/// The connection's schedule.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}/schedule", tag = "schedules",
    operation_id = "get_schedule", params(ConnectionParams),
    responses((status = 200, body = ScheduleDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
) -> Result<Json<ScheduleDto>, ApiError> {
    let schedule = state.schedules.get(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    Ok(Json(schedule.into()))
}

/// Removes the connection's schedule.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/tenants/{t}/provider-connections/{id}/schedule",
    tag = "schedules", operation_id = "remove_schedule", params(ConnectionParams),
    responses((status = 204, description = "removed"), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: ConnectionPath,
) -> Result<StatusCode, ApiError> {
    let permit = state.schedules.authorize_change(&principal, path.scope.workspace, path.scope.tenant, path.id).await?;
    state.schedules.remove(permit).await?;
    Ok(StatusCode::NO_CONTENT)
}
