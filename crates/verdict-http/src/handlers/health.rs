//! Liveness, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers within a bounded time.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "ready"), (status = 503, description = "the database does not answer")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(state.readiness_timeout, state.readiness.check()).await;
    match probe {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "readiness probe failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
        Err(_) => {
            tracing::warn!("readiness probe timed out");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(state.readiness_timeout, state.verifications.run_tally()).await {
        Ok(Ok(tally)) => state.metrics.set_runs(&tally),
        Ok(Err(error)) => tracing::warn!(error = %error, "run metrics unavailable"),
        Err(_) => tracing::warn!("run metrics timed out"),
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
