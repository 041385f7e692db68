//! The API's error type and its stable code table. The table is written once, in [`codes!`]:
//! each row is a code, its HTTP status and its meaning; `Code::as_str`, `Code::status` and the
//! table documented in `contracts/error.schema.json` (checked by a test) all derive from it.
//!
//! Turning an error into a response has no side effects: the cause of a 5xx rides in a response
//! extension and the telemetry middleware logs it once. 5xx bodies are opaque.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use verdict_core::ports::StoreError;

use crate::dto::AcknowledgementDto;

macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:ident, $meaning:literal),)*) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the documented order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The code as it appears in `error.code`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The HTTP status it is answered with.
            #[must_use]
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }

            /// What it means, as documented.
            #[must_use]
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    BadRequest => ("bad_request", BAD_REQUEST,
        "The request is not a well-formed HTTP request this API can read."),
    Unauthenticated => ("unauthenticated", UNAUTHORIZED,
        "Missing, malformed, expired or badly signed bearer token (sent with `WWW-Authenticate: Bearer`)."),
    Forbidden => ("forbidden", FORBIDDEN,
        "Member of the workspace and entitled to the tenant, but lacking the required capability."),
    NotFound => ("not_found", NOT_FOUND,
        "The resource does not exist, or the caller is not a member of its workspace or not entitled to its tenant (same body in every case); also unparseable path ids and unknown paths."),
    ReportNotReady => ("report_not_ready", NOT_FOUND,
        "The run is still queued and has no report yet."),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED,
        "The path exists, but not with this method (`Allow` lists the methods it has)."),
    NotAcceptable => ("not_acceptable", NOT_ACCEPTABLE,
        "No representation the endpoint offers satisfies the `Accept` header."),
    RequestTimeout => ("request_timeout", REQUEST_TIMEOUT,
        "The request body did not arrive in time."),
    AlreadyAcknowledged => ("already_acknowledged", CONFLICT,
        "The check of this run is already acknowledged; acknowledgements are immutable; `error.acknowledgement` carries the existing one."),
    ConnectionDisabled => ("connection_disabled", CONFLICT,
        "The provider connection is disabled, so the requested change is not allowed."),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE,
        "The request body exceeds 64 KiB (declared or sent)."),
    UriTooLong => ("uri_too_long", URI_TOO_LONG,
        "The request target exceeds 8 KiB."),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The request body is not `application/json`."),
    ValidationFailed => ("validation_failed", UNPROCESSABLE_ENTITY,
        "Malformed JSON, unknown fields, trailing data, wrong types or out-of-range values; `details` names each offending field."),
    CheckNotAcknowledgeable => ("check_not_acknowledgeable", UNPROCESSABLE_ENTITY,
        "The check does not exist in the run's report, or its status is neither `fail` nor `warn`."),
    RunNotCompleted => ("run_not_completed", UNPROCESSABLE_ENTITY,
        "The run is not completed yet, so its checks cannot be acknowledged."),
    HeadersTooLarge => ("request_header_fields_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE,
        "The request carries more than 100 header fields or more than 16 KiB of them."),
    Internal => ("internal", INTERNAL_SERVER_ERROR,
        "Unexpected server error; the body is opaque and the cause is only in the log."),
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE,
        "A dependency (the database) is unavailable; retry later."),
}

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
    /// Not a well-formed request.
    #[error("the request is malformed")]
    BadRequest,
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
    /// The path does not have this method.
    #[error("this path does not support the method")]
    MethodNotAllowed,
    /// No representation satisfies `Accept`.
    #[error("no representation satisfies the Accept header")]
    NotAcceptable,
    /// The body stalled.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// The check is already acknowledged; the existing acknowledgement is attached.
    #[error("the check is already acknowledged")]
    AlreadyAcknowledged(Box<AcknowledgementDto>),
    /// The provider connection is disabled.
    #[error("the provider connection is disabled")]
    ConnectionDisabled,
    /// Body over the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// Request target over the limit.
    #[error("the request target is too long")]
    UriTooLong,
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
    /// Too many or too large header fields.
    #[error("the request header fields are too large")]
    HeadersTooLarge,
    /// A bug or broken invariant; details only in the log.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// The store is unavailable.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl ApiError {
    /// A validation error for one field.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Validation(vec![FieldProblem::new(field, problem)])
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            Self::BadRequest => Code::BadRequest,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::Forbidden => Code::Forbidden,
            Self::NotFound => Code::NotFound,
            Self::ReportNotReady => Code::ReportNotReady,
            Self::MethodNotAllowed => Code::MethodNotAllowed,
            Self::NotAcceptable => Code::NotAcceptable,
            Self::RequestTimeout => Code::RequestTimeout,
            Self::AlreadyAcknowledged(_) => Code::AlreadyAcknowledged,
            Self::ConnectionDisabled => Code::ConnectionDisabled,
            Self::PayloadTooLarge => Code::PayloadTooLarge,
            Self::UriTooLong => Code::UriTooLong,
            Self::UnsupportedMediaType => Code::UnsupportedMediaType,
            Self::Validation(_) => Code::ValidationFailed,
            Self::CheckNotAcknowledgeable(_) => Code::CheckNotAcknowledgeable,
            Self::RunNotCompleted => Code::RunNotCompleted,
            Self::HeadersTooLarge => Code::HeadersTooLarge,
            Self::Internal(_) => Code::Internal,
            Self::Unavailable(_) => Code::Unavailable,
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Internal(e),
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
    /// Stable, machine-readable code (see `contracts/error.schema.json`).
    pub code: &'static str,
    /// Human text.
    pub message: String,
    /// Field problems (may be empty).
    pub details: Vec<FieldProblem>,
    /// The existing acknowledgement, for `already_acknowledged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<Box<AcknowledgementDto>>,
}

