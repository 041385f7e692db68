//! Request handlers: parse, call one service method, map the outcome. Handlers never
//! sequence ports themselves.

pub mod audit;
pub mod connections;
pub mod health;
pub mod runs;
pub mod verifications;

use verdict_core::services::{
    AcknowledgeCheckError, AuditReadError, ConnectionError, ReadRunError, StartVerificationError,
};

use crate::error::ApiError;

impl From<ReadRunError> for ApiError {
    fn from(e: ReadRunError) -> Self {
        match e {
            ReadRunError::NotFound => Self::NotFound,
            ReadRunError::ReportNotReady => Self::ReportNotReady,
            ReadRunError::Failure(f) => f.into(),
        }
    }
}

impl From<StartVerificationError> for ApiError {
    fn from(e: StartVerificationError) -> Self {
        match e {
            StartVerificationError::NotFound => Self::NotFound,
            StartVerificationError::Forbidden => Self::Forbidden,
            StartVerificationError::UnknownFlow => Self::invalid("flow", "is not a flow this service runs"),
            StartVerificationError::Failure(f) => f.into(),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::NotFound => Self::NotFound,
            ConnectionError::Forbidden => Self::Forbidden,
            ConnectionError::Disabled => Self::ConnectionDisabled,
            ConnectionError::Failure(f) => f.into(),
        }
    }
}

impl From<AuditReadError> for ApiError {
    fn from(e: AuditReadError) -> Self {
        match e {
            AuditReadError::NotFound => Self::NotFound,
            AuditReadError::Forbidden => Self::Forbidden,
            AuditReadError::Failure(f) => f.into(),
        }
    }
}

impl From<AcknowledgeCheckError> for ApiError {
    fn from(e: AcknowledgeCheckError) -> Self {
        match e {
            AcknowledgeCheckError::NotFound => Self::NotFound,
            AcknowledgeCheckError::Forbidden => Self::Forbidden,
            AcknowledgeCheckError::ReportMismatch => Self::invalid("report_id", "must equal the run id of the path"),
            AcknowledgeCheckError::RunNotCompleted => Self::RunNotCompleted,
            AcknowledgeCheckError::CheckNotFound => {
                Self::CheckNotAcknowledgeable("the run's report has no check with this key".to_owned())
            }
            AcknowledgeCheckError::NotAcknowledgeable { status } => Self::CheckNotAcknowledgeable(format!(
                "only failing or warning checks can be acknowledged; this check is {}",
                status.as_str()
            )),
            AcknowledgeCheckError::ExpiresInPast => Self::invalid("expires_at", "must not be earlier than now"),
            AcknowledgeCheckError::AlreadyAcknowledged(existing) => {
                let dto = crate::dto::AcknowledgementDto::from(verdict_core::services::AcknowledgementView {
                    expired: false,
                    acknowledgement: *existing,
                });
                Self::AlreadyAcknowledged(Box::new(serde_json::to_value(dto).unwrap_or_default()))
            }
            AcknowledgeCheckError::Failure(f) => f.into(),
        }
    }
}
