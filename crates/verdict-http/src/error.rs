//! The API's error type and its stable code table (`contracts/error.schema.json`). Turning an
//! error into a response has no side effects: the cause of a 5xx rides in a response extension
//! and the `log_failures` middleware logs it once. 5xx bodies are opaque.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field (body property, query parameter or path segment).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into() }
    }
}

/// Everything an endpoint can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid bearer token.
    #[error("authentication required")]
    Unauthenticated,
    /// Member without the capability.
    #[error("you lack the capability for this action")]
    Forbidden,
    /// Missing, or not visible to the caller: indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    /// The run is queued; it has no report yet.
    #[error("the run has no report yet")]
    ReportNotReady,
    /// The check is already acknowledged; the existing acknowledgement is attached.
    #[error("the check is already acknowledged")]
    AlreadyAcknowledged(Box<serde_json::Value>),
    /// The provider connection is disabled.
    #[error("the provider connection is disabled")]
    ConnectionDisabled,
    /// Body over the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// Not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// Malformed or invalid input.
    #[error("the request is invalid")]
    Validation(Vec<FieldProblem>),
    /// The check cannot be acknowledged.
    #[error("{0}")]
    CheckNotAcknowledgeable(String),
    /// The run has not completed.
    #[error("the run has not completed; only completed runs can be acknowledged")]
    RunNotCompleted,
    /// The store is unavailable.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken invariant; details only in the log.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A validation error for one field.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Validation(vec![FieldProblem::new(field, problem)])
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::ReportNotReady => "report_not_ready",
            Self::AlreadyAcknowledged(_) => "already_acknowledged",
            Self::ConnectionDisabled => "connection_disabled",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::CheckNotAcknowledgeable(_) => "check_not_acknowledgeable",
            Self::RunNotCompleted => "run_not_completed",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::ReportNotReady => StatusCode::NOT_FOUND,
            Self::AlreadyAcknowledged(_) | Self::ConnectionDisabled => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::CheckNotAcknowledgeable(_) | Self::RunNotCompleted => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error body: `{"error": {code, message, details[, acknowledgement]}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code.
    pub code: &'static str,
    /// Human text.
    pub message: String,
    /// Field problems (may be empty).
    pub details: Vec<FieldProblem>,
    /// The existing acknowledgement, for `already_acknowledged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub acknowledgement: Option<serde_json::Value>,
}

/// The cause of a 5xx, for the logging middleware; never serialized.
#[derive(Debug, Clone)]
pub struct FailureCause(pub Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let message = self.to_string();
        let (details, acknowledgement, cause) = match self {
            Self::Validation(details) => (details, None, None),
            Self::AlreadyAcknowledged(existing) => (Vec::new(), Some(*existing), None),
            Self::Unavailable(cause) | Self::Internal(cause) => (Vec::new(), None, Some(cause)),
            _ => (Vec::new(), None, None),
        };
        let body = ErrorBody { error: ErrorDetail { code, message, details, acknowledgement } };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(FailureCause(Arc::new(cause)));
        }
        response
    }
}

impl From<verdict_core::services::Failure> for ApiError {
    fn from(failure: verdict_core::services::Failure) -> Self {
        match failure {
            verdict_core::services::Failure::Unavailable(e) => Self::Unavailable(e),
            verdict_core::services::Failure::Unexpected(e) => Self::Internal(e),
        }
    }
}

/// Every code with its status, as documented in `contracts/error.schema.json`.
pub const CODE_TABLE: &[(&str, u16)] = &[
    ("unauthenticated", 401),
    ("forbidden", 403),
    ("not_found", 404),
    ("report_not_ready", 404),
    ("already_acknowledged", 409),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("validation_failed", 422),
    ("check_not_acknowledgeable", 422),
    ("run_not_completed", 422),
    ("connection_disabled", 409),
    ("unavailable", 503),
    ("internal", 500),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<ApiError> {
        vec![
            ApiError::Unauthenticated,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::ReportNotReady,
            ApiError::AlreadyAcknowledged(Box::new(serde_json::json!({}))),
            ApiError::ConnectionDisabled,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::invalid("f", "p"),
            ApiError::CheckNotAcknowledgeable("x".into()),
            ApiError::RunNotCompleted,
            ApiError::Unavailable(anyhow::anyhow!("db down")),
            ApiError::Internal(anyhow::anyhow!("bug")),
        ]
    }

    #[test]
    fn every_error_matches_the_documented_code_table() {
        let errors = samples();
        assert_eq!(errors.len(), CODE_TABLE.len());
        for error in errors {
            let entry = CODE_TABLE.iter().find(|(code, _)| *code == error.code()).unwrap();
            assert_eq!(entry.1, error.status().as_u16(), "{}", error.code());
        }
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../contracts/error.schema.json")).unwrap();
        let documented = &schema["x-status-codes"];
        for (code, status) in CODE_TABLE {
            assert_eq!(documented[*code], serde_json::json!(status), "{code} in contracts/error.schema.json");
        }
        assert_eq!(documented.as_object().unwrap().len(), CODE_TABLE.len());
    }

    #[test]
    fn server_errors_are_opaque() {
        let response = ApiError::Internal(anyhow::anyhow!("password=hunter2 at db.internal")).into_response();
        assert!(response.extensions().get::<FailureCause>().is_some());
        let response = ApiError::Unavailable(anyhow::anyhow!("db.internal refused")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
