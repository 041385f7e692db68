//! Liveness, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "alive", body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers within a bounded time.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz", responses(
    (status = 200, description = "ready: the database answers (on SQLite: a write commits)", body = Object),
    (status = 503, description = "the database does not answer, or cannot write", body = Object)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(state.limits.readiness_timeout, state.readiness.check()).await;
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

/// Prometheus metrics: OpenMetrics when the scraper asks for it, else the Prometheus text format
/// 0.0.4. No table is scanned: the queue gauges are read at most every few seconds, through the
/// queue index.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4, or OpenMetrics 1.0 when asked for",
        content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    state.metrics.refresh_queue_depth(&state).await;
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            state.metrics.render_openmetrics(),
        )
    } else {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render_prometheus())
    }
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