/// The cause of a 5xx, for the logging middleware; never serialized.
#[derive(Debug, Clone)]
pub struct FailureCause(pub Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = self.to_string();
        let (details, acknowledgement, cause) = match self {
            Self::Validation(details) => (details, None, None),
            Self::AlreadyAcknowledged(existing) => (Vec::new(), Some(existing), None),
            Self::Unavailable(cause) | Self::Internal(cause) => (Vec::new(), None, Some(cause)),
            _ => (Vec::new(), None, None),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.as_str(), message, details, acknowledgement } };
        let mut response = (code.status(), Json(body)).into_response();
        if code == Code::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The rest of the request body is never read after these answers, so the connection
        // cannot carry another request: say so, or a client reuses it and its next request
        // meets a closed socket (RFC 9112, section 9.6).
        if matches!(code, Code::PayloadTooLarge | Code::RequestTimeout) {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(FailureCause(Arc::new(cause)));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../contracts/error.schema.json")).unwrap()
    }

    /// The markdown table `contracts/error.schema.json` documents, as the code table derives it.
    fn documented_table() -> String {
        let mut table = String::from("| code | status | meaning |\n|---|---|---|\n");
        for code in Code::ALL {
            table.push_str(&format!("| `{}` | {} | {} |\n", code.as_str(), code.status().as_u16(), code.meaning()));
        }
        table
    }

    #[test]
    fn the_contract_documents_exactly_the_code_table() {
        let schema = contract();
        let documented = schema["x-status-codes"].as_object().unwrap();
        let table: serde_json::Map<String, serde_json::Value> =
            Code::ALL.iter().map(|c| (c.as_str().to_owned(), c.status().as_u16().into())).collect();
        assert_eq!(documented, &table, "x-status-codes of contracts/error.schema.json");
        let listed: Vec<&str> = schema["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, Code::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(), "the code enum");
        let description = schema["description"].as_str().unwrap();
        assert!(
            description.ends_with(documented_table().trim_end()),
            "the table in the description must be exactly:\n{}",
            documented_table()
        );
    }

    #[test]
    fn every_error_answers_with_its_code_and_status() {
        let response = ApiError::Validation(vec![FieldProblem::new("f", "p")]).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let response = ApiError::Unauthenticated.into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(ApiError::MethodNotAllowed.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn server_errors_are_opaque() {
        let response = ApiError::Internal(anyhow::anyhow!("password=hunter2 at db.internal")).into_response();
        assert!(response.extensions().get::<FailureCause>().is_some());
        let response = ApiError::Unavailable(anyhow::anyhow!("db.internal refused")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
